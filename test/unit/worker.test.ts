/** The engine in a worker thread: a real run with progress, cancel, bad input, crash and out-of-memory. */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as vscode from 'vscode';
import { EngineHost } from '../../src/extension/engine-host';
import { EngineClient, EngineCrashError, EngineError } from '../../src/worker/client';
import { runAttackParallel, slices } from '../../src/worker/pool';
import type { AttackJob } from '../../src/protocol/jobs';
import type { FinishedStage, ProgressParams, StageParams } from '../../src/protocol/messages/worker';

const ROOT = path.join(__dirname, '..', '..');
const SCRIPT = path.join(ROOT, 'dist', 'worker.js');
const MODEL = path.join(ROOT, 'examples', 'fashion-mnist', 'smallcnn', 'model.json');
const JOB: AttackJob = {
  model: MODEL,
  data: 'embedded',
  attacks: ['fgsm', 'pgd'],
  norm: 'linf',
  eps: 0.1,
  steps: 5,
  restarts: 1,
  loss: 'ce',
  randomStart: true,
  n: 120,
  batchSize: 50,
  seed: 0,
  curve: [0, 0.05, 0.1],
  examples: 6,
  bounds: [0, 1],
};

test('slices cover the range in consecutive, balanced parts', () => {
  assert.deepEqual(slices(0, 1000, 2), [
    { offset: 0, n: 500 },
    { offset: 500, n: 500 },
  ]);
  assert.deepEqual(slices(10, 7, 3), [
    { offset: 10, n: 2 },
    { offset: 12, n: 2 },
    { offset: 14, n: 3 },
  ]);
  assert.deepEqual(slices(0, 1, 4), [{ offset: 0, n: 1 }]);
});

test('a worker runs an attack job, streams progress, and a second request reuses it', async () => {
  assert.ok(fs.existsSync(SCRIPT), 'dist/worker.js is missing; npm test builds it first');
  const logs: string[] = [];
  const client = new EngineClient({ script: SCRIPT, onLog: (_l, m) => logs.push(m) });
  try {
    const progress: ProgressParams[] = [];
    const report = await client.runAttack('t1', JOB, 'wasm', (p) => progress.push(p));
    assert.equal(report.n, 120);
    assert.equal(report.backend, 'wasm (our kernels)');
    assert.ok(report.robust_accuracy < report.clean_accuracy);
    assert.ok(progress.length >= 4 && progress.every((p) => p.runId === 't1'));
    assert.ok(logs.some((l) => /backend wasm \(our kernels\)/.test(l)));
    const again = await client.runAttack('t2', { ...JOB, attacks: ['fgsm'], curve: [] }, 'wasm');
    assert.equal(again.attacks.length, 1);
  } finally {
    await client.dispose();
  }
});

test("the editor's queue: a run cancelled while it waits never starts, and the running one still cancels", async () => {
  const logs: string[] = [];
  const log = {
    info: (m: string) => logs.push(m),
    warn: (m: string) => logs.push(m),
    error: (m: string) => logs.push(m),
  };
  const host = new EngineHost(ROOT, log as unknown as vscode.LogOutputChannel);
  try {
    const seen = { a: 0, b: 0 };
    const a = host.runAttack('A', { ...JOB, n: 2000, steps: 200 }, 'wasm', () => {
      seen.a++;
    });
    const b = host.runAttack('B', JOB, 'wasm', () => {
      seen.b++;
    });
    assert.equal(host.queued, 2);
    assert.equal(await host.cancel('B'), true);
    await assert.rejects(
      b,
      (err: Error) => err.name === 'AbortError' && /run B \(cancelled while queued\) aborted/.test(err.message),
    );
    assert.equal(host.isRunning('A'), true, 'A keeps running while B is dropped');
    const t0 = Date.now();
    while (seen.a === 0 && Date.now() - t0 < 60_000) await new Promise((r) => setTimeout(r, 20));
    assert.equal(await host.cancel('A'), true);
    await assert.rejects(a, (err: Error) => err.name === 'AbortError');
    assert.equal(seen.b, 0, 'B never reached the worker');
    assert.equal(host.queued, 0);
    assert.equal(await host.cancel('A'), false, 'a finished run is no longer cancellable');
  } finally {
    await host.dispose();
  }
});

test("the editor's host: stages arrive in order as they finish; a cancel after one keeps it as a partial report", async () => {
  const log = { info: () => {}, warn: () => {}, error: () => {} };
  const host = new EngineHost(ROOT, log as unknown as vscode.LogOutputChannel);
  try {
    const { attacks: _list, params: _params, ...common } = JOB;
    const job: AttackJob = { ...common, suite: 'quick', curve: [0, 0.1], n: 120 };
    const stages: StageParams[] = [];
    const whole = await host.runAttack('S1', job, 'wasm', () => {}, { onStage: (s) => stages.push(s) });
    assert.deepEqual(
      stages.map((s) => `${s.index}/${s.total} ${s.kind} ${s.label}`),
      [
        '0/5 clean clean',
        '1/5 attack FGSM',
        '2/5 attack PGD-20',
        '3/5 diagnostics diagnostics',
        '4/5 geometry geometry',
        '5/5 curve curve',
      ],
    );
    assert.ok(stages.every((s) => s.runId === 'S1'));
    assert.deepEqual(
      stages.slice(1, 3).map((s) => s.accuracy),
      whole.attacks.map((a) => a.robust_accuracy),
    );
    const kept: StageParams[] = [];
    const partial = await host.runAttack('S2', job, 'wasm', () => {}, {
      keepPartial: true,
      onStage: (s) => {
        kept.push(s);
        if (s.label === 'FGSM') void host.cancel('S2');
      },
    });
    assert.deepEqual(partial.partial, { cancelled_after: 'FGSM', stages_done: 1, stages_total: 5 });
    assert.deepEqual(
      partial.attacks.map((a) => [a.label, a.robust_accuracy]),
      [['FGSM', kept[1]!.accuracy]],
    );
  } finally {
    await host.dispose();
  }
});

test('cancel stops a long run with an AbortError; bad input comes back as an InputError naming the file', async () => {
  const client = new EngineClient({ script: SCRIPT });
  try {
    const long = client.runAttack('long', { ...JOB, n: 2000, steps: 200 }, 'wasm', (p) => {
      if (p.label.startsWith('PGD')) void client.cancel('long');
    });
    await assert.rejects(long, (err: Error) => err instanceof EngineError && err.name === 'AbortError');
    await assert.rejects(
      client.runAttack('bad', { ...JOB, model: path.join(ROOT, 'nope', 'model.json') }, 'wasm'),
      (err: Error) => err.name === 'InputError' && /nope\/model\.json: cannot be read: ENOENT/.test(err.message),
    );
    // Still alive after both.
    const ok = await client.runAttack('after', { ...JOB, attacks: ['fgsm'], curve: [], n: 20 }, 'wasm');
    assert.equal(ok.n, 20);
  } finally {
    await client.dispose();
  }
});

test('a worker that crashes or runs out of memory rejects in-flight requests with EngineCrashError', async () => {
  for (const [fixture, limit, pattern] of [
    ['crash-on-request.js', undefined, /exited with code 3/],
    ['out-of-memory.js', 64, /crashed|exited with code|memory/i],
  ] as const) {
    let exited: Error | undefined;
    const client = new EngineClient({
      script: path.join(ROOT, 'test', 'fixtures', 'workers', fixture),
      ...(limit ? { maxOldGenerationSizeMb: limit } : {}),
      onExit: (e) => {
        exited = e;
      },
    });
    await assert.rejects(
      client.runAttack('x', JOB, 'wasm'),
      (err: Error) => err instanceof EngineCrashError && pattern.test(err.message),
    );
    assert.ok(exited instanceof EngineCrashError);
    assert.equal(client.alive, false);
    await assert.rejects(client.cancel('x'), EngineCrashError);
  }
});

test('two workers give the same accuracies as one (the split is exact)', async () => {
  const job = { ...JOB, attacks: ['fgsm'], n: 90, examples: 10 };
  const one = await runAttackParallel(job, { script: SCRIPT, workers: 1, backend: 'wasm', runId: 'p1' });
  const merged: FinishedStage[] = [];
  // Two shards of 45 images (src/protocol/cluster.ts), one per worker.
  const two = await runAttackParallel(job, {
    script: SCRIPT,
    workers: 2,
    backend: 'wasm',
    runId: 'p2',
    shardSize: 45,
    onStage: (stage) => merged.push(stage),
  });
  assert.equal(two.workers, 2);
  // Each stage once, over both slices: the counts add up to the whole.
  assert.deepEqual(
    merged.map((s) => [s.index, s.label, s.n, s.accuracy]),
    [
      [0, 'clean', 90, two.clean_accuracy],
      [1, 'FGSM', 90, two.attacks[0]!.robust_accuracy],
      [2, 'curve', 90, undefined],
    ],
  );
  assert.equal(merged[1]!.forwardPasses, two.attacks[0]!.forward_passes);
  assert.equal(two.n, 90);
  assert.equal(two.clean_accuracy, one.clean_accuracy);
  assert.ok(
    Math.abs(two.attacks[0]!.robust_accuracy - one.attacks[0]!.robust_accuracy) < 1e-9,
    'FGSM is deterministic',
  );
  assert.equal(two.attacks[0]!.forward_passes, one.attacks[0]!.forward_passes);
  assert.deepEqual(
    two.curve.map((p) => p.eps),
    [0, 0.05, 0.1],
  );
  assert.deepEqual(
    two.examples.map((e) => e.index),
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  );
});

test('a worker trains with epoch notifications, and a second run in the same folder must resume', async () => {
  const client = new EngineClient({ script: SCRIPT });
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-train-'));
  const job = {
    method: 'fast-at' as const,
    data: 'embedded',
    epochs: 2,
    batchSize: 100,
    optimizer: 'adam' as const,
    learningRate: 2e-3,
    seed: 1,
    trainLimit: 300,
    eps: 0.1,
    robustEvalLimit: 50,
    out,
  };
  try {
    const epochs: number[] = [];
    const phases: string[] = [];
    const result = await client.train('tr1', job, 'wasm', false, {
      onEpoch: (e) => epochs.push(e.epoch),
      onTrainProgress: (p) => phases.push(p.phase === 'training' ? `${p.epoch}:${p.batch}/${p.batches}` : p.phase),
    });
    assert.deepEqual(epochs, [1, 2]);
    // The phases and batches over the wire, in order (3 batches an epoch: first and last always, the middle one
    // only when 250 ms have passed since the first).
    const batches = (epoch: number) =>
      phases.filter((p) => p.startsWith(`${epoch}:`)).filter((p) => p !== `${epoch}:2/3`);
    assert.deepEqual(phases.slice(0, 2), ['loading-data', 'building-model']);
    assert.deepEqual(batches(1), ['1:1/3', '1:3/3']);
    assert.deepEqual(batches(2), ['2:1/3', '2:3/3']);
    assert.equal(phases[phases.length - 1], 'saving');
    assert.deepEqual(
      phases.filter((p) => !p.includes(':')),
      ['loading-data', 'building-model', 'evaluating', 'evaluating', 'saving'],
    );
    assert.equal(result.epochs.length, 2);
    assert.ok(result.epochs.every((e) => e.robustAccuracy !== undefined && e.epochs === 2));
    assert.equal(result.modelFile, path.join(out, 'model.json'));
    await assert.rejects(
      client.train('tr2', job, 'wasm', false),
      (err: Error) => err.name === 'InputError' && /already holds a training run/.test(err.message),
    );
    const resumed = await client.train('tr3', { ...job, epochs: 3 }, 'wasm', true);
    assert.deepEqual(
      resumed.epochs.map((e) => e.epoch),
      [1, 2, 3],
    );
  } finally {
    await client.dispose();
  }
});
