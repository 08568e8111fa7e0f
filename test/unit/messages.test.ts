/**
 * The message channels after the split: descriptor tables keyed by their methods, typed handler
 * dispatch on both ends of the worker channel, results checked where they arrive, and one epoch
 * schema shared by the worker notification, the train result and the training panel.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { epochMetricsSchema, type EpochMetrics } from '../../src/protocol/epoch-metrics';
import { panelState, panelStatus, parseHostMessage, type PanelState } from '../../src/protocol/messages/attack-panel';
import { RunFinishedNotification } from '../../src/protocol/messages/lsp';
import { parseTrainingHostMessage, trainingRunView } from '../../src/protocol/messages/training-panel';
import type { Report } from '../../src/protocol/report';
import { RUN_KINDS, RUN_STATUSES, RUN_STORE_DIR, TRAIN_METHODS } from '../../src/protocol/vocabulary';
import { RunStore } from '../../src/store/runs';
import {
  dispatchNotification,
  dispatchRequest,
  epochParams,
  parseWorkerMessage,
  stageParams,
  trainRunResultSchema,
  WORKER_NOTIFICATIONS,
  WORKER_REQUESTS,
  type WorkerNotificationHandlers,
  type WorkerRequestHandlers,
} from '../../src/protocol/messages/worker';
import { EngineClient, EngineError } from '../../src/worker/client';

const EPOCH: EpochMetrics = {
  epoch: 2,
  loss: 0.81,
  trainAccuracy: 0.7,
  testAccuracy: 0.68,
  robustAccuracy: 0.31,
  learningRate: 0.001,
  eps: 0.1,
  seconds: 3.5,
};

test('each worker descriptor table is keyed by its own method names', () => {
  for (const table of [WORKER_REQUESTS, WORKER_NOTIFICATIONS]) {
    for (const [key, descriptor] of Object.entries(table)) assert.equal(descriptor.method, key);
  }
  assert.deepEqual(Object.keys(WORKER_REQUESTS).sort(), [
    'cancel',
    'runAttack',
    'train',
    'trainShardClose',
    'trainShardOpen',
    'trainShardStep',
  ]);
  assert.deepEqual(Object.keys(WORKER_NOTIFICATIONS).sort(), ['epoch', 'log', 'progress', 'stage', 'trainProgress']);
});

test("dispatch calls the handler of the message's method with its params, on both ends", async () => {
  const calls: string[] = [];
  const requests: WorkerRequestHandlers = {
    runAttack: async () => {
      throw new Error('not this one');
    },
    train: async () => {
      throw new Error('not this one');
    },
    cancel: async ({ runId }) => {
      calls.push(`cancel ${runId}`);
      return { cancelled: runId === 'r-1' };
    },
    trainShardOpen: async () => {
      throw new Error('not this one');
    },
    trainShardStep: async () => {
      throw new Error('not this one');
    },
    trainShardClose: async () => {
      throw new Error('not this one');
    },
  };
  assert.deepEqual(await dispatchRequest(requests, 'cancel', { runId: 'r-1' }), { cancelled: true });
  const notifications: WorkerNotificationHandlers = {
    progress: (p) => calls.push(`progress ${p.label} ${p.done}/${p.total}`),
    log: (p) => calls.push(`log ${p.level}`),
    epoch: (p) => calls.push(`epoch ${p.epoch}/${p.epochs}`),
    stage: (p) => calls.push(`stage ${p.index}/${p.total} ${p.label} ${p.accuracy}`),
    trainProgress: (p) => calls.push(`trainProgress ${p.phase} ${p.batch}/${p.batches}`),
  };
  dispatchNotification(notifications, 'epoch', { ...EPOCH, runId: 't-1', epochs: 5 });
  dispatchNotification(notifications, 'progress', { runId: 't-1', label: 'PGD-7', done: 3, total: 9 });
  const batch = { runId: 't-1', phase: 'training' as const, epochs: 5, epoch: 1, batch: 40, batches: 469 };
  dispatchNotification(notifications, 'trainProgress', batch);
  dispatchNotification(notifications, 'stage', { ...STAGE, runId: 'e-1' });
  assert.deepEqual(calls, [
    'cancel r-1',
    'epoch 2/5',
    'progress PGD-7 3/9',
    'trainProgress training 40/469',
    'stage 2/5 APGD-T (3 targets) 0.31',
  ]);
});

const STAGE = {
  kind: 'attack' as const,
  index: 2,
  total: 5,
  label: 'APGD-T (3 targets)',
  accuracy: 0.31,
  robust: 93,
  n: 300,
  attacked: 120,
  forwardPasses: 36_000,
  backwardPasses: 36_000,
  seconds: 11.5,
};

test('a finished stage: the notification round-trips through the envelope; malformed ones are refused', () => {
  const parsed = parseWorkerMessage({ kind: 'notification', method: 'stage', params: { ...STAGE, runId: 'e-1' } });
  assert.deepEqual(parsed, { kind: 'notification', method: 'stage', params: { ...STAGE, runId: 'e-1' } });
  const skipped = { ...STAGE, index: 3, label: 'Square-1000', attacked: 0, skipped: true, forwardPasses: 0 };
  assert.deepEqual(stageParams.parse({ ...skipped, runId: 'e-1' }), { ...skipped, runId: 'e-1' });
  const diagnostics = { kind: 'diagnostics', index: 4, total: 5, label: 'diagnostics', n: 300, seconds: 4 };
  assert.equal(stageParams.parse({ ...diagnostics, findings: 2, masking: 1, runId: 'e-1' }).findings, 2);
  const bad = (params: object, pattern: RegExp) =>
    assert.throws(
      () => parseWorkerMessage({ kind: 'notification', method: 'stage', params: { runId: 'e-1', ...params } }),
      pattern,
    );
  bad({ ...STAGE, accuracy: 1.2 }, /accuracy/);
  bad({ ...STAGE, kind: 'warmup' }, /kind/);
  bad({ ...STAGE, index: -1 }, /index/);
  bad({ ...STAGE, seconds: Infinity }, /seconds/);
  bad({ ...STAGE, label: undefined }, /label/);
  bad({ ...STAGE, colour: 'red' }, /colour|unrecognized/i);
  assert.throws(() => stageParams.parse(STAGE), /runId/, 'a stage names its run');
});

test("one epoch schema: the engine's metrics pass the notification, the train result and the training panel", () => {
  assert.deepEqual(epochMetricsSchema.parse(EPOCH), EPOCH);
  const ofRun = { ...EPOCH, epochs: 5 };
  assert.deepEqual(epochParams.parse({ ...ofRun, runId: 't-1' }), { ...ofRun, runId: 't-1' });
  const trainResult = trainRunResultSchema.parse({ modelFile: '/w/model.json', seconds: 9, epochs: [ofRun] });
  assert.deepEqual(trainResult.epochs, [ofRun]);
  const panel = parseTrainingHostMessage({
    type: 'training',
    state: { runs: [{ id: 't-1', label: 't-1', method: 'pgd-at', status: 'running', epochs: [ofRun] }] },
  });
  assert.deepEqual(panel.state.runs[0]!.epochs, [ofRun]);
  const collapsed = { ...EPOCH, event: 'catastrophic-overfitting' as const };
  assert.deepEqual(epochMetricsSchema.parse(collapsed), collapsed);
  assert.throws(() => epochMetricsSchema.parse({ ...EPOCH, event: 'it-went-wrong' }), /event|Invalid/i);
  // A diverged epoch (NaN loss and accuracies) still reaches the panel and the train result.
  const diverged = { ...ofRun, loss: Number.NaN, trainAccuracy: Number.NaN, testAccuracy: Number.NaN };
  assert.deepEqual(trainRunResultSchema.parse({ modelFile: '/w/m.json', seconds: 1, epochs: [diverged] }).epochs, [
    diverged,
  ]);
  assert.throws(() => epochMetricsSchema.parse({ ...EPOCH, loss: Infinity }), /loss|number|finite/i);
  assert.throws(() => epochMetricsSchema.parse({ ...EPOCH, seconds: Number.NaN }), /seconds/);
  assert.throws(
    () => epochParams.parse({ ...EPOCH, runId: 't-1' }),
    /epochs/,
    'an epoch notification names the run length',
  );
  assert.throws(() => epochMetricsSchema.parse({ ...EPOCH, learningRate: undefined }), /learningRate/);
});

/** A worker that answers every request with `result`, as a broken engine would. */
function answeringWorker(result: unknown): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-worker-'));
  const script = path.join(dir, 'answer.mjs');
  fs.writeFileSync(
    script,
    `import { parentPort } from 'node:worker_threads';
const result = ${JSON.stringify(result)};
parentPort.on('message', (m) => parentPort.postMessage({ kind: 'response', id: m.id, result }));\n`,
  );
  return script;
}

test("the client checks a result against its request's descriptor before resolving", async () => {
  const malformed = new EngineClient({ script: answeringWorker({ cancelled: 'yes' }) });
  try {
    await assert.rejects(
      malformed.cancel('r-1'),
      (err: Error) =>
        err instanceof EngineError &&
        err.name === 'ProtocolError' &&
        /answered cancel with a malformed result/.test(err.message),
    );
  } finally {
    await malformed.dispose();
  }
  const wellFormed = new EngineClient({ script: answeringWorker({ cancelled: true }) });
  try {
    assert.deepEqual(await wellFormed.cancel('r-1'), { cancelled: true });
  } finally {
    await wellFormed.dispose();
  }
  const noReport = new EngineClient({ script: answeringWorker({ any: 'json' }) });
  try {
    await assert.rejects(
      noReport.request(WORKER_REQUESTS.runAttack, {
        runId: 'r-2',
        backend: 'auto',
        job: {
          model: '/w/model.json',
          data: 'embedded',
          attacks: ['fgsm'],
          norm: 'linf',
          eps: 0.1,
          steps: 1,
          restarts: 1,
          loss: 'ce',
          randomStart: false,
          n: 1,
          batchSize: 1,
          seed: 0,
          curve: [],
          examples: 0,
          bounds: [0, 1],
        },
      }),
      /answered runAttack with a malformed result/,
    );
  } finally {
    await noReport.dispose();
  }
});

const PANEL_STATE: PanelState = {
  runId: '20261201-024000-123-eval',
  title: 'Attack: mnist · linf ε=0.1',
  status: 'running',
  startedAt: '2026-12-01T02:40:00.123Z',
  progress: { label: 'PGD-10', done: 3, total: 10 },
};

/** zod's refusal of a field its strict schema does not name. */
const unknownKey = (key: string) => new RegExp(`unrecognized_keys[\\s\\S]*"${key}"`);

test("the attack panel's state is strict: a field the schema does not name is refused, not stripped", () => {
  assert.deepEqual(parseHostMessage({ type: 'state', state: PANEL_STATE }), { type: 'state', state: PANEL_STATE });
  assert.deepEqual(panelState.parse(PANEL_STATE), PANEL_STATE);
  assert.throws(() => parseHostMessage({ type: 'state', state: { ...PANEL_STATE, eta: 12 } }), unknownKey('eta'));
  const progress = { ...PANEL_STATE.progress, stage: 1 };
  assert.throws(() => panelState.parse({ ...PANEL_STATE, progress }), unknownKey('stage'));
  assert.throws(() => parseHostMessage({ type: 'state', state: PANEL_STATE, extra: true }), unknownKey('extra'));
  assert.throws(() => panelState.parse({ ...PANEL_STATE, status: 'paused' }), /status/);
  assert.throws(
    () => panelState.parse({ ...PANEL_STATE, report: { attacks: [] } }),
    /report/,
    'a report is shape-checked',
  );
  const report = { attacks: [], examples: [], curves: [], clean_accuracy: 0.9 } as unknown as Report;
  assert.equal(
    panelState.parse({ ...PANEL_STATE, status: 'done', report }).report,
    report,
    "the report inside is the engine's own JSON, passed through whole",
  );
  // The finished stages and the suite travel with the state, checked like the worker's notification.
  const streaming = { ...PANEL_STATE, suite: 'strong', stages: [{ ...STAGE, index: 0, kind: 'clean' }, STAGE] };
  assert.deepEqual(parseHostMessage({ type: 'state', state: streaming }).state.stages, streaming.stages);
  assert.throws(() => panelState.parse({ ...streaming, suite: 'medium' }), /suite/);
  assert.throws(() => panelState.parse({ ...streaming, stages: [{ ...STAGE, runId: 'e-1' }] }), unknownKey('runId'));
});

test('run statuses, kinds and ends come from the vocabulary on every channel', () => {
  assert.deepEqual(panelStatus.options, [...RUN_STATUSES]);
  assert.deepEqual(RunFinishedNotification.params.parse({ runId: 'r', folder: '/w', status: 'cancelled' }), {
    runId: 'r',
    folder: '/w',
    status: 'cancelled',
  });
  assert.throws(() => RunFinishedNotification.params.parse({ runId: 'r', folder: '/w', status: 'running' }), /status/);
  const finished = RunFinishedNotification.params;
  assert.throws(() => finished.parse({ runId: 'r', folder: '/w', status: 'done', x: 1 }), unknownKey('x'));
  const run = { id: 't-1', label: 't-1', method: 'pgd-at', status: 'done', epochs: [] };
  assert.equal(trainingRunView.parse(run).method, 'pgd-at');
  assert.throws(() => trainingRunView.parse({ ...run, method: 'training' }), /method/);
  assert.throws(() => trainingRunView.parse({ ...run, status: 'stopped' }), /status/);
  assert.throws(() => trainingRunView.parse({ ...run, color: 'red' }), unknownKey('color'));
  assert.deepEqual([...TRAIN_METHODS].sort(), [...trainingRunView.shape.method.options].sort());
  assert.deepEqual([...RUN_KINDS], ['evaluation', 'training']);
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-store-dir-'));
  assert.equal(new RunStore(folder).root, path.join(folder, ...RUN_STORE_DIR.split('/')));
  fs.rmSync(folder, { recursive: true });
});

test("the attack panel's state carries the host's name for the data, a string or nothing", () => {
  const named = { ...PANEL_STATE, dataLabel: 'embedded Fashion-MNIST sample' };
  assert.deepEqual(parseHostMessage({ type: 'state', state: named }), { type: 'state', state: named });
  assert.throws(() => panelState.parse({ ...PANEL_STATE, dataLabel: 3 }), /dataLabel/);
});
