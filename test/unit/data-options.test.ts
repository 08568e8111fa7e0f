/**
 * Data options: CIFAR-100's coarse labels, and images fitted to a model's input —
 * refused naming the data file for every data kind unless a resize (bilinear, half-pixel centres)
 * or a channel conversion (grey → RGB replicate, RGB → grey BT.601 luma) is asked for.
 */
import { before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { PNG } from 'pngjs';
import { InputError, loadData, loadTrainingData } from '../../src/engine';
import { convertSplit } from '../../src/engine/data/convert';
import { shapeMismatch } from '../../src/formats/data-sources';
import { buildProgram } from '../../src/cli/main';
import { Config } from '../../src/extension/config';
import { attackJobFor } from '../../src/extension/jobs-from-settings';
import { specAttackJob, specTrainJob } from '../../src/protocol/experiment-spec';
import { attackJobSchema, defaultTrainJob, trainJobSchema } from '../../src/protocol/jobs';
import { tempDir, useBackend } from './helpers';

const SAMPLE = path.join(__dirname, '..', '..', 'media', 'data', 'fashion-mnist-sample');
const N = 12;

before(() => useBackend('cpu'));

function startsWith(err: unknown, file: string, pattern: RegExp): true {
  assert.ok(err instanceof InputError, `expected an InputError, got ${String(err)}`);
  assert.ok(err.message.startsWith(file), `"${err.message}" does not start with ${file}`);
  assert.match(err.message, pattern);
  return true;
}

/** CIFAR records of N×32×32×3 images: the label bytes, then the R, G and B planes. */
function cifarRecords(images: Uint8Array, labels: number[][]): Buffer {
  return Buffer.concat(
    labels.map((l, i) => {
      const planes = Buffer.alloc(3072);
      for (let p = 0; p < 1024; p++) for (let c = 0; c < 3; c++) planes[c * 1024 + p] = images[i * 3072 + p * 3 + c]!;
      return Buffer.concat([Buffer.from(l), planes]);
    }),
  );
}

/** Colour images made from grey ones: channel k is grey + 70·k (mod 256), 32×32 by edge padding. */
function colour32(grey: Uint8Array, count: number): Uint8Array {
  const out = new Uint8Array(count * 3072);
  for (let n = 0; n < count; n++)
    for (let y = 0; y < 32; y++)
      for (let x = 0; x < 32; x++) {
        const g = grey[n * 784 + Math.min(27, Math.max(0, y - 2)) * 28 + Math.min(27, Math.max(0, x - 2))]!;
        for (let c = 0; c < 3; c++) out[((n * 32 + y) * 32 + x) * 3 + c] = (g + 70 * c) % 256;
      }
  return out;
}

function npy(descr: string, shape: number[], data: Uint8Array): Buffer {
  let dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  dict += ' '.repeat(63 - ((10 + dict.length) % 64)) + '\n';
  const head = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, 0, 0]);
  head.writeUInt16LE(dict.length, 8);
  return Buffer.concat([head, Buffer.from(dict, 'latin1'), data]);
}

function png(pixels: Uint8Array, h: number, w: number): Buffer {
  const image = new PNG({ width: w, height: h });
  for (let p = 0; p < h * w; p++) {
    image.data.fill(pixels[p]!, p * 4, p * 4 + 3);
    image.data[p * 4 + 3] = 255;
  }
  return PNG.sync.write(image, { colorType: 0 });
}

test('CIFAR-100 coarse labels: the first label byte, 20 classes named by coarse_label_names.txt; fine stays the default', async () => {
  const ref = await loadData(SAMPLE, 'test', N);
  const dir = tempDir('cifar100-coarse');
  const images = colour32(ref.samples.images, N);
  const coarse = Array.from(ref.samples.labels, (l) => l * 2 + 1);
  const fine = Array.from(ref.samples.labels, (l) => l * 10 + 7);
  fs.writeFileSync(
    path.join(dir, 'test.bin'),
    cifarRecords(
      images,
      coarse.map((c, i) => [c, fine[i]!]),
    ),
  );
  const fineNames = Array.from({ length: 100 }, (_, i) => `fine ${i}`);
  const coarseNames = Array.from({ length: 20 }, (_, i) => `coarse ${i}`);
  fs.writeFileSync(path.join(dir, 'fine_label_names.txt'), fineNames.join('\n'));
  fs.writeFileSync(path.join(dir, 'coarse_label_names.txt'), coarseNames.join('\n'));
  const asFine = await loadData(dir, 'test', N);
  assert.deepEqual([...asFine.samples.labels], fine);
  assert.deepEqual(asFine.classNames, fineNames);
  const asCoarse = await loadData(dir, 'test', N, { labels: 'coarse' });
  assert.deepEqual([...asCoarse.samples.labels], coarse);
  assert.deepEqual(asCoarse.classNames, coarseNames);
  assert.deepEqual(Buffer.from(asCoarse.samples.images), Buffer.from(asFine.samples.images));
  // A coarse label past 19 is out of range for the coarse set (the fine byte would be fine).
  fs.writeFileSync(
    path.join(dir, 'test.bin'),
    cifarRecords(images.subarray(0, 3072 * 2), [
      [3, 5],
      [20, 5],
    ]),
  );
  await assert.rejects(loadData(dir, 'test', 2, { labels: 'coarse' }), (err) =>
    startsWith(err, path.join(dir, 'test.bin'), /record 1: has label 20; cifar-100 labels run from 0 to 19/),
  );
  fs.writeFileSync(path.join(dir, 'coarse_label_names.txt'), coarseNames.slice(0, 5).join('\n'));
  await assert.rejects(loadData(dir, 'test', 1, { labels: 'coarse' }), (err) =>
    startsWith(err, path.join(dir, 'coarse_label_names.txt'), /names 5 classes; cifar-100 has 20/),
  );
  fs.rmSync(dir, { recursive: true });
});

test('coarse labels asked of data without them are refused naming the folder; bad options are refused', async () => {
  await assert.rejects(loadData(SAMPLE, 'test', 1, { labels: 'coarse' }), (err) =>
    startsWith(err, SAMPLE, /labels: "coarse" asks for CIFAR-100's coarse labels, but this is IDX files/),
  );
  const dir = tempDir('cifar10-coarse');
  fs.writeFileSync(path.join(dir, 'test_batch.bin'), cifarRecords(new Uint8Array(3072), [[1]]));
  await assert.rejects(loadData(dir, 'test', 1, { labels: 'coarse' }), (err) =>
    startsWith(err, dir, /labels: "coarse" asks for CIFAR-100's coarse labels, but this is cifar-10 data/),
  );
  fs.rmSync(dir, { recursive: true });
  await assert.rejects(loadData(SAMPLE, 'test', 1, { channels: 2 as 1 }), (err) =>
    startsWith(err, 'data options', /channels must be 1 or 3/),
  );
  await assert.rejects(loadData(SAMPLE, 'test', 1, { resize: true }), (err) =>
    startsWith(err, SAMPLE, /resize: needs a model input size/),
  );
});

test('a size or channel count unlike the model input is refused naming the data file, for every data kind', async () => {
  const ref = await loadData(SAMPLE, 'test', 3);
  const dir = tempDir('mismatch');
  const cases: { dir: string; file: string; kind: RegExp }[] = [];
  // IDX: the embedded sample.
  cases.push({ dir: SAMPLE, file: path.join(SAMPLE, 't10k-images-idx3-ubyte.gz'), kind: /IDX/ });
  const numpy = path.join(dir, 'numpy');
  fs.mkdirSync(numpy);
  fs.writeFileSync(path.join(numpy, 'x_test.npy'), npy('|u1', [3, 28, 28, 1], ref.samples.images));
  fs.writeFileSync(path.join(numpy, 'y_test.npy'), npy('|u1', [3], ref.samples.labels));
  cases.push({ dir: numpy, file: path.join(numpy, 'x_test.npy'), kind: /NumPy/ });
  const cifar = path.join(dir, 'cifar');
  fs.mkdirSync(cifar);
  fs.writeFileSync(path.join(cifar, 'test_batch.bin'), cifarRecords(colour32(ref.samples.images, 3), [[1], [2], [3]]));
  cases.push({ dir: cifar, file: path.join(cifar, 'test_batch.bin'), kind: /CIFAR-10/ });
  const images = path.join(dir, 'images');
  fs.mkdirSync(path.join(images, 'a'), { recursive: true });
  fs.writeFileSync(path.join(images, 'a', '0.png'), png(ref.samples.images, 28, 28));
  cases.push({ dir: images, file: path.join(images, 'a', '0.png'), kind: /image folder/ });
  for (const c of cases) {
    const loaded = await loadData(c.dir, 'test', 1);
    const [h, w, ch] = loaded.shape;
    const other = ch === 1 ? 3 : 1;
    await assert.rejects(loadData(c.dir, 'test', 1, { inputShape: [h + 4, w, ch] }), (err) =>
      startsWith(
        err,
        c.file,
        new RegExp(`: images are ${h}×${w}×${ch} \\(.*\\) but the model takes ${h + 4}×${w}×${ch}; add "resize": true`),
      ),
    );
    await assert.rejects(loadData(c.dir, 'test', 1, { inputShape: [h, w, other] }), (err) =>
      startsWith(
        err,
        c.file,
        new RegExp(`${c.kind.source}.* but the model takes ${h}×${w}×${other}; add "channels": ${other}`),
      ),
    );
    // Asked for, both conversions give the model's shape.
    const fitted = await loadData(c.dir, 'test', 1, { inputShape: [16, 20, other], resize: true, channels: other });
    assert.deepEqual(fitted.shape, [16, 20, other]);
    assert.equal(fitted.samples.images.length, 16 * 20 * other);
  }
  fs.rmSync(dir, { recursive: true });
});

test('conversion: bilinear with half-pixel centres, grey replicated, BT.601 luma; chunked; no tensor left behind', async () => {
  const ref = await loadData(SAMPLE, 'test', 300);
  const before = tf.memory().numTensors;
  const up = await loadData(SAMPLE, 'test', 300, { inputShape: [32, 32, 3], resize: true, channels: 3 });
  assert.equal(tf.memory().numTensors, before);
  assert.deepEqual(up.shape, [32, 32, 3]);
  assert.equal(up.samples.count, 300);
  // Reference: the same op on the whole set at once (300 > one chunk of 256, so chunks must agree).
  const want = tf.tidy(() =>
    tf
      .round(
        tf.image.resizeBilinear(
          tf.tensor4d(Float32Array.from(ref.samples.images), [300, 28, 28, 1]),
          [32, 32],
          false,
          true,
        ),
      )
      .dataSync(),
  );
  for (let i = 0; i < 300 * 1024; i += 97) {
    for (let c = 0; c < 3; c++) assert.equal(up.samples.images[i * 3 + c], want[i]);
  }
  // Half-pixel centres: a 2×2 image to 4×4 puts 0.75·a + 0.25·b next to each corner, the corners stay.
  const tiny = convertSplit(
    { images: Uint8Array.from([0, 200, 100, 40]), labels: Uint8Array.of(0), count: 1 },
    [2, 2, 1],
    [4, 4, 1],
  );
  assert.deepEqual([...tiny.images.subarray(0, 4)], [0, 50, 150, 200]);
  // RGB → grey: 0.299 R + 0.587 G + 0.114 B, rounded.
  const rgb = Uint8Array.from([255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 200, 90]);
  const grey = convertSplit({ images: rgb, labels: Uint8Array.of(0), count: 1 }, [2, 2, 3], [2, 2, 1]);
  assert.deepEqual([...grey.images], [76, 150, 29, Math.round(0.299 * 10 + 0.587 * 200 + 0.114 * 90)]);
  // Same size, same channels: the pixels as read.
  const same = await loadData(SAMPLE, 'test', 5, { inputShape: [28, 28, 1], resize: true });
  assert.deepEqual(Buffer.from(same.samples.images), Buffer.from(ref.samples.images.subarray(0, 5 * 784)));
  // Training data: both splits converted.
  const train = await loadTrainingData(SAMPLE, { inputShape: [28, 28, 3], channels: 3 });
  assert.deepEqual(train.shape, [28, 28, 3]);
  assert.equal(train.test.images.length, train.test.count * 28 * 28 * 3);
});

test('shapeMismatch names what would fix it, and nothing when the conversion fits', () => {
  const words = { subject: 'data is', kind: 'CIFAR-10', modelName: 'the model' };
  assert.equal(shapeMismatch([32, 32, 3], [28, 28, 1], { resize: true, channels: 1 }, words), undefined);
  assert.deepEqual(shapeMismatch([32, 32, 3], [28, 28, 1], {}, words), {
    problem: 'data is 32×32×3 (CIFAR-10) but the model takes 28×28×1',
    hint: 'add "resize": true (--resize) to resize them bilinearly, and add "channels": 1 (--channels 1) to convert them',
  });
  assert.deepEqual(shapeMismatch([32, 32, 3], [28, 28, 3], { channels: 1 }, words), {
    problem: 'data is 32×32×3 (CIFAR-10), 32×32×1 once converted, but the model takes 28×28×3',
    hint: 'add "resize": true (--resize) to resize them bilinearly, and add "channels": 3 (--channels 3) to convert them',
  });
});

test('image folder, first n: later class folders are counted (available), an empty one still refused; n = 0 gives the shape', async () => {
  const dir = tempDir('img-head');
  for (const [c, count] of [
    ['a', 3],
    ['b', 4],
    ['c', 5],
  ] as const) {
    fs.mkdirSync(path.join(dir, c));
    for (let i = 0; i < count; i++)
      fs.writeFileSync(path.join(dir, c, `${i}.png`), png(new Uint8Array(12).fill(i), 3, 4));
  }
  const head = await loadData(dir, 'test', 4);
  assert.deepEqual([head.samples.count, head.available, [...head.samples.labels]], [4, 12, [0, 0, 0, 1]]);
  assert.equal(head.samples.images[3 * 12], 0, 'b/0.png comes fourth');
  const none = await loadData(dir, 'test', 0);
  assert.deepEqual([none.samples.count, none.available, none.shape], [0, 12, [3, 4, 1]]);
  fs.mkdirSync(path.join(dir, 'd'));
  await assert.rejects(loadData(dir, 'test', 1), (err) => startsWith(err, path.join(dir, 'd'), /holds no image/));
  fs.rmSync(dir, { recursive: true });
});

test('data options reach jobs from the CLI flags, a spec and the editor settings, and the job schema checks them', () => {
  const resolve = (rel: string) => path.join('/ws', rel);
  const spec = {
    model: 'm/model.json',
    data: { id: 'cifar', labels: 'coarse' as const, resize: true, channels: 1 as const },
    threat: { norm: 'linf' as const, eps: 0.1 },
    attacks: ['fgsm'],
    training: { method: 'standard' as const, epochs: 1 },
  };
  const options = { labels: 'coarse', resize: true, channels: 1 };
  assert.deepEqual(attackJobSchema.parse(specAttackJob(spec, resolve)).dataOptions, options);
  assert.deepEqual(specTrainJob(spec, resolve, false)!.dataOptions, options);
  assert.equal(specAttackJob({ ...spec, data: 'cifar' }, resolve).dataOptions, undefined);
  assert.throws(
    () => attackJobSchema.parse({ ...specAttackJob(spec, resolve), dataOptions: { channels: 2 } }),
    /channels must be 1 or 3/,
  );
  assert.throws(() => trainJobSchema.parse({ ...defaultTrainJob(), out: '/o', dataOptions: { size: 3 } }), /size/);

  const PACKAGE = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8'));
  const settings = (overrides: Record<string, unknown>) => ({
    get: <T>(key: string) =>
      (key in overrides
        ? overrides[key]
        : PACKAGE.contributes.configuration.properties[`robustness.${key}`]?.default) as T,
    inspect: <T>(key: string) => ({
      defaultValue: PACKAGE.contributes.configuration.properties[`robustness.${key}`]?.default as T,
    }),
  });
  assert.equal(
    attackJobFor('/m.json', '/ws', new Config(settings({})).attackSettings, 'attack').dataOptions,
    undefined,
  );
  const set = new Config(settings({ dataLabels: 'coarse', dataResize: true, dataChannels: 3 }));
  assert.deepEqual(attackJobFor('/m.json', '/ws', set.attackSettings, 'attack').dataOptions, {
    labels: 'coarse',
    resize: true,
    channels: 3,
  });
  const bad = new Config(settings({ dataChannels: 2 }));
  assert.match(bad.problems[0]!, /robustness\.dataChannels is 2, but it must be 1, 3 or null/);

  // The CLI: the flags become the job's dataOptions (parsed, not run).
  const program = buildProgram();
  const attack = program.commands.find((c) => c.name() === 'attack')!;
  attack.parseOptions(['--labels', 'coarse', '--resize', '--channels', '3']);
  assert.deepEqual(
    { labels: attack.opts().labels, resize: attack.opts().resize, channels: attack.opts().channels },
    { labels: 'coarse', resize: true, channels: 3 },
  );
  assert.equal(
    program.commands.find((c) => c.name() === 'train')!.options.some((o) => o.long === '--resize'),
    false,
  );
});
