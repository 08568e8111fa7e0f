/**
 * Rebuilds media/data/fashion-mnist-sample from the full Fashion-MNIST: the first 10,000
 * training and the first 2,000 test images, in file order.
 * Usage: npx tsx scripts/make-sample.ts [/usr/share/datasets/fashion-mnist]
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { encodeIdx, readIdx } from '../src/engine/data/idx';

const source = process.argv[2] ?? '/usr/share/datasets/fashion-mnist';
const target = path.join(__dirname, '..', 'media', 'data', 'fashion-mnist-sample');
fs.mkdirSync(target, { recursive: true });
for (const [base, count] of [
  ['train-images-idx3-ubyte', 10000], ['train-labels-idx1-ubyte', 10000],
  ['t10k-images-idx3-ubyte', 2000], ['t10k-labels-idx1-ubyte', 2000],
] as const) {
  const full = readIdx(path.join(source, `${base}.gz`));
  const per = full.data.length / full.dims[0]!;
  const dims = [count, ...full.dims.slice(1)];
  fs.writeFileSync(path.join(target, `${base}.gz`), encodeIdx(dims, full.data.subarray(0, count * per), true));
}
console.log(`wrote ${target}`);
