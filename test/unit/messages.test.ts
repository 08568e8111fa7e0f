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
import { parseTrainingHostMessage } from '../../src/protocol/messages/training-panel';
import {
  dispatchNotification, dispatchRequest, epochParams, trainRunResultSchema, WORKER_NOTIFICATIONS, WORKER_REQUESTS,
  type WorkerNotificationHandlers, type WorkerRequestHandlers,
} from '../../src/protocol/messages/worker';
import { EngineClient, EngineError } from '../../src/worker/client';

const EPOCH: EpochMetrics = {
  epoch: 2, loss: 0.81, trainAccuracy: 0.7, testAccuracy: 0.68, robustAccuracy: 0.31, learningRate: 0.001, eps: 0.1,
  seconds: 3.5,
};

test('each worker descriptor table is keyed by its own method names', () => {
  for (const table of [WORKER_REQUESTS, WORKER_NOTIFICATIONS]) {
    for (const [key, descriptor] of Object.entries(table)) assert.equal(descriptor.method, key);
  }
  assert.deepEqual(Object.keys(WORKER_REQUESTS).sort(), ['cancel', 'runAttack', 'train']);
  assert.deepEqual(Object.keys(WORKER_NOTIFICATIONS).sort(), ['epoch', 'log', 'progress']);
});

test('dispatch calls the handler of the message\'s method with its params, on both ends', async () => {
  const calls: string[] = [];
  const requests: WorkerRequestHandlers = {
    runAttack: async () => { throw new Error('not this one'); },
    train: async () => { throw new Error('not this one'); },
    cancel: async ({ runId }) => {
      calls.push(`cancel ${runId}`);
      return { cancelled: runId === 'r-1' };
    },
  };
  assert.deepEqual(await dispatchRequest(requests, 'cancel', { runId: 'r-1' }), { cancelled: true });
  const notifications: WorkerNotificationHandlers = {
    progress: (p) => calls.push(`progress ${p.label} ${p.done}/${p.total}`),
    log: (p) => calls.push(`log ${p.level}`),
    epoch: (p) => calls.push(`epoch ${p.epoch}/${p.epochs}`),
  };
  dispatchNotification(notifications, 'epoch', { ...EPOCH, runId: 't-1', epochs: 5 });
  dispatchNotification(notifications, 'progress', { runId: 't-1', label: 'PGD-7', done: 3, total: 9 });
  assert.deepEqual(calls, ['cancel r-1', 'epoch 2/5', 'progress PGD-7 3/9']);
});

test('one epoch schema: the engine\'s metrics pass the notification, the train result and the training panel', () => {
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
  assert.throws(() => epochMetricsSchema.parse({ ...EPOCH, loss: Number.NaN }), /loss|number|finite/i);
  assert.throws(() => epochParams.parse({ ...EPOCH, runId: 't-1' }), /epochs/,
    'an epoch notification names the run length');
  assert.throws(() => epochMetricsSchema.parse({ ...EPOCH, learningRate: undefined }), /learningRate/);
});

/** A worker that answers every request with `result`, as a broken engine would. */
function answeringWorker(result: unknown): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-worker-'));
  const script = path.join(dir, 'answer.mjs');
  fs.writeFileSync(script, `import { parentPort } from 'node:worker_threads';
const result = ${JSON.stringify(result)};
parentPort.on('message', (m) => parentPort.postMessage({ kind: 'response', id: m.id, result }));\n`);
  return script;
}

test('the client checks a result against its request\'s descriptor before resolving', async () => {
  const malformed = new EngineClient({ script: answeringWorker({ cancelled: 'yes' }) });
  try {
    await assert.rejects(malformed.cancel('r-1'),
      (err: Error) => err instanceof EngineError && err.name === 'ProtocolError'
        && /answered cancel with a malformed result/.test(err.message));
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
    await assert.rejects(noReport.request(WORKER_REQUESTS.runAttack, {
      runId: 'r-2', backend: 'auto', job: {
        model: '/w/model.json', data: 'embedded', attacks: ['fgsm'], norm: 'linf', eps: 0.1, steps: 1, restarts: 1,
        loss: 'ce', randomStart: false, n: 1, batchSize: 1, seed: 0, curve: [], examples: 0, bounds: [0, 1],
      },
    }), /answered runAttack with a malformed result/);
  } finally {
    await noReport.dispose();
  }
});
