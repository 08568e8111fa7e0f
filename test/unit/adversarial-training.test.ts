/**
 * Adversarial training on the embedded sample: every method beats standard training's PGD
 * accuracy by a stated margin; resume gives the same weights; distillation records T.
 */
import { before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import {
  batchTensors,
  evaluateAttacks,
  firstN,
  getAttack,
  InputError,
  klAdversary,
  klPerBatch,
  loadClassifier,
  loadTrainingData,
  makeClassifier,
  Rng,
  runTrainJob,
  smallCnn,
  trainModel,
  type Dataset,
  type TrainOptions,
} from '../../src/engine';
import { trainingInputs } from '../../src/engine/training/methods';
import { robustCollapsed } from '../../src/engine/training/train-loop';
import type { TrainJob } from '../../src/protocol/jobs';
import { engineTest, tempDir, useBackend } from './helpers';

let data: Dataset;
const EPS = 0.1;

before(async () => {
  await useBackend('wasm');
  data = await loadTrainingData('embedded');
});

/** The network as a classifier on the data's input box (the weights stay the network's). */
function classifierOf(net: ReturnType<typeof smallCnn>) {
  return makeClassifier((x) => net.apply(x) as tf.Tensor2D, {
    inputShape: data.shape,
    numClasses: 10,
    bounds: [0, 1],
    source: 't',
    warnings: [],
  });
}

async function robustAccuracy(net: ReturnType<typeof smallCnn>): Promise<{ clean: number; robust: number }> {
  const model = classifierOf(net);
  const r = await evaluateAttacks(
    model,
    firstN(data.test, 300),
    data.shape,
    { norm: 'linf', eps: EPS, bounds: [0, 1] },
    [{ entry: getAttack('pgd'), options: { steps: 10, seed: 1 } }],
    { examples: 0 },
  );
  return { clean: r.cleanAccuracy, robust: r.robustAccuracy };
}

async function trained(options: Partial<TrainOptions>): Promise<{ clean: number; robust: number }> {
  const net = smallCnn(data.shape, 10, 7);
  const before = tf.memory().numTensors;
  await trainModel(net, data, {
    epochs: 3,
    trainLimit: 3000,
    evalLimit: 300,
    robustEvalLimit: 0,
    seed: 7,
    learningRate: 2e-3,
    ...options,
  });
  assert.equal(tf.memory().numTensors, before, `${options.method} leaked tensors`);
  const result = await robustAccuracy(net);
  net.dispose();
  return result;
}

engineTest(
  'PGD-AT, Fast-AT and TRADES each beat standard training by ≥ 15 points of PGD-10 accuracy at ε = 0.1',
  async () => {
    const standard = await trained({ method: 'standard' });
    for (const [method, adversarial] of [
      ['pgd-at', { eps: EPS, steps: 3 }],
      ['fast-at', { eps: EPS }],
      ['trades', { eps: EPS, steps: 3, beta: 6 }],
    ] as const) {
      const result = await trained({ method, adversarial });
      assert.ok(
        result.robust >= standard.robust + 0.15,
        `${method}: robust ${(result.robust * 100).toFixed(1)}% vs standard ${(standard.robust * 100).toFixed(1)}%`,
      );
      assert.ok(result.clean > 0.5, `${method}: clean ${result.clean}`);
    }
  },
);

engineTest('a run stopped after epoch 1 and resumed ends with the same weights as an uninterrupted run', async () => {
  const options = (dir: string): TrainOptions => ({
    epochs: 2,
    method: 'pgd-at',
    adversarial: { eps: EPS, steps: 2 },
    trainLimit: 500,
    evalLimit: 50,
    robustEvalLimit: 50,
    seed: 3,
    checkpointDir: dir,
    resume: true,
    schedule: 'cosine',
    weightDecay: 1e-4,
  });
  const full = smallCnn(data.shape, 10, 3);
  const fullHistory = await trainModel(full, data, options(tempDir('full')));
  const dir = tempDir('resumed');
  const first = smallCnn(data.shape, 10, 3);
  // Train epoch 1 only, as a run killed after its first checkpoint would have.
  const controller = new AbortController();
  await assert.rejects(
    trainModel(first, data, {
      ...options(dir),
      signal: controller.signal,
      onProgress: (p) => {
        if (p.epochMetrics?.epoch === 1) controller.abort();
      },
    }),
  );
  assert.ok(fs.existsSync(path.join(dir, 'checkpoints', 'last', 'state.json')));
  const resumed = smallCnn(data.shape, 10, 99); // different initial weights: all must come from the checkpoint
  const resumedHistory = await trainModel(resumed, data, options(dir));
  assert.deepEqual(
    resumedHistory.map((h) => h.epoch),
    [1, 2],
  );
  const flat = (net: ReturnType<typeof smallCnn>) =>
    tf.tidy(() => Array.from(tf.concat(net.getWeights().map((w) => tf.reshape(w, [-1]))).dataSync()));
  assert.deepEqual(flat(resumed), flat(full));
  assert.equal(resumedHistory[1]!.loss, fullHistory[1]!.loss);
  assert.equal(fs.readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').length, 2);
  [full, first, resumed].forEach((n) => n.dispose());
});

engineTest('a half-written checkpoint (killed between the renames) still resumes from the previous one', async () => {
  const dir = tempDir('torn');
  const options = { trainLimit: 300, evalLimit: 20, seed: 4 };
  const net = smallCnn(data.shape, 10, 4);
  const [first] = await trainModel(net, data, { ...options, epochs: 1, checkpointDir: dir });
  const last = path.join(dir, 'checkpoints', 'last');
  fs.renameSync(last, `${last}.old`); // the kill came after "last → last.old" …
  fs.mkdirSync(`${last}.tmp-424242`); // … with the new one still half-written
  fs.writeFileSync(path.join(`${last}.tmp-424242`, 'model.json'), '{"modelTo');
  // Another initialisation: only the checkpoint can make this run end where the uninterrupted one does.
  const resumed = smallCnn(data.shape, 10, 5);
  const history = await trainModel(resumed, data, { ...options, epochs: 2, checkpointDir: dir, resume: true });
  assert.deepEqual(
    history.map((h) => h.epoch),
    [1, 2],
  );
  // Epoch 1 was restored, not trained again: its record (wall time included) is the checkpoint's.
  assert.deepEqual(history[0], first);
  const uninterrupted = smallCnn(data.shape, 10, 4);
  await trainModel(uninterrupted, data, { ...options, epochs: 2 });
  const weights = (m: typeof net) => m.getWeights().map((w) => Array.from(w.dataSync()));
  assert.deepEqual(weights(resumed), weights(uninterrupted));
  [net, resumed, uninterrupted].forEach((n) => n.dispose());
});

engineTest('distillation: a teacher at T, a student on its soft labels deployed at T = 1 with T recorded', async () => {
  const out = tempDir('distill');
  const job: TrainJob = {
    method: 'distill',
    data: 'embedded',
    epochs: 3,
    batchSize: 128,
    optimizer: 'adam',
    learningRate: 1e-2,
    seed: 2,
    trainLimit: 3000,
    temperature: 100,
    out,
  };
  const result = await runTrainJob(job);
  const meta = JSON.parse(fs.readFileSync(result.modelFile, 'utf8')).userDefinedMetadata.robustnessLab;
  assert.equal(meta.method, 'distill');
  assert.equal(meta.temperature, 100);
  assert.equal(meta.deployedTemperature, 1);
  assert.ok(fs.existsSync(path.join(out, 'teacher', 'checkpoints', 'last', 'model.json')));
  assert.equal(JSON.parse(fs.readFileSync(path.join(out, 'train.json'), 'utf8')).status, 'done');
  const model = await loadClassifier(result.modelFile);
  const { x, y } = batchTensors(data.test, data.shape, 0, 100);
  const meanAbs = tf.tidy(() => tf.mean(tf.abs(model.predictLogits(x))).dataSync()[0]!);
  tf.dispose([x, y]);
  model.dispose?.();
  // Trained at T = 100 and deployed at T = 1, its logits are ~T times larger than usual: softmax saturates.
  assert.ok(meanAbs > 50, `mean |logit| ${meanAbs}`);
  assert.ok(result.history[result.history.length - 1]!.testAccuracy > 0.6);
  await assert.rejects(
    runTrainJob(job),
    (err: Error) => err instanceof InputError && /already holds a training run/.test(err.message),
  );
  await assert.rejects(
    runTrainJob({ ...job, out: tempDir('d2'), temperature: 1 }),
    (err: Error) => err instanceof InputError && /temperature: 1 is invalid; need a number > 1/.test(err.message),
  );
});

test('catastrophic overfitting is a drop of more than 20 points of robust accuracy below the best epoch', () => {
  const epoch = (robustAccuracy?: number) => ({
    epoch: 1,
    loss: 1,
    trainAccuracy: 0.8,
    testAccuracy: 0.8,
    learningRate: 0.1,
    eps: 0.1,
    seconds: 1,
    ...(robustAccuracy === undefined ? {} : { robustAccuracy }),
  });
  assert.equal(robustCollapsed([], 0.01), false, 'nothing to compare with in epoch 1');
  assert.equal(robustCollapsed([epoch(0.45)], 0.3), false);
  assert.equal(robustCollapsed([epoch(0.45)], 0.02), true);
  assert.equal(robustCollapsed([epoch(0.5), epoch(0.4)], 0.25), true, 'measured against the best epoch');
  assert.equal(robustCollapsed([epoch(0.45)], undefined), false, 'no robust validation, no verdict');
  assert.equal(robustCollapsed([epoch()], 0.01), false);
});

engineTest(
  'a training process killed at random moments, checkpoint writes included, always resumes to the end',
  async () => {
    const dir = tempDir('killed');
    const script = path.join(__dirname, '..', 'fixtures', 'workers', 'train-forever.js');
    // Each kill lands a few ms after an epoch ends, inside or around its checkpoint write.
    const runOnce = (kill?: { afterEpochs: number; ms: number }) =>
      new Promise<string>((resolve) => {
        const child = fork(script, [dir, '40'], { stdio: 'ignore' });
        let outcome = 'killed';
        let epochs = 0;
        child.on('message', (m) => {
          if (m === 'done') outcome = 'done';
          if (typeof m === 'string' && m.startsWith('epoch ') && kill && ++epochs === kill.afterEpochs) {
            setTimeout(() => child.kill('SIGKILL'), kill.ms);
          }
        });
        child.on('exit', () => resolve(outcome));
      });
    for (const kill of [
      { afterEpochs: 4, ms: 0 },
      { afterEpochs: 6, ms: 9 },
      { afterEpochs: 5, ms: 23 },
    ]) {
      assert.equal(await runOnce(kill), 'killed');
    }
    const state = JSON.parse(fs.readFileSync(path.join(dir, 'checkpoints', 'last', 'state.json'), 'utf8'));
    assert.ok(state.epoch >= 1 && state.epoch < 40, `checkpointed epoch ${state.epoch}`);
    assert.equal(await runOnce(), 'done');
    const lines = fs
      .readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).epoch);
    assert.deepEqual(
      lines,
      Array.from({ length: 40 }, (_, i) => i + 1),
    );
  },
);

engineTest("TRADES' KL adversary stays in the ball and the box and raises the KL well above its start", async () => {
  const net = smallCnn(data.shape, 10, 3);
  const model = classifierOf(net);
  const { x, y } = batchTensors(firstN(data.train, 64), data.shape, 0, 64);
  const threat = { norm: 'linf' as const, eps: EPS, bounds: [0, 1] as [number, number] };
  const kl = (xAdv: tf.Tensor4D) =>
    tf.tidy(() => klPerBatch(model.predictLogits(x), model.predictLogits(xAdv)).dataSync()[0]!);
  const tensorsBefore = tf.memory().numTensors;
  const start = klAdversary(model, x, threat, { steps: 0, stepSize: 0.025, rng: new Rng(1) });
  const near = klAdversary(model, x, threat, { steps: 10, stepSize: 0.025, rng: new Rng(1) });
  const uniform = klAdversary(model, x, threat, { steps: 10, stepSize: 0.025, rng: new Rng(1), start: 'uniform' });
  for (const xAdv of [start, near, uniform]) {
    const [maxDelta, lo, hi] = tf.tidy(() =>
      [tf.max(tf.abs(tf.sub(xAdv, x))), tf.min(xAdv), tf.max(xAdv)].map((t) => t.dataSync()[0]!),
    );
    assert.ok(maxDelta! <= EPS + 1e-6 && lo! >= 0 && hi! <= 1, `‖δ‖∞ ${maxDelta}, range [${lo}, ${hi}]`);
  }
  const [k0, kNear, kUniform] = [kl(start), kl(near), kl(uniform)];
  assert.ok(k0 < 1e-4, `KL at x + 0.001·N is ${k0}`);
  assert.ok(kNear > 100 * k0 && kNear > 1e-3, `KL after 10 steps ${kNear} (start ${k0})`);
  assert.ok(kUniform > 1e-3, `KL from a uniform start ${kUniform}`);
  tf.dispose([start, near, uniform]);
  assert.equal(tf.memory().numTensors, tensorsBefore, 'klAdversary leaked tensors');
  tf.dispose([x, y]);
  net.dispose();
});

engineTest(
  'mixed batches: advFraction 0.5 attacks the first half of the batch inside the ball and leaves the rest exact',
  async () => {
    const net = smallCnn(data.shape, 10, 3);
    const model = classifierOf(net);
    const { x, y } = batchTensors(firstN(data.train, 64), data.shape, 0, 64);
    const tensorsBefore = tf.memory().numTensors;
    const inputs = (method: 'pgd-at' | 'fast-at', advFraction?: number) =>
      trainingInputs(
        {
          method,
          model,
          trainLogits: (t) => model.predictLogits(t),
          adv: { eps: EPS, steps: 3, ...(advFraction !== undefined ? { advFraction } : {}) },
          eps: EPS,
          rng: new Rng(5),
          classes: 10,
        },
        x,
        y,
      );
    /** Per row: ‖x' − x‖∞. */
    const rowDelta = (xAdv: tf.Tensor4D) =>
      tf.tidy(() => Array.from(tf.max(tf.abs(tf.sub(xAdv, x)), [1, 2, 3]).dataSync()));
    for (const method of ['pgd-at', 'fast-at'] as const) {
      const half = await inputs(method, 0.5);
      const all = await inputs(method);
      const [dHalf, dAll] = [rowDelta(half), rowDelta(all)];
      assert.deepEqual(half.shape, [64, 28, 28, 1]);
      assert.ok(
        Math.min(...dHalf.slice(0, 32)) > EPS / 2,
        `${method}: an attacked row moved only ${Math.min(...dHalf.slice(0, 32))}`,
      );
      assert.ok(Math.max(...dHalf) <= EPS + 1e-6, `${method}: ‖δ‖∞ ${Math.max(...dHalf)}`);
      assert.deepEqual(dHalf.slice(32), new Array(32).fill(0), `${method}: the clean half changed`);
      assert.ok(Math.min(...dAll) > EPS / 2, `${method} without advFraction: a row moved only ${Math.min(...dAll)}`);
      // The fraction rounds: 0.3 of 64 attacks 19 rows.
      const some = await inputs(method, 0.3);
      const moved = rowDelta(some).filter((d) => d > 0).length;
      assert.equal(moved, 19, `${method}: ${moved} rows attacked at 0.3`);
      tf.dispose([half, all, some]);
    }
    assert.equal(tf.memory().numTensors, tensorsBefore, 'trainingInputs leaked tensors');
    tf.dispose([x, y]);
    net.dispose();
  },
);

test('advFraction is refused outside (0, 1] and on methods without a plain adversarial batch', async () => {
  const net = smallCnn(data.shape, 10, 1);
  const run = (method: TrainOptions['method'], advFraction: number) =>
    trainModel(net, data, { method, epochs: 1, trainLimit: 64, adversarial: { eps: EPS, advFraction } });
  for (const bad of [0, 1.5, Number.NaN]) {
    await assert.rejects(run('pgd-at', bad), (err: Error) => {
      assert.ok(err instanceof InputError);
      assert.match(
        err.message,
        new RegExp(`adversarial\\.advFraction.*${bad} is invalid; need a fraction in \\(0, 1\\]`),
      );
      return true;
    });
  }
  await assert.rejects(run('trades', 0.5), /advFraction.*method "trades" already weighs a clean term \(use beta\)/);
  await assert.rejects(run('standard', 0.5), /advFraction.*method "standard" trains on no adversarial images/);
  net.dispose();
});
