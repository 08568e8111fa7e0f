/**
 * Rebuilds media/data/fashion-mnist-sample from the full Fashion-MNIST: the first 10,000
 * training and the first 2,000 test images, in file order.
 * Usage: npx tsx scripts/make-sample.ts [/usr/share/datasets/fashion-mnist]
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { encodeIdx, readIdxHead } from '../src/engine/data/idx';

const source = process.argv[2] ?? '/usr/share/datasets/fashion-mnist';
const target = path.join(__dirname, '..', 'media', 'data', 'fashion-mnist-sample');

async function main(): Promise<void> {
  fs.mkdirSync(target, { recursive: true });
  for (const [base, count] of [
    ['train-images-idx3-ubyte', 10000],
    ['train-labels-idx1-ubyte', 10000],
    ['t10k-images-idx3-ubyte', 2000],
    ['t10k-labels-idx1-ubyte', 2000],
  ] as const) {
    // The first `count` records only (the rest of the file is not read).
    const head = await readIdxHead(path.join(source, `${base}.gz`), count);
    if (head.records < count) throw new Error(`${base}.gz holds ${head.records} records; the sample needs ${count}`);
    fs.writeFileSync(path.join(target, `${base}.gz`), encodeIdx([count, ...head.dims.slice(1)], head.data, true));
  }
  console.log(`wrote ${target}`);
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exit(1);
});
