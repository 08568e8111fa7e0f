/**
 * Adversarial fine-tuning of an imported ONNX model: PGD-AT, Fast-AT and TRADES start from the
 * graph's weights, BatchNorm statistics stay frozen, and model.onnx is written back as the same
 * graph with the new weights, which onnxruntime runs to the engine's logits. Resume from a
 * checkpoint ends with the weights of an uninterrupted run, as for the Layers model.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { onnx } from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import * as tfl from '@tensorflow/tfjs-layers';
import {
  loadClassifier,
  loadTrainingData,
  runTrainJob,
  smallCnn,
  trainModel,
  type Dataset,
  type Split,
} from '../../src/engine';
import { encodeLayersAsOnnx, layersToOnnx } from '../../src/engine/models/onnx/from-layers';
import { loadOnnxNet, ONNX_FINE_TUNING_NOTE } from '../../src/engine/training/net';
import { halfToFloat } from '../../src/engine/models/onnx/interpreter';
import { floatToHalf } from '../../src/formats/onnx-write';
import type { TrainOptions } from '../../src/engine/training/train-loop';
import type { TrainJob } from '../../src/protocol/jobs';
import { toNumber } from '../../src/formats/onnx-model';
import { trainedModelFile } from '../../src/extension/training-runs';
import { trainedModelFolder } from '../../src/protocol/training';
import { engineTest, expectNoLeak, SHARED_MODELS, sharedAbsent, tempDir, useBackend } from './helpers';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'onnx');
const fixture = (name: string) => path.join(FIXTURES, `${name}.onnx`);
const decode = (file: string) => onnx.ModelProto.decode(fs.readFileSync(file));

let data: Dataset;
before(async () => {
  await useBackend('wasm');
  data = await loadTrainingData('embedded');
});

/** Largest |a − b| / max(|b|, 1e-2). */
function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!) / Math.max(Math.abs(expected[i]!), 1e-2));
  }
  return worst;
}

/** The first n test images as NCHW floats (what onnxruntime takes) and as the engine's NHWC batch. */
function testBatch(n: number): { nchw: Float32Array; nhwc: tf.Tensor4D } {
  const [h, w, c] = data.shape;
  const pixels = Float32Array.from(data.test.images.subarray(0, n * h * w * c), (v) => v / 255);
  const nhwc = tf.tensor4d(pixels, [n, h, w, c]);
  const nchw = tf.tidy(() => tf.transpose(nhwc, [0, 3, 1, 2]).dataSync() as Float32Array);
  return { nchw, nhwc };
}

/** onnxruntime's output (the graph's first) and the engine's logits for the same images. */
async function bothLogits(file: string, n = 16): Promise<{ ort: Float32Array; engine: Float32Array }> {
  const { nchw, nhwc } = testBatch(n);
  const session = await ort.InferenceSession.create(file);
  const [h, w, c] = data.shape;
  const out = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', nchw, [n, c, h, w]) });
  const expected = out[session.outputNames[0]!]!.data as Float32Array;
  await session.release();
  const model = await loadClassifier(file);
  const logits = model.predictLogits(nhwc);
  const engine = logits.dataSync() as Float32Array;
  tf.dispose([logits, nhwc]);
  model.dispose?.();
  return { ort: expected, engine };
}

/** Each initializer's raw bytes, by name. */
function initializerBytes(model: onnx.ModelProto): Map<string, Buffer> {
  return new Map(
    (model.graph!.initializer ?? []).map((t) => {
      const bytes = t.rawData?.length ? t.rawData : new Uint8Array(new Float32Array(t.floatData ?? []).buffer);
      return [t.name!, Buffer.from(bytes)];
    }),
  );
}

/** The graph without its weights: nodes, inputs, outputs, opset, IR version. */
function structure(model: onnx.ModelProto): unknown {
  const g = onnx.GraphProto.toObject(model.graph as onnx.GraphProto, { longs: String, bytes: String });
  return {
    node: g.node,
    input: g.input,
    output: g.output,
    opset: model.opsetImport.map((o) => `${o.domain}:${toNumber(o.version)}`),
    ir: toNumber(model.irVersion),
    initializers: (model.graph!.initializer ?? []).map((t) => [t.name, t.dataType, (t.dims ?? []).map(toNumber)]),
  };
}

/** The cnn fixture with a BatchNormalization after its first convolution (statistics far from 0 and 1). */
function withBatchNorm(): string {
  const model = decode(fixture('cnn'));
  const graph = model.graph!;
  const channels = 4;
  const values = (f: (i: number) => number) => Float32Array.from({ length: channels }, (_, i) => f(i));
  const add = (name: string, v: Float32Array) =>
    graph.initializer!.push(
      onnx.TensorProto.create({
        name,
        dims: [channels],
        dataType: onnx.TensorProto.DataType.FLOAT,
        rawData: new Uint8Array(v.buffer),
      }),
    );
  add(
    'bn.weight',
    values((i) => 1 + 0.1 * i),
  );
  add(
    'bn.bias',
    values((i) => 0.05 * i - 0.1),
  );
  add(
    'bn.running_mean',
    values((i) => 0.2 * i - 0.3),
  );
  add(
    'bn.running_var',
    values((i) => 0.5 + 0.25 * i),
  );
  const conv = graph.node!.findIndex((n) => n.name === '/conv1/Conv');
  const relu = graph.node![conv + 1]!;
  graph.node!.splice(
    conv + 1,
    0,
    onnx.NodeProto.create({
      name: '/bn/BatchNormalization',
      opType: 'BatchNormalization',
      input: [relu.input![0]!, 'bn.weight', 'bn.bias', 'bn.running_mean', 'bn.running_var'],
      output: ['/bn/BatchNormalization_output_0'],
      attribute: [
        onnx.AttributeProto.create({ name: 'epsilon', f: 1e-5, type: onnx.AttributeProto.AttributeType.FLOAT }),
      ],
    }),
  );
  relu.input = ['/bn/BatchNormalization_output_0'];
  const file = path.join(tempDir('onnx-bn'), 'model.onnx');
  fs.writeFileSync(file, onnx.ModelProto.encode(model).finish());
  return file;
}

const baseJob = (init: string, out: string, method: TrainJob['method']): TrainJob => ({
  method,
  data: 'embedded',
  epochs: 1,
  batchSize: 32,
  optimizer: 'adam',
  learningRate: 1e-3,
  seed: 0,
  trainLimit: 64,
  eps: 0.1,
  steps: 2,
  robustEvalLimit: 0,
  init,
  out,
  modelFolder: 'model',
});

describe('fine-tuning an ONNX model', () => {
  engineTest(
    'PGD-AT fine-tunes the cnn fixture: model.onnx is the same graph with new weights, run by onnxruntime to the engine logits',
    async () => {
      const before = tf.memory().numTensors;
      const out = tempDir('onnx-pgd-at');
      const result = await runTrainJob(baseJob(fixture('cnn'), out, 'pgd-at'));
      assert.equal(tf.memory().numTensors, before, 'tensors left behind by the job');
      assert.equal(result.modelFile, path.join(out, 'model', 'model.onnx'));
      // No BatchNormalization in this graph: nothing to say about frozen statistics.
      assert.deepEqual(result.notes, []);
      assert.equal(result.history.length, 1);
      assert.ok(Number.isFinite(result.history[0]!.loss));

      const original = decode(fixture('cnn'));
      const trained = decode(result.modelFile);
      assert.deepEqual(structure(trained), structure(original));
      const before_ = initializerBytes(original);
      for (const [name, bytes] of initializerBytes(trained)) {
        assert.notDeepEqual(bytes, before_.get(name), `initializer ${name} did not change`);
      }
      const meta = JSON.parse(trained.metadataProps.find((p) => p.key === 'robustnessLab')!.value!) as {
        method: string;
        batchNorm?: string;
      };
      assert.equal(meta.method, 'pgd-at');
      assert.equal(meta.batchNorm, undefined);

      const { ort: expected, engine } = await bothLogits(result.modelFile);
      assert.equal(engine.length, 16 * 10);
      const error = relativeError(engine, expected);
      assert.ok(error <= 1e-4, `relative error ${error}`);
      // The trained logits are not the original model's.
      const { engine: originalLogits } = await bothLogits(fixture('cnn'));
      assert.ok(relativeError(engine, originalLogits) > 1e-3);
      const record = JSON.parse(fs.readFileSync(path.join(out, 'train.json'), 'utf8')) as { notes?: string[] };
      assert.equal(record.notes, undefined);
    },
  );

  for (const method of ['fast-at', 'trades'] as const) {
    engineTest(
      `${method} starts from the ONNX weights and writes model.onnx that onnxruntime agrees with`,
      async () => {
        const before = tf.memory().numTensors;
        const result = await runTrainJob(baseJob(fixture('cnn'), tempDir(`onnx-${method}`), method));
        assert.equal(tf.memory().numTensors, before);
        const { ort: expected, engine } = await bothLogits(result.modelFile);
        assert.ok(relativeError(engine, expected) <= 1e-4);
        const changed = [...initializerBytes(decode(result.modelFile))].filter(
          ([name, bytes]) => !bytes.equals(initializerBytes(decode(fixture('cnn'))).get(name)!),
        );
        assert.equal(changed.length, 6, `${method}: changed ${changed.map(([n]) => n).join(', ')}`);
      },
    );
  }

  engineTest(
    'a model ending in Softmax trains on its logits and is written back with the Softmax; LayerNorm weights train',
    async () => {
      const model = decode(fixture('mlp'));
      const graph = model.graph!;
      graph.node![graph.node!.length - 1]!.output = ['pre_softmax'];
      graph.node!.push(
        onnx.NodeProto.create({ name: 'probs', opType: 'Softmax', input: ['pre_softmax'], output: ['logits'] }),
      );
      const file = path.join(tempDir('onnx-softmax'), 'model.onnx');
      fs.writeFileSync(file, onnx.ModelProto.encode(model).finish());
      const warnings: string[] = [];
      const result = await runTrainJob(baseJob(file, tempDir('onnx-softmax-run'), 'trades'), {
        onWarning: (w) => warnings.push(w),
      });
      assert.match(warnings[0]!, /the output node "probs" is a Softmax; attacks use its input "pre_softmax"/);
      const trained = decode(result.modelFile);
      assert.deepEqual(structure(trained), structure(decode(file)));
      assert.equal(trained.graph!.node![trained.graph!.node!.length - 1]!.opType, 'Softmax');
      const original = initializerBytes(decode(file));
      const after = initializerBytes(trained);
      for (const name of ['fc1.weight', 'fc1.bias', 'norm.weight', 'norm.bias', 'fc2.weight', 'fc2.bias']) {
        assert.notDeepEqual(after.get(name), original.get(name), `${name} did not train`);
      }
      // onnxruntime gives probabilities; the engine's logits through a softmax equal them.
      const { ort: probs, engine } = await bothLogits(result.modelFile);
      const softmax = tf.tidy(() => tf.softmax(tf.tensor2d(engine, [16, 10])).dataSync());
      assert.ok(relativeError(softmax, probs) <= 1e-4);
    },
  );

  engineTest(
    'a BatchNorm model trains with its running mean and variance byte-identical; scale and bias train',
    async () => {
      const file = withBatchNorm();
      const before = tf.memory().numTensors;
      const out = tempDir('onnx-bn-run');
      const result = await runTrainJob(baseJob(file, out, 'pgd-at'));
      assert.equal(tf.memory().numTensors, before);
      // The report says so: the run's notes, train.json and the model's metadata.
      assert.deepEqual(result.notes, [`${file}: ${ONNX_FINE_TUNING_NOTE}`]);
      const record = JSON.parse(fs.readFileSync(path.join(out, 'train.json'), 'utf8')) as { notes: string[] };
      assert.deepEqual(record.notes, result.notes);
      const meta = JSON.parse(
        decode(result.modelFile).metadataProps.find((p) => p.key === 'robustnessLab')!.value!,
      ) as { batchNorm: string };
      assert.equal(meta.batchNorm, ONNX_FINE_TUNING_NOTE);
      const original = initializerBytes(decode(file));
      const trained = initializerBytes(decode(result.modelFile));
      for (const name of ['bn.running_mean', 'bn.running_var']) assert.deepEqual(trained.get(name), original.get(name));
      for (const name of ['bn.weight', 'bn.bias', 'conv1.weight', 'fc.weight']) {
        assert.notDeepEqual(trained.get(name), original.get(name), `${name} did not train`);
      }
      const { ort: expected, engine } = await bothLogits(result.modelFile);
      assert.ok(relativeError(engine, expected) <= 1e-4);
    },
  );

  engineTest('a run stopped after epoch 1 and resumed ends with the same weights as an uninterrupted run', async () => {
    const options = (dir: string): TrainOptions => ({
      epochs: 2,
      method: 'pgd-at',
      adversarial: { eps: 0.1, steps: 2 },
      batchSize: 32,
      trainLimit: 96,
      evalLimit: 32,
      robustEvalLimit: 0,
      seed: 3,
      checkpointDir: dir,
      resume: true,
      schedule: 'cosine',
      weightDecay: 1e-4,
    });
    const before = tf.memory().numTensors;
    const weights = (net: ReturnType<typeof loadOnnxNet>) =>
      tf.tidy(() => Array.from(tf.concat(net.variables.map((w) => tf.reshape(w, [-1]))).dataSync()));
    const full = loadOnnxNet(fixture('resnet'), [16, 16, 3]);
    const resnetData = await loadResnetData();
    const fullHistory = await trainModel(full, resnetData, options(tempDir('onnx-full')));
    const dir = tempDir('onnx-resumed');
    const first = loadOnnxNet(fixture('resnet'), [16, 16, 3]);
    const controller = new AbortController();
    await assert.rejects(
      trainModel(first, resnetData, {
        ...options(dir),
        signal: controller.signal,
        onProgress: (p) => {
          if (p.epochMetrics?.epoch === 1) controller.abort();
        },
      }),
    );
    assert.ok(fs.existsSync(path.join(dir, 'checkpoints', 'last', 'model.onnx')));
    assert.ok(fs.existsSync(path.join(dir, 'checkpoints', 'last', 'optimizer.bin')));
    const resumed = loadOnnxNet(fixture('resnet'), [16, 16, 3]);
    const resumedHistory = await trainModel(resumed, resnetData, options(dir));
    assert.deepEqual(
      resumedHistory.map((h) => h.epoch),
      [1, 2],
    );
    assert.deepEqual(weights(resumed), weights(full));
    assert.notDeepEqual(weights(full), weights(first));
    assert.equal(resumedHistory[1]!.loss, fullHistory[1]!.loss);
    [full, first, resumed].forEach((n) => n.dispose());
    assert.equal(tf.memory().numTensors, before);
  });

  engineTest("the editor finds a run's fine-tuned model.onnx where the engine wrote it", async () => {
    const out = tempDir('onnx-editor-run');
    const job = { ...baseJob(fixture('cnn'), out, 'fast-at'), trainLimit: 32 };
    job.modelFolder = trainedModelFolder(job);
    assert.equal(job.modelFolder, 'onnx-fast-at-eps0.1');
    const result = await runTrainJob(job);
    assert.equal(trainedModelFile(out, job), result.modelFile);
    assert.equal(result.modelFile, path.join(out, 'onnx-fast-at-eps0.1', 'model.onnx'));
    assert.ok(fs.existsSync(result.modelFile));
  });

  engineTest('float16 weights train and are written back as float16', async () => {
    const model = decode(fixture('cnn'));
    for (const t of model.graph!.initializer!) {
      const view = new DataView(t.rawData!.buffer, t.rawData!.byteOffset, t.rawData!.byteLength);
      const halves = new Uint8Array(t.rawData!.length / 2);
      const out = new DataView(halves.buffer);
      for (let i = 0; i < halves.length / 2; i++) out.setUint16(i * 2, floatToHalf(view.getFloat32(i * 4, true)), true);
      t.rawData = halves;
      t.dataType = onnx.TensorProto.DataType.FLOAT16;
    }
    const file = path.join(tempDir('onnx-fp16'), 'model.onnx');
    fs.writeFileSync(file, onnx.ModelProto.encode(model).finish());
    const result = await runTrainJob(baseJob(file, tempDir('onnx-fp16-run'), 'pgd-at'));
    const trained = decode(result.modelFile);
    assert.deepEqual(structure(trained), structure(decode(file)));
    for (const t of trained.graph!.initializer!) {
      assert.equal(t.dataType, onnx.TensorProto.DataType.FLOAT16);
      assert.equal(t.rawData!.length, 2 * (t.dims ?? []).map(toNumber).reduce((a, b) => a * b, 1));
    }
    const original = initializerBytes(decode(file));
    const changed = [...initializerBytes(trained)].filter(([n, bytes]) => !bytes.equals(original.get(n)!));
    assert.equal(changed.length, 6);
  });

  engineTest('floatToHalf rounds to the nearest half (ties to even), as halfToFloat reads it back', () => {
    const cases: Array<[number, number]> = [
      [0, 0x0000],
      [-0, 0x8000],
      [1, 0x3c00],
      [-2, 0xc000],
      [0.1, 0x2e66],
      [65504, 0x7bff],
      [1e5, 0x7c00],
      [-Infinity, 0xfc00],
      [2 ** -24, 0x0001],
      [2 ** -26, 0x0000],
      [1 + 2 ** -11, 0x3c00], // a tie: to the even mantissa
      [1 + 3 * 2 ** -11, 0x3c02],
    ];
    for (const [value, bits] of cases) assert.equal(floatToHalf(value), bits, `${value}`);
    assert.ok(Number.isNaN(halfToFloat(floatToHalf(NaN))));
    for (const v of [0.333, -7.25, 1234.5, 3.1e-6]) {
      assert.ok(Math.abs(halfToFloat(floatToHalf(v)) - v) <= Math.abs(v) * 2 ** -11 + 2 ** -25, `${v}`);
    }
  });

  engineTest(
    'an ONNX model whose input does not match the data is refused before training, naming the data file',
    async () => {
      // The data is fitted to the starting model's input (--resize, --channels) or refused with the fix named.
      await assert.rejects(runTrainJob(baseJob(fixture('resnet'), tempDir('onnx-mismatch'), 'pgd-at')), {
        name: 'InputError',
        message:
          /fashion-mnist-sample\/train-images-idx3-ubyte\.gz: images are 28×28×1 \(IDX\) but the model takes 16×16×3; add "resize": true \(--resize\) to resize them bilinearly, and add "channels": 3 \(--channels 3\) to convert them$/,
      });
    },
  );

  engineTest('a Graph model is still refused up front, naming the file and the format', async () => {
    const file = path.join(__dirname, '..', 'fixtures', 'graph-model', 'model.json');
    await assert.rejects(runTrainJob(baseJob(file, tempDir('graph-train'), 'pgd-at')), {
      name: 'InputError',
      message: /graph-model\/model\.json: cannot be trained \(.*\): only tfjs Layers and ONNX models can be trained$/,
    });
  });
});

/** Embedded-sized RGB 16×16 data for the resnet fixture: the sample's images cropped and repeated over 3 channels. */
async function loadResnetData(): Promise<Dataset> {
  const crop = (split: Split): Split => {
    const images = new Uint8Array(split.count * 16 * 16 * 3);
    for (let i = 0; i < split.count; i++) {
      for (let y = 0; y < 16; y++) {
        for (let x = 0; x < 16; x++) {
          const v = split.images[i * 784 + (y + 6) * 28 + (x + 6)]!;
          for (let c = 0; c < 3; c++) images[((i * 16 + y) * 16 + x) * 3 + c] = v;
        }
      }
    }
    return { ...split, images };
  };
  return { ...data, shape: [16, 16, 3], train: crop(data.train), test: crop(data.test) };
}

describe('fine-tuning ONNX models trained elsewhere (../shared/models)', () => {
  for (const [name, softmax] of [
    ['wonnx-mnist', false],
    ['onnx-mlir-mnist', true],
  ] as const) {
    test(
      `${name}: Fast-AT writes back the same graph, which onnxruntime runs (batch fixed at 1) to the engine's outputs`,
      { skip: sharedAbsent },
      async () => {
        const file = path.join(SHARED_MODELS, name, 'model.onnx');
        const result = await expectNoLeak(() => runTrainJob(baseJob(file, tempDir(`onnx-${name}`), 'fast-at')));
        const trained = decode(result.modelFile);
        assert.deepEqual(structure(trained), structure(decode(file)));
        const original = initializerBytes(decode(file));
        const changed = [...initializerBytes(trained)].filter(([n, bytes]) => !bytes.equals(original.get(n)!));
        assert.ok(changed.length >= 4, `${name}: only ${changed.map(([n]) => n).join(', ')} changed`);
        const session = await ort.InferenceSession.create(result.modelFile);
        const { nchw, nhwc } = testBatch(3);
        const model = await loadClassifier(result.modelFile);
        const logits = model.predictLogits(nhwc);
        const engine = tf.tidy(() => (softmax ? tf.softmax(logits) : logits).dataSync());
        for (let i = 0; i < 3; i++) {
          const image = new ort.Tensor('float32', nchw.slice(i * 784, (i + 1) * 784), [1, 1, 28, 28]);
          const out = await session.run({ [session.inputNames[0]!]: image });
          const expected = out[session.outputNames[0]!]!.data as Float32Array;
          const error = relativeError(engine.slice(i * 10, (i + 1) * 10), expected);
          assert.ok(error <= 1e-4, `${name} image ${i}: relative error ${error}`);
        }
        await session.release();
        tf.dispose([logits, nhwc]);
        model.dispose?.();
      },
    );
  }
});

describe('exporting a Layers model to ONNX', () => {
  engineTest(
    "the smallcnn example exported to ONNX gives the Layers model's logits, in the engine and in onnxruntime",
    async () => {
      const net = smallCnn(data.shape, 10, 7);
      const file = path.join(tempDir('layers-onnx'), 'model.onnx');
      fs.writeFileSync(file, encodeLayersAsOnnx(net));
      const exported = decode(file);
      assert.deepEqual(
        exported.graph!.node!.map((n) => n.opType),
        ['Conv', 'Relu', 'Conv', 'Relu', 'Transpose', 'Flatten', 'Gemm', 'Relu', 'Gemm'],
      );
      assert.deepEqual(
        exported.graph!.initializer!.map((t) => [t.name, (t.dims ?? []).map(toNumber)]),
        [
          ['conv1.weight', [16, 1, 4, 4]],
          ['conv1.bias', [16]],
          ['conv2.weight', [32, 16, 4, 4]],
          ['conv2.bias', [32]],
          ['fc1.weight', [1568, 100]],
          ['fc1.bias', [100]],
          ['logits.weight', [100, 10]],
          ['logits.bias', [10]],
        ],
      );
      // Random biases: the exported graph must carry them too (the example initialises them at 0).
      const biases = net.getWeights().map((w, i) => (i % 2 ? tf.randomNormal(w.shape, 0, 0.1, 'float32', i) : w));
      net.setWeights(biases);
      tf.dispose(biases.filter((_, i) => i % 2));
      fs.writeFileSync(file, encodeLayersAsOnnx(net));
      const { nhwc } = testBatch(16);
      const layers = net.predict(nhwc) as tf.Tensor;
      const expected = layers.dataSync() as Float32Array;
      const { ort: fromOrt, engine } = await bothLogits(file);
      assert.ok(relativeError(engine, expected) <= 1e-4, `engine ${relativeError(engine, expected)}`);
      assert.ok(relativeError(fromOrt, expected) <= 1e-4, `onnxruntime ${relativeError(fromOrt, expected)}`);
      tf.dispose([nhwc, layers]);
      net.dispose();
    },
  );

  engineTest('pooling, same and valid padding, and activations export with the Layers semantics', async () => {
    const net = tfl.sequential({
      layers: [
        tfl.layers.conv2d({ inputShape: [28, 28, 1], filters: 3, kernelSize: 3, padding: 'valid', activation: 'tanh' }),
        tfl.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' }),
        tfl.layers.averagePooling2d({ poolSize: 2, padding: 'same' }),
        tfl.layers.activation({ activation: 'sigmoid' }),
        tfl.layers.flatten(),
        tfl.layers.dropout({ rate: 0.5 }),
        tfl.layers.dense({ units: 10, useBias: false }),
      ],
    });
    const file = path.join(tempDir('layers-onnx-pool'), 'model.onnx');
    fs.writeFileSync(file, encodeLayersAsOnnx(net));
    const { nhwc } = testBatch(8);
    const layers = net.predict(nhwc) as tf.Tensor;
    const expected = layers.dataSync() as Float32Array;
    const { ort: fromOrt, engine } = await bothLogits(file, 8);
    assert.ok(relativeError(engine, expected) <= 1e-4, `engine ${relativeError(engine, expected)}`);
    assert.ok(relativeError(fromOrt, expected) <= 1e-4, `onnxruntime ${relativeError(fromOrt, expected)}`);
    tf.dispose([nhwc, layers]);
    net.dispose();
  });

  engineTest('a layer the exporter does not write is refused, naming the layer and its class', () => {
    const net = tfl.sequential({
      layers: [
        tfl.layers.conv2d({ inputShape: [8, 8, 1], filters: 2, kernelSize: 3, name: 'c' }),
        tfl.layers.batchNormalization({ name: 'bn' }),
        tfl.layers.flatten(),
        tfl.layers.dense({ units: 2 }),
      ],
    });
    assert.throws(() => layersToOnnx(net), {
      message: 'layer "bn" (BatchNormalization): this layer class is not supported; it cannot be exported to ONNX',
    });
    const elu = tfl.sequential({
      layers: [
        tfl.layers.flatten({ inputShape: [4, 4, 1] }),
        tfl.layers.dense({ units: 2, activation: 'elu', name: 'd' }),
      ],
    });
    assert.throws(() => layersToOnnx(elu), {
      message: 'layer "d" (Dense): activation "elu" is not supported; it cannot be exported to ONNX',
    });
    net.dispose();
    elu.dispose();
  });
});
