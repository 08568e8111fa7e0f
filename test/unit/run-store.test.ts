/** The run store: atomic writes, listing, broken folders, and a kill in the middle of a write. */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RunStore, type RunRecord } from '../../src/store/runs';
import type { Report } from '../../src/protocol/report';
import { tempDir } from './helpers';

function record(store: RunStore, model = 'examples/m/model.json'): RunRecord {
  return {
    id: store.newId('evaluation'),
    kind: 'evaluation',
    status: 'running',
    model,
    created: new Date().toISOString(),
  };
}

const REPORT = {
  n: 200,
  clean_accuracy: 0.9,
  robust_accuracy: 0.05,
  threat: { norm: 'linf', eps: 0.1, bounds: [0, 1] },
  attacks: [
    { id: 'fgsm', label: 'FGSM', robust_accuracy: 0.1 },
    { id: 'pgd', label: 'PGD-10', robust_accuracy: 0.05 },
  ],
} as unknown as Report;

test('create, update, finish and list: newest first, with a summary of the strongest attack', () => {
  const store = new RunStore(tempDir('runs'));
  const a = record(store);
  store.create(a);
  const b = { ...record(store), id: store.newId('evaluation', new Date(Date.now() + 1000)) };
  store.create(b);
  assert.notEqual(a.id, b.id);
  assert.match(a.id, /^\d{8}-\d{6}-\d{3}-eval$/);
  const done = store.finish(a.id, REPORT);
  assert.equal(done.status, 'done');
  assert.deepEqual(done.summary, {
    cleanAccuracy: 0.9,
    robustAccuracy: 0.05,
    attack: 'PGD-10',
    norm: 'linf',
    eps: 0.1,
    n: 200,
  });
  assert.deepEqual(store.readReport(a.id), REPORT);
  const suite = store.finish(b.id, { ...REPORT, suite: 'strong' } as Report);
  assert.equal(suite.summary?.attack, 'strong suite');
  assert.deepEqual(
    store.list().map((e) => e.id),
    [b.id, a.id],
  );
  assert.equal(
    fs.readdirSync(store.dir(a.id)).filter((f) => f.includes('.tmp-')).length,
    0,
    'temporary files left behind',
  );
  store.delete(b.id);
  assert.deepEqual(
    store.list().map((e) => e.id),
    [a.id],
  );
  assert.deepEqual([store.has(a.id), store.has(b.id), store.has('../runs')], [true, false, false]);
});

test('broken folders are listed with their problem and never break the list', () => {
  const store = new RunStore(tempDir('runs'));
  const good = record(store);
  store.create(good);
  fs.mkdirSync(path.join(store.root, '20260101-000000-000-eval'));
  fs.mkdirSync(path.join(store.root, '20260101-000001-000-eval'));
  fs.writeFileSync(path.join(store.root, '20260101-000001-000-eval', 'run.json'), '{"id": "20260101-000001-0');
  fs.mkdirSync(path.join(store.root, 'not a run id!'));
  const entries = store.list();
  assert.equal(entries.length, 3);
  assert.equal(entries.find((e) => e.id === good.id)?.record?.status, 'running');
  assert.equal(entries.find((e) => e.id === '20260101-000000-000-eval')?.problem, 'run.json is missing');
  assert.match(entries.find((e) => e.id === '20260101-000001-000-eval')!.problem!, /^run\.json is unreadable: /);
  assert.throws(() => store.dir('../escape'), /invalid run id/);
});

test('runs left "running" by a dead process are marked failed, live ones are not', () => {
  const store = new RunStore(tempDir('runs'));
  const dead = record(store);
  const live = { ...record(store), id: store.newId('evaluation', new Date(Date.now() + 5000)) };
  store.create(dead);
  store.create(live);
  assert.deepEqual(
    store.recoverInterrupted((id) => id === live.id),
    [dead.id],
  );
  assert.equal(store.read(dead.id).status, 'failed');
  assert.match(store.read(dead.id).error!, /interrupted/);
  assert.equal(store.read(live.id).status, 'running');
});

test('a process killed in the middle of writing leaves complete files only', async () => {
  const workspace = tempDir('runs');
  const store = new RunStore(workspace);
  const run = record(store);
  store.create(run);
  const child = fork(path.join(__dirname, '..', 'fixtures', 'workers', 'write-forever.js'), [workspace, run.id], {
    stdio: 'ignore',
  });
  await new Promise((resolve) => child.once('message', resolve));
  // Let it write a few 20 MB reports, then kill it wherever it is.
  await new Promise((resolve) => setTimeout(resolve, 700));
  child.kill('SIGKILL');
  await new Promise((resolve) => child.once('exit', resolve));
  const entry = store.list().find((e) => e.id === run.id)!;
  assert.ok(entry.record, `run unreadable after the kill: ${entry.problem}`);
  assert.ok(['running', 'done'].includes(entry.record.status));
  const reportFile = path.join(store.dir(run.id), 'report.json');
  if (fs.existsSync(reportFile)) {
    const report = JSON.parse(fs.readFileSync(reportFile, 'utf8'));
    assert.equal(report.padding.length, 20_000_000, 'report.json is partial');
  }
  // A leftover temporary file does not count as a run file, and the next write succeeds.
  assert.equal(store.finish(run.id, REPORT).status, 'done');
});
