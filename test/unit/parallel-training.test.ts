/**
 * Data-parallel training across worker threads (src/engine/training/parallel.ts, src/worker/train-pool.ts):
 * two workers end where one does up to summation order; a run resumes exactly for a given count;
 * a worker that dies fails the run naming it and leaves the last checkpoint resumable; ONNX
 * models split the same way; the run folder records the count.
 */
import { before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { loadTrainingData, runTrainJob, smallCnn, trainModel, type Dataset, type TrainOptions } from '../../src/engine';
import { encodeLayersAsOnnx } from '../../src/engine/models/onnx/from-layers';
import { loadOnnxNet, type TrainableNet } from '../../src/engine/training/net';
import { shareRows, TrainingWorkerError } from '../../src/engine/training/parallel';
import { threadPeers, type ThreadPeers } from '../../src/worker/train-pool';
import { runItemView } from '../../src/extension/run-items';
import { EngineClient } from '../../src/worker/client';
import { engineTest, tempDir, useBackend } from './helpers';

const ROOT = path.join(__dirname, '..', '..');
const SCRIPT = path.join(ROOT, 'dist', 'worker.js');
let data: Dataset;

before(async () => {
  assert.ok(fs.existsSync(SCRIPT), 'dist/worker.js is missing; npm test builds it first');
  await useBackend('wasm');
  data = await loadTrainingData('embedded');
});

const peers = (onStarted?: (p: ThreadPeers) => void) =>
  threadPeers({ script: SCRIPT, backend: 'wasm', ...(onStarted ? { onStarted } : {}) });

function flat(net: TrainableNet | ReturnType<typeof smallCnn>): Float32Array {
  const variables = 'variables' in net ? net.variables : net.trainableWeights.map((w) => w.read());
  return tf.tidy(() => tf.concat(variables.map((v) => tf.reshape(v, [-1]))).dataSync() as Float32Array);
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

test('a batch splits into consecutive, balanced, non-empty shares', () => {
  assert.deepEqual(shareRows(128, 2), [
    { start: 0, rows: 64 },
    { start: 64, rows: 64 },
  ]);
  assert.deepEqual(shareRows(7, 3), [
    { start: 0, rows: 2 },
    { start: 2, rows: 2 },
    { start: 4, rows: 3 },
  ]);
  // A last batch smaller than the worker count uses fewer workers.
  assert.deepEqual(shareRows(1, 4), [{ start: 0, rows: 1 }]);
});

const STEPS = 20;
const BATCH = 32;
const standard = (workers: number): TrainOptions => ({
  epochs: 1,
  batchSize: BATCH,
  // 20 steps, the last one a short batch of 16 (shares of 8 + 8 weigh ½·16/16 each, not ½ of a full batch).
  trainLimit: BATCH * (STEPS - 1) + 16,
  evalLimit: 20,
  robustEvalLimit: 0,
  seed: 4,
  // SGD: unlike Adam's, its step scales with the gradient, so a share weighed wrong shows.
  optimizer: 'sgd',
  learningRate: 0.05,
  weightDecay: 5e-4,
  workers,
  peers: peers(),
});

engineTest('one and two workers end with the same weights within 1e-5 after 20 steps', async () => {
  const one = smallCnn(data.shape, 10, 4);
  const two = smallCnn(data.shape, 10, 4);
  const initial = flat(one);
  const batchesSeen: number[] = [];
  const h1 = await trainModel(one, data, standard(1));
  const h2 = await trainModel(two, data, {
    ...standard(2),
    onProgress: (p) => {
      if (!p.phase && !p.epochMetrics) batchesSeen.push(p.batch);
    },
  });
  assert.equal(batchesSeen.length, STEPS);
  const moved = maxDiff(flat(one), initial);
  assert.ok(moved > 1e-2, `training moved the weights by ${moved}`);
  const diff = maxDiff(flat(one), flat(two));
  assert.ok(diff < 1e-5, `one vs two workers differ by ${diff}`);
  assert.ok(Math.abs(h1[0]!.loss - h2[0]!.loss) < 1e-5, `losses ${h1[0]!.loss} vs ${h2[0]!.loss}`);
  assert.equal(h1[0]!.trainAccuracy, h2[0]!.trainAccuracy);
  [one, two].forEach((n) => n.dispose());
});

engineTest('an ONNX model splits across two workers like a Layers one (same weights within 1e-5)', async () => {
  const dir = tempDir('onnx-parallel');
  const file = path.join(dir, 'smallcnn.onnx');
  const source = smallCnn(data.shape, 10, 6);
  fs.writeFileSync(file, encodeLayersAsOnnx(source));
  source.dispose();
  const one = loadOnnxNet(file, data.shape);
  const two = loadOnnxNet(file, data.shape);
  const initial = flat(one);
  const options = (workers: number): TrainOptions => ({ ...standard(workers), trainLimit: BATCH * 8 });
  await trainModel(one, data, options(1));
  await trainModel(two, data, options(2));
  const moved = maxDiff(flat(one), initial);
  assert.ok(moved > 1e-3, `training moved the weights by ${moved}`);
  const diff = maxDiff(flat(one), flat(two));
  assert.ok(diff < 1e-5, `one vs two workers differ by ${diff}`);
  [one, two].forEach((n) => n.dispose());
});

/** PGD-AT on two workers with checkpoints: each worker's share runs its own inner attack. */
const adversarial = (dir: string, onStarted?: (p: ThreadPeers) => void): TrainOptions => ({
  epochs: 2,
  method: 'pgd-at',
  adversarial: { eps: 0.1, steps: 2 },
  batchSize: 64,
  trainLimit: 320,
  evalLimit: 30,
  robustEvalLimit: 30,
  seed: 7,
  schedule: 'cosine',
  checkpointDir: dir,
  resume: true,
  workers: 2,
  peers: peers(onStarted),
});

let uninterrupted: Float32Array | undefined;
async function uninterruptedRun(): Promise<Float32Array> {
  if (!uninterrupted) {
    const net = smallCnn(data.shape, 10, 7);
    await trainModel(net, data, adversarial(tempDir('parallel-full')));
    uninterrupted = flat(net);
    net.dispose();
  }
  return uninterrupted;
}

engineTest('PGD-AT on two workers is deterministic and resumes exactly from its checkpoint', async () => {
  const full = await uninterruptedRun();
  const again = smallCnn(data.shape, 10, 7);
  await trainModel(again, data, adversarial(tempDir('parallel-again')));
  assert.deepEqual(flat(again), full, 'two runs on two workers with one seed differ');
  again.dispose();

  const dir = tempDir('parallel-resume');
  const first = smallCnn(data.shape, 10, 7);
  const controller = new AbortController();
  await assert.rejects(
    trainModel(first, data, {
      ...adversarial(dir),
      signal: controller.signal,
      onProgress: (p) => {
        if (p.epochMetrics?.epoch === 1) controller.abort();
      },
    }),
    { name: 'AbortError' },
  );
  first.dispose();
  const resumed = smallCnn(data.shape, 10, 99); // other initial weights: all must come from the checkpoint
  const history = await trainModel(resumed, data, adversarial(dir));
  assert.deepEqual(
    history.map((h) => h.epoch),
    [1, 2],
  );
  assert.deepEqual(flat(resumed), full);
  resumed.dispose();
});

engineTest('a worker that dies fails the run naming it, and the last checkpoint resumes to the same end', async () => {
  const dir = tempDir('parallel-kill');
  const net = smallCnn(data.shape, 10, 7);
  let started: ThreadPeers | undefined;
  const options = adversarial(dir, (p) => {
    started = p;
  });
  await assert.rejects(
    trainModel(net, data, {
      ...options,
      onProgress: (p) => {
        if (p.epoch === 2 && p.batch === 2 && !p.phase) started!.kill(0);
      },
    }),
    (err: Error) => {
      assert.ok(err instanceof TrainingWorkerError, `${err.name}: ${err.message}`);
      assert.match(
        err.message,
        /^training worker 2 of 2 died: the engine worker exited with code 1 \(epoch 2, batch 3 of 5\); the checkpoint of epoch 1 is kept: resume the run to continue from it$/,
      );
      return true;
    },
  );
  net.dispose();
  const state = JSON.parse(fs.readFileSync(path.join(dir, 'checkpoints', 'last', 'state.json'), 'utf8')) as {
    epoch: number;
  };
  assert.equal(state.epoch, 1);
  const resumed = smallCnn(data.shape, 10, 99);
  const history = await trainModel(resumed, data, adversarial(dir));
  assert.deepEqual(
    history.map((h) => h.epoch),
    [1, 2],
  );
  assert.deepEqual(flat(resumed), await uninterruptedRun());
  resumed.dispose();
});

engineTest('a training job on two workers records the count in train.json and the model metadata', async () => {
  const out = tempDir('parallel-job');
  const result = await runTrainJob(
    {
      method: 'standard',
      data: 'embedded',
      epochs: 1,
      batchSize: 50,
      optimizer: 'adam',
      learningRate: 1e-3,
      seed: 1,
      trainLimit: 100,
      robustEvalLimit: 0,
      workers: 2,
      out,
    },
    { trainPeers: peers() },
  );
  const record = JSON.parse(fs.readFileSync(path.join(out, 'train.json'), 'utf8')) as {
    config: { workers?: number };
    status: string;
  };
  assert.equal(record.status, 'done');
  assert.equal(record.config.workers, 2);
  const model = JSON.parse(fs.readFileSync(result.modelFile, 'utf8')) as {
    userDefinedMetadata?: { robustnessLab?: { workers?: number } };
  };
  assert.equal(model.userDefinedMetadata?.robustnessLab?.workers, 2);
});

engineTest('more than one worker without a way to start them is refused, naming the count', async () => {
  const net = smallCnn(data.shape, 10, 1);
  await assert.rejects(trainModel(net, data, { epochs: 1, trainLimit: 32, workers: 3 }), /training on 3 workers needs/);
  await assert.rejects(
    trainModel(net, data, { epochs: 1, trainLimit: 32, workers: 0 }),
    /workers.*integer from 1 to 16/,
  );
  net.dispose();
});

test('the CLI trains on --workers, says how many, and resumes only on the count a run started with', () => {
  const cli = path.join(ROOT, 'dist', 'cli.js');
  const out = path.join(tempDir('parallel-cli'), 'run');
  const run = (...args: string[]) => spawnSync(process.execPath, [cli, 'train', ...args], { encoding: 'utf8' });
  const trained = run('--epochs', '1', '--n-train', '200', '--batch-size', '50', '--workers', '2', '--out', out);
  assert.equal(trained.status, 0, trained.stderr);
  assert.match(trained.stderr, /^backend: wasm \(our kernels\) · 2 workers$/m);
  assert.match(trained.stdout, /^wrote .*model\.json · standard · backend wasm \(our kernels\) · 2 workers · /m);
  const refused = run('--resume', out, '--workers', '3');
  assert.equal(refused.status, 2); // bad input
  assert.match(
    refused.stderr,
    /train\.json: config\.workers: is 2: a run resumes on the 2 workers it started with .*drop --workers 3/,
  );
});

test('Runs view: a training run says how many workers it trained on', () => {
  const view = runItemView(
    {
      id: 't1',
      dir: '/w/.robustness/runs/t1',
      record: {
        id: 't1',
        kind: 'training',
        status: 'done',
        name: 'smallcnn · PGD-AT ε=0.1 · 4 ep',
        model: 'pgd-at (new smallcnn)',
        created: '2026-12-01T04:12:00.000Z',
        finished: '2026-12-01T04:15:00.000Z',
        config: { method: 'pgd-at', workers: 2 },
      },
    },
    Date.parse('2026-12-01T04:16:30.000Z'),
  );
  assert.equal(view.description, 'done · 2 workers · 2 min ago');
  assert.match(view.tooltip, /\ntraining · pgd-at · done · 2 workers {2}\n/);
  const one = runItemView(
    {
      id: 't2',
      dir: '/w/.robustness/runs/t2',
      record: {
        id: 't2',
        kind: 'training',
        status: 'running',
        model: 'standard (new smallcnn)',
        created: '2026-12-01T04:12:00.000Z',
        config: { method: 'standard', workers: 1 },
      },
    },
    Date.parse('2026-12-01T04:16:30.000Z'),
  );
  assert.equal(one.description, 'running · 1 worker');
});

test("the editor's path: an engine worker trains a job on two workers, starting them from its own bundle", async () => {
  const out = tempDir('parallel-editor');
  const client = new EngineClient({ script: SCRIPT });
  try {
    const result = await client.train(
      'r-par',
      {
        method: 'fast-at',
        data: 'embedded',
        epochs: 1,
        batchSize: 40,
        optimizer: 'adam',
        learningRate: 1e-3,
        seed: 2,
        eps: 0.1,
        trainLimit: 120,
        robustEvalLimit: 20,
        workers: 2,
        out,
      },
      'wasm',
      false,
    );
    assert.equal(result.epochs.length, 1);
    assert.ok(fs.existsSync(result.modelFile));
    const record = JSON.parse(fs.readFileSync(path.join(out, 'train.json'), 'utf8')) as {
      config: { workers?: number };
    };
    assert.equal(record.config.workers, 2);
  } finally {
    await client.dispose();
  }
});
