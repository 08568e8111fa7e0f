/** Bad input gets an InputError naming the file and the field, never a crash. */
import { before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import * as tf from '@tensorflow/tfjs-core';
import {
  encodeIdx,
  fgsm,
  folderSaveHandler,
  getAttack,
  InputError,
  loadClassifier,
  loadTrainingData,
  makeClassifier,
  readIdxHead,
  refuseWithoutGradients,
  smallCnn,
  type AttackPlan,
} from '../../src/engine';
import { ATTACK_INFO } from '../../src/protocol/attacks';
import { engineTest, expectNoLeak, tempDir, useBackend } from './helpers';

before(() => useBackend('wasm'));

function expectInputError(fn: () => unknown, source: string, pattern: RegExp): void {
  assert.throws(fn, (err: Error) => {
    assert.ok(err instanceof InputError, `expected InputError, got ${err.name}: ${err.message}`);
    assert.ok(err.message.includes(source), `"${err.message}" does not name ${source}`);
    assert.match(err.message, pattern);
    return true;
  });
}

async function expectInputErrorAsync(fn: () => Promise<unknown>, source: string, pattern: RegExp): Promise<void> {
  await assert.rejects(fn, (err: Error) => {
    assert.ok(err instanceof InputError, `expected InputError, got ${err.name}: ${err.message}`);
    assert.ok(err.message.includes(source), `"${err.message}" does not name ${source}`);
    assert.match(err.message, pattern);
    return true;
  });
}

engineTest('IDX: a good file round-trips, plain and gzip', async () => {
  const dir = tempDir('idx');
  const data = Uint8Array.from({ length: 2 * 3 * 4 }, (_, i) => i);
  for (const gzip of [false, true]) {
    const file = path.join(dir, gzip ? 'x.idx.gz' : 'x.idx');
    fs.writeFileSync(file, encodeIdx([2, 3, 4], data, gzip));
    const read = await readIdxHead(file);
    assert.deepEqual(read.dims, [2, 3, 4]);
    assert.equal(read.records, 2);
    assert.deepEqual(Array.from(read.data), Array.from(data));
  }
  fs.rmSync(dir, { recursive: true });
});

engineTest('IDX: truncated data, wrong magic, wrong dims, broken gzip, missing file', async () => {
  const dir = tempDir('idx-bad');
  const file = path.join(dir, 'images.idx');
  const read = async (bytes: Uint8Array, name = file) => {
    fs.writeFileSync(name, bytes);
    return readIdxHead(name);
  };
  const good = encodeIdx([2, 3, 4], new Uint8Array(24), false);
  await expectInputErrorAsync(
    () => read(good.subarray(0, good.length - 5)),
    file,
    /data: is truncated: the first 2 of 2×3×4 records need 24 bytes, found 19/,
  );
  const badMagic = Buffer.from(good);
  badMagic[0] = 0x12;
  await expectInputErrorAsync(
    () => read(badMagic),
    file,
    /magic number: starts with 0x12000803; IDX files start with 0x0000/,
  );
  const badType = Buffer.from(good);
  badType[2] = 0x0d;
  await expectInputErrorAsync(
    () => read(badType),
    file,
    /magic number: declares element type 0xd; only unsigned bytes/,
  );
  const badDims = Buffer.from(good);
  badDims[3] = 9;
  await expectInputErrorAsync(() => read(badDims), file, /dims: declares 9 dimensions; expected 1 to 4/);
  await expectInputErrorAsync(
    () => read(good.subarray(0, 10)),
    file,
    /dims: header declares 3 dimensions but the file ends after 10 bytes/,
  );
  await expectInputErrorAsync(
    () => read(Buffer.concat([good, Buffer.alloc(3)])),
    file,
    /data: has 3 bytes after the 2×3×4 data/,
  );
  const gz = zlib.gzipSync(good);
  const gzFile = path.join(dir, 'images.idx.gz');
  await expectInputErrorAsync(
    () => read(gz.subarray(0, gz.length - 12), gzFile),
    gzFile,
    /gzip: cannot be decompressed/,
  );
  await expectInputErrorAsync(
    () => readIdxHead('/nonexistent/t10k-images-idx3-ubyte.gz'),
    '/nonexistent/t10k-images-idx3-ubyte.gz',
    /cannot be read: ENOENT/,
  );
  fs.rmSync(dir, { recursive: true });
});

engineTest('datasets: labels that do not match the images, and a folder missing a file', async () => {
  const dir = tempDir('data');
  const write = (name: string, dims: number[]) =>
    fs.writeFileSync(path.join(dir, name), encodeIdx(dims, new Uint8Array(dims.reduce((a, b) => a * b, 1)), true));
  write('t10k-images-idx3-ubyte.gz', [3, 2, 2]);
  write('t10k-labels-idx1-ubyte.gz', [3]);
  write('train-images-idx3-ubyte.gz', [3, 2, 2]);
  write('train-labels-idx1-ubyte.gz', [2]);
  await expectInputErrorAsync(
    () => loadTrainingData(dir),
    'train-labels-idx1-ubyte.gz',
    /dims: has 2 labels for 3 images/,
  );
  write('train-labels-idx1-ubyte.gz', [3]);
  fs.rmSync(path.join(dir, 't10k-labels-idx1-ubyte.gz'));
  await expectInputErrorAsync(
    () => loadTrainingData(dir),
    dir,
    /t10k-labels-idx1-ubyte: neither t10k-labels-idx1-ubyte.gz nor t10k-labels-idx1-ubyte exists/,
  );
  write('t10k-labels-idx1-ubyte.gz', [3]);
  const data = await loadTrainingData(dir);
  assert.deepEqual([data.train.count, data.test.count, data.classNames], [3, 3, ['class 0']]);
  fs.rmSync(dir, { recursive: true });
});

async function savedModel(): Promise<string> {
  const dir = tempDir('model');
  const net = smallCnn([28, 28, 1], 10, 1);
  await net.save(folderSaveHandler(dir));
  net.dispose();
  return path.join(dir, 'model.json');
}

function editJson(
  file: string,
  edit: (json: {
    weightsManifest: Array<{ paths: string[]; weights: Array<{ name: string; shape: number[] }> }>;
    modelTopology: unknown;
  }) => void,
): void {
  const json = JSON.parse(fs.readFileSync(file, 'utf8'));
  edit(json);
  fs.writeFileSync(file, JSON.stringify(json));
}

engineTest('model.json: a good model loads; predicting leaks nothing', async () => {
  const file = await savedModel();
  const model = await loadClassifier(file);
  assert.deepEqual(model.inputShape, [28, 28, 1]);
  assert.equal(model.numClasses, 10);
  assert.deepEqual(model.warnings, []);
  const input = tf.ones([2, 28, 28, 1]) as tf.Tensor4D;
  const logits = await expectNoLeak(() => tf.tidy(() => model.predictLogits(input).arraySync()));
  input.dispose();
  model.dispose?.();
  assert.equal(logits.length, 2);
  assert.equal(logits[0]!.length, 10);
});

engineTest(
  'model.json: missing weights, a ../ path, an absolute path, wrong byte count, wrong shapes, bad JSON',
  async () => {
    let file = await savedModel();
    fs.rmSync(path.join(path.dirname(file), 'weights.bin'));
    await expectInputErrorAsync(
      () => loadClassifier(file),
      file,
      /weightsManifest\[0\]\.paths\[0\]: weight file "weights\.bin" does not exist/,
    );

    file = await savedModel();
    editJson(file, (j) => {
      j.weightsManifest[0]!.paths[0] = '../x.bin';
    });
    await expectInputErrorAsync(
      () => loadClassifier(file),
      file,
      /weightsManifest\[0\]\.paths\[0\]: path "\.\.\/x\.bin" leaves the model folder/,
    );

    file = await savedModel();
    editJson(file, (j) => {
      j.weightsManifest[0]!.paths[0] = '/etc/passwd';
    });
    await expectInputErrorAsync(() => loadClassifier(file), file, /path "\/etc\/passwd" leaves the model folder/);

    file = await savedModel();
    editJson(file, (j) => {
      j.weightsManifest[0]!.weights[0]!.shape = [5, 4, 1, 16];
    });
    await expectInputErrorAsync(
      () => loadClassifier(file),
      file,
      /weightsManifest\[0\]: weights need \d+ bytes but weights\.bin hold \d+/,
    );

    file = await savedModel();
    editJson(file, (j) => {
      j.weightsManifest[0]!.weights[0]!.shape = [4, 4, 16, 1];
    });
    await expectInputErrorAsync(() => loadClassifier(file), file, /conv1|shape/i);

    file = await savedModel();
    fs.writeFileSync(file, '{"modelTopology": ');
    await expectInputErrorAsync(() => loadClassifier(file), file, /is not valid JSON/);

    file = await savedModel();
    editJson(file, (j) => {
      delete (j as { modelTopology?: unknown }).modelTopology;
    });
    await expectInputErrorAsync(
      () => loadClassifier(file),
      file,
      /modelTopology: is missing; this is not a tfjs model\.json/,
    );

    await expectInputErrorAsync(
      () => loadClassifier('/nonexistent/model.json'),
      '/nonexistent/model.json',
      /cannot be read: ENOENT/,
    );
  },
);

engineTest('a softmax last layer is stripped with a warning, and the logits equal the pre-softmax values', async () => {
  const dir = tempDir('softmax');
  const net = smallCnn([28, 28, 1], 10, 2);
  // Same weights, softmax on the last layer.
  const json = await new Promise<Record<string, unknown>>((resolve) => {
    void net.save(
      tf.io.withSaveHandler(async (artifacts) => {
        resolve({ artifacts });
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
  });
  const artifacts = json.artifacts as tf.io.ModelArtifacts;
  const topology = artifacts.modelTopology as { config: { layers: Array<{ config: { activation?: string } }> } };
  topology.config.layers[topology.config.layers.length - 1]!.config.activation = 'softmax';
  await folderSaveHandler(dir).save!(artifacts);
  const model = await loadClassifier(path.join(dir, 'model.json'));
  assert.equal(model.warnings.length, 1);
  assert.match(model.warnings[0]!, /last layer "logits" applies softmax; it was removed so attacks see logits/);
  const input = tf.ones([1, 28, 28, 1]);
  const expected = tf.tidy(() => (net.apply(input) as tf.Tensor).dataSync());
  const actual = tf.tidy(() => Array.from(model.predictLogits(input as tf.Tensor4D).dataSync()));
  tf.dispose(input);
  net.dispose();
  model.dispose?.();
  expected.forEach((v, i) => assert.ok(Math.abs(v - actual[i]!) < 1e-5));
  const sum = actual.reduce((s, v) => s + v, 0);
  assert.ok(Math.abs(sum - 1) > 1e-3, 'outputs still sum to 1: softmax was not removed');
});

engineTest('a graph model loads; its softmax output node is bypassed so attacks see the logits', async () => {
  const file = path.join(__dirname, '..', 'fixtures', 'graph-model', 'model.json');
  const model = await loadClassifier(file);
  assert.deepEqual(model.inputShape, [2, 2, 1]);
  assert.equal(model.numClasses, 3);
  assert.match(model.warnings[0]!, /output node "probs" is a softmax; attacks use its input "logits" as logits/);
  const logits = tf.tidy(() => Array.from(model.predictLogits(tf.tensor4d([1, 1, 1, 1], [1, 2, 2, 1])).dataSync()));
  model.dispose?.();
  // Column sums of w: [1+0-1+0.5, 0+2+0-0.5, -1+0+1+0]
  assert.deepEqual(logits, [0.5, 1.5, 0]);
});

test('gradients flow through a graph model: FGSM moves the input and leaks nothing', async () => {
  const model = await loadClassifier(path.join(__dirname, '..', 'fixtures', 'graph-model', 'model.json'));
  const x = tf.tensor4d([0.5, 0.5, 0.5, 0.5], [1, 2, 2, 1]);
  const y = tf.tensor1d([1], 'int32');
  const result = await expectNoLeak(async () => {
    const r = await fgsm(model, x, y, { norm: 'linf', eps: 0.1, bounds: [0, 1] });
    const moved = Array.from(r.xAdv.dataSync());
    r.xAdv.dispose();
    return moved;
  });
  // A sign step: every pixel moves by exactly ε, and none reaches the box edges.
  assert.ok(
    result.every((v) => Math.abs(Math.abs(v - 0.5) - 0.1) < 1e-6),
    `moved to ${result}`,
  );
  tf.dispose([x, y]);
});

test('a model without gradients: white-box attacks and probes are refused naming the model; square runs', () => {
  const forwardOnly = (source: string) =>
    makeClassifier((x) => tf.zeros([x.shape[0], 3]) as tf.Tensor2D, {
      inputShape: [2, 2, 1],
      numClasses: 3,
      bounds: [0, 1],
      source,
      warnings: [],
      gradients: false,
    });
  const model = forwardOnly('models/net.onnx');
  const withGradients = makeClassifier((x) => tf.zeros([x.shape[0], 3]) as tf.Tensor2D, {
    inputShape: [2, 2, 1],
    numClasses: 3,
    bounds: [0, 1],
    source: 'surrogate/model.json',
    warnings: [],
  });
  assert.equal(withGradients.gradients, true, 'makeClassifier defaults to gradients');
  const plan = (id: string): AttackPlan => ({ entry: getAttack(id), options: {} });
  expectInputError(
    () => refuseWithoutGradients([plan('square'), plan('pgd')], model, undefined, false),
    'models/net.onnx',
    /gradients: the PGD attack \(pgd\) is white-box and needs the gradients of this model, .*\(square\)/,
  );
  refuseWithoutGradients([plan('square')], model, undefined, false);
  // Transfer crafts on the surrogate: the target may be forward-only, the surrogate may not.
  refuseWithoutGradients([plan('transfer')], model, withGradients, false);
  const forwardOnlySurrogate = forwardOnly('s/net.onnx');
  expectInputError(
    () => refuseWithoutGradients([plan('transfer')], withGradients, forwardOnlySurrogate, false),
    's/net.onnx',
    /the Transfer attack \(transfer\) crafts its examples on this surrogate and needs its gradients/,
  );
  expectInputError(
    () => refuseWithoutGradients([plan('square')], model, undefined, true),
    'models/net.onnx',
    /gradients: the diagnostics of a suite or --diagnostics need gradients/,
  );
});

test('through the engine API: every white-box attack refuses a forward-only model, transfer a forward-only surrogate', async () => {
  // Four pixels, four classes: the logits are the pixels.
  const logits = (x: tf.Tensor4D) => tf.reshape(x, [x.shape[0], 4]) as tf.Tensor2D;
  const meta = {
    inputShape: [2, 2, 1] as [number, number, number],
    numClasses: 4,
    bounds: [0, 1] as [number, number],
    warnings: [],
  };
  const forwardOnly = makeClassifier(logits, { ...meta, source: 'models/net.onnx', gradients: false });
  const withGradients = makeClassifier(logits, { ...meta, source: 'surrogate/model.json' });
  const x = tf.tensor4d([0.1, 0.5, 0.2, 0.3, 0.6, 0.1, 0.4, 0.2], [2, 2, 2, 1]);
  const y = tf.tensor1d([1, 0], 'int32');
  const threat = { norm: 'linf' as const, eps: 0.1, bounds: [0, 1] as [number, number] };
  const options = { steps: 2, queries: 3, targetClasses: 2, surrogate: withGradients, seed: 1 };
  const taken = (id: string) =>
    Object.fromEntries(Object.entries(options).filter(([k]) => k in getAttack(id).options || k === 'seed'));
  await expectNoLeak(async () => {
    const whiteBox = ['fgsm', 'pgd', 'apgd', 'apgd-t', 'fab', 'fab-t', 'mi-fgsm'];
    for (const id of whiteBox) {
      const { name } = getAttack(id);
      await expectInputErrorAsync(
        () => getAttack(id).run(forwardOnly, x, y, threat, taken(id)),
        'models/net.onnx',
        new RegExp(
          `^models/net\\.onnx: gradients: the ${name} attack \\(${id}\\) is white-box and needs the ` +
            'gradients of this model, which its format does not give; use a black-box attack \\(square\\)$',
        ),
      );
    }
    // The catalogue's access decides which attacks those are; square and transfer are the others.
    assert.deepEqual(
      ATTACK_INFO.filter((a) => a.access === 'white-box').map((a) => a.id),
      whiteBox,
    );
    const square = await getAttack('square').run(forwardOnly, x, y, threat, taken('square'));
    assert.equal(square.backwardPasses, 0);
    square.xAdv.dispose();
    // Transfer crafts on the surrogate: the target may be forward-only, the surrogate may not.
    const crafted = await getAttack('transfer').run(forwardOnly, x, y, threat, taken('transfer'));
    assert.deepEqual([crafted.backwardPasses, crafted.surrogatePasses?.backward], [0, 2 * 2]);
    crafted.xAdv.dispose();
    await expectInputErrorAsync(
      () => getAttack('transfer').run(withGradients, x, y, threat, { ...taken('transfer'), surrogate: forwardOnly }),
      'models/net.onnx',
      /^models\/net\.onnx: gradients: the Transfer attack \(transfer\) crafts its examples on this surrogate /,
    );
  });
  tf.dispose([x, y]);
});
