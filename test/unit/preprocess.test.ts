import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { onnx } from 'onnx-proto';
import Ajv from 'ajv';
import {
  getAttack,
  loadClassifier,
  makeClassifier,
  runAttackJob,
  runTrainJob,
  type Classifier,
} from '../../src/engine';
import { loadJobModel } from '../../src/engine';
import { jobPreprocessing, readSidecar } from '../../src/engine/preprocess';
import { inGraphNormalization } from '../../src/formats/onnx-normalization';
import { defaultAttackJob, type AttackJob } from '../../src/protocol/jobs';
import {
  describePreprocess,
  nearChanceMessage,
  PREPROCESS_FIELDS,
  preprocessAffine,
  preprocessProblems,
  resolvePreprocess,
  sidecarFile,
} from '../../src/protocol/preprocess';
import { preprocessText } from '../../src/protocol/report-text';
import { cnnWithTwoOutputs, engineTest, seededFloats, tempDir, useBackend } from './helpers';
import { analyzeSpec } from '../../src/experiment/analysis';
import { specAttackJob, specTrainJob } from '../../src/protocol/experiment-spec';
import { attackJobSchema, preprocessLayerSchema } from '../../src/protocol/jobs';
import { modelMarkdown, specHover } from '../../src/server/features';
import { describeModel } from '../../src/formats/model-formats';
import { Config } from '../../src/extension/config';
import { attackJobFor } from '../../src/extension/jobs-from-settings';

const PACKAGE = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as {
  contributes: { configuration: { properties: Record<string, { default?: unknown }> } };
};
const PACKAGE_DEFAULTS: Record<string, unknown> = Object.fromEntries(
  Object.entries(PACKAGE.contributes.configuration.properties).map(([k, v]) => [
    k.replace(/^robustness\./, ''),
    v.default,
  ]),
);

before(() => useBackend('wasm'));

const ROOT = path.join(__dirname, '..', '..');
const CNN = path.join(ROOT, 'test', 'fixtures', 'onnx', 'cnn.onnx');
const SMALLCNN = path.join(ROOT, 'examples', 'fashion-mnist', 'smallcnn', 'model.json');
const MEAN = 0.286;
const STD = 0.353;

/** A float tensor constant [1, 1, 1, 1] for a graph. */
function scalar(name: string, value: number): onnx.ITensorProto {
  return { name, dims: [1, 1, 1, 1], dataType: onnx.TensorProto.DataType.FLOAT, floatData: [value] };
}

/** cnn.onnx with (x − MEAN) / STD at the start of its graph, written to `dir`. */
function normalisingCnn(dir: string, name = 'cnn-norm.onnx'): string {
  const model = onnx.ModelProto.decode(fs.readFileSync(CNN));
  const graph = model.graph!;
  graph.input![0]!.name = 'pixels';
  graph.initializer!.push(scalar('norm.mean', MEAN), scalar('norm.std', STD));
  graph.node!.unshift(
    { opType: 'Sub', input: ['pixels', 'norm.mean'], output: ['centred'], name: 'sub_mean' },
    { opType: 'Div', input: ['centred', 'norm.std'], output: ['input'], name: 'div_std' },
  );
  const file = path.join(dir, name);
  fs.writeFileSync(file, onnx.ModelProto.encode(model).finish());
  return file;
}

async function withModel<T>(model: Classifier, fn: (m: Classifier) => T | Promise<T>): Promise<T> {
  try {
    return await fn(model);
  } finally {
    model.dispose?.();
  }
}

const batch = (n: number, seed: number, lo = 0, hi = 1) =>
  tf.tensor4d(seededFloats(n * 28 * 28, seed, lo, hi), [n, 28, 28, 1]);

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
}

describe('preprocessing inside the model: the function the attacks see', () => {
  engineTest(
    'mean/std through the wrapper give the logits of manual normalisation and of the graph doing it',
    async () => {
      const dir = tempDir('pre');
      const inGraph = normalisingCnn(dir);
      await withModel(await loadClassifier(CNN), async (plain) =>
        withModel(await loadClassifier(CNN, { normalization: { mean: [MEAN], std: [STD] } }), async (wrapped) =>
          withModel(await loadClassifier(inGraph), (graphNorm) => {
            const x = batch(4, 1);
            const manual = tf.tidy(() => plain.predictLogits(tf.div(tf.sub(x, MEAN), STD) as tf.Tensor4D));
            const viaWrapper = wrapped.predictLogits(x);
            const viaGraph = graphNorm.predictLogits(x);
            const scale = tf.tidy(() => tf.max(tf.abs(manual)).dataSync()[0]!);
            assert.ok(scale > 0.01, `logits are not all zero (${scale})`);
            assert.ok(
              maxAbsDiff(viaWrapper, manual) <= 1e-4 * scale,
              `wrapper vs manual ${maxAbsDiff(viaWrapper, manual)}`,
            );
            assert.ok(maxAbsDiff(viaGraph, manual) <= 1e-4 * scale, `graph vs manual ${maxAbsDiff(viaGraph, manual)}`);
            tf.dispose([x, manual, viaWrapper, viaGraph]);
          }),
        ),
      );
    },
  );

  engineTest('scale maps the data bounds onto the model range before mean/std ([0, 255], [-1, 1])', async () => {
    await withModel(await loadClassifier(CNN), async (plain) => {
      const x = batch(3, 2);
      for (const { scale, mean, std, manual } of [
        {
          scale: [0, 255] as [number, number],
          mean: [127],
          std: [64],
          manual: (v: tf.Tensor) => tf.div(tf.sub(tf.mul(v, 255), 127), 64),
        },
        { scale: [-1, 1] as [number, number], mean: [0], std: [1], manual: (v: tf.Tensor) => tf.sub(tf.mul(v, 2), 1) },
      ]) {
        await withModel(await loadClassifier(CNN, { normalization: { scale, mean, std } }), (wrapped) => {
          const expected = tf.tidy(() => plain.predictLogits(manual(x) as tf.Tensor4D));
          const got = wrapped.predictLogits(x);
          const size = tf.tidy(() => tf.max(tf.abs(expected)).dataSync()[0]!);
          assert.ok(maxAbsDiff(got, expected) <= 1e-4 * size, `scale [${scale}]: ${maxAbsDiff(got, expected)}`);
          tf.dispose([expected, got]);
        });
      }
      // Bounds [0, 255] data onto a [0, 1] model: the identity scale of a model trained on [0, 1].
      const affine = preprocessAffine({ scale: [0, 1], mean: [0.5], std: [0.25] }, [0, 255], 1);
      assert.deepEqual(affine, { a: [1 / 255 / 0.25], b: [-2] });
      x.dispose();
    });
  });

  engineTest('gradients w.r.t. the pixel-space input match finite differences', () => {
    const w = seededFloats(28 * 28, 3, -1, 1);
    const model = makeClassifier(
      (x) =>
        tf.tidy(() => {
          const flat = tf.reshape(tf.tanh(x), [x.shape[0], -1]);
          const score = tf.sum(tf.mul(flat, tf.tensor1d(w)), 1, true);
          return tf.concat([score, tf.neg(score)], 1) as tf.Tensor2D;
        }),
      {
        inputShape: [28, 28, 1],
        numClasses: 2,
        bounds: [0, 1],
        source: 'test',
        warnings: [],
        normalization: { scale: [0, 2], mean: [0.4], std: [0.7] },
      },
    );
    const x = batch(1, 4, 0.2, 0.8);
    const f = (input: tf.Tensor) =>
      tf.tidy(() => tf.sum(tf.slice(model.predictLogits(input as tf.Tensor4D), [0, 0], [1, 1])));
    const grad = tf.grad(f)(x);
    const g = grad.dataSync();
    const base = x.dataSync();
    const h = 1e-2;
    for (const i of [0, 101, 407, 783]) {
      const at = (d: number) => {
        const shifted = Float32Array.from(base);
        shifted[i] = shifted[i]! + d;
        const t = tf.tensor4d(shifted, [1, 28, 28, 1]);
        const out = f(t);
        const v = out.dataSync()[0]!;
        tf.dispose([t, out]);
        return v;
      };
      const numeric = (at(h) - at(-h)) / (2 * h);
      // Analytic: w·tanh'(x_model)·dx_model/dx, dx_model/dx = 2/0.7.
      const xm = (2 * base[i]! - 0.4) / 0.7;
      const analytic = (w[i]! * (1 - Math.tanh(xm) ** 2) * 2) / 0.7;
      assert.ok(
        Math.abs(g[i]! - analytic) <= 1e-4 * Math.max(1, Math.abs(analytic)),
        `pixel ${i}: ${g[i]} vs ${analytic}`,
      );
      assert.ok(Math.abs(numeric - analytic) <= 2e-2 * Math.max(1, Math.abs(analytic)), `pixel ${i}: fd ${numeric}`);
    }
    tf.dispose([x, grad]);
  });

  engineTest('FGSM at ε in pixel space moves every pixel by exactly ε, not ε·std', async () => {
    await withModel(await loadClassifier(CNN, { normalization: { mean: [MEAN], std: [STD] } }), async (model) => {
      const x = batch(6, 5, 0.3, 0.7);
      const y = tf.tensor1d([0, 1, 2, 3, 4, 5], 'int32');
      const eps = 0.05;
      const result = await getAttack('fgsm').run(model, x, y, { norm: 'linf', eps, bounds: [0, 1] }, { seed: 0 });
      const delta = tf.tidy(() => tf.abs(tf.sub(result.xAdv, x)).dataSync());
      let moved = 0;
      for (const d of delta) {
        if (d === 0) continue; // a pixel with a zero gradient (a dead ReLU region) stays
        moved++;
        assert.ok(Math.abs(d - eps) <= 1e-6, `|δ| ${d} ≠ ε ${eps}`);
      }
      assert.ok(moved > delta.length / 2, `${moved} of ${delta.length} pixels moved`);
      tf.dispose([x, y, result.xAdv]);
    });
  });
});

describe('preprocessing: sources, precedence and bad values', () => {
  test('the sidecar is named after the model file', () => {
    assert.equal(sidecarFile('/m/cnn.onnx'), '/m/cnn.preprocess.json');
    assert.equal(sidecarFile('/m/smallcnn/model.json'), '/m/smallcnn/model.preprocess.json');
  });

  test('each bad value gets the exact message, on its field', () => {
    const cases: Array<[unknown, { channels?: number; classes?: number }, string, string]> = [
      [{ std: [0.3, 0] }, {}, 'std[1]', 'is 0; a std must be > 0'],
      [{ std: [-1] }, {}, 'std[0]', 'is -1; a std must be > 0'],
      [
        { mean: [0.1, 0.2] },
        { channels: 3 },
        'mean',
        'has 2 values; the model has 3 input channels: give 1 value (every channel) or 3',
      ],
      [
        { std: [0.1, 0.2, 0.3] },
        { channels: 1 },
        'std',
        'has 3 values; the model has 1 input channel: give 1 value (every channel) or 1',
      ],
      [
        { scale: [1, 0] },
        {},
        'scale',
        "is [1, 0]; lo must be below hi (the model's input range, e.g. [0, 255] or [-1, 1])",
      ],
      [
        { scale: [0, 0] },
        {},
        'scale',
        "is [0, 0]; lo must be below hi (the model's input range, e.g. [0, 255] or [-1, 1])",
      ],
      [{ scale: [0, 1, 2] }, {}, 'scale', 'has 3 values; expected two, [lo, hi]'],
      [{ mean: [Infinity] }, {}, 'mean[0]', 'is Infinity; expected a finite number'],
      [{ mean: [NaN] }, {}, 'mean[0]', 'is NaN; expected a finite number'],
      [{ std: '0.3' }, {}, 'std', 'is "0.3"; expected a non-empty array of numbers'],
      [{ classes: ['a', 'b'] }, { classes: 10 }, 'classes', 'has 2 names; the model has 10 classes'],
      [{ stdev: [1] }, {}, 'stdev', 'is not a preprocessing field; use scale, mean, std, classes'],
    ];
    for (const [value, model, field, message] of cases) {
      const unknown = field === 'stdev' ? { unknownField: true } : {};
      assert.deepEqual(preprocessProblems(value, model), [{ field, message, ...unknown }], JSON.stringify(value));
    }
    assert.deepEqual(preprocessProblems([0.5]), [
      { field: '', message: 'must be an object with scale, mean, std or classes' },
    ]);
    assert.deepEqual(preprocessProblems({ scale: [0, 255], mean: [0.5, 0.4, 0.3], std: [0.2] }, { channels: 3 }), []);
  });

  test('a bad sidecar is refused naming the file and the field; bad JSON names the file', () => {
    const dir = tempDir('pre');
    const model = path.join(dir, 'cnn.onnx');
    const sidecar = path.join(dir, 'cnn.preprocess.json');
    fs.writeFileSync(sidecar, JSON.stringify({ mean: [0.5], std: [0] }));
    assert.throws(() => readSidecar(model), {
      name: 'InputError',
      message: `${sidecar}: std[0]: is 0; a std must be > 0`,
    });
    fs.writeFileSync(sidecar, '{"mean": [1e999]}');
    assert.throws(() => readSidecar(model), { message: `${sidecar}: mean[0]: is Infinity; expected a finite number` });
    fs.writeFileSync(sidecar, '{"mean": [0.5],');
    assert.throws(() => readSidecar(model), {
      message: new RegExp(`^${sidecar.replace(/[.]/g, '\\.')}: is not valid JSON`),
    });
    fs.rmSync(sidecar);
    assert.equal(readSidecar(model), undefined);
  });

  test('precedence, field by field: the run (CLI, then spec) over the sidecar over the settings', () => {
    const dir = tempDir('pre');
    const model = path.join(dir, 'cnn.onnx');
    fs.writeFileSync(sidecarFile(model), JSON.stringify({ mean: [0.1], std: [0.2], classes: ['a', 'b'] }));
    const job = {
      preprocess: [
        { source: '--mean', mean: [0.3] },
        { source: 'exp.robustness.json', mean: [0.9], scale: [0, 255] as [number, number] },
      ],
      preprocessDefaults: {
        source: 'settings',
        mean: [0.7],
        std: [0.8],
        scale: [-1, 1] as [number, number],
        classes: ['x', 'y'],
      },
    };
    const { preprocessing } = jobPreprocessing(job, model, [0, 1]);
    assert.deepEqual(preprocessing, {
      scale: [0, 255],
      mean: [0.3],
      std: [0.2],
      classes: ['a', 'b'],
      sources: { scale: 'exp.robustness.json', mean: '--mean', std: sidecarFile(model), classes: sidecarFile(model) },
    });
    // Without the run's own and the sidecar: the settings; without anything: the identity.
    fs.rmSync(sidecarFile(model));
    assert.deepEqual(
      jobPreprocessing({ preprocessDefaults: job.preprocessDefaults }, model, [0, 1]).preprocessing.std,
      [0.8],
    );
    assert.deepEqual(jobPreprocessing({}, model, [0, 1]).preprocessing, {
      scale: [0, 1],
      mean: [0],
      std: [1],
      sources: {},
    });
    // A bad value in any source is refused naming that source.
    assert.throws(() => jobPreprocessing({ preprocess: [{ source: '--std', std: [0] }] }, model, [0, 1]), {
      message: '--std: std[0]: is 0; a std must be > 0',
    });
  });

  test('the description names the values and their sources', () => {
    const p = resolvePreprocess([{ source: '/m/cnn.preprocess.json', mean: [0.286], std: [0.353] }], [0, 1]);
    assert.equal(describePreprocess(p), 'mean [0.286] std [0.353] scale [0, 1] · from cnn.preprocess.json');
    const two = resolvePreprocess(
      [
        { source: '--scale', scale: [0, 255] },
        { source: '/m/cnn.preprocess.json', mean: [0.286], std: [0.353] },
      ],
      [0, 1],
    );
    assert.equal(
      describePreprocess(two),
      'mean [0.286] std [0.353] scale [0, 255] · from --scale, cnn.preprocess.json (mean, std)',
    );
    assert.equal(
      describePreprocess(resolvePreprocess([], [0, 1])),
      "mean [0] std [1] scale [0, 1] (none given: the model sees the data's pixels)",
    );
  });

  engineTest('mean/std of the wrong length for the model are refused naming the source', async () => {
    const dir = tempDir('pre');
    const model = path.join(dir, 'cnn.onnx');
    fs.copyFileSync(CNN, model);
    fs.writeFileSync(sidecarFile(model), JSON.stringify({ mean: [0.4, 0.5, 0.6] }));
    await assert.rejects(loadJobModel({}, model, [0, 1]), {
      message: `${sidecarFile(model)}: mean: has 3 values; the model has 1 input channel: give 1 value (every channel) or 1`,
    });
    await assert.rejects(
      loadJobModel({ preprocess: [{ source: 'spec.robustness.json', classes: ['a'] }] }, CNN, [0, 1]),
      {
        message: 'spec.robustness.json: classes: has 1 names; the model has 10 classes',
      },
    );
  });
});

describe('normalisation inside the model and near chance', () => {
  test('an ONNX graph that starts with Sub/Div of constants is recognised (per channel too); other fixtures are not', () => {
    const file = normalisingCnn(tempDir('pre'));
    const found = inGraphNormalization(onnx.ModelProto.decode(fs.readFileSync(file)));
    assert.equal(found?.expression, '(x − 0.286) / 0.353');
    assert.deepEqual(
      found?.steps.map((s) => [s.op, Number(s.values[0]!.toFixed(3))]),
      [
        ['Sub', 0.286],
        ['Div', 0.353],
      ],
    );
    const fixture = (name: string) =>
      onnx.ModelProto.decode(fs.readFileSync(path.join(ROOT, 'test', 'fixtures', 'onnx', `${name}.onnx`)));
    // The ResNet fixture normalises with CIFAR-10's channel statistics (scripts/onnx-fixtures.py).
    assert.equal(
      inGraphNormalization(fixture('resnet'))?.expression,
      '(x − [0.4914, 0.4822, 0.4465]) / [0.247, 0.2435, 0.2616]',
    );
    for (const name of ['cnn', 'branches', 'mlp']) assert.equal(inGraphNormalization(fixture(name)), undefined, name);
  });

  test("the model's summary says it normalises its input; a spec giving mean/std as well gets a warning on it", () => {
    const file = normalisingCnn(tempDir('pre'));
    const info = describeModel(file);
    assert.equal(info.inputNormalization, '(x − 0.286) / 0.353');
    assert.equal(describeModel(CNN).inputNormalization, undefined);
    const text =
      '{\n  "model": "cnn-norm.onnx",\n  "data": "embedded",\n  "threat": { "norm": "linf", "eps": 0.1 },\n' +
      '  "attacks": ["pgd"],\n  "preprocess": { "mean": [0.286], "std": [0.353] }\n}\n';
    const problems = analyzeSpec(text, {
      model: () => ({ info }),
      data: () => ({ shape: [28, 28, 1], count: 1000 }) as never,
    }).problems;
    const start = text.indexOf('[0.286]');
    assert.deepEqual(problems, [
      {
        start,
        end: start + '[0.286]'.length,
        severity: 'warning',
        code: 'doubled-normalisation',
        message:
          'cnn-norm.onnx normalises its own input ((x − 0.286) / 0.353); a preprocess mean as well ' +
          'normalises it twice: remove the mean/std',
      },
    ]);
    assert.match(modelMarkdown('cnn-norm.onnx', info), /normalisation inside the model: \(x − 0\.286\) \/ 0\.353/);
  });

  test('near chance: at most 1.5× chance on at least 100 images', () => {
    assert.equal(
      nearChanceMessage(0.104, 300, 10),
      "clean accuracy 10.4% on 300 images is near chance (10.0%): check the model's preprocessing (missing or doubled normalisation)",
    );
    assert.ok(nearChanceMessage(0.15, 300, 10));
    assert.equal(nearChanceMessage(0.16, 300, 10), undefined);
    assert.equal(nearChanceMessage(0.1, 99, 10), undefined);
    assert.equal(nearChanceMessage(0.9, 1000, 10), undefined);
  });

  const job = (model: string): AttackJob => ({
    ...defaultAttackJob(),
    model,
    attacks: ['fgsm'],
    n: 100,
    batchSize: 100,
    examples: 2,
  });
  const validate = new Ajv({ allErrors: true, strict: false, validateFormats: false }).compile(
    JSON.parse(fs.readFileSync(path.join(ROOT, 'src', 'protocol', 'report-schema.json'), 'utf8')) as object,
  );

  engineTest(
    'a report says the graph normalises, warns of doubled normalisation and of near-chance accuracy',
    async () => {
      const dir = tempDir('pre');
      const file = normalisingCnn(dir);
      const alone = await runAttackJob(job(file), 'attack');
      assert.ok(validate(alone), JSON.stringify(validate.errors));
      assert.deepEqual(alone.preprocess, {
        scale: [0, 1],
        mean: [0],
        std: [1],
        sources: {},
        in_graph: '(x − 0.286) / 0.353',
      });
      const ids = alone.diagnostics.map((d) => d.id);
      assert.ok(ids.includes('normalisation-in-graph'), ids.join());
      assert.ok(!ids.includes('doubled-normalisation'), ids.join());
      // The fixture's weights are random: its clean accuracy is near chance on Fashion-MNIST.
      assert.ok(alone.clean_accuracy <= 0.15, `clean ${alone.clean_accuracy}`);
      const chance = alone.diagnostics.find((d) => d.id === 'near-chance');
      assert.equal(
        chance?.message,
        `clean accuracy ${(alone.clean_accuracy * 100).toFixed(1)}% on 100 images is near chance (10.0%): ` +
          "check the model's preprocessing (missing or doubled normalisation)",
      );
      fs.writeFileSync(
        sidecarFile(file),
        JSON.stringify({ mean: [MEAN], std: [STD], classes: 'abcdefghij'.split('') }),
      );
      const twice = await runAttackJob(job(file), 'attack');
      assert.ok(validate(twice), JSON.stringify(validate.errors));
      const doubled = twice.diagnostics.find((d) => d.id === 'doubled-normalisation');
      assert.equal(
        doubled?.message,
        'the model normalises its own input ((x − 0.286) / 0.353) and a preprocessing mean/std is given as well ' +
          `(from ${sidecarFile(file)}): the input is normalised twice; remove the mean/std`,
      );
      // The model's class names name the predictions.
      assert.deepEqual(twice.class_names, 'abcdefghij'.split(''));
      assert.ok('abcdefghij'.includes(twice.examples[0]!.clean.prediction));
      assert.equal(
        preprocessText(twice),
        'preprocessing: mean [0.286] std [0.353] scale [0, 1] · 10 class names · from cnn-norm.preprocess.json · ' +
          'normalisation inside the model: (x − 0.286) / 0.353',
      );
    },
  );

  engineTest('no near-chance warning for a model that classifies', async () => {
    const report = await runAttackJob(job(SMALLCNN), 'attack');
    assert.ok(report.clean_accuracy > 0.5, `clean ${report.clean_accuracy}`);
    assert.deepEqual(
      report.diagnostics.map((d) => d.id).filter((id) => /chance|normalis/.test(id)),
      [],
    );
    assert.deepEqual(report.preprocess, { scale: [0, 1], mean: [0], std: [1], sources: {} });
  });

  engineTest('--output names the logits of a Layers model only when it is its output', async () => {
    await assert.rejects(loadJobModel({ output: 'nope' }, SMALLCNN, [0, 1]), {
      message: new RegExp(`^${SMALLCNN.replace(/[.]/g, '\\.')}: output: "nope" is not an output; it has `),
    });
  });
});

describe('preprocessing in the spec, the language server and the settings', () => {
  const facts = {
    model: () => ({ info: { format: 'onnx', inputShape: [32, 32, 3], classes: 10 } as never }),
    data: () => ({ shape: [32, 32, 3], count: 1000 }) as never,
  };
  const specText = (preprocess: string) =>
    '{\n  "model": "cnn.onnx",\n  "data": "cifar",\n  "threat": { "norm": "linf", "eps": 0.03 },\n' +
    `  "attacks": ["pgd"],\n  "modelOutput": "logits",\n  "preprocess": ${preprocess}\n}\n`;

  test('the analysis puts each bad preprocessing value on its field, with the engine’s words', () => {
    const cases: Array<[string, string, string]> = [
      ['{ "mean": [0.4], "std": [0.2, 0.3, -1] }', '-1', 'preprocess.std[2]: is -1; a std must be > 0'],
      [
        '{ "mean": [0.4, 0.5] }',
        '[0.4, 0.5]',
        'preprocess.mean: has 2 values; the model has 3 input channels: give 1 value (every channel) or 3',
      ],
      [
        '{ "scale": [255, 0] }',
        '[255, 0]',
        "preprocess.scale: is [255, 0]; lo must be below hi (the model's input range, e.g. [0, 255] or [-1, 1])",
      ],
      ['{ "classes": ["a", "b"] }', '["a", "b"]', 'preprocess.classes: has 2 names; the model has 10 classes'],
    ];
    for (const [block, at, message] of cases) {
      const text = specText(block);
      const problems = analyzeSpec(text, facts).problems;
      const start = text.indexOf(at, text.indexOf('"preprocess"'));
      assert.deepEqual(problems, [{ start, end: start + at.length, severity: 'error', code: 'preprocess', message }]);
    }
    const good = specText('{ "mean": [0.49, 0.48, 0.45], "std": [0.25], "scale": [0, 1] }');
    assert.deepEqual(analyzeSpec(good, facts).problems, []);
    // An unknown key (with its "did you mean") and a non-string output are the schema's.
    assert.deepEqual(
      analyzeSpec(specText('{ "stdev": [1] }'), facts).problems.map((p) => [p.code, p.message]),
      [['schema', 'unknown property "stdev" in preprocess; did you mean "std"?']],
    );
    assert.equal(
      analyzeSpec(good.replace('"modelOutput": "logits"', '"modelOutput": 3'), facts).problems[0]?.code,
      'schema',
    );
  });

  test("the spec's block and output become the job's, named after the spec, before the settings", () => {
    const text = specText('{ "mean": [0.5], "std": [0.25] }');
    const { spec } = analyzeSpec(text, facts);
    const job = specAttackJob(spec!, (rel) => `/w/${rel}`, 'exp.robustness.json');
    assert.deepEqual(job.preprocess, [{ source: 'exp.robustness.json', mean: [0.5], std: [0.25] }]);
    assert.equal(job.output, 'logits');
    assert.ok(attackJobSchema.safeParse(job).success);
    const train = specTrainJob({ ...spec!, training: { method: 'standard', epochs: 1 } }, (rel) => rel, false, 's');
    assert.deepEqual(train?.preprocess, [{ source: 's', mean: [0.5], std: [0.25] }]);
    // The worker boundary refuses a non-finite value.
    assert.equal(attackJobSchema.safeParse({ ...job, preprocess: [{ source: 's', mean: [NaN] }] }).success, false);
  });

  test('hovering "preprocess" shows the range the model input spans', () => {
    const text = specText('{ "mean": [0.5], "std": [0.25] }');
    const hover = specHover(text, text.indexOf('"preprocess"') + 2);
    assert.match(
      hover?.markdown ?? '',
      /In force: mean \[0\.5\] std \[0\.25\] scale \[0, 1\]; the model's input spans \[0, 1\] → \[-2, 2\] \(per channel\)\.$/,
    );
  });

  test('the robustness.preprocess.* settings become the lowest source of an attack job', () => {
    const settings = (values: Record<string, unknown>) => ({
      get: <T>(key: string) => (key in values ? values[key] : PACKAGE_DEFAULTS[key]) as T,
      inspect: <T>(key: string) => ({ defaultValue: PACKAGE_DEFAULTS[key] as T }),
    });
    const config = new Config(settings({ 'preprocess.mean': [0.5], 'preprocess.std': [0.25] }));
    assert.deepEqual(config.problems, []);
    const job = attackJobFor('/w/m.onnx', '/w', config.attackSettings, 'attack');
    assert.deepEqual(job.preprocessDefaults, { source: 'settings (robustness.preprocess)', mean: [0.5], std: [0.25] });
    assert.equal(
      attackJobFor('/w/m.onnx', '/w', new Config(settings({})).attackSettings, 'attack').preprocessDefaults,
      undefined,
    );
    const bad = new Config(settings({ 'preprocess.std': [0], 'preprocess.scale': [1, 0] }));
    assert.equal(bad.preprocess, undefined);
    assert.deepEqual(bad.problems, [
      'Robustness Lab: the setting robustness.preprocess.scale is [1,0], but it must be two numbers [lo, hi] with lo < hi ' +
        'such as [0, 255], or null; using the default, null.',
      'Robustness Lab: the setting robustness.preprocess.std is [0], but it must be a list of numbers > 0 such as ' +
        '[0.229, 0.224, 0.225], or null; using the default, null.',
    ]);
  });
});

describe('preprocessing and output through jobs: training and a multi-output graph', () => {
  engineTest(
    'a model trained with preprocessing gets its sidecar; training from it keeps it; attacks apply it',
    async () => {
      const base = {
        method: 'standard' as const,
        data: 'embedded',
        epochs: 1,
        batchSize: 128,
        optimizer: 'adam' as const,
        learningRate: 1e-3,
        seed: 0,
        trainLimit: 256,
        robustEvalLimit: 0,
      };
      const first = await runTrainJob({
        ...base,
        out: tempDir('pre-train'),
        preprocess: [
          { source: '--mean', mean: [0.286] },
          { source: '--std', std: [0.353] },
        ],
      });
      assert.equal(first.sidecar, sidecarFile(first.modelFile));
      assert.deepEqual(JSON.parse(fs.readFileSync(first.sidecar!, 'utf8')), { mean: [0.286], std: [0.353] });
      // Attacking it applies the sidecar: the same logits as the bare model on manually normalised pixels.
      const { model, preprocessing } = await loadJobModel({}, first.modelFile, [0, 1]);
      await withModel(model, async (wrapped) =>
        withModel(await loadClassifier(first.modelFile), (bare) => {
          assert.deepEqual(preprocessing.sources, { mean: first.sidecar, std: first.sidecar });
          const x = batch(3, 9);
          const manual = tf.tidy(() => bare.predictLogits(tf.div(tf.sub(x, 0.286), 0.353) as tf.Tensor4D));
          const got = wrapped.predictLogits(x);
          assert.ok(maxAbsDiff(got, manual) < 1e-4, `${maxAbsDiff(got, manual)}`);
          tf.dispose([x, manual, got]);
        }),
      );
      // Fine-tuning from it: the sidecar travels to the new model.
      const second = await runTrainJob({ ...base, out: tempDir('pre-train'), init: first.modelFile });
      assert.deepEqual(JSON.parse(fs.readFileSync(second.sidecar!, 'utf8')), { mean: [0.286], std: [0.353] });
      // No preprocessing: no sidecar.
      const plain = await runTrainJob({ ...base, out: tempDir('pre-train') });
      assert.equal(plain.sidecar, undefined);
      assert.equal(fs.existsSync(sidecarFile(plain.modelFile)), false);
    },
  );

  engineTest("the job's output picks the logits of a graph with several outputs", async () => {
    const file = cnnWithTwoOutputs();
    const job = { ...defaultAttackJob(), model: file, attacks: ['fgsm'], n: 10, batchSize: 10, examples: 0 };
    const report = await runAttackJob({ ...job, output: 'logits' }, 'attack');
    assert.equal(report.n, 10);
    await assert.rejects(runAttackJob({ ...job, output: 'probs' }, 'attack'), {
      name: 'InputError',
      message: `${file}: graph.output: has no output "probs"; its outputs are "/Relu_output_0", "logits"`,
    });
  });
});

test("the sidecar's JSON schema, the spec's preprocess block and the job schema agree, and the schema refuses what the checks refuse", () => {
  const read = (name: string) =>
    JSON.parse(fs.readFileSync(path.join(ROOT, 'src', 'protocol', name), 'utf8')) as {
      properties: Record<string, unknown> & { preprocess: { properties: Record<string, unknown> } };
    };
  const sidecar = read('preprocess-schema.json');
  const spec = read('experiment-spec-schema.json');
  const { $schema: _pointer, ...fields } = sidecar.properties;
  assert.deepEqual(spec.properties.preprocess.properties, fields);
  assert.deepEqual(Object.keys(fields).sort(), [...PREPROCESS_FIELDS].sort());
  // The job's zod schema takes the same fields, plus the source each came from.
  assert.deepEqual(Object.keys(preprocessLayerSchema.shape).sort(), [...PREPROCESS_FIELDS, 'source'].sort());
  const validate = new Ajv({ strict: false }).compile(sidecar);
  assert.equal(validate({ mean: [0.4914, 0.4822, 0.4465], std: [0.247, 0.243, 0.261], classes: ['a'] }), true);
  for (const bad of [{ std: [0] }, { scale: [0] }, { mean: [] }, { classes: [''] }, { stdev: [1] }]) {
    assert.equal(validate(bad), false, JSON.stringify(bad));
    assert.notDeepEqual(preprocessProblems(bad), [], JSON.stringify(bad));
  }
});
