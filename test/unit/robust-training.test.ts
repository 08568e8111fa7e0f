/**
 * Robust training's additions (src/engine/training/robust.ts): the weight average against a hand
 * computation, AWP's perturbation size and exact restore, the training gradient taken at w + v,
 * early stopping's pick, validation images held out of the training split, and exact resume with
 * all of them on. Tiny synthetic data (4×4 images, 3 classes) and a two-layer network keep it fast.
 */
import { before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {
  accuracyOn,
  batchTensors,
  evaluateAttacks,
  getAttack,
  InputError,
  runTrainJob,
  makeClassifier,
  sliceSplit,
} from '../../src/engine';
import type { Dataset, Split } from '../../src/engine/data/types';
import { selectionScore, trainModelOutcome, type TrainOptions } from '../../src/engine/training/train-loop';
import {
  awpPerturbation,
  emaDecayAt,
  perturbKernels,
  restoreKernels,
  trainingSplit,
} from '../../src/engine/training/robust';
import { savedWeightsText } from '../../src/protocol/training';
import { specTrainJob } from '../../src/protocol/experiment-spec';
import { trainJobSchema } from '../../src/protocol/jobs';
import { Rng } from '../../src/engine/rng';
import { threadPeers } from '../../src/worker/train-pool';
import { engineTest, tempDir, useBackend } from './helpers';

const SHAPE: [number, number, number] = [4, 4, 1];
const CLASSES = 3;

/** Images whose class sets the brightness of one quarter, with noise: learnable, not trivially. */
function synthetic(count: number, seed: number): Split {
  const rng = new Rng(seed);
  const per = SHAPE[0] * SHAPE[1];
  const images = new Uint8Array(count * per);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const label = Math.floor(rng.next() * CLASSES);
    labels[i] = label;
    for (let p = 0; p < per; p++) {
      const bright = Math.floor(p / 4) === label ? 110 : 0;
      images[i * per + p] = Math.min(255, Math.floor(rng.next() * 140) + bright);
    }
  }
  return { images, labels, count };
}

let data: Dataset;

before(async () => {
  await useBackend('wasm');
  data = {
    id: 'synthetic',
    location: 'memory',
    shape: SHAPE,
    classNames: ['a', 'b', 'c'],
    train: synthetic(512, 1),
    test: synthetic(128, 2),
  };
});

function tinyNet(seed: number): tfl.LayersModel {
  return tfl.sequential({
    layers: [
      tfl.layers.flatten({ inputShape: SHAPE }),
      tfl.layers.dense({ units: 8, activation: 'relu', kernelInitializer: tfl.initializers.glorotUniform({ seed }) }),
      tfl.layers.dense({ units: CLASSES, kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 1 }) }),
    ],
  });
}

const variablesOf = (net: tfl.LayersModel) => net.trainableWeights.map((w) => w.read() as tf.Variable);
const flat = (net: tfl.LayersModel): Float64Array =>
  Float64Array.from(tf.tidy(() => tf.concat(variablesOf(net).map((v) => tf.reshape(v, [-1]))).dataSync()));

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

const BASE: TrainOptions = {
  epochs: 1,
  method: 'pgd-at',
  adversarial: { eps: 0.1, steps: 2 },
  batchSize: 32,
  evalLimit: 64,
  robustEvalLimit: 32,
  seed: 5,
  optimizer: 'sgd',
  learningRate: 0.1,
  schedule: 'constant',
};

test('the EMA decay warms up as min(d, (1 + t)/(10 + t))', () => {
  assert.equal(emaDecayAt(0.999, 0), 0.1);
  assert.equal(emaDecayAt(0.999, 10), 11 / 20);
  assert.equal(emaDecayAt(0.2, 1), 2 / 11);
  assert.equal(emaDecayAt(0.2, 2), 0.2);
  assert.equal(emaDecayAt(0.999, 100_000), 0.999);
});

engineTest('the EMA after k = 6 steps equals the hand-computed average of the raw weights, to 1e-6', async () => {
  const net = tinyNet(3);
  const initial = flat(net);
  const raw: Float64Array[] = [];
  const decay = 0.2;
  const outcome = await trainModelOutcome(net, data, {
    ...BASE,
    trainLimit: 6 * 32,
    ema: decay,
    onProgress: (p) => {
      if (!p.phase && !p.epochMetrics) raw.push(flat(net));
    },
  });
  assert.equal(raw.length, 6);
  // w̄₀ = w₀; w̄ ← d_t·w̄ + (1 − d_t)·w_t after update t, d_t = min(0.2, (1 + t)/(10 + t)): 0.1, 0.18…, then 0.2.
  const expected = Float64Array.from(initial);
  raw.forEach((w, t) => {
    const d = Math.min(decay, (1 + t) / (10 + t));
    for (let i = 0; i < expected.length; i++) expected[i] = d * expected[i]! + (1 - d) * w[i]!;
  });
  const saved = flat(net);
  assert.ok(maxDiff(saved, expected) < 1e-6, `EMA vs hand-computed: ${maxDiff(saved, expected)}`);
  // The model ends with the average, not the last raw weights (which differ from it by far more).
  assert.ok(maxDiff(saved, raw[5]!) > 1e-3, `EMA vs raw ${maxDiff(saved, raw[5]!)}`);
  assert.deepEqual(outcome.kept, { weights: 'ema', epoch: 1, reason: 'last' });
  assert.equal(savedWeightsText(outcome.kept), 'EMA of epoch 1 (last epoch)');
  const [m] = outcome.history;
  for (const key of ['emaTestAccuracy', 'emaRobustAccuracy'] as const) {
    assert.ok(m![key]! >= 0 && m![key]! <= 1, `${key} ${m![key]}`);
  }
  assert.equal(m!.valAccuracy, undefined, 'no validation asked for');
  // The EMA's test accuracy is the saved model's own.
  const classifier = makeClassifier((x) => net.apply(x) as tf.Tensor2D, {
    inputShape: SHAPE,
    numClasses: CLASSES,
    bounds: [0, 1],
    source: 't',
    warnings: [],
  });
  assert.equal(await accuracyOn(classifier, sliceSplit(data.test, 0, 64), SHAPE), m!.emaTestAccuracy);
  net.dispose();
});

engineTest('AWP: each layer moves by γ·‖w_l‖ exactly in the gradient direction, and comes back bit for bit', () => {
  const rng = new Rng(9);
  const kernels = tf.tidy(() => [tf.variable(rng.normal([16, 8])), tf.variable(rng.normal([8, 3]))]);
  const grads = tf.tidy(() => [tf.mul(rng.normal([16, 8]), 0.01), tf.zeros([8, 3])]);
  const before = kernels.map((k) => Array.from(k.dataSync()));
  const gamma = 5e-3;
  const v = awpPerturbation(kernels, grads, gamma);
  const [r0, c0, z1] = tf.tidy(() => [
    tf.div(tf.norm(v[0]!), tf.norm(kernels[0]!)).dataSync()[0]!,
    // Cosine with the gradient: v is its positive multiple.
    tf.div(tf.sum(tf.mul(v[0]!, grads[0]!)), tf.mul(tf.norm(v[0]!), tf.norm(grads[0]!))).dataSync()[0]!,
    tf.norm(v[1]!).dataSync()[0]!,
  ]);
  assert.ok(Math.abs(r0! - gamma) < 1e-5 * gamma + 1e-9, `‖v‖/‖w‖ = ${r0}, γ = ${gamma}`);
  assert.ok(Math.abs(c0! - 1) < 1e-5, `cos(v, g) = ${c0}`);
  assert.equal(z1, 0, 'a zero gradient gives a zero perturbation');
  const saved = perturbKernels(kernels, v);
  const moved = tf.tidy(() => tf.norm(tf.sub(kernels[0]!, tf.tensor(before[0]!, [16, 8]))).dataSync()[0]!);
  assert.ok(moved > 0, 'the kernels moved');
  restoreKernels(kernels, saved);
  kernels.forEach((k, i) => assert.deepEqual(Array.from(k.dataSync()), before[i], `layer ${i} restored exactly`));
  tf.dispose([...kernels, ...grads, ...v]);
});

engineTest(
  'AWP in training: with a zero step the weights come back exactly; else the step is −lr·∇L(w + v)',
  async () => {
    // A cyclic schedule's first batch has rate 0: whatever AWP did, the weights must end where they began.
    const still = tinyNet(4);
    const initial = flat(still);
    await trainModelOutcome(still, data, { ...BASE, trainLimit: 32, schedule: 'cyclic', awp: 0.05 });
    assert.equal(maxDiff(flat(still), initial), 0, 'weights after a zero-rate AWP step');
    still.dispose();

    // ε warms up from 0, so the first batch trains on x itself (x' = x): the update can be computed here.
    const gamma = 0.05;
    const options = { ...BASE, trainLimit: 32, adversarial: { eps: 0.1, steps: 2, warmupEpochs: 1 } };
    const awp = tinyNet(4);
    await trainModelOutcome(awp, data, { ...options, awp: gamma });
    const plain = tinyNet(4);
    await trainModelOutcome(plain, data, options);
    const hand = tinyNet(4);
    const variables = variablesOf(hand);
    const kernels = variables.filter((v) => /kernel/.test(v.name));
    const { x, y } = batchTensors(data.train, SHAPE, 0, 32);
    const loss = () => tf.losses.softmaxCrossEntropy(tf.oneHot(y, CLASSES), hand.apply(x) as tf.Tensor2D) as tf.Scalar;
    const g = tf.variableGrads(loss, kernels);
    const v = awpPerturbation(
      kernels,
      kernels.map((k) => g.grads[k.name]!),
      gamma,
    );
    const saved = perturbKernels(kernels, v);
    const atPerturbed = tf.variableGrads(loss, variables);
    restoreKernels(kernels, saved);
    // SGD with momentum, first step: w ← w − lr·g.
    tf.tidy(() => variables.forEach((w) => w.assign(tf.sub(w, tf.mul(0.1, atPerturbed.grads[w.name]!)))));
    const diffHand = maxDiff(flat(awp), flat(hand));
    const diffPlain = maxDiff(flat(awp), flat(plain));
    assert.ok(diffHand < 1e-6, `AWP step vs −lr·∇L(w + v): ${diffHand}`);
    assert.ok(diffPlain > 100 * Math.max(diffHand, 1e-8), `AWP changed the step by only ${diffPlain}`);
    tf.dispose([
      x,
      y,
      g.value,
      ...Object.values(g.grads),
      ...v,
      atPerturbed.value,
      ...Object.values(atPerturbed.grads),
    ]);
    [awp, plain, hand].forEach((n) => n.dispose());
  },
);

test('validation images are the training split’s last ones: disjoint from those trained on, refused when they overlap', () => {
  const split = trainingSplit(512, undefined, 100);
  const train = new Set(Array.from({ length: split.train.end - split.train.start }, (_, i) => split.train.start + i));
  const held = Array.from(
    { length: split.validation.end - split.validation.start },
    (_, i) => split.validation.start + i,
  );
  assert.equal(train.size, 412);
  assert.equal(held.length, 100);
  assert.deepEqual([held[0], held[99]], [412, 511]);
  assert.equal(held.filter((i) => train.has(i)).length, 0, 'an image both trains and validates');
  assert.deepEqual(trainingSplit(512, 300, 100), {
    train: { start: 0, end: 300 },
    validation: { start: 412, end: 512 },
  });
  assert.deepEqual(trainingSplit(512, 300, 0).train, { start: 0, end: 300 });
  assert.throws(
    () => trainingSplit(512, 450, 100),
    (err: Error) =>
      err instanceof InputError && /450 training images and 100 held out .* exceed the 512/.test(err.message),
  );
  assert.throws(() => trainingSplit(512, undefined, 512), /leave none of the 512 training images/);
});

engineTest(
  'a run with validation trains on the other images only and reports val clean and robust, raw and EMA',
  async () => {
    const net = tinyNet(6);
    let batches = 0;
    const { history } = await trainModelOutcome(net, data, {
      ...BASE,
      validation: 96,
      ema: 0.9,
      onProgress: (p) => {
        if (!p.phase && !p.epochMetrics) batches = p.batches;
      },
    });
    // 512 − 96 = 416 training images: 13 batches of 32.
    assert.equal(batches, 13);
    const m = history[0]!;
    for (const key of ['valAccuracy', 'valRobustAccuracy', 'emaValAccuracy', 'emaValRobustAccuracy'] as const) {
      assert.ok(m[key] !== undefined && m[key]! >= 0 && m[key]! <= 1, `${key} ${m[key]}`);
      // Accuracies of 96 images are multiples of 1/96.
      assert.ok(Math.abs(m[key]! * 96 - Math.round(m[key]! * 96)) < 1e-9, `${key} ${m[key]} is not k/96`);
    }
    assert.ok(m.valRobustAccuracy! <= m.valAccuracy!, 'robust above clean');
    net.dispose();
  },
);

engineTest('early stopping keeps the epoch with the best robust validation accuracy, not the last', async () => {
  const net = tinyNet(7);
  const perEpoch = new Map<number, Float64Array>();
  // A rate far too large: the weights wander, and robust validation accuracy with them.
  const { history, kept } = await trainModelOutcome(net, data, {
    ...BASE,
    epochs: 5,
    trainLimit: 256,
    validation: 128,
    earlyStop: true,
    learningRate: 3,
    onProgress: (p) => {
      if (p.epochMetrics) perEpoch.set(p.epoch, flat(net));
    },
  });
  const scores = history.map((h) => selectionScore(h, false)!);
  const bestEpoch = history[scores.indexOf(Math.max(...scores))]!.epoch;
  assert.equal(kept.epoch, bestEpoch, `scores ${scores.join(', ')}`);
  assert.equal(kept.reason, 'best-robust-validation');
  assert.equal(kept.weights, 'raw');
  assert.ok(kept.epoch < 5, `the constructed run's best epoch should not be its last: ${scores.join(', ')}`);
  assert.ok(scores[4]! < scores[kept.epoch - 1]!, 'a later epoch is worse');
  assert.deepEqual(flat(net), perEpoch.get(kept.epoch), "the model holds the kept epoch's weights");
  net.dispose();
});

engineTest('early stopping with EMA keeps the EMA of the best epoch; patience ends the run', async () => {
  const net = tinyNet(7);
  const { history, kept } = await trainModelOutcome(net, data, {
    ...BASE,
    epochs: 6,
    trainLimit: 256,
    validation: 128,
    earlyStop: true,
    patience: 1,
    ema: 0.5,
    learningRate: 3,
  });
  const scores = history.map((h) => selectionScore(h, true)!);
  assert.equal(kept.weights, 'ema');
  assert.equal(kept.epoch, history[scores.indexOf(Math.max(...scores))]!.epoch);
  // Patience 1: the run stops one epoch after its best (a tie is no improvement: the earliest stays).
  assert.equal(kept.stoppedAfter, kept.epoch + 1, `scores ${scores.join(', ')}`);
  assert.equal(history.length, kept.epoch + 1);
  assert.ok(history.length < 6, 'patience ended the run early');
  // The saved weights score on the validation images what the kept epoch's EMA scored.
  const classifier = makeClassifier((x) => net.apply(x) as tf.Tensor2D, {
    inputShape: SHAPE,
    numClasses: CLASSES,
    bounds: [0, 1],
    source: 't',
    warnings: [],
  });
  const val = await evaluateAttacks(
    classifier,
    sliceSplit(data.train, 512 - 128, 128),
    SHAPE,
    { norm: 'linf', eps: 0.1, bounds: [0, 1] },
    [{ entry: getAttack('pgd'), options: { steps: 10, seed: kept.epoch } }],
    { examples: 0 },
  );
  const keptMetrics = history.find((h) => h.epoch === kept.epoch)!;
  assert.equal(val.robustAccuracy, keptMetrics.emaValRobustAccuracy);
  assert.equal(val.cleanAccuracy, keptMetrics.emaValAccuracy);
  net.dispose();
});

engineTest('early stopping and AWP refuse the methods they do not apply to, naming the option', async () => {
  const net = tinyNet(1);
  await assert.rejects(
    trainModelOutcome(net, data, { ...BASE, trainLimit: 500, validation: 100 }),
    (err: Error) => err instanceof InputError && /500 training images and 100 held out/.test(err.message),
  );
  await assert.rejects(
    trainModelOutcome(net, data, { epochs: 1, method: 'standard', awp: 0.005 }),
    (err: Error) => err instanceof InputError && /awp: .*pgd-at or trades; method "standard"/.test(err.message),
  );
  await assert.rejects(
    trainModelOutcome(net, data, { epochs: 1, method: 'standard', earlyStop: true }),
    (err: Error) =>
      err instanceof InputError && /earlyStop: early stopping selects on robust validation/.test(err.message),
  );
  await assert.rejects(
    trainModelOutcome(net, data, { ...BASE, ema: 1 }),
    (err: Error) => err instanceof InputError && /ema: 1 is invalid; need a decay in \(0, 1\)/.test(err.message),
  );
  await assert.rejects(
    trainModelOutcome(net, data, { ...BASE, patience: 2 }),
    (err: Error) => err instanceof InputError && /patience: applies only with earlyStop/.test(err.message),
  );
  net.dispose();
});

engineTest(
  'a run with EMA, AWP and early stopping resumed after epoch 1 ends bit-identical to an uninterrupted one',
  async () => {
    const options = (dir: string): TrainOptions => ({
      ...BASE,
      epochs: 3,
      trainLimit: 192,
      validation: 64,
      optimizer: 'adam',
      learningRate: 0.02,
      schedule: 'cosine',
      weightDecay: 1e-3,
      ema: 0.9,
      awp: 0.01,
      awpWarmupEpochs: 1,
      earlyStop: true,
      checkpointDir: dir,
      resume: true,
    });
    const full = tinyNet(8);
    const fullOutcome = await trainModelOutcome(full, data, options(tempDir('robust-full')));
    const dir = tempDir('robust-resumed');
    const first = tinyNet(8);
    const controller = new AbortController();
    await assert.rejects(
      trainModelOutcome(first, data, {
        ...options(dir),
        signal: controller.signal,
        onProgress: (p) => {
          if (p.epochMetrics?.epoch === 1) controller.abort();
        },
      }),
    );
    const folder = path.join(dir, 'checkpoints', 'last');
    const state = JSON.parse(fs.readFileSync(path.join(folder, 'state.json'), 'utf8'));
    assert.equal(state.epoch, 1);
    assert.deepEqual(state.ema, { decay: 0.9 });
    assert.equal(state.best.epoch, 1);
    const parameters = flat(first).length;
    assert.equal(fs.statSync(path.join(folder, 'ema.bin')).size, parameters * 4);
    assert.equal(fs.statSync(path.join(folder, 'best.bin')).size, parameters * 4);
    const resumed = tinyNet(99); // other initial weights: everything must come from the checkpoint
    const resumedOutcome = await trainModelOutcome(resumed, data, options(dir));
    assert.deepEqual(flat(resumed), flat(full));
    assert.deepEqual(resumedOutcome.kept, fullOutcome.kept);
    const strip = (h: (typeof fullOutcome.history)[number]) => ({ ...h, seconds: 0 });
    assert.deepEqual(resumedOutcome.history.slice(1).map(strip), fullOutcome.history.slice(1).map(strip));
    // Resuming with another decay than the checkpoint's is refused, naming both.
    const other = tinyNet(1);
    await assert.rejects(
      trainModelOutcome(other, data, { ...options(dir), epochs: 4, ema: 0.5 }),
      (err: Error) => err instanceof InputError && /EMA of decay 0.9, not 0.5/.test(err.message),
    );
    [full, first, resumed, other].forEach((n) => n.dispose());
  },
);

const WORKER_SCRIPT = path.join(__dirname, '..', '..', 'dist', 'worker.js');

test(
  'AWP split across two workers takes the same step as on one (within 1e-6), and more batches run clean',
  { skip: !fs.existsSync(WORKER_SCRIPT) && 'dist/worker.js is missing: build with node esbuild.mjs' },
  async () => {
    const before = tf.memory().numTensors;
    // ε warms up from 0: the first batch trains on x itself, so both runs see the same x' whatever their seeds.
    const options = (workers: number): TrainOptions => ({
      ...BASE,
      trainLimit: 32,
      adversarial: { eps: 0.1, steps: 2, warmupEpochs: 1 },
      weightDecay: 1e-2,
      awp: 0.05,
      workers,
      peers: threadPeers({ script: WORKER_SCRIPT, backend: 'wasm' }),
    });
    const one = tinyNet(11);
    const two = tinyNet(11);
    const plain = tinyNet(11);
    const h1 = await trainModelOutcome(one, data, options(1));
    const h2 = await trainModelOutcome(two, data, options(2));
    await trainModelOutcome(plain, data, { ...options(2), awp: undefined });
    const diff = maxDiff(flat(one), flat(two));
    assert.ok(diff < 1e-6, `one vs two workers with AWP: ${diff}`);
    assert.ok(maxDiff(flat(two), flat(plain)) > 100 * Math.max(diff, 1e-8), 'AWP changed nothing on two workers');
    assert.ok(Math.abs(h1.history[0]!.loss - h2.history[0]!.loss) < 1e-5);
    // A whole epoch at the full ε with TRADES on two workers: each worker keeps and reuses its own x'.
    const trades = tinyNet(12);
    const { history } = await trainModelOutcome(trades, data, {
      ...options(2),
      method: 'trades',
      adversarial: { eps: 0.1, steps: 2 },
      trainLimit: 160,
      batchSize: 31,
      ema: 0.9,
    });
    assert.ok(Number.isFinite(history[0]!.loss) && history[0]!.emaTestAccuracy! >= 0);
    [one, two, plain, trades].forEach((n) => n.dispose());
    assert.equal(tf.memory().numTensors, before, 'tf.memory().numTensors changed');
  },
);

test("a spec's training block and a train job carry EMA, AWP, early stopping and mixed batches; out-of-range values are refused", () => {
  const job = specTrainJob(
    {
      model: 'smallcnn/model.json',
      data: 'embedded',
      threat: { norm: 'linf', eps: 0.1 },
      training: {
        method: 'pgd-at',
        epochs: 3,
        ema: 0.999,
        awp: 0.005,
        awpWarmupEpochs: 1,
        earlyStop: true,
        patience: 2,
        validation: 500,
        advFraction: 0.5,
      },
    },
    (rel) => `/ws/${rel}`,
    false,
  )!;
  assert.deepEqual(
    [job.ema, job.awp, job.awpWarmupEpochs, job.earlyStop, job.patience, job.validation, job.advFraction],
    [0.999, 0.005, 1, true, 2, 500, 0.5],
  );
  assert.equal(trainJobSchema.safeParse({ ...job, out: '/tmp/x' }).success, true);
  for (const bad of [
    { ema: 1 },
    { ema: 0 },
    { awp: 0 },
    { awp: 2 },
    { validation: 0 },
    { patience: 0 },
    { advFraction: 0 },
    { advFraction: 1.5 },
  ]) {
    assert.equal(trainJobSchema.safeParse({ ...job, ...bad, out: '/tmp/x' }).success, false, JSON.stringify(bad));
  }
});

engineTest(
  'a train job with EMA and early stopping records the saved weights in train.json and the model',
  async () => {
    const out = tempDir('robust-job');
    const result = await runTrainJob({
      method: 'pgd-at',
      data: 'embedded',
      epochs: 2,
      batchSize: 64,
      optimizer: 'adam',
      learningRate: 1e-3,
      seed: 1,
      trainLimit: 256,
      eps: 0.1,
      steps: 1,
      robustEvalLimit: 50,
      ema: 0.99,
      earlyStop: true,
      validation: 100,
      advFraction: 0.5,
      out,
    });
    const record = JSON.parse(fs.readFileSync(path.join(out, 'train.json'), 'utf8'));
    assert.equal(record.status, 'done');
    assert.deepEqual(record.savedWeights, result.kept);
    assert.equal(result.kept.weights, 'ema');
    assert.equal(result.kept.reason, 'best-robust-validation');
    const meta = JSON.parse(fs.readFileSync(result.modelFile, 'utf8')).userDefinedMetadata.robustnessLab;
    assert.deepEqual(meta.savedWeights, result.kept);
    assert.equal(meta.ema, 0.99);
    assert.equal(meta.validationImages, 100);
    assert.equal(meta.advFraction, 0.5);
    const keptEpoch = result.history.find((h) => h.epoch === result.kept.epoch)!;
    assert.equal(meta.testAccuracy, keptEpoch.emaTestAccuracy, "the metadata's accuracy is the saved EMA's");
    const lines = fs
      .readFileSync(path.join(out, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.equal(lines.length, 2);
    for (const line of lines) {
      for (const key of [
        'valAccuracy',
        'valRobustAccuracy',
        'emaValAccuracy',
        'emaValRobustAccuracy',
        'emaTestAccuracy',
      ]) {
        assert.equal(typeof line[key], 'number', `metrics.jsonl epoch ${line.epoch}: ${key}`);
      }
    }
  },
);
