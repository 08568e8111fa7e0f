/** Messages: round trips through the schemas, malformed messages rejected with a reason. */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import {
  CancelRequest,
  EpochNotification,
  parseWorkerMessage,
  ProgressNotification,
  RunAttackRequest,
  TrainRequest,
} from '../../src/protocol/messages/worker';
import { parsePanelMessage } from '../../src/protocol/messages/attack-panel';
import type { AttackJob } from '../../src/protocol/jobs';

const JOB: AttackJob = {
  model: '/w/model.json',
  data: 'embedded',
  attacks: ['fgsm', 'pgd'],
  norm: 'linf',
  eps: 0.1,
  steps: 10,
  restarts: 1,
  loss: 'ce',
  randomStart: true,
  n: 100,
  batchSize: 250,
  seed: 0,
  curve: [0, 0.1],
  examples: 16,
  bounds: [0, 1],
};

test('worker requests, responses and notifications round-trip through structured clone and the schemas', () => {
  const messages = [
    { kind: 'request', id: 1, method: RunAttackRequest.method, params: { runId: 'r-1', job: JOB, backend: 'auto' } },
    { kind: 'request', id: 2, method: CancelRequest.method, params: { runId: 'r-1' } },
    {
      kind: 'request',
      id: 3,
      method: TrainRequest.method,
      params: {
        runId: 't-1',
        backend: 'wasm',
        resume: false,
        job: {
          method: 'pgd-at',
          data: 'embedded',
          epochs: 3,
          batchSize: 128,
          optimizer: 'adam',
          learningRate: 0.001,
          seed: 0,
          eps: 0.1,
          out: '/w/.robustness/runs/t-1',
        },
      },
    },
    {
      kind: 'notification',
      method: EpochNotification.method,
      params: {
        runId: 't-1',
        epoch: 1,
        epochs: 3,
        loss: 1.2,
        trainAccuracy: 0.6,
        testAccuracy: 0.7,
        robustAccuracy: 0.3,
        learningRate: 0.001,
        eps: 0.1,
        seconds: 4,
      },
    },
    { kind: 'response', id: 1, result: { any: 'json' } },
    { kind: 'response', id: 2, error: { name: 'AbortError', message: 'PGD aborted' } },
    {
      kind: 'notification',
      method: ProgressNotification.method,
      params: { runId: 'r-1', label: 'PGD-10', done: 3, total: 10 },
    },
  ];
  for (const message of messages) assert.deepEqual(parseWorkerMessage(structuredClone(message)), message);
});

test('malformed worker messages are rejected with the reason', () => {
  const bad: Array<[unknown, RegExp]> = [
    [null, /expected object|Invalid input/i],
    [{ kind: 'shout', id: 1 }, /kind|discriminator|Invalid input/i],
    [{ kind: 'request', id: -1, method: 'cancel', params: { runId: 'a' } }, /id|>=0|too_small/i],
    [{ kind: 'request', id: 1, method: 'format-disk', params: {} }, /unknown request method "format-disk"/],
    [{ kind: 'request', id: 1, method: 'cancel', params: { runId: '../../etc' } }, /runId|regex|Invalid/i],
    [
      {
        kind: 'request',
        id: 1,
        method: 'runAttack',
        params: { runId: 'a', job: { ...JOB, eps: -1 }, backend: 'auto' },
      },
      /eps|too_small|>=0/i,
    ],
    [
      {
        kind: 'request',
        id: 1,
        method: 'runAttack',
        params: { runId: 'a', job: { ...JOB, norm: 'l3' }, backend: 'auto' },
      },
      /norm|linf/i,
    ],
    [
      { kind: 'request', id: 1, method: 'runAttack', params: { runId: 'a', job: JOB, backend: 'gpu' } },
      /backend|auto/i,
    ],
    [
      {
        kind: 'request',
        id: 1,
        method: 'runAttack',
        params: { runId: 'a', job: { ...JOB, suite: 'strong' }, backend: 'auto' },
      },
      /either \\"attacks\\" or \\"suite\\", not both/,
    ],
    [
      {
        kind: 'request',
        id: 1,
        method: 'runAttack',
        params: { runId: 'a', job: { ...JOB, momentum: 0.9 }, backend: 'auto' },
      },
      /Unrecognized key: \\"momentum\\"/,
    ],
    [
      { kind: 'notification', method: 'progress', params: { runId: 'a', label: 'x', done: 'three', total: 10 } },
      /done|number/i,
    ],
    [
      {
        kind: 'request',
        id: 1,
        method: 'train',
        params: { runId: 'a', backend: 'wasm', resume: false, job: { method: 'adversarial-magic' } },
      },
      /method|Invalid/i,
    ],
    [
      {
        kind: 'request',
        id: 1,
        method: 'train',
        params: {
          runId: 'a',
          backend: 'wasm',
          resume: false,
          job: {
            method: 'distill',
            data: 'embedded',
            epochs: 1,
            batchSize: 1,
            optimizer: 'adam',
            learningRate: 0.01,
            seed: 0,
            temperature: 1,
            out: '/x',
          },
        },
      },
      /temperature|too_small|>1/i,
    ],
  ];
  for (const [message, pattern] of bad)
    assert.throws(() => parseWorkerMessage(message), pattern, JSON.stringify(message));
});

test('panel messages: the five kinds parse; anything else is rejected', () => {
  const good = [
    { type: 'ready' },
    { type: 'cancel' },
    { type: 'export', format: 'json' },
    { type: 'export', format: 'html' },
    { type: 'exportPng', dataUrl: 'data:image/png;base64,iVBORw0KGgo=' },
    { type: 'runSuite', suite: 'rand' },
  ];
  for (const m of good) assert.deepEqual(parsePanelMessage(structuredClone(m)), m);
  const bad = [
    { type: 'export', format: 'exe' },
    { type: 'exportPng', dataUrl: 'javascript:alert(1)' },
    { type: 'run', command: 'rm -rf /' },
    { type: 'runSuite', suite: 'autoattack' },
    { type: 'runSuite' },
    { type: 'exportPng', dataUrl: 'data:image/png;base64,<script>' },
    'ready',
    42,
    undefined,
  ];
  for (const m of bad) assert.throws(() => parsePanelMessage(m), Error, JSON.stringify(m));
});
