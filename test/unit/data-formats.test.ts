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
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { imageHeader } from '../../src/formats/image-folder';
import { listNpzEntries } from '../../src/formats/npz';
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
  const second = path.join(npzDir, 'more.npz');
  fs.writeFileSync(second, zipSync({}));
  assert.throws(
    () => describeData(npzDir),
    (err) => expectInputError(err, npzDir, /holds 2 .npz files \(data.npz, more.npz\); name one with --data/),
  );
  fs.rmSync(second);
  fs.writeFileSync(npz, Buffer.from('not a zip'));
  await assert.rejects(loadData(npz, 'test'), (err) =>
    expectInputError(err, npz, /is not a readable .npz \(zip\) archive/),
  );
  fs.rmSync(dir, { recursive: true });
  fs.rmSync(npzDir, { recursive: true });
});

/**
 * What np.savez and np.savez_compressed write (made by Python's zipfile as NumPy calls it, with
 * force_zip64: local headers with 0xFFFFFFFF sizes and a zip64 extra field): x_test (3, 2, 2, 1)
 * uint8 0…11, y_test int64 [2, 0, 1].
 */
const PYTHON_NPZ = {
  stored:
    'UEsDBC0AAAAAAAAAIQAbyEL1//////////8KABQAeF90ZXN0Lm5weQEAEACMAAAAAAAAAIwAAAAAAAAAk05VTVBZAQB2AHsnZGVzY3InOiAnfHUxJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDMsIDIsIDIsIDEpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAQIDBAUGBwgJCgtQSwMELQAAAAAAAAAhAIoazhP//////////woAFAB5X3Rlc3QubnB5AQAQAJgAAAAAAAAAmAAAAAAAAACTTlVNUFkBAHYAeydkZXNjcic6ICc8aTgnLCAnZm9ydHJhbl9vcmRlcic6IEZhbHNlLCAnc2hhcGUnOiAoMywpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgCgIAAAAAAAAAAAAAAAAAAAABAAAAAAAAAFBLAQItAy0AAAAAAAAAIQAbyEL1jAAAAIwAAAAKAAAAAAAAAAAAAACAAQAAAAB4X3Rlc3QubnB5UEsBAi0DLQAAAAAAAAAhAIoazhOYAAAAmAAAAAoAAAAAAAAAAAAAAIAByAAAAHlfdGVzdC5ucHlQSwUGAAAAAAIAAgBwAAAAnAEAAAAA',
  deflated:
    'UEsDBC0AAAAIAAAAIQAbyEL1//////////8KABQAeF90ZXN0Lm5weQEAEACMAAAAAAAAAFUAAAAAAAAAm+wX6hsQychQxlCtnpJanFykbqWgXlNqqK6joJ6WX1RSlJgXn1+UkgoSd0vMKU4FihdnJBakAvkaxjoKRmBkqKmjUKtABuBiYGRiZmFlY+fg5OIGAFBLAwQtAAAACAAAACEAihrOE///////////CgAUAHlfdGVzdC5ucHkBABAAmAAAAAAAAABKAAAAAAAAAJvsF+obEMnIUMZQrZ6SWpxcpG6loG6TaaGuo6Cell9UUpSYF59flJIKEndLzClOBYoXZyQWpAL5GsY6mjoKtQoUAC4mBlTACKUBUEsBAi0DLQAAAAgAAAAhABvIQvVVAAAAjAAAAAoAAAAAAAAAAAAAAIABAAAAAHhfdGVzdC5ucHlQSwECLQMtAAAACAAAACEAihrOE0oAAACYAAAACgAAAAAAAAAAAAAAgAGRAAAAeV90ZXN0Lm5weVBLBQYAAAAAAgACAHAAAAAXAQAAAAA=',
};

/** A stored zip written by hand with every zip64 record: sizes and offsets in the central directory's extra field, the zip64 end records. */
function zip64Stored(files: Record<string, Uint8Array>): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const [name, data] of Object.entries(files)) {
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(45, 4);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(name.length, 26);
    parts.push(local, Buffer.from(name), Buffer.from(data));
    const entry = Buffer.alloc(46);
    entry.writeUInt32LE(0x02014b50, 0);
    entry.writeUInt16LE(45, 4);
    entry.writeUInt16LE(45, 6);
    entry.writeUInt32LE(0xffffffff, 20);
    entry.writeUInt32LE(0xffffffff, 24);
    entry.writeUInt16LE(name.length, 28);
    entry.writeUInt16LE(28, 30);
    entry.writeUInt32LE(0xffffffff, 42);
    const extra = Buffer.alloc(28);
    extra.writeUInt16LE(1, 0);
    extra.writeUInt16LE(24, 2);
    extra.writeBigUInt64LE(BigInt(data.length), 4);
    extra.writeBigUInt64LE(BigInt(data.length), 12);
    extra.writeBigUInt64LE(BigInt(offset), 20);
    central.push(entry, Buffer.from(name), extra);
    offset += 30 + name.length + data.length;
  }
  const cd = Buffer.concat(central);
  const count = Object.keys(files).length;
  const record = Buffer.alloc(56);
  record.writeUInt32LE(0x06064b50, 0);
  record.writeBigUInt64LE(44n, 4);
  record.writeBigUInt64LE(BigInt(count), 24);
  record.writeBigUInt64LE(BigInt(count), 32);
  record.writeBigUInt64LE(BigInt(cd.length), 40);
  record.writeBigUInt64LE(BigInt(offset), 48);
  const locator = Buffer.alloc(20);
  locator.writeUInt32LE(0x07064b50, 0);
  locator.writeBigUInt64LE(BigInt(offset + cd.length), 8);
  locator.writeUInt32LE(1, 16);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(0xffff, 8);
  end.writeUInt16LE(0xffff, 10);
  end.writeUInt32LE(0xffffffff, 12);
  end.writeUInt32LE(0xffffffff, 16);
  return Buffer.concat([...parts, cd, record, locator, end]);
}

test('NumPy .npz as NumPy writes it (zip64 local headers) and with zip64 directory records', async () => {
  const dir = tempDir('npz-zip64');
  const archives = {
    ...Object.fromEntries(Object.entries(PYTHON_NPZ).map(([k, b64]) => [k, Buffer.from(b64, 'base64')])),
    zip64: zip64Stored({
      'y_test.npy': npy('<i8', [3], encode('<i8', [2, 0, 1])),
      'x_test.npy': npy(
        '|u1',
        [3, 2, 2, 1],
        Uint8Array.from({ length: 12 }, (_, i) => i),
      ),
    }),
  };
  for (const [name, bytes] of Object.entries(archives)) {
    const file = path.join(dir, `${name}.npz`);
    fs.writeFileSync(file, bytes);
    assert.deepEqual(describeData(file), {
      shape: [2, 2, 1],
      count: 3,
      counts: { test: 3 },
      source: 'numpy',
      kind: 'NumPy',
    });
    const loaded = await loadData(file, 'test');
    assert.deepEqual(
      Array.from(loaded.samples.images),
      Array.from({ length: 12 }, (_, i) => i),
      name,
    );
    assert.deepEqual(Array.from(loaded.samples.labels), [2, 0, 1], name);
  }
  fs.rmSync(dir, { recursive: true });
});

test('NumPy .npz: the first n images inflate the head of x_test only; a corrupt tail is not read', async () => {
  const all = await loadData(SAMPLE, 'test');
  const dir = tempDir('npz-head');
  const file = path.join(dir, 'test.npz');
  const images = npy('|u1', [2000, 28, 28], all.samples.images);
  fs.writeFileSync(
    file,
    zipSync({ 'x_test.npy': images, 'y_test.npy': npy('|u1', [2000], all.samples.labels) }, { level: 6 }),
  );
  const size = fs.statSync(file).size;
  const x = listNpzEntries(file).get('x_test.npy')!;
  const bytes = fs.readFileSync(file);
  const dataStart =
    x.localHeader + 30 + bytes.readUInt16LE(x.localHeader + 26) + bytes.readUInt16LE(x.localHeader + 28);
  bytes.fill(0xab, dataStart + Math.floor(x.compressedSize / 2), dataStart + x.compressedSize);
  fs.writeFileSync(file, bytes);
  const head = await loadData(file, 'test', 10);
  assert.deepEqual(Buffer.from(head.samples.images), Buffer.from(all.samples.images.subarray(0, 7840)));
  assert.deepEqual(Buffer.from(head.samples.labels), Buffer.from(all.samples.labels.subarray(0, 10)));
  assert.ok(head.bytesRead < size / 8, `read ${head.bytesRead} of ${size} bytes for 10 of 2000 images`);
  await assert.rejects(loadData(file, 'test'), (err) =>
    expectInputError(err, `${file}:x_test.npy`, /cannot be inflated|is truncated/),
  );
  fs.rmSync(dir, { recursive: true });
});

// ---------------------------------------------------------------------------------------------
// CIFAR binaries

/** The sample's 28×28 grey images as 32×32 RGB (a 2-pixel black border, channels as rgb()), NHWC. */
function to32(grey: Uint8Array, count: number): Uint8Array {
  const colour = rgb(grey);
  const out = new Uint8Array(count * 32 * 32 * 3);
  for (let n = 0; n < count; n++)
    for (let y = 0; y < 28; y++)
      for (let x = 0; x < 28; x++)
        for (let c = 0; c < 3; c++)
          out[((n * 32 + y + 2) * 32 + x + 2) * 3 + c] = colour[((n * 28 + y) * 28 + x) * 3 + c]!;
  return out;
}

/** CIFAR records: the label bytes, then the R, G and B planes of each NHWC image. */
function cifarRecords(images: Uint8Array, labels: number[][]): Buffer {
  const planes = toChannelsFirst(images, [32, 32, 3], labels.length);
  return Buffer.concat(
    labels.map((l, i) => Buffer.concat([Buffer.from(l), planes.subarray(i * 3072, (i + 1) * 3072)])),
  );
}

const CIFAR10_NAMES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

test('CIFAR-10: test_batch.bin and training batches read back equal, the first n across batches by offset', async () => {
  const { test: ref, train } = await sample();
  const dir = tempDir('cifar10');
  const testImages = to32(ref.samples.images, N);
  const trainImages = to32(train.samples.images, N);
  fs.writeFileSync(
    path.join(dir, 'test_batch.bin'),
    cifarRecords(
      testImages,
      Array.from(ref.samples.labels, (l) => [l]),
    ),
  );
  // 40 training images over three batches: 15, 15, 10.
  for (const [i, from, to] of [
    [1, 0, 15],
    [2, 15, 30],
    [3, 30, 40],
  ] as const) {
    const labels = Array.from(train.samples.labels.subarray(from, to), (l) => [l]);
    fs.writeFileSync(
      path.join(dir, `data_batch_${i}.bin`),
      cifarRecords(trainImages.subarray(from * 3072, to * 3072), labels),
    );
  }
  fs.writeFileSync(path.join(dir, 'batches.meta.txt'), CIFAR10_NAMES.join('\n') + '\n\n');
  assert.deepEqual(describeData(dir), {
    shape: [32, 32, 3],
    count: N,
    counts: { test: N, train: N },
    classes: CIFAR10_NAMES,
    source: 'cifar-10',
    kind: 'CIFAR-10',
  });
  const loaded = await loadData(dir, 'test');
  assert.equal(loaded.source, 'cifar-10');
  assert.deepEqual(loaded.classNames, CIFAR10_NAMES);
  assertSameSplit(loaded, { images: testImages, labels: ref.samples.labels, count: N });
  const head = await loadData(dir, 'train', 20);
  assert.equal(head.available, N);
  assert.equal(head.bytesRead, 20 * 3073);
  assertSameSplit(head, {
    images: trainImages.subarray(0, 20 * 3072),
    labels: train.samples.labels.subarray(0, 20),
    count: 20,
  });
  assertSameSplit({ ...head, samples: (await loadTrainingData(dir)).train }, { ...train.samples, images: trainImages });
  fs.rmSync(dir, { recursive: true });
});

test('CIFAR-100: test.bin and train.bin with fine labels and fine_label_names.txt', async () => {
  const { test: ref } = await sample();
  const dir = tempDir('cifar100');
  const images = to32(ref.samples.images, N);
  const fine = Array.from(ref.samples.labels, (l) => l * 10 + 3);
  const records = cifarRecords(
    images,
    Array.from(ref.samples.labels, (l, i) => [l, fine[i]!]),
  );
  fs.writeFileSync(path.join(dir, 'test.bin'), records);
  fs.writeFileSync(path.join(dir, 'train.bin'), records.subarray(0, 7 * 3074));
  const names = Array.from({ length: 100 }, (_, i) => `fine ${i}`);
  fs.writeFileSync(path.join(dir, 'fine_label_names.txt'), names.join('\n'));
  fs.writeFileSync(path.join(dir, 'coarse_label_names.txt'), CIFAR10_NAMES.join('\n'));
  assert.deepEqual(describeData(dir).counts, { test: N, train: 7 });
  const loaded = await loadData(dir, 'test', 25);
  assert.equal(loaded.source, 'cifar-100');
  assert.deepEqual(loaded.classNames, names);
  assert.equal(loaded.bytesRead, 25 * 3074);
  assertSameSplit(loaded, {
    images: images.subarray(0, 25 * 3072),
    labels: Uint8Array.from(fine.slice(0, 25)),
    count: 25,
  });
  fs.rmSync(dir, { recursive: true });
});

test('CIFAR: a file of partial records, a wrong names file and a label out of range are refused naming the file', async () => {
  const { test: ref } = await sample();
  const dir = tempDir('cifar-bad');
  const images = to32(ref.samples.images, 3);
  const testBatch = path.join(dir, 'test_batch.bin');
  fs.writeFileSync(testBatch, cifarRecords(images, [[1], [2], [3]]).subarray(0, 3 * 3073 - 5));
  const partial = /is 9214 bytes, not a whole number of 3073-byte records \(1 label byte and 3072 pixels each\)/;
  assert.throws(
    () => describeData(dir),
    (err) => expectInputError(err, testBatch, partial),
  );
  await assert.rejects(
    loadData(dir, 'test'),
    (err) => err instanceof InputError && expectInputError(err, testBatch, partial),
  );
  // A second training batch cut short.
  fs.writeFileSync(testBatch, cifarRecords(images, [[1], [2], [3]]));
  fs.writeFileSync(path.join(dir, 'data_batch_1.bin'), cifarRecords(images, [[1], [2], [3]]));
  const batch2 = path.join(dir, 'data_batch_2.bin');
  fs.writeFileSync(batch2, Buffer.alloc(3073 + 1));
  await assert.rejects(loadData(dir, 'train', 1), (err) =>
    expectInputError(err, batch2, /is 3074 bytes, not a whole number/),
  );
  fs.rmSync(batch2);
  const meta = path.join(dir, 'batches.meta.txt');
  fs.writeFileSync(meta, 'cat\ndog\n');
  await assert.rejects(loadData(dir, 'test'), (err) => expectInputError(err, meta, /names 2 classes; cifar-10 has 10/));
  fs.rmSync(meta);
  fs.writeFileSync(testBatch, cifarRecords(images, [[1], [12], [3]]));
  await assert.rejects(loadData(dir, 'test'), (err) =>
    expectInputError(err, testBatch, /record 1: has label 12; cifar-10 labels run from 0 to 9/),
  );
  // Unnamed classes: class 0 … class 9.
  fs.writeFileSync(testBatch, cifarRecords(images, [[1], [2], [3]]));
  assert.deepEqual(
    (await loadData(dir, 'test')).classNames,
    Array.from({ length: 10 }, (_, i) => `class ${i}`),
  );
  fs.rmSync(dir, { recursive: true });
});

// ---------------------------------------------------------------------------------------------
// Image folders

/** Fashion-MNIST's class names as folder names; sorted, they are not in label order. */
const FOLDERS = ['tshirt', 'trouser', 'pullover', 'dress', 'coat', 'sandal', 'shirt', 'sneaker', 'bag', 'boot'];

function pngBytes(pixels: Uint8Array, h: number, w: number, channels: 1 | 3): Buffer {
  const png = new PNG({ width: w, height: h });
  for (let p = 0; p < h * w; p++) {
    for (let c = 0; c < 3; c++) png.data[p * 4 + c] = pixels[p * channels + (channels === 1 ? 0 : c)]!;
    png.data[p * 4 + 3] = 255;
  }
  return PNG.sync.write(png, { colorType: channels === 1 ? 0 : 2 });
}

/** Writes split images as FOLDERS[label]/NNNN.ext; returns the ImageFolder order (class, then file) of the indices. */
function writeImageSplit(
  folder: string,
  split: { images: Uint8Array; labels: Uint8Array; count: number },
  encodeImage: (pixels: Uint8Array) => Buffer,
  ext: string,
  per: number,
): number[] {
  for (let i = 0; i < split.count; i++) {
    const classDir = path.join(folder, FOLDERS[split.labels[i]!]!);
    fs.mkdirSync(classDir, { recursive: true });
    fs.writeFileSync(
      path.join(classDir, `${String(i).padStart(4, '0')}${ext}`),
      encodeImage(split.images.subarray(i * per, (i + 1) * per)),
    );
  }
  const sorted = [...new Set(Array.from(split.labels, (l) => FOLDERS[l]!))].sort();
  return Array.from({ length: split.count }, (_, i) => i).sort(
    (a, b) => sorted.indexOf(FOLDERS[split.labels[a]!]!) - sorted.indexOf(FOLDERS[split.labels[b]!]!) || a - b,
  );
}

function reorder(split: { images: Uint8Array; labels: Uint8Array }, order: number[], per: number) {
  const images = new Uint8Array(order.length * per);
  order.forEach((src, i) => images.set(split.images.subarray(src * per, (src + 1) * per), i * per));
  return { images, labels: Uint8Array.from(order, (src) => split.labels[src]!), count: order.length };
}

test('image folder: grey PNG test/ and RGB PNG train/, classes.json order, read back equal in ImageFolder order', async () => {
  const { test: ref, train } = await sample();
  const dir = tempDir('imgfolder');
  const testOrder = writeImageSplit(path.join(dir, 'test'), ref.samples, (p) => pngBytes(p, 28, 28, 1), '.png', 784);
  const colour = rgb(train.samples.images);
  const trainOrder = writeImageSplit(
    path.join(dir, 'train'),
    { ...train.samples, images: colour },
    (p) => pngBytes(p, 28, 28, 3),
    '.PNG',
    2352,
  );
  fs.writeFileSync(path.join(dir, 'classes.json'), JSON.stringify(FOLDERS));
  assert.deepEqual(describeData(dir), {
    shape: [28, 28, 1],
    count: N,
    counts: { test: N, train: N },
    classes: FOLDERS,
    source: 'image-folder',
    kind: 'image folder',
  });
  const loaded = await loadData(dir, 'test');
  assert.equal(loaded.source, 'image-folder');
  assert.deepEqual(loaded.classNames, FOLDERS);
  assertSameSplit(loaded, reorder(ref.samples, testOrder, 784));
  const trainLoaded = await loadData(dir, 'train');
  assert.deepEqual(trainLoaded.shape, [28, 28, 3]);
  assertSameSplit(trainLoaded, reorder({ ...train.samples, images: colour }, trainOrder, 2352));
  // Without classes.json: labels are the sorted folder names' indices.
  fs.rmSync(path.join(dir, 'classes.json'));
  const sorted = [...FOLDERS].sort();
  const unnamed = await loadData(dir, 'test', 10);
  assert.deepEqual(unnamed.classNames, sorted);
  const want = reorder(ref.samples, testOrder.slice(0, 10), 784);
  assert.deepEqual(
    Array.from(unnamed.samples.labels),
    Array.from(want.labels, (l) => sorted.indexOf(FOLDERS[l]!)),
  );
  fs.rmSync(dir, { recursive: true });
});

test('image folder: PATH/<class>/ is the test split; JPEG decodes as jpeg-js does; the images after n are not opened', async () => {
  const { test: ref } = await sample();
  const dir = tempDir('imgflat');
  const colour = rgb(ref.samples.images);
  const order = writeImageSplit(
    dir,
    { ...ref.samples, images: colour },
    (p) => {
      const rgba = Buffer.alloc(784 * 4, 255);
      for (let i = 0; i < 784; i++) for (let c = 0; c < 3; c++) rgba[i * 4 + c] = p[i * 3 + c]!;
      return jpeg.encode({ data: rgba, width: 28, height: 28 }, 95).data;
    },
    '.jpg',
    2352,
  );
  const files = order.map((i) => {
    const file = path.join(dir, FOLDERS[ref.samples.labels[i]!]!, `${String(i).padStart(4, '0')}.jpg`);
    return file;
  });
  assert.deepEqual(describeData(dir).counts, { test: N });
  // The 11th image onwards are garbage: loading 10 never opens them.
  for (const file of files.slice(10)) fs.writeFileSync(file, 'not an image');
  const loaded = await loadData(dir, 'test', 10);
  assert.deepEqual(loaded.shape, [28, 28, 3]);
  assert.equal(
    loaded.bytesRead,
    files.slice(0, 10).reduce((sum, f) => sum + fs.statSync(f).size, 0),
  );
  const decoded = files.slice(0, 10).map((f) => jpeg.decode(fs.readFileSync(f), { useTArray: true }).data);
  const expected = Uint8Array.from(
    { length: 10 * 2352 },
    (_, i) => decoded[Math.floor(i / 2352)]![Math.floor((i % 2352) / 3) * 4 + (i % 3)]!,
  );
  assert.deepEqual(Buffer.from(loaded.samples.images), Buffer.from(expected));
  // Lossy, but close to the pixels it was made from.
  const original = reorder({ ...ref.samples, images: colour }, order.slice(0, 10), 2352).images;
  const meanError = original.reduce((sum, v, i) => sum + Math.abs(v - loaded.samples.images[i]!), 0) / original.length;
  assert.ok(meanError < 4, `mean error ${meanError}`);
  await assert.rejects(loadData(dir, 'test', 11), (err) =>
    expectInputError(err, files[10]!, /is neither a PNG nor a JPEG/),
  );
  fs.rmSync(dir, { recursive: true });
});

test('image folder: a size or channel count unlike the first, an empty class, classes.json missing a folder are refused naming the file', async () => {
  const { test: ref } = await sample();
  const dir = tempDir('imgbad');
  const order = writeImageSplit(dir, ref.samples, (p) => pngBytes(p, 28, 28, 1), '.png', 784);
  const third = path.join(dir, FOLDERS[ref.samples.labels[order[2]!]!]!, `${String(order[2]).padStart(4, '0')}.png`);
  const first = path.join(dir, FOLDERS[ref.samples.labels[order[0]!]!]!, `${String(order[0]).padStart(4, '0')}.png`);
  fs.writeFileSync(third, pngBytes(ref.samples.images.subarray(0, 27 * 28), 27, 28, 1));
  await assert.rejects(loadData(dir, 'test'), (err) =>
    expectInputError(
      err,
      third,
      new RegExp(`is 27×28×1 \\(H×W×C\\) but ${first.replace(/[.\\]/g, '\\$&')} is 28×28×1`),
    ),
  );
  fs.writeFileSync(third, pngBytes(rgb(ref.samples.images.subarray(0, 784)), 28, 28, 3));
  await assert.rejects(loadData(dir, 'test'), (err) =>
    expectInputError(err, third, /is 28×28×3 \(H×W×C\) but .* is 28×28×1/),
  );
  fs.writeFileSync(third, pngBytes(ref.samples.images.subarray(0, 784), 28, 28, 1));
  assert.equal((await loadData(dir, 'test')).samples.count, N);
  const empty = path.join(dir, 'zzz-empty');
  fs.mkdirSync(empty);
  assert.throws(
    () => describeData(dir),
    (err) => expectInputError(err, empty, /holds no image \(.png, .jpg, .jpeg\)/),
  );
  fs.rmSync(empty, { recursive: true });
  const classes = path.join(dir, 'classes.json');
  fs.writeFileSync(classes, JSON.stringify(FOLDERS.slice(1)));
  await assert.rejects(loadData(dir, 'test'), (err) =>
    expectInputError(err, classes, /does not name the class folder "tshirt"/),
  );
  fs.rmSync(dir, { recursive: true });
});

test('image headers: PNG colour types and a JPEG start-of-frame give the channels without decoding', () => {
  const grey = pngBytes(new Uint8Array(6), 2, 3, 1);
  assert.deepEqual(imageHeader('g.png', grey), { width: 3, height: 2, channels: 1 });
  assert.deepEqual(imageHeader('c.png', pngBytes(new Uint8Array(18), 2, 3, 3)), { width: 3, height: 2, channels: 3 });
  const jpg = Buffer.from(jpeg.encode({ data: Buffer.alloc(5 * 7 * 4, 128), width: 7, height: 5 }, 90).data);
  assert.deepEqual(imageHeader('c.jpg', jpg), { width: 7, height: 5, channels: 3 });
  // The same frame header declaring one component: a grey JPEG.
  const sof = jpg.indexOf(Buffer.from([0xff, 0xc0]));
  jpg[sof + 9] = 1;
  assert.deepEqual(imageHeader('g.jpg', jpg), { width: 7, height: 5, channels: 1 });
  jpg[sof + 9] = 4;
  assert.throws(() => imageHeader('cmyk.jpg', jpg), /^FormatError: cmyk.jpg: is a JPEG with 4 colour components/);
  assert.throws(
    () => imageHeader('cut.jpg', jpg.subarray(0, 20)),
    /cut.jpg: is a JPEG without a start-of-frame header/,
  );
});

// ---------------------------------------------------------------------------------------------
// Bad data of every kind, each refused naming the file and the problem (the rest are above:
// mixed sizes and an empty class folder in the image-folder tests; truncated, big-endian and
// object-dtype .npy in the NumPy tests; CIFAR files of the wrong length and labels out of range).

test('a corrupt PNG (a whole header, a broken image stream) is refused naming the file; the images before it load', async () => {
  const { test: ref } = await sample();
  const dir = tempDir('png-corrupt');
  const order = writeImageSplit(dir, ref.samples, (p) => pngBytes(p, 28, 28, 1), '.png', 784);
  const fifth = path.join(dir, FOLDERS[ref.samples.labels[order[4]!]!]!, `${String(order[4]).padStart(4, '0')}.png`);
  const bytes = fs.readFileSync(fifth);
  const idat = bytes.indexOf('IDAT');
  // The IHDR stays whole (the header reads 28×28×1); the compressed pixels after it are garbage.
  bytes.fill(0x5a, idat + 4, bytes.length - 12);
  fs.writeFileSync(fifth, bytes);
  assert.deepEqual(describeData(dir).shape, [28, 28, 1]);
  assert.equal((await loadData(dir, 'test', 4)).samples.count, 4);
  await assert.rejects(loadData(dir, 'test', 5), (err) => expectInputError(err, fifth, /: cannot be decoded: /));
  // Cut off inside the image data.
  fs.writeFileSync(fifth, bytes.subarray(0, idat + 10));
  await assert.rejects(loadData(dir, 'test'), (err) => expectInputError(err, fifth, /: cannot be decoded: /));
  fs.rmSync(dir, { recursive: true });
});

test('a NumPy label out of the range classes.json names is refused naming y_test.npy and the index', async () => {
  const { test: ref } = await sample();
  const dir = tempDir('npy-label-range');
  fs.writeFileSync(path.join(dir, 'x_test.npy'), npy('|u1', [N, 28, 28], ref.samples.images));
  const labels = Uint8Array.from(ref.samples.labels);
  labels[7] = 10;
  const file = path.join(dir, 'y_test.npy');
  fs.writeFileSync(file, npy('<i8', [N], encode('<i8', labels)));
  fs.writeFileSync(path.join(dir, 'classes.json'), JSON.stringify(CIFAR10_NAMES));
  assert.equal((await loadData(dir, 'test', 7)).samples.count, 7);
  await assert.rejects(loadData(dir, 'test'), (err) =>
    expectInputError(err, file, /\[7\]: is 10, but the data names 10 classes \(labels 0 to 9\)/),
  );
  // Negative and past a byte: refused whatever the classes.
  fs.rmSync(path.join(dir, 'classes.json'));
  labels[7] = 0;
  fs.writeFileSync(
    file,
    npy(
      '<i4',
      [N],
      encode(
        '<i4',
        Array.from(labels, (l, i) => (i === 3 ? -1 : l)),
      ),
    ),
  );
  await assert.rejects(loadData(dir, 'test'), (err) =>
    expectInputError(err, file, /\[3\]: is -1; labels must lie in 0 to 255/),
  );
  fs.rmSync(dir, { recursive: true });
});
