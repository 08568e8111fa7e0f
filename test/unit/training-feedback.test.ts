/**
 * Training runs named and watched (issue 16, items 4 and 5): the run's name and its fallback, rename
 * and its validation, the final model's named folder, the cost estimate before a run, the throttled
 * phase and batch progress (order and throttling, through the real training job), the status-bar
 * text, the panel's Stop message, and the panel's markers and whole-number epoch ticks.
 */
import { before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runTrainJob } from '../../src/engine';
import { throttleTrainProgress } from '../../src/engine/training/progress';
import { trainingPanelToHost, trainingRunView } from '../../src/protocol/messages/training-panel';
import { trainProgressParams } from '../../src/protocol/messages/worker';
import type { TrainJob } from '../../src/protocol/jobs';
import {
  clock,
  estimateTrainingCost,
  ROUGH_SECONDS_PER_IMAGE_PASS,
  trainedModelFolder,
  trainedNetworkName,
  trainingCostFactor,
  trainingRunDisplayName,
  trainingStatusText,
  trainPhaseText,
  type MeasuredTrainingRun,
  type PlannedTrainingRun,
  type TrainProgressView,
} from '../../src/protocol/training';
import { statusWord, STATUS_ICONS } from '../../src/protocol/format';
import { RunStore } from '../../src/store/runs';
import type { GuardedPlacement } from '../../src/extension/run-placement';
import {
  epochSeconds,
  finishedTrainingModels,
  measuredTrainingRuns,
  newTrainingRun,
  renameRun,
  RUN_NAME_MAX,
  runLabel,
  storedRunLabel,
  trainedModelFile,
  trainImagesOf,
  validateRunName,
} from '../../src/extension/training-runs';
import { chartLegendText, epochAxis, epochTickLabel, epochTicks, runMarker } from '../../webview/training/markers';
import { engineTest, tempDir, useBackend } from './helpers';

before(async () => {
  await useBackend('wasm');
});

const JOB: Omit<TrainJob, 'out'> = {
  method: 'pgd-at',
  data: 'embedded',
  epochs: 5,
  batchSize: 128,
  optimizer: 'adam',
  learningRate: 1e-3,
  seed: 0,
  eps: 0.1,
  init: '/ws/examples/fashion-mnist/smallcnn/model.json',
};

const placement = (folder: string) => ({ folder }) as GuardedPlacement;

test('a training run is named after its model, method, ε and epochs; its final model folder likewise', () => {
  assert.equal(trainingRunDisplayName(JOB), 'smallcnn · PGD-AT ε=0.1 · 5 ep');
  assert.equal(
    trainingRunDisplayName({ ...JOB, method: 'trades', eps: 0.05, epochs: 1 }),
    'smallcnn · TRADES ε=0.05 · 1 ep',
  );
  // No adversary, no ε; no starting model: the example network.
  assert.equal(trainingRunDisplayName({ method: 'standard', eps: 0.1, epochs: 3 }), 'smallcnn · Standard · 3 ep');
  assert.equal(
    trainingRunDisplayName({ ...JOB, method: 'distill', init: 'C:\\models\\mnist-net\\model.json' }),
    'mnist-net · Defensive distillation · 5 ep',
  );
  assert.equal(trainedNetworkName(undefined), 'smallcnn');
  assert.equal(trainedModelFolder(JOB), 'smallcnn-pgd-at-eps0.1');
  assert.equal(trainedModelFolder({ method: 'standard' }), 'smallcnn-standard');
  assert.equal(trainedModelFolder({ ...JOB, init: '/w/my model (v2)/model.json' }), 'my-model-v2-pgd-at-eps0.1');

  const folder = tempDir('named');
  const { job, record } = newTrainingRun(placement(folder), JOB, {}, new Date('2026-11-30T23:38:07.212Z'));
  assert.equal(record.id, '20261130-233807-212-train');
  assert.equal(record.name, 'smallcnn · PGD-AT ε=0.1 · 5 ep');
  assert.equal(job.modelFolder, 'smallcnn-pgd-at-eps0.1');
  assert.equal(job.out, path.join(folder, '.robustness', 'runs', '20261130-233807-212-train'));
  // The final model lives in the named folder; a run from before names saved it in the run folder.
  assert.equal(trainedModelFile(job.out, job), path.join(job.out, 'smallcnn-pgd-at-eps0.1', 'model.json'));
  assert.equal(trainedModelFile('/r', { ...job, modelFolder: undefined }), path.join('/r', 'model.json'));
  assert.equal(trainedModelFile('/r', { not: 'a job' }), path.join('/r', 'model.json'));
  fs.rmSync(folder, { recursive: true });
});

test('a run reads as its name, else its id (older records)', () => {
  assert.equal(
    runLabel({ id: '20261130-233807-212-train', name: 'smallcnn · PGD-AT ε=0.1 · 5 ep' }),
    'smallcnn · PGD-AT ε=0.1 · 5 ep',
  );
  assert.equal(runLabel({ id: '20261130-233807-212-train' }), '20261130-233807-212-train');
  assert.equal(runLabel({ id: '20261130-233807-212-train', name: '  ' }), '20261130-233807-212-train');
  const folder = tempDir('label');
  const store = new RunStore(folder);
  store.create({ id: 'r-1', kind: 'training', status: 'done', model: 'm', created: '2026-11-30T00:00:00Z' });
  assert.equal(storedRunLabel(store, 'r-1'), 'r-1');
  fs.mkdirSync(store.dir('r-2'), { recursive: true });
  assert.equal(storedRunLabel(store, 'r-2'), 'r-2', 'a folder without run.json still has a label');
  fs.rmSync(folder, { recursive: true });
});

test('rename: a non-empty name of at most 80 characters, trimmed, stored in run.json', () => {
  assert.equal(validateRunName('smallcnn · PGD-AT ε=0.1 · 5 ep'), undefined);
  assert.equal(validateRunName(''), 'A run needs a name.');
  assert.equal(validateRunName('   '), 'A run needs a name.');
  assert.equal(RUN_NAME_MAX, 80);
  assert.equal(validateRunName('x'.repeat(80)), undefined);
  assert.equal(validateRunName('x'.repeat(81)), 'At most 80 characters (this one has 81).');
  assert.equal(validateRunName(`  ${'x'.repeat(80)}  `), undefined, 'spaces around the name do not count');

  const folder = tempDir('rename');
  const store = new RunStore(folder);
  const record = {
    id: 'r-1',
    kind: 'training' as const,
    status: 'done' as const,
    model: 'm',
    created: 'c',
    name: 'old',
  };
  store.create(record);
  assert.equal(renameRun(store, 'r-1', '  baseline, seed 0  ').name, 'baseline, seed 0');
  const stored = JSON.parse(fs.readFileSync(path.join(store.dir('r-1'), 'run.json'), 'utf8'));
  assert.deepEqual(stored, { ...record, name: 'baseline, seed 0' });
  assert.throws(() => renameRun(store, 'r-1', ''), /A run needs a name/);
  assert.throws(() => renameRun(store, 'r-1', 'y'.repeat(81)), /At most 80 characters/);
  assert.equal(store.read('r-1').name, 'baseline, seed 0', 'a refused name leaves run.json as it was');
  fs.rmSync(folder, { recursive: true });
});

const PLAN: PlannedTrainingRun = { method: 'pgd-at', network: 'smallcnn', data: 'embedded', images: 1000, epochs: 5 };
const PAST: MeasuredTrainingRun = {
  method: 'pgd-at',
  network: 'smallcnn',
  data: 'embedded',
  images: 1000,
  epochSeconds: [90, 70, 72, 68],
  finished: '2026-11-30T10:00:00Z',
};

test('cost estimate: measured on the last run of the same method, as the median epoch, scaled by images', () => {
  const estimate = estimateTrainingCost(PLAN, [PAST]);
  // Median of 68, 70, 72, 90 = 71 s an epoch; five epochs.
  assert.deepEqual(estimate, {
    seconds: 355,
    perEpochSeconds: 71,
    basis: 'measured',
    text: 'About 6 min (5 epochs × ~71 s, measured on your last PGD-AT run)',
  });
  // The latest run wins; one on the same network before one on another.
  const older = { ...PAST, epochSeconds: [10], finished: '2026-11-01T00:00:00Z' };
  const otherNet = { ...PAST, network: 'resnet', epochSeconds: [5], finished: '2026-12-01T00:00:00Z' };
  assert.equal(estimateTrainingCost(PLAN, [older, PAST, otherNet])!.perEpochSeconds, 71);
  assert.equal(
    estimateTrainingCost(PLAN, [otherNet])!.text,
    'About 25 s (5 epochs × ~5 s, measured on your last PGD-AT run on resnet)',
  );
  // Twice the images, twice the time; one epoch says "epoch".
  assert.equal(
    estimateTrainingCost({ ...PLAN, images: 2000, epochs: 1 }, [PAST])!.text,
    'About 2 min (1 epoch × ~2 min, measured on your last PGD-AT run)',
  );
  // A run on unknown images compares only with the same data and image count.
  const folderPlan = { ...PLAN, data: '/data/mine', images: undefined };
  assert.equal(estimateTrainingCost(folderPlan, [PAST]), undefined);
  assert.equal(estimateTrainingCost(folderPlan, [{ ...PAST, data: '/data/mine', images: undefined }])!.seconds, 355);
  // Runs without epoch times say nothing.
  assert.equal(estimateTrainingCost(PLAN, [{ ...PAST, epochSeconds: [] }])!.basis, 'rough');
});

test('cost estimate: another method scaled by gradient passes, else a rough guess that says so', () => {
  assert.equal(trainingCostFactor('standard'), 1);
  assert.equal(trainingCostFactor('pgd-at'), 8);
  assert.equal(trainingCostFactor('pgd-at', 10), 11);
  assert.equal(trainingCostFactor('trades'), 12);
  assert.equal(trainingCostFactor('fast-at'), 2);
  // Per phase: a student step and the teacher's forward pass; the teacher's phase doubles the epochs.
  assert.equal(trainingCostFactor('distill'), 4 / 3);
  const fromStandard = estimateTrainingCost({ ...PLAN, method: 'distill', epochs: 3 }, [
    { ...PAST, method: 'standard' as const, epochSeconds: [3] },
  ])!;
  assert.equal(fromStandard.seconds, 2 * 3 * 3 * (4 / 3));
  const standard = { ...PAST, method: 'standard' as const, epochSeconds: [3] };
  const scaled = estimateTrainingCost(PLAN, [standard])!;
  assert.equal(scaled.basis, 'scaled');
  assert.equal(scaled.perEpochSeconds, 24);
  assert.equal(scaled.text, 'About 2 min (5 epochs × ~24 s, scaled from your last Standard run)');
  // Distillation trains a teacher first: twice the epochs.
  const distill = estimateTrainingCost({ ...PLAN, method: 'distill', epochs: 3 }, [
    { ...standard, method: 'distill' },
  ])!;
  assert.equal(distill.seconds, 18);
  assert.equal(distill.text, 'About 18 s (2 × 3 epochs × ~3 s, measured on your last Defensive distillation run)');
  const rough = estimateTrainingCost({ ...PLAN, testImages: 3000, robustEvalImages: 100 }, [])!;
  assert.equal(rough.basis, 'rough');
  const passes = 1000 * 8 + 3000 / 3 + 100 * 10.3;
  assert.ok(Math.abs(rough.perEpochSeconds - passes * ROUGH_SECONDS_PER_IMAGE_PASS) < 1e-9);
  assert.match(rough.text, /^About 8 s \(5 epochs × ~2 s, a rough guess before any run here was timed\)$/);
  assert.equal(estimateTrainingCost({ ...PLAN, images: undefined }, []), undefined);
});

test('cost estimate inputs: finished runs of a store with their epoch times and image counts', () => {
  const folder = tempDir('measured');
  const store = new RunStore(folder);
  const { job, record } = newTrainingRun(placement(folder), { ...JOB, trainLimit: 1000 });
  store.create({ ...record, status: 'done', finished: '2026-11-30T12:00:00Z' });
  const line = (epoch: number, seconds: number) =>
    JSON.stringify({ epoch, loss: 1, trainAccuracy: 0.5, testAccuracy: 0.5, learningRate: 1e-3, eps: 0.1, seconds });
  fs.writeFileSync(path.join(job.out, 'metrics.jsonl'), `${line(1, 12.5)}\nnot json\n${line(2, 11)}\n`);
  assert.deepEqual(epochSeconds(job.out), [12.5, 11]);
  assert.deepEqual(measuredTrainingRuns(store), [
    {
      method: 'pgd-at',
      network: 'smallcnn',
      data: 'embedded',
      images: 1000,
      steps: undefined,
      epochSeconds: [12.5, 11],
      finished: '2026-11-30T12:00:00Z',
    },
  ]);
  assert.equal(trainImagesOf({ data: 'embedded', trainLimit: 50_000 }), 10_000, 'capped by the sample');
  assert.equal(trainImagesOf({ data: 'fashion-mnist' }), 60_000);
  assert.equal(trainImagesOf({ data: '/my/data' }), undefined);
  // No final model on disk yet: not listed among the finished models.
  assert.deepEqual(finishedTrainingModels(store), []);
  fs.rmSync(folder, { recursive: true });
});

test('progress is throttled: phase changes, each epoch’s first and last batch, else one per 250 ms', () => {
  const sent: string[] = [];
  let now = 0;
  const report = throttleTrainProgress(
    (p) => sent.push(trainPhaseText(p)),
    250,
    () => now,
  );
  const batch = (epoch: number, b: number): TrainProgressView => ({
    phase: 'training',
    epochs: 2,
    epoch,
    batch: b,
    batches: 10,
  });
  report({ phase: 'loading-data', epochs: 2 });
  now = 5;
  report({ phase: 'building-model', epochs: 2 });
  for (let b = 1; b <= 10; b++) {
    now += 100;
    report(batch(1, b));
  }
  report({ phase: 'evaluating', epochs: 2, epoch: 1, batch: 10, batches: 10 });
  for (let b = 1; b <= 3; b++) report(batch(2, b)); // no time passes
  assert.deepEqual(sent, [
    'loading data…',
    'building the model…',
    'epoch 1: batch 1/10', // t = 105
    'epoch 1: batch 4/10', // t = 405: 300 ms after the last one sent
    'epoch 1: batch 7/10', // t = 705
    'epoch 1: batch 10/10', // the last batch, always
    'epoch 1: measuring accuracy…',
    'epoch 2: batch 1/10',
  ]);
});

engineTest('the training job reports its phases in order, then saves the model in its named folder', async () => {
  const folder = tempDir('phases');
  const { job } = newTrainingRun(placement(folder), {
    ...JOB,
    init: undefined,
    method: 'standard',
    epochs: 2,
    trainLimit: 256,
    robustEvalLimit: 0,
  });
  const seen: TrainProgressView[] = [];
  const result = await runTrainJob(job, { onTrainProgress: (p) => seen.push(p) });
  const phases = seen.map((p) =>
    p.phase === 'training' ? `${p.epoch}:${p.batch}/${p.batches}` : `${p.phase}${p.epoch ?? ''}`,
  );
  // Two batches an epoch (256 images, batch 128): each is the first or the last, so each is sent.
  assert.deepEqual(phases, [
    'loading-data',
    'building-model',
    '1:1/2',
    '1:2/2',
    'evaluating1',
    '2:1/2',
    '2:2/2',
    'evaluating2',
    'saving',
  ]);
  for (const p of seen) assert.ok(trainProgressParams.safeParse({ runId: 'r-1', ...p }).success, JSON.stringify(p));
  assert.equal(result.modelFile, path.join(job.out, 'smallcnn-standard', 'model.json'));
  assert.ok(fs.existsSync(result.modelFile));
  assert.ok(!fs.existsSync(path.join(job.out, 'model.json')), 'nothing saved beside the checkpoints');
  const store = new RunStore(folder);
  const id = path.basename(job.out);
  store.create({ id, kind: 'training', status: 'done', model: 'm', created: 'c', name: 'mine', config: job });
  assert.deepEqual(finishedTrainingModels(store), [{ runId: id, runName: 'mine', modelFile: result.modelFile }]);
  fs.rmSync(folder, { recursive: true });
});

test('the status bar names the run, its epoch and batch, and the time since it started', () => {
  const base = { network: 'smallcnn', method: 'pgd-at' as const };
  const at = (progress: TrainProgressView | undefined, elapsedSeconds: number) =>
    trainingStatusText({ ...base, progress, elapsedSeconds });
  assert.equal(at(undefined, 0.4), 'smallcnn · PGD-AT · starting… · 0:00');
  assert.equal(at({ phase: 'loading-data', epochs: 5 }, 3), 'smallcnn · PGD-AT · loading data… · 0:03');
  assert.equal(
    at({ phase: 'training', epochs: 5, epoch: 2, batch: 40, batches: 469 }, 72),
    'smallcnn · PGD-AT · epoch 2/5 · batch 40/469 · 1:12',
  );
  assert.equal(
    at({ phase: 'evaluating', epochs: 5, epoch: 2, batch: 469, batches: 469 }, 3725),
    'smallcnn · PGD-AT · epoch 2/5 · measuring accuracy… · 1:02:05',
  );
  assert.equal(
    trainPhaseText({ phase: 'training', epochs: 3, epoch: 1, batch: 7, batches: 79, part: 'teacher' }),
    'teacher epoch 1: batch 7/79',
  );
  assert.equal(clock(59.9), '0:59');
  // Stop's word and icon: a stopped training run reads "stopped" with the Stop action's square.
  assert.equal(statusWord('training', 'cancelled'), 'stopped');
  assert.equal(STATUS_ICONS.cancelled, 'debug-stop');
});

test("the panel's Stop message names a run id and nothing else", () => {
  assert.deepEqual(trainingPanelToHost.parse({ type: 'stop', runId: '20261130-233807-212-train' }), {
    type: 'stop',
    runId: '20261130-233807-212-train',
  });
  assert.throws(() => trainingPanelToHost.parse({ type: 'stop' }), /runId/);
  assert.throws(() => trainingPanelToHost.parse({ type: 'stop', runId: '../../etc' }), /runId|Invalid/);
  assert.throws(() => trainingPanelToHost.parse({ type: 'stop', runId: 'r-1', force: true }), /force|Unrecognized/);
  // What the panel is sent of a running run: its name, planned epochs and where it is.
  const view = {
    id: 'r-1',
    label: 'smallcnn · PGD-AT ε=0.1 · 6 ep',
    method: 'pgd-at',
    status: 'running',
    epochs: [],
    totalEpochs: 6,
    progress: 'epoch 1: batch 40/469',
  };
  assert.deepEqual(trainingRunView.parse(view), view);
  assert.throws(() => trainingRunView.parse({ ...view, totalEpochs: 0 }), /totalEpochs/);
  assert.throws(() => trainProgressParams.parse({ runId: 'r-1', phase: 'sleeping', epochs: 1 }), /phase/);
  assert.throws(
    () => trainProgressParams.parse({ runId: 'r-1', phase: 'training', epochs: 1, eta: 3 }),
    /eta|Unrecognized/,
  );
});

test('the panel tells runs apart by colour and marker, and counts epochs in whole numbers', () => {
  const markers = Array.from({ length: 56 }, (_, i) => runMarker(i));
  assert.equal(new Set(markers.map((m) => `${m.colour} ${m.pointStyle}`)).size, 56);
  assert.deepEqual(runMarker(0), { colour: '#1c7ed6', pointStyle: 'circle' });
  assert.deepEqual(runMarker(1), { colour: '#d9480f', pointStyle: 'rect' });
  assert.deepEqual(epochTicks(5), [1, 2, 3, 4, 5]);
  assert.deepEqual(epochTicks(1), [1, 2]);
  assert.deepEqual(epochAxis(37), { min: 0, max: 40, stepSize: 4 });
  for (const epochs of [1, 2, 3, 7, 10, 11, 37, 100, 499]) {
    const ticks = epochTicks(epochs);
    assert.ok(ticks.every(Number.isInteger), `${epochs}: ${ticks}`);
    assert.ok(ticks.length <= 12, `${epochs}: ${ticks.length} ticks`);
    assert.ok(ticks[ticks.length - 1]! >= epochs, `${epochs}: the axis reaches the last epoch`);
  }
  assert.equal(
    chartLegendText('training loss per epoch', [
      { label: 'smallcnn · PGD-AT ε=0.1 · 3 ep', ...runMarker(0) },
      { label: 'smallcnn · Standard · 1 ep', ...runMarker(1) },
    ]),
    'training loss per epoch: smallcnn · PGD-AT ε=0.1 · 3 ep (circle); smallcnn · Standard · 1 ep (square)',
  );
  assert.equal(chartLegendText('loss', []), 'loss: no finished epoch yet');
  assert.equal(epochTickLabel(3), '3');
  assert.equal(epochTickLabel(2.5), '');
});
