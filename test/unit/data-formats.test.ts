/**
 * The data formats people have (NumPy .npy/.npz, CIFAR binaries, image folders), each written at
 * test time from the embedded Fashion-MNIST sample (read by the IDX loader) and read back through
 * the data-source seam equal to it; every bad file is refused with its name in the message.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { zipSync } from 'fflate';
import { describeData } from '../../src/formats/data-sources';
import { InputError, loadData, loadTrainingData, type LoadedSplit } from '../../src/engine';
import { tempDir } from './helpers';

const SAMPLE = path.join(__dirname, '..', '..', 'media', 'data', 'fashion-mnist-sample');
const N = 40;

let reference: { test: LoadedSplit; train: LoadedSplit } | undefined;
/** The first N images of each split of the embedded sample, as the IDX loader reads them. */
async function sample(): Promise<{ test: LoadedSplit; train: LoadedSplit }> {
  reference ??= { test: await loadData(SAMPLE, 'test', N), train: await loadData(SAMPLE, 'train', N) };
  return reference;
}

function expectInputError(err: unknown, file: string, pattern: RegExp): true {
  assert.ok(err instanceof Error, `expected an error, got ${String(err)}`);
  assert.ok(err.message.startsWith(file), `"${err.message}" does not start with ${file}`);
  assert.match(err.message, pattern);
  return true;
}

// ---------------------------------------------------------------------------------------------
// NumPy

type Descr = '|u1' | '<i4' | '<i8' | '<f4' | '<f8' | '>f4' | '|O' | '<c8';

/** A .npy file's bytes: the header NumPy writes (padded to 64 bytes) and the data as given. */
function npy(descr: string, shape: number[], data: Uint8Array, opts: { version?: 1 | 2 | 3; fortran?: boolean } = {}) {
  const version = opts.version ?? 1;
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let dict = `{'descr': '${descr}', 'fortran_order': ${opts.fortran ? 'True' : 'False'}, 'shape': ${shapeText}, }`;
  const preamble = version === 1 ? 10 : 12;
  dict += ' '.repeat(63 - ((preamble + dict.length) % 64)) + '\n';
  const head = Buffer.alloc(preamble);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]).copy(head);
  if (version === 1) head.writeUInt16LE(dict.length, 8);
  else head.writeUInt32LE(dict.length, 8);
  return Buffer.concat([head, Buffer.from(dict, 'latin1'), data]);
}

/** Values of a typed array as the little-endian bytes of `descr`. */
function encode(descr: Descr, values: ArrayLike<number>): Uint8Array {
  const n = values.length;
  switch (descr) {
    case '|u1':
      return Uint8Array.from(values);
    case '<i4':
      return new Uint8Array(Int32Array.from(values).buffer);
    case '<i8':
      return new Uint8Array(BigInt64Array.from(Array.from(values, (v) => BigInt(v))).buffer);
    case '<f4':
    case '>f4':
      return new Uint8Array(Float32Array.from(values).buffer);
    case '<f8':
      return new Uint8Array(Float64Array.from(values).buffer);
    default:
      return new Uint8Array(n * 8);
  }
}

/** NHWC uint8 → NCHW. */
function toChannelsFirst(images: Uint8Array, [h, w, c]: number[], count: number): Uint8Array {
  const out = new Uint8Array(images.length);
  for (let n = 0; n < count; n++)
    for (let y = 0; y < h!; y++)
      for (let x = 0; x < w!; x++)
        for (let ch = 0; ch < c!; ch++) {
          out[n * c! * h! * w! + ch * h! * w! + y * w! + x] = images[((n * h! + y) * w! + x) * c! + ch]!;
        }
  return out;
}

/** Three channels from one: channel k is the grey value shifted by 80·k (mod 256), so channels differ. */
function rgb(grey: Uint8Array): Uint8Array {
  return Uint8Array.from({ length: grey.length * 3 }, (_, i) => (grey[Math.floor(i / 3)]! + 80 * (i % 3)) % 256);
}

function assertSameSplit(got: LoadedSplit, want: { images: Uint8Array; labels: Uint8Array; count: number }) {
  assert.equal(got.samples.count, want.count);
  assert.deepEqual(Buffer.from(got.samples.images), Buffer.from(want.images));
  assert.deepEqual(Buffer.from(got.samples.labels), Buffer.from(want.labels));
}

test('NumPy folder: uint8 NHWC images and int64 labels read back equal to the IDX data, both splits', async () => {
  const { test: ref, train } = await sample();
  const dir = tempDir('npy-u8');
  fs.writeFileSync(path.join(dir, 'x_test.npy'), npy('|u1', [N, 28, 28, 1], ref.samples.images));
  fs.writeFileSync(path.join(dir, 'y_test.npy'), npy('<i8', [N], encode('<i8', ref.samples.labels)));
  fs.writeFileSync(path.join(dir, 'x_train.npy'), npy('|u1', [N, 28, 28], train.samples.images));
  fs.writeFileSync(path.join(dir, 'y_train.npy'), npy('|u1', [N], train.samples.labels));
  fs.writeFileSync(path.join(dir, 'classes.json'), JSON.stringify(ref.classNames));
  const info = describeData(dir);
  assert.deepEqual(info.shape, [28, 28, 1]);
  assert.deepEqual(info.counts, { test: N, train: N });
  assert.deepEqual(info.classes, ref.classNames);

  const loaded = await loadData(dir, 'test');
  assert.equal(loaded.source, 'numpy');
  assert.deepEqual(loaded.shape, [28, 28, 1]);
  assert.deepEqual(loaded.classNames, ref.classNames);
  assertSameSplit(loaded, ref.samples);
  // The first 5 images: the header and 5 × 784 bytes of the images, the header and 5 labels of 8 bytes.
  const head = await loadData(dir, 'test', 5);
  assert.equal(head.available, N);
  assert.equal(head.bytesRead, 128 + 5 * 784 + 128 + 5 * 8);
  assert.deepEqual(Buffer.from(head.samples.images), Buffer.from(ref.samples.images.subarray(0, 5 * 784)));
  const both = await loadTrainingData(dir);
  assertSameSplit({ ...loaded, samples: both.train }, train.samples);
  fs.rmSync(dir, { recursive: true });
});

test('NumPy folder: float32 NCHW and float64 NHWC in [0, 1], RGB, read back as the uint8 they were made from', async () => {
  const { test: ref } = await sample();
  const colour = rgb(ref.samples.images);
  const floats = Array.from(colour, (v) => v / 255);
  for (const [descr, layout, version] of [
    ['<f4', 'nchw', 2],
    ['<f8', 'nhwc', 3],
  ] as const) {
    const dir = tempDir(`npy-${descr.slice(1)}`);
    const data = layout === 'nchw' ? Array.from(toChannelsFirst(colour, [28, 28, 3], N), (v) => v / 255) : floats;
    const shape = layout === 'nchw' ? [N, 3, 28, 28] : [N, 28, 28, 3];
    fs.writeFileSync(path.join(dir, 'x_test.npy'), npy(descr, shape, encode(descr, data), { version }));
    fs.writeFileSync(path.join(dir, 'y_test.npy'), npy('<i4', [N], encode('<i4', ref.samples.labels)));
    assert.deepEqual(describeData(dir).shape, [28, 28, 3]);
    const loaded = await loadData(dir, 'test');
    assert.deepEqual(loaded.shape, [28, 28, 3]);
    assertSameSplit(loaded, { images: colour, labels: ref.samples.labels, count: N });
    // Within 1e-6 of the floats written, as the engine feeds them (pixel / 255).
    const worst = floats.reduce((m, v, i) => Math.max(m, Math.abs(v - loaded.samples.images[i]! / 255)), 0);
    assert.ok(worst < 1e-6, `largest difference ${worst}`);
    // Classes unnamed: class 0 … up to the largest label of the whole split.
    assert.equal(loaded.classNames.length, Math.max(...ref.samples.labels) + 1);
    fs.rmSync(dir, { recursive: true });
  }
});

test('NumPy .npz, stored and deflated, named directly or as the one .npz in a folder', async () => {
  const { test: ref, train } = await sample();
  for (const level of [0, 6] as const) {
    const dir = tempDir(`npz-${level}`);
    const file = path.join(dir, 'data.npz');
    const zip = zipSync(
      {
        'x_test.npy': npy('|u1', [N, 1, 28, 28], ref.samples.images),
        'y_test.npy': npy('<i8', [N], encode('<i8', ref.samples.labels)),
        'x_train.npy': npy(
          '<f4',
          [N, 28, 28, 1],
          encode(
            '<f4',
            Array.from(train.samples.images, (v) => v / 255),
          ),
        ),
        'y_train.npy': npy('|u1', [N], train.samples.labels),
      },
      { level },
    );
    fs.writeFileSync(file, zip);
    for (const where of [file, dir]) {
      assert.deepEqual(describeData(where).counts, { test: N, train: N });
      const loaded = await loadData(where, 'test', 12);
      assert.equal(loaded.source, 'numpy');
      assertSameSplit(loaded, {
        images: ref.samples.images.subarray(0, 12 * 784),
        labels: ref.samples.labels.subarray(0, 12),
        count: 12,
      });
      assertSameSplit(await loadData(where, 'train'), train.samples);
    }
    fs.rmSync(dir, { recursive: true });
  }
});

test('NumPy: big-endian, object, complex, fortran_order, truncated, bad magic and a missing array are refused naming the file', async () => {
  const { test: ref } = await sample();
  const dir = tempDir('npy-bad');
  const labels = path.join(dir, 'y_test.npy');
  fs.writeFileSync(labels, npy('|u1', [N], ref.samples.labels));
  const images = path.join(dir, 'x_test.npy');
  const cases: [Buffer, RegExp][] = [
    [npy('>f4', [N, 28, 28], encode('>f4', new Float32Array(N * 784))), /descr: ">f4" is big-endian/],
    [npy('|O', [N, 28, 28], new Uint8Array(N * 784 * 8)), /descr: is an object array/],
    [npy('<c8', [N, 28, 28], new Uint8Array(N * 784 * 8)), /descr: is "<c8"; uint8/],
    [npy('|u1', [N, 28, 28], ref.samples.images, { fortran: true }), /fortran_order: is True/],
    [
      npy('|u1', [N, 28, 28], ref.samples.images.subarray(0, 1000)),
      /data: is truncated: shape \(40, 28, 28\) of \|u1 needs 31488 bytes, found 1128/,
    ],
    [Buffer.from('PK not numpy at all'), /magic: does not start with \\x93NUMPY/],
    [npy('|u1', [N, 28, 28, 5], new Uint8Array(N * 784 * 5)), /shape: is \(40, 28, 28, 5\); images need/],
    [
      npy(
        '|u1',
        [N, 28, 28],
        Uint8Array.from(ref.samples.images, (v) => v),
        { version: 1 },
      ).subarray(0, 30),
      /header: is truncated/,
    ],
  ];
  for (const [bytes, pattern] of cases) {
    fs.writeFileSync(images, bytes);
    assert.throws(
      () => describeData(dir),
      (err) => expectInputError(err, images, pattern),
    );
    await assert.rejects(loadData(dir, 'test'), (err) => {
      assert.ok(err instanceof InputError);
      return expectInputError(err, images, pattern);
    });
  }
  // Labels that do not match the images, floats as labels.
  fs.writeFileSync(images, npy('|u1', [N, 28, 28], ref.samples.images));
  fs.writeFileSync(labels, npy('|u1', [N - 1], ref.samples.labels.subarray(1)));
  assert.throws(
    () => describeData(dir),
    (err) => expectInputError(err, labels, /shape: has 39 labels for 40 images in x_test.npy/),
  );
  fs.writeFileSync(labels, npy('<f4', [N], encode('<f4', ref.samples.labels)));
  await assert.rejects(loadData(dir, 'test'), (err) =>
    expectInputError(err, labels, /descr: is <f4; labels need an integer type/),
  );
  // Floats outside [0, 1].
  fs.writeFileSync(labels, npy('|u1', [N], ref.samples.labels));
  fs.writeFileSync(images, npy('<f4', [N, 28, 28], encode('<f4', Array.from(ref.samples.images))));
  await assert.rejects(loadData(dir, 'test'), (err) =>
    expectInputError(err, images, /\[0\]: holds \d+ at pixel \d+; pixels must lie in \[0, 1\]/),
  );
  // An .npz without y_test.
  const npzDir = tempDir('npz-bad');
  const npz = path.join(npzDir, 'data.npz');
  fs.writeFileSync(npz, zipSync({ 'x_test.npy': npy('|u1', [N, 28, 28], ref.samples.images) }));
  assert.throws(
    () => describeData(npzDir),
    (err) => expectInputError(err, npz, /holds no array "y_test" \(y_test.npy\)/),
  );
  fs.writeFileSync(npz, Buffer.from('not a zip'));
  await assert.rejects(loadData(npz, 'test'), (err) =>
    expectInputError(err, npz, /is not a readable .npz \(zip\) archive/),
  );
  fs.rmSync(dir, { recursive: true });
  fs.rmSync(npzDir, { recursive: true });
});
