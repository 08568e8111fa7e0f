import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { onnx } from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { loadClassifier, type Classifier } from '../../src/engine';
import { loadData } from '../../src/engine/data/datasets';
import {
  compileOnnx,
  dilateKernel,
  halfToFloat,
  ungroupTransposeKernel,
} from '../../src/engine/models/onnx/interpreter';
import { describeModel, formatModelInfo } from '../../src/formats/model-formats';
import {
  cnnWithTwoOutputs,
  engineTest,
  expectNoLeak,
  forEachBackend,
  seededFloats,
  SHARED_MODELS,
  sharedAbsent,
  tempDir,
  useBackend,
} from './helpers';

before(() => useBackend('wasm'));

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'onnx');
const fixture = (name: string) => path.join(FIXTURES, `${name}.onnx`);

interface Reference {
  inputShape: number[];
  input: number[];
  logitsShape: number[];
  logits: number[];
}
const reference = (name: string): Reference =>
  JSON.parse(fs.readFileSync(path.join(FIXTURES, `${name}.json`), 'utf8')) as Reference;

/** The reference batch (NCHW, as onnxruntime saw it) as the engine's NHWC input. */
const nhwcInput = (ref: Reference) =>
  tf.tidy(
    () =>
      tf.transpose(
        tf.tensor4d(ref.input, ref.inputShape as [number, number, number, number]),
        [0, 2, 3, 1],
      ) as tf.Tensor4D,
  );

/** Largest |a − b| / max(|b|, 1e-2) over the logits. */
function relativeError(actual: ArrayLike<number>, expected: number[]): number {
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!) / Math.max(Math.abs(expected[i]!), 1e-2));
  }
  return worst;
}

async function withModel<T>(file: string, fn: (model: Classifier) => T | Promise<T>): Promise<T> {
  const model = await loadClassifier(file);
  try {
    return await fn(model);
  } finally {
    model.dispose?.();
  }
}

/** A fixture changed through onnx-proto and written to a temporary folder. */
function editedFixture(
  name: string,
  edit: (model: onnx.ModelProto, dir: string) => void,
  fileName = 'model.onnx',
): string {
  const model = onnx.ModelProto.decode(fs.readFileSync(fixture(name)));
  const dir = tempDir('onnx');
  edit(model, dir);
  const file = path.join(dir, fileName);
  fs.writeFileSync(file, onnx.ModelProto.encode(model).finish());
  return file;
}

/** An operator case of ops.json (scripts/onnx-ops.mjs): a one-node model, its feeds and onnxruntime's output. */
interface OpCase {
  name: string;
  model: string;
  feeds: Record<string, { shape: number[]; data: number[] }>;
  output: { shape: number[]; data: number[] };
}
const OP_CASES = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'ops.json'), 'utf8')) as OpCase[];

/** The model of the ops.json case `name`, decoded afresh (a test may edit it). */
function opCaseModel(name: string): onnx.ModelProto {
  const c = OP_CASES.find((o) => o.name === name);
  assert.ok(c, `ops.json has no case "${name}"`);
  return onnx.ModelProto.decode(Buffer.from(c.model, 'base64'));
}

describe('ONNX models: the cheap half', () => {
  engineTest('describe reads input shape, classes, opset and producer', () => {
    assert.equal(formatModelInfo(describeModel(fixture('cnn'))), 'pytorch 1.13.0 · opset 13 · 28×28×1 → 10');
    assert.equal(formatModelInfo(describeModel(fixture('resnet'))), 'pytorch 1.13.0 · opset 11 · 16×16×3 → 10');
    assert.deepEqual(describeModel(fixture('mlp')), {
      format: 'onnx',
      inputShape: [28, 28, 1],
      classes: 10,
      producer: 'pytorch 1.13.0',
      opset: 13,
    });
  });

  engineTest('a truncated file is refused, naming the file', async () => {
    const file = path.join(tempDir('onnx'), 'broken.onnx');
    fs.writeFileSync(file, fs.readFileSync(fixture('cnn')).subarray(0, 300));
    assert.throws(() => describeModel(file), {
      message: `${file}: is not an ONNX model (index out of range: 300 + 10 > 300)`,
    });
    await assert.rejects(loadClassifier(file), {
      name: 'InputError',
      message: new RegExp(`^${file}: is not an ONNX model`),
    });
  });

  engineTest('an external-data location that leaves the model folder is refused, naming the file', async () => {
    const file = editedFixture('cnn', (model) => {
      const weight = model.graph!.initializer![0]!;
      weight.rawData = new Uint8Array(0);
      weight.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
      weight.externalData = [{ key: 'location', value: '../outside.bin' }];
    });
    const message =
      `${file}: initializer "conv1.weight": external data location "../outside.bin" leaves the model's folder; ` +
      'weight files must sit beside the model';
    assert.throws(() => describeModel(file), { message });
    await assert.rejects(loadClassifier(file), { name: 'InputError', message });
  });
});

describe('ONNX models: the interpreter', () => {
  forEachBackend(() => {
    for (const name of ['cnn', 'resnet', 'mlp', 'branches']) {
      engineTest(`${name}: logits equal onnxruntime's to 1e-4 relative`, async () => {
        const ref = reference(name);
        await withModel(fixture(name), (model) => {
          assert.deepEqual(model.inputShape, [ref.inputShape[2], ref.inputShape[3], ref.inputShape[1]]);
          assert.equal(model.numClasses, 10);
          assert.equal(model.gradients, true);
          assert.deepEqual(model.warnings, []);
          const x = nhwcInput(ref);
          const logits = model.predictLogits(x);
          assert.deepEqual(logits.shape, ref.logitsShape);
          assert.ok(relativeError(logits.dataSync(), ref.logits) < 1e-4);
          tf.dispose([x, logits]);
        });
      });
    }

    for (const name of ['resnet', 'branches']) {
      engineTest(`${name}: input gradients equal finite differences`, async () => {
        const ref = reference(name);
        await withModel(fixture(name), (model) => {
          const x = tf.tidy(() => tf.slice(nhwcInput(ref), [0, 0, 0, 0], [1, -1, -1, -1]) as tf.Tensor4D);
          const loss = (input: tf.Tensor) => tf.sum(tf.mul(model.predictLogits(input as tf.Tensor4D), tf.range(1, 11)));
          const grad = tf.grad(loss)(x);
          const g = grad.dataSync();
          const h = 1e-2;
          for (const i of [0, 100, 383, x.size - 1]) {
            const numeric = tf.tidy(() => {
              const bump = tf.mul(tf.reshape(tf.oneHot(tf.tensor1d([i], 'int32'), x.size), x.shape), h);
              return (
                (loss(tf.add(x, bump) as tf.Tensor4D).dataSync()[0]! -
                  loss(tf.sub(x, bump) as tf.Tensor4D).dataSync()[0]!) /
                (2 * h)
              );
            });
            assert.ok(
              Math.abs(numeric - g[i]!) < 1e-2 * Math.max(1, Math.abs(numeric)),
              `pixel ${i}: ${g[i]} vs ${numeric}`,
            );
          }
          assert.ok(g.some((v) => v !== 0));
          tf.dispose([x, grad]);
        });
      });
    }
  }, ['cpu', 'wasm']);

  forEachBackend(() => {
    for (const c of OP_CASES) {
      engineTest(`operator case ${c.name}: equals onnxruntime to 1e-4, fed NCHW and NHWC`, () => {
        const program = compileOnnx(`ops.json#${c.name}`, opCaseModel(c.name));
        try {
          for (const nhwcInputs of [false, true]) {
            const feeds = Object.fromEntries(
              Object.entries(c.feeds).map(([name, f]) => {
                const t = tf.tidy(() => {
                  const nchw = tf.tensor(f.data, f.shape);
                  return nhwcInputs && nchw.rank === 4 ? tf.transpose(nchw, [0, 2, 3, 1]) : nchw;
                });
                return [name, t];
              }),
            );
            const [out] = program.execute(feeds, { nhwcInputs });
            assert.deepEqual(out!.shape, c.output.shape);
            const error = relativeError(out!.dataSync(), c.output.data);
            assert.ok(error < 1e-4, `${nhwcInputs ? 'NHWC' : 'NCHW'}: relative error ${error}`);
            tf.dispose([out!, ...Object.values(feeds)]);
          }
        } finally {
          program.dispose();
        }
      });
    }
  }, ['cpu', 'wasm']);

  engineTest('an unsupported op is refused at load, naming node, op type and opset', async () => {
    const file = editedFixture('cnn', (model) => {
      model.graph!.node![1]!.opType = 'Celu';
    });
    await assert.rejects(loadClassifier(file), {
      name: 'InputError',
      message: new RegExp(`^${file}: node "/Relu": op type Celu \\(opset 13\\) is not supported; Robustness Lab runs `),
    });
  });

  engineTest("an op of another domain than ONNX's own is refused at load, naming node and domain", async () => {
    const file = editedFixture('cnn', (model) => {
      model.graph!.node![1]!.domain = 'com.microsoft';
    });
    await assert.rejects(loadClassifier(file), {
      name: 'InputError',
      message:
        `${file}: node "/Relu": op type Relu of domain com.microsoft is not supported; Robustness Lab runs ` +
        "ONNX's own operators (ai.onnx)",
    });
  });

  engineTest('a dilated MaxPool or a SAME_LOWER Conv is refused at load, naming the node', async () => {
    const pooled = editedFixture('cnn', (model) => {
      model.graph!.node![2]!.attribute!.push({
        name: 'dilations',
        type: onnx.AttributeProto.AttributeType.INTS,
        ints: [2, 2],
      });
    });
    await assert.rejects(loadClassifier(pooled), {
      name: 'InputError',
      message: `${pooled}: node "/pool/MaxPool": MaxPool with dilations is not supported`,
    });
    const lower = editedFixture('cnn', (model) => {
      const conv = model.graph!.node![0]!;
      conv.attribute = [
        ...conv.attribute!.filter((a) => a.name !== 'pads'),
        { name: 'auto_pad', type: onnx.AttributeProto.AttributeType.STRING, s: Buffer.from('SAME_LOWER') },
      ];
    });
    await assert.rejects(loadClassifier(lower), {
      name: 'InputError',
      message: `${lower}: node "/conv1/Conv": Conv auto_pad SAME_LOWER is not supported`,
    });
  });

  engineTest('float16 weights (raw_data and typed fields) load as float32', async () => {
    assert.deepEqual([0x3c00, 0xc000, 0x3555, 0x0001, 0x7bff, 0x7c00].map(halfToFloat), [
      1,
      -2,
      0.333251953125,
      2 ** -24,
      65504,
      Infinity,
    ]);
    const ref = reference('cnn');
    const toHalf = (weight: onnx.ITensorProto) => {
      const values = new Float32Array(new Uint8Array(weight.rawData!).buffer);
      const bits = Array.from(values, (v) => {
        // Nearest float16 of a weight |v| < 2: sign, exponent and 10 fraction bits (or a subnormal).
        const sign = v < 0 ? 0x8000 : 0;
        const a = Math.abs(v);
        if (a < 2 ** -14) return sign | Math.round(a / 2 ** -24);
        const e = Math.floor(Math.log2(a));
        const f = Math.round((a / 2 ** e - 1) * 1024);
        return sign | (f === 1024 ? (e + 16) << 10 : ((e + 15) << 10) | f);
      });
      weight.dataType = onnx.TensorProto.DataType.FLOAT16;
      return bits;
    };
    const file = editedFixture('cnn', (model) => {
      const [conv1, , , , fc] = model.graph!.initializer!;
      const raw = toHalf(conv1!);
      conv1!.rawData = new Uint8Array(new Uint16Array(raw).buffer);
      fc!.int32Data = toHalf(fc!);
      fc!.rawData = new Uint8Array(0);
    });
    await withModel(file, (model) => {
      const x = nhwcInput(ref);
      const logits = model.predictLogits(x);
      // float16 keeps about 3 decimal digits of each weight: the logits move by about 1e-4.
      const moved = Math.max(...Array.from(logits.dataSync(), (v, i) => Math.abs(v - ref.logits[i]!)));
      assert.ok(moved < 2e-3 && moved > 1e-7, `logits moved by ${moved}`);
      tf.dispose([x, logits]);
    });
  });

  engineTest('weights in an external file beside the model load like inline ones', async () => {
    const ref = reference('cnn');
    const file = editedFixture('cnn', (model, dir) => {
      const weight = model.graph!.initializer!.find((t) => t.name === 'fc.weight')!;
      fs.writeFileSync(path.join(dir, 'weights.bin'), Buffer.concat([Buffer.alloc(16), weight.rawData!]));
      weight.externalData = [
        { key: 'location', value: 'weights.bin' },
        { key: 'offset', value: '16' },
        { key: 'length', value: String(weight.rawData!.length) },
      ];
      weight.rawData = new Uint8Array(0);
      weight.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
    });
    await withModel(file, (model) => {
      const x = nhwcInput(ref);
      const logits = model.predictLogits(x);
      assert.ok(relativeError(logits.dataSync(), ref.logits) < 1e-4);
      tf.dispose([x, logits]);
    });
  });

  engineTest('of several outputs, the one shaped [batch, classes] or the one named is the logits', async () => {
    const ref = reference('cnn');
    const file = cnnWithTwoOutputs();
    await withModel(file, (model) => {
      assert.deepEqual(model.warnings, [
        `${file}: the graph has 2 outputs ("/Relu_output_0", "logits"); attacks use "logits", the one shaped [batch, classes]`,
      ]);
      const x = nhwcInput(ref);
      const logits = model.predictLogits(x);
      assert.ok(relativeError(logits.dataSync(), ref.logits) < 1e-4);
      tf.dispose([x, logits]);
    });
    await assert.rejects(loadClassifier(file, { output: 'probs' }), {
      name: 'InputError',
      message: `${file}: graph.output: has no output "probs"; its outputs are "/Relu_output_0", "logits"`,
    });
    await assert.rejects(loadClassifier(file, { output: '/Relu_output_0' }), {
      name: 'InputError',
      message: `${file}: output: shape [1, 4, 26, 26] is not [batch, classes]`,
    });
  });

  engineTest('a final Softmax is stripped with a warning, so losses see logits', async () => {
    const ref = reference('mlp');
    const file = editedFixture('mlp', (model) => {
      const graph = model.graph!;
      const last = graph.node![graph.node!.length - 1]!;
      last.output = ['pre_softmax'];
      graph.node!.push(
        onnx.NodeProto.create({ name: 'probs', opType: 'Softmax', input: ['pre_softmax'], output: ['logits'] }),
      );
    });
    await withModel(file, (model) => {
      assert.deepEqual(model.warnings, [
        `${file}: the output node "probs" is a Softmax; attacks use its input "pre_softmax" as logits (attacking ` +
          'probabilities masks gradients)',
      ]);
      const x = nhwcInput(ref);
      const logits = model.predictLogits(x);
      assert.ok(relativeError(logits.dataSync(), ref.logits) < 1e-4);
      tf.dispose([x, logits]);
    });
  });
});

describe('ONNX models trained elsewhere (../shared/models)', () => {
  for (const [name, softmax] of [
    ['wonnx-mnist', false],
    ['onnx-mlir-mnist', true],
  ] as const) {
    test(
      `${name}: a batch of 3 equals onnxruntime image by image (the file fixes the batch at 1)`,
      { skip: sharedAbsent },
      async () => {
        const file = path.join(SHARED_MODELS, name, 'model.onnx');
        const session = await ort.InferenceSession.create(file);
        await expectNoLeak(async () => {
          await withModel(file, async (model) => {
            assert.deepEqual(model.inputShape, [28, 28, 1]);
            assert.equal(model.numClasses, 10);
            assert.equal(model.warnings.length, softmax ? 1 : 0);
            const x = tf.tidy(() => tf.mul(tf.randomUniform([3, 28, 28, 1], 0, 1, 'float32', 7), 1) as tf.Tensor4D);
            const logits = model.predictLogits(x);
            const ours = tf.tidy(() => (softmax ? tf.softmax(logits) : tf.clone(logits)));
            const data = ours.dataSync();
            for (let i = 0; i < 3; i++) {
              const image = tf.tidy(() => tf.transpose(tf.slice(x, [i, 0, 0, 0], [1, -1, -1, -1]), [0, 3, 1, 2]));
              const feed = new ort.Tensor('float32', image.dataSync() as Float32Array, [1, 1, 28, 28]);
              image.dispose();
              const out = (await session.run({ [session.inputNames[0]!]: feed }))[session.outputNames[0]!]!;
              const error = relativeError(data.slice(i * 10, i * 10 + 10), [...(out.data as Float32Array)]);
              assert.ok(error < 1e-4, `image ${i}: relative error ${error}`);
            }
            tf.dispose([x, logits, ours]);
          });
        });
      },
    );
  }
});

describe('ONNX operators with ceil_mode, dilations and groups: gradients equal finite differences', () => {
  const GRADIENT_CASES = [
    'maxpool-ceil-pads',
    'maxpool-ceil-window-dropped',
    'maxpool-same-lower-strides',
    'averagepool-ceil',
    'averagepool-ceil-pads-excluded',
    'averagepool-ceil-pads-included',
    'averagepool-ceil-window-dropped-included',
    'averagepool-same-lower-included',
    'conv-dilated-pads',
    'conv-dilated-grouped-strided',
    'conv-depthwise-dilated',
    'convtranspose-grouped',
    'convtranspose-depthwise',
    'convtranspose-dilated-grouped',
    'pad-reflect-opset19',
    'pad-edge-opset19',
    'pad-wrap-opset19',
    'softmax-coerced-2d-opset11',
  ];

  forEachBackend(() => {
    for (const name of GRADIENT_CASES) {
      engineTest(`operator case ${name}: the input gradient equals central differences`, () => {
        const c = OP_CASES.find((o) => o.name === name)!;
        const program = compileOnnx(`ops.json#${name}`, opCaseModel(name));
        const [[input, feed]] = Object.entries(c.feeds) as [[string, { shape: number[]; data: number[] }]];
        const x = tf.tensor(feed.data, feed.shape);
        const out = program.execute({ [input]: x })[0]!;
        // A weighted sum of the outputs, so every output cell's gradient counts with its own factor.
        const r = tf.tensor(Array.from(seededFloats(out.size, 5, -1, 1)), out.shape);
        const loss = (t: tf.Tensor) => tf.tidy(() => tf.sum(tf.mul(program.execute({ [input]: t })[0]!, r)));
        const grad = tf.grad(loss)(x);
        const g = grad.dataSync();
        // Max pooling is piecewise linear: a small step keeps each window's maximum where it is.
        const h = name.startsWith('maxpool') ? 1e-4 : 1e-2;
        const indices = Array.from({ length: 24 }, (_, k) => Math.floor((k * (x.size - 1)) / 23));
        for (const i of indices) {
          const numeric = tf.tidy(() => {
            const bump = tf.mul(tf.reshape(tf.oneHot(tf.tensor1d([i], 'int32'), x.size), x.shape), h);
            return (loss(tf.add(x, bump)).dataSync()[0]! - loss(tf.sub(x, bump)).dataSync()[0]!) / (2 * h);
          });
          assert.ok(
            Math.abs(numeric - g[i]!) < 5e-3 * Math.max(1, Math.abs(numeric)),
            `element ${i}: gradient ${g[i]} vs central difference ${numeric}`,
          );
        }
        // Most inputs reach the output (strides skip some), under max pooling one a window.
        const nonzero = g.filter((v) => v !== 0).length;
        const reached = name.startsWith('maxpool') ? Math.min(x.size, out.size) / 2 : x.size / 2;
        assert.ok(nonzero >= reached, `${nonzero} of ${x.size} inputs have a gradient`);
        tf.dispose([x, out, r, grad]);
        program.dispose();
      });
    }

    engineTest(
      'a dilated kernel equals tfjs dilations forward, and its weight gradient equals central differences',
      () => {
        const k = tf.tensor4d(Array.from(seededFloats(3 * 2 * 2 * 3, 8, -1, 1)), [3, 2, 2, 3]);
        const x = tf.tensor4d(Array.from(seededFloats(2 * 9 * 8 * 2, 9, -1, 1)), [2, 9, 8, 2]);
        const dilated = tf.tidy(() => dilateKernel(k, [2, 3]));
        assert.deepEqual(dilated.shape, [5, 4, 2, 3]);
        const ours = tf.conv2d(x, dilated, 1, 'valid');
        const theirs = tf.conv2d(x, k, 1, 'valid', 'NHWC', [2, 3]);
        assert.ok(tf.tidy(() => tf.max(tf.abs(tf.sub(ours, theirs))).dataSync()[0]!) < 1e-5);
        const r = tf.tensor(Array.from(seededFloats(ours.size, 10, -1, 1)), ours.shape);
        const loss = (w: tf.Tensor) =>
          tf.tidy(() => tf.sum(tf.mul(tf.conv2d(x, dilateKernel(w as tf.Tensor4D, [2, 3]), 1, 'valid'), r)));
        const grad = tf.grad(loss)(k);
        const g = grad.dataSync();
        for (let i = 0; i < k.size; i += 5) {
          const numeric = tf.tidy(() => {
            const bump = tf.mul(tf.reshape(tf.oneHot(tf.tensor1d([i], 'int32'), k.size), k.shape), 1e-2);
            return (loss(tf.add(k, bump)).dataSync()[0]! - loss(tf.sub(k, bump)).dataSync()[0]!) / 2e-2;
          });
          assert.ok(
            Math.abs(numeric - g[i]!) < 5e-3 * Math.max(1, Math.abs(numeric)),
            `weight ${i}: ${g[i]} vs ${numeric}`,
          );
        }
        tf.dispose([k, x, dilated, ours, theirs, r, grad]);
      },
    );

    engineTest('a grouped ConvTranspose kernel spreads block-diagonally, and its gradient is the blocks', () => {
      // ONNX [in 4, out/groups 1, 1, 1] with 2 groups: in 0-1 feed out 0, in 2-3 feed out 1.
      const w = tf.tensor4d([1, 2, 3, 4], [4, 1, 1, 1]);
      const dense = tf.tidy(() => ungroupTransposeKernel(w, 2));
      assert.deepEqual(dense.shape, [4, 2, 1, 1]);
      assert.deepEqual(Array.from(dense.dataSync()), [1, 0, 2, 0, 0, 3, 0, 4]);
      const r = tf.tensor4d([10, 20, 30, 40, 50, 60, 70, 80], [4, 2, 1, 1]);
      const grad = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(ungroupTransposeKernel(t as tf.Tensor4D, 2), r)))(w);
      assert.deepEqual(Array.from(grad.dataSync()), [10, 30, 60, 80]);
      tf.dispose([w, dense, r, grad]);
    });
  }, ['cpu', 'wasm']);
});

describe('the ONNX model zoo MNIST model on its JPEG digits (../shared/models/wonnx-mnist/digits)', () => {
  test(
    'read through the image-folder data source, every digit is predicted as its folder names it',
    { skip: sharedAbsent },
    async () => {
      const digits = path.join(SHARED_MODELS, 'wonnx-mnist', 'digits');
      const data = await loadData(digits, 'test');
      assert.equal(data.source, 'image-folder');
      assert.deepEqual(data.shape, [28, 28, 1]);
      // Classes are numbered by sorted folder name: index 1 is the folder "3", so the digit is the name.
      assert.deepEqual(data.classNames, ['0', '3', '5', '7']);
      const truth = Array.from(data.samples.labels, (label) => Number(data.classNames[label]));
      assert.deepEqual(truth, [0, 3, 5, 7]);
      await expectNoLeak(() =>
        withModel(path.join(SHARED_MODELS, 'wonnx-mnist', 'model.onnx'), (model) => {
          // Its README: onnxruntime classifies these digits with pixels in [0, 1], the engine's own range.
          const x = tf.tidy(
            () =>
              tf.div(
                tf.tensor4d(data.samples.images, [data.samples.count, ...data.shape], 'float32'),
                255,
              ) as tf.Tensor4D,
          );
          const logits = model.predictLogits(x);
          const predicted = tf.tidy(() => Array.from(tf.argMax(logits, 1).dataSync()));
          assert.deepEqual(predicted, truth);
          tf.dispose([x, logits]);
        }),
      );
    },
  );
});

describe('ONNX forms outside the supported list are refused at load', () => {
  engineTest('a Pad mode ONNX does not define is refused at load, naming the node and the modes', () => {
    const model = opCaseModel('pad-reflect-opset19');
    const pad = model.graph!.node!.find((n) => n.opType === 'Pad')!;
    pad.attribute = [{ name: 'mode', type: onnx.AttributeProto.AttributeType.STRING, s: Buffer.from('symmetric') }];
    assert.throws(() => compileOnnx('pad.onnx', model), {
      name: 'InputError',
      message:
        'pad.onnx: node "Pad_1": Pad mode "symmetric" is not supported; ONNX\'s modes are constant, edge, reflect, wrap',
    });
  });
});

describe('ONNX BatchNormalization in training mode', () => {
  engineTest('training_mode 1 (batch statistics) is refused at load, naming the node', () => {
    const model = opCaseModel('batchnormalization');
    model.graph!.node![0]!.attribute!.push({
      name: 'training_mode',
      type: onnx.AttributeProto.AttributeType.INT,
      i: 1,
    });
    assert.throws(() => compileOnnx('bn.onnx', model), {
      name: 'InputError',
      message:
        'bn.onnx: node "BatchNormalization_0": BatchNormalization training_mode 1 (batch statistics) is not supported; ' +
        'export the model in eval mode',
    });
  });
});
