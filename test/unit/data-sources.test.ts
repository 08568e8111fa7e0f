/**
 * The data-source seam: the cheap info (header only) and the engine's loader agree, and loading
 * the first n IDX images reads the header and those records only, plain or gzip.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { DATA_WATCH_GLOBS, describeData, FASHION_MNIST_CLASSES, isDataFile } from '../../src/formats/data-sources';
import { FormatError } from '../../src/formats/errors';
import { encodeIdx, InputError, loadData, loadTrainingData, readIdxHead } from '../../src/engine';
import { tempDir } from './helpers';

const SAMPLE = path.join(__dirname, '..', '..', 'media', 'data', 'fashion-mnist-sample');

/** Pseudo-random bytes: gzip cannot shrink them, so compressed offsets track record offsets. */
function noise(length: number, seed: number): Uint8Array {
  let s = seed >>> 0;
  return Uint8Array.from({ length }, () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) >>> 24);
}

function expectInputError(err: unknown, file: string, pattern: RegExp): true {
  assert.ok(err instanceof InputError, `expected InputError, got ${(err as Error).name}: ${(err as Error).message}`);
  assert.ok(err.message.startsWith(file), `"${err.message}" does not start with ${file}`);
  assert.match(err.message, pattern);
  return true;
}

test('a file cut off after the first n records still loads n, plain and gzip; n + 1 says it is truncated', async () => {
  const dir = tempDir('idx-head');
  const records = noise(10 * 4 * 3, 1);
  // The header promises 1000 records of 4×3; the file holds 10.
  const cut = encodeIdx([1000, 4, 3], records, false);
  for (const gzip of [false, true]) {
    const file = path.join(dir, gzip ? 'cut.idx.gz' : 'cut.idx');
    fs.writeFileSync(file, gzip ? zlib.gzipSync(cut) : cut);
    const head = await readIdxHead(file, 10);
    assert.deepEqual(head.dims, [1000, 4, 3]);
    assert.equal(head.records, 10);
    assert.deepEqual(Array.from(head.data), Array.from(records));
    await assert.rejects(readIdxHead(file, 11), (err) =>
      expectInputError(err, file, /data: is truncated: the first 11 of 1000×4×3 records need 132 bytes, found 120/),
    );
  }
  fs.rmSync(dir, { recursive: true });
});

test('the first n records of a large gzip file inflate its first blocks only: a corrupt tail is not read', async () => {
  const dir = tempDir('idx-gz');
  const count = 4000;
  const images = noise(count * 28 * 28, 2);
  const file = path.join(dir, 'images.idx.gz');
  const gz = encodeIdx([count, 28, 28], images, true);
  // Keep the first half of the compressed stream and garble the rest.
  const half = Math.floor(gz.length / 2);
  fs.writeFileSync(file, Buffer.concat([gz.subarray(0, half), Buffer.alloc(gz.length - half, 0xab)]));
  const head = await readIdxHead(file, 10);
  assert.equal(head.records, 10);
  assert.deepEqual(Array.from(head.data), Array.from(images.subarray(0, 10 * 28 * 28)));
  assert.ok(head.bytesRead < gz.length / 8, `read ${head.bytesRead} of ${gz.length} bytes for 10 of ${count} images`);
  // Asking for everything reaches the garbage and says so.
  await assert.rejects(readIdxHead(file), (err) => expectInputError(err, file, /gzip: cannot be decompressed/));
  fs.rmSync(dir, { recursive: true });
});

test('a plain file: a positioned read of the records asked for, and all of them when asked for all', async () => {
  const dir = tempDir('idx-plain');
  const file = path.join(dir, 'images.idx');
  const records = noise(500 * 64, 3);
  fs.writeFileSync(file, encodeIdx([500, 8, 8], records, false));
  const head = await readIdxHead(file, 7);
  assert.equal(head.bytesRead, 16 + 7 * 64);
  assert.deepEqual(Buffer.from(head.data), Buffer.from(records.subarray(0, 7 * 64)));
  const all = await readIdxHead(file);
  assert.equal(all.records, 500);
  assert.deepEqual(Buffer.from(all.data), Buffer.from(records));
  await assert.rejects(readIdxHead(path.join(dir, 'missing.idx')), (err) =>
    expectInputError(err, path.join(dir, 'missing.idx'), /cannot be read: ENOENT/),
  );
  fs.writeFileSync(file, Buffer.from([0x12, 0, 8, 3]));
  await assert.rejects(readIdxHead(file, 1), (err) =>
    expectInputError(err, file, /magic number: starts with 0x12000803/),
  );
  fs.rmSync(dir, { recursive: true });
});

/** The records of a whole IDX file, decoded here without the engine's reader: the oracle. */
function recordsOf(file: string, headerLength: number): Buffer {
  return zlib.gunzipSync(fs.readFileSync(file)).subarray(headerLength);
}

test('loadData reads the first n test images of the embedded sample, as the files hold them', async () => {
  const data = await loadData('embedded', 'test', 25);
  assert.equal(data.source, 'idx');
  assert.equal(data.samples.count, 25);
  assert.equal(data.available, 2000);
  assert.deepEqual(data.shape, [28, 28, 1]);
  assert.deepEqual(data.classNames, [...FASHION_MNIST_CLASSES]);
  const images = recordsOf(path.join(SAMPLE, 't10k-images-idx3-ubyte.gz'), 16);
  const labels = recordsOf(path.join(SAMPLE, 't10k-labels-idx1-ubyte.gz'), 8);
  assert.deepEqual(Buffer.from(data.samples.images), images.subarray(0, 25 * 784));
  assert.deepEqual(Buffer.from(data.samples.labels), labels.subarray(0, 25));
});

test('training data through the registry: both splits whole, as the files hold them', async () => {
  const data = await loadTrainingData('embedded');
  assert.equal(data.id, 'embedded');
  assert.deepEqual(data.shape, [28, 28, 1]);
  assert.deepEqual(data.classNames, [...FASHION_MNIST_CLASSES]);
  for (const [split, prefix, count] of [
    ['train', 'train', 10000],
    ['test', 't10k', 2000],
  ] as const) {
    assert.equal(data[split].count, count);
    const images = recordsOf(path.join(SAMPLE, `${prefix}-images-idx3-ubyte.gz`), 16);
    const labels = recordsOf(path.join(SAMPLE, `${prefix}-labels-idx1-ubyte.gz`), 8);
    assert.ok(Buffer.from(data[split].images).equals(images), `${split} images differ`);
    assert.ok(Buffer.from(data[split].labels).equals(labels), `${split} labels differ`);
  }
});

/** A folder of plain IDX test files: `count` 4×4 images and their labels (i mod 7). */
function plainFolder(count: number): { dir: string; labels: Uint8Array } {
  const dir = tempDir('idx-labels');
  const labels = Uint8Array.from({ length: count }, (_, i) => i % 7);
  fs.writeFileSync(path.join(dir, 't10k-images-idx3-ubyte'), encodeIdx([count, 4, 4], noise(count * 16, 5), false));
  fs.writeFileSync(path.join(dir, 't10k-labels-idx1-ubyte'), encodeIdx([count], labels, false));
  return { dir, labels };
}

test('with the classes named (classes.json), the first n images read n labels; without, all of them', async () => {
  const count = 50000;
  const { dir, labels } = plainFolder(count);
  const images = 16 + 5 * 16;
  const unnamed = await loadData(dir, 'test', 5);
  assert.equal(unnamed.bytesRead, images + 8 + count, 'the class count comes from every label');
  assert.equal(unnamed.classNames.length, 7);
  const names = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
  fs.writeFileSync(path.join(dir, 'classes.json'), JSON.stringify(names));
  const named = await loadData(dir, 'test', 5);
  assert.equal(named.bytesRead, images + 8 + 5);
  assert.deepEqual(named.classNames, names);
  assert.deepEqual(Array.from(named.samples.labels), Array.from(labels.subarray(0, 5)));
  // All of them when all images are asked for.
  assert.equal((await loadData(dir, 'test')).bytesRead, 16 + count * 16 + 8 + count);
  // A label the names do not cover is named, with its index.
  fs.writeFileSync(path.join(dir, 'classes.json'), JSON.stringify(names.slice(0, 4)));
  const labelsFile = path.join(dir, 't10k-labels-idx1-ubyte');
  await assert.rejects(loadData(dir, 'test', 5), (err) =>
    expectInputError(err, labelsFile, /\[4\]: is 4, but the data names 4 classes \(labels 0 to 3\)/),
  );
  fs.rmSync(dir, { recursive: true });
});

test('a built-in dataset (its class names known) reads the labels of the images loaded only', async (t) => {
  const count = 50000;
  const { dir, labels } = plainFolder(count);
  const saved = process.env.FMNIST_DIR;
  process.env.FMNIST_DIR = dir;
  t.after(() => {
    if (saved === undefined) delete process.env.FMNIST_DIR;
    else process.env.FMNIST_DIR = saved;
    fs.rmSync(dir, { recursive: true });
  });
  const data = await loadData('fashion-mnist', 'test', 12);
  assert.equal(data.id, 'fashion-mnist');
  assert.deepEqual(data.classNames, [...FASHION_MNIST_CLASSES]);
  assert.equal(data.bytesRead, 16 + 12 * 16 + 8 + 12);
  assert.deepEqual(Array.from(data.samples.labels), Array.from(labels.subarray(0, 12)));
  // A labels file cut off after the first 12 labels still loads 12 (the rest is never read).
  const file = path.join(dir, 't10k-labels-idx1-ubyte');
  fs.writeFileSync(file, fs.readFileSync(file).subarray(0, 8 + 12));
  assert.equal((await loadData('fashion-mnist', 'test', 12)).samples.count, 12);
  await assert.rejects(loadData('fashion-mnist', 'test', 13), (err) =>
    expectInputError(err, file, /data: is truncated: the first 13 of 50000 records need 13 bytes, found 12/),
  );
});

test('info (header only) agrees with what the loader finds; classes.json names the classes', async () => {
  const dir = tempDir('idx-folder');
  const labels = Uint8Array.from({ length: 6 }, (_, i) => i % 3);
  for (const split of ['t10k', 'train'] as const) {
    fs.writeFileSync(path.join(dir, `${split}-images-idx3-ubyte.gz`), encodeIdx([6, 5, 4], noise(120, 4), true));
    fs.writeFileSync(path.join(dir, `${split}-labels-idx1-ubyte`), encodeIdx([6], labels, false));
  }
  const info = describeData(dir);
  assert.deepEqual(info, { shape: [5, 4, 1], count: 6, counts: { train: 6, test: 6 }, source: 'idx', kind: 'IDX' });
  const loaded = await loadData(dir, 'train', 4);
  assert.deepEqual(loaded.shape, info.shape);
  assert.equal(loaded.available, info.counts.train);
  assert.deepEqual(loaded.classNames, ['class 0', 'class 1', 'class 2']);
  fs.writeFileSync(path.join(dir, 'classes.json'), JSON.stringify(['cat', 'dog', 'bird']));
  assert.deepEqual(describeData(dir).classes, ['cat', 'dog', 'bird']);
  assert.deepEqual((await loadData(dir, 'test', 2)).classNames, ['cat', 'dog', 'bird']);
  fs.writeFileSync(path.join(dir, 'classes.json'), '{"cat": 0}');
  assert.throws(
    () => describeData(dir),
    (err: Error) =>
      err instanceof FormatError &&
      err.message === `${path.join(dir, 'classes.json')}: must be a non-empty JSON array of class names`,
  );
  fs.rmSync(dir, { recursive: true });
});

test('a folder no source reads, and labels that do not match the images, are named', async () => {
  const dir = tempDir('no-data');
  await assert.rejects(loadData(dir, 'test', 1), (err) =>
    expectInputError(err, dir, /holds no data Robustness Lab reads \(IDX files/),
  );
  fs.writeFileSync(path.join(dir, 't10k-images-idx3-ubyte'), encodeIdx([3, 2, 2], new Uint8Array(12), false));
  fs.writeFileSync(path.join(dir, 't10k-labels-idx1-ubyte'), encodeIdx([2], new Uint8Array(2), false));
  const labels = path.join(dir, 't10k-labels-idx1-ubyte');
  await assert.rejects(loadData(dir, 'test', 1), (err) =>
    expectInputError(err, labels, /dims: has 2 labels for 3 images/),
  );
  await assert.rejects(loadData(path.join(dir, 'nope'), 'test', 1), (err) =>
    expectInputError(err, path.join(dir, 'nope'), /dataset folder does not exist/),
  );
  fs.rmSync(dir, { recursive: true });
});

test('the watcher globs and isDataFile name the files detect looks for', () => {
  assert.deepEqual(DATA_WATCH_GLOBS, [
    '**/t10k-images-idx3-ubyte*',
    '**/x_test.npy',
    '**/*.npz',
    '**/test_batch.bin',
    '**/fine_label_names.txt',
  ]);
  // An image folder is named by a spec or --data: a PNG does not make its folder data.
  assert.ok(!isDataFile('/w/media/screenshot.png'));
  assert.ok(isDataFile('/w/data/x_test.npy') && isDataFile('/w/data/cifar.npz') && !isDataFile('/w/data/y_test.npy'));
  assert.ok(isDataFile('/w/data/t10k-images-idx3-ubyte.gz'));
  assert.ok(isDataFile('t10k-images-idx3-ubyte'));
  assert.ok(!isDataFile('/w/data/train-labels-idx1-ubyte.gz'));
  assert.deepEqual(describeData(SAMPLE).counts, { train: 10000, test: 2000 });
});
