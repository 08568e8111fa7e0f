/**
 * Training sweeps on the cluster (README "Scale out"): `train --redis URL --sweep …` on 2 worker
 * processes, one killed during a run; the sweep grammar and the training payload's checks.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Queue } from 'bullmq';
import {
  CLUSTER_PROTOCOL_VERSION,
  parseRedisUrl,
  parseSweep,
  parseTrainRun,
  TRAIN_QUEUE,
} from '../../src/protocol/cluster';
import { safeRelativePath } from '../../src/cluster/folder-store';
import { trainJobSchema } from '../../src/protocol/jobs';
import { RunStore } from '../../src/store/runs';
import { cli, SKIP, startRedis, startWorker, until, type WorkerProcess } from './cluster-harness';

test('the sweep grammar: every combination, the last key fastest; bad keys and values refused', () => {
  const runs = parseSweep('method=pgd-at,trades eps=0.05,0.1 seed=0,1');
  assert.equal(runs.length, 8);
  assert.deepEqual(runs[0], {
    name: 'method=pgd-at,eps=0.05,seed=0',
    fields: { method: 'pgd-at', eps: 0.05, seed: 0 },
  });
  assert.deepEqual(runs[1]!.fields, { method: 'pgd-at', eps: 0.05, seed: 1 });
  assert.deepEqual(runs[7]!.fields, { method: 'trades', eps: 0.1, seed: 1 });
  assert.throws(
    () => parseSweep('out=/etc'),
    /"out" cannot be swept; use method, eps, seed, beta, steps, epochs, lr, adv-fraction/,
  );
  assert.deepEqual(
    parseSweep('adv-fraction=0.5,0.75').map((r) => [r.name, r.fields]),
    [
      ['adv-fraction=0.5', { 'adv-fraction': 0.5 }],
      ['adv-fraction=0.75', { 'adv-fraction': 0.75 }],
    ],
  );
  assert.throws(() => parseSweep('adv-fraction=half'), /adv-fraction values must be numbers/);
  assert.throws(() => parseSweep('eps=a,b'), /eps values must be numbers/);
  assert.throws(() => parseSweep('seed=1 seed=2'), /"seed" is given twice/);
  assert.throws(() => parseSweep('seed'), /"seed" is not key=value/);
  assert.throws(() => parseSweep('method=../x'), /odd value/);
  assert.throws(() => parseSweep('  '), /at least one/);
  assert.throws(() => parseSweep('seed=0,1,2,3,4,5,6,7 eps=1,2,3,4,5,6,7,8 beta=1,2,3,4,5'), /320 runs; at most 256/);
});

test('training payloads: built-in data by name only, no path, the protocol version checked', () => {
  const good = {
    protocol: CLUSTER_PROTOCOL_VERSION,
    kind: 'train-run',
    runId: 'r1',
    index: 0,
    name: 'method=standard,seed=0',
    settings: {
      method: 'standard',
      data: 'embedded',
      epochs: 1,
      batchSize: 100,
      optimizer: 'adam',
      learningRate: 1e-3,
      seed: 0,
    },
  };
  assert.ok('run' in parseTrainRun(good));
  const refused = (payload: unknown, pattern: RegExp) => {
    const r = parseTrainRun(payload);
    assert.ok('error' in r, JSON.stringify(payload));
    assert.match(r.error, pattern);
  };
  refused({ ...good, protocol: 0 }, /protocol version 0 is not this worker's/);
  refused({ ...good, settings: { ...good.settings, data: '/home/me/data' } }, /settings.data/);
  refused({ ...good, settings: { ...good.settings, out: '/tmp/x' } }, /names a path \(out\)/);
  refused({ ...good, settings: { ...good.settings, init: '/tmp/m.json' } }, /names a path \(init\)/);
  refused({ ...good, name: '../../x' }, /name/);
  assert.ok(safeRelativePath('checkpoints/last/state.json'));
  for (const bad of ['../x', '/etc/passwd', 'a/../../b', '.hidden', 'a//b', ''])
    assert.equal(safeRelativePath(bad), false, bad);
});

test(
  'a sweep of 4 runs on 2 workers, one killed during a run: all 4 finish, the killed one resumed from its checkpoint; --run-store',
  { skip: SKIP, timeout: 120_000 },
  async () => {
    const redis = await startRedis();
    const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-sweep-cache-'));
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-sweep-out-'));
    const workers = ['t1', 't2'].map((name) => startWorker(redis.url, name, cache));
    const queue = new Queue(TRAIN_QUEUE, { connection: parseRedisUrl(redis.url) });
    try {
      await until('2 workers', () => workers.every((w) => /engine thread on redis:/.test(w.log())));
      const run = cli([
        ...'train --epochs 3 --n-train 600 --batch-size 100 --robust-eval 0'.split(' '),
        ...['--sweep', 'method=standard,fast-at seed=0,1', '--redis', redis.url, '--out', out],
      ]);
      // The first worker to checkpoint an epoch dies before its run ends.
      let victim: WorkerProcess | undefined;
      let held = '';
      await until('a checkpointed epoch', () => {
        for (const w of workers) {
          const text = w.log();
          for (const m of text.matchAll(/run \w+ training \d \(([^)]+)\): epoch [12] of 3 checkpointed/g)) {
            if (!text.includes(`(${m[1]!}): epochs`)) [victim, held] = [w, m[1]!];
          }
        }
        return victim !== undefined;
      });
      victim!.child.kill('SIGKILL');
      const done = await run;
      assert.equal(done.code, 0, `${done.stderr}\n${workers.map((w) => w.log()).join('\n')}`);
      const names = [
        'method=standard,seed=0',
        'method=standard,seed=1',
        'method=fast-at,seed=0',
        'method=fast-at,seed=1',
      ];
      for (const name of names) {
        const dir = path.join(out, name);
        assert.ok(fs.existsSync(path.join(dir, 'model.json')), `${name}: no model.json`);
        // Each epoch once in the run's metrics, resumed or not.
        const epochs = fs
          .readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8')
          .trim()
          .split('\n')
          .map((line) => (JSON.parse(line) as { epoch: number }).epoch);
        assert.deepEqual(epochs, [1, 2, 3], name);
        const record = JSON.parse(fs.readFileSync(path.join(dir, 'train.json'), 'utf8')) as { config: { out: string } };
        assert.equal(record.config.out, dir);
      }
      // The killed run went on elsewhere from its checkpoint: the epochs it had were not redone.
      const survivor = workers.find((w) => w !== victim)!;
      const resumed = new RegExp(
        `resumed run \\w+ training \\d \\(${held.replace(/[.+]/g, '\\$&')}\\) after epoch ([12])[\\s\\S]*` +
          `trained run \\w+ training \\d \\(${held.replace(/[.+]/g, '\\$&')}\\): epochs ([\\d, ]+) in`,
      ).exec(survivor.log());
      assert.ok(resumed, survivor.log());
      const after = Number(resumed[1]);
      assert.deepEqual(
        resumed[2]!.split(', ').map(Number),
        [1, 2, 3].filter((e) => e > after),
      );
      assert.match(
        done.stderr,
        new RegExp(`${held.replace(/[.+]/g, '\\$&')}: done on t\\d \\(resumed after epoch ${after}\\)`),
      );
      assert.match(done.stdout, /method=fast-at,seed=1 +3 /);
      assert.deepEqual(await queue.getJobCounts('wait', 'active', 'completed', 'failed'), {
        wait: 0,
        active: 0,
        completed: 0,
        failed: 0,
      });
      // --run-store: the runs land in a workspace's run store, as the editor's training runs.
      const workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-sweep-ws-'));
      const stored = await cli([
        ...'train --epochs 1 --n-train 300 --batch-size 100 --robust-eval 20'.split(' '),
        ...['--sweep', 'seed=3,4', '--redis', redis.url, '--out', workspace, '--run-store'],
      ]);
      assert.equal(stored.code, 0, stored.stderr);
      const entries = new RunStore(workspace).list();
      assert.equal(entries.length, 2);
      for (const entry of entries) {
        const record = entry.record!;
        assert.equal(record.kind, 'training');
        assert.equal(record.status, 'done');
        assert.match(record.name!, /^smallcnn · .* · 1 ep · seed [34] \(sweep\)$/);
        const config = trainJobSchema.parse(record.config);
        assert.equal(config.out, entry.dir);
        assert.equal(record.progress?.epoch, 1);
        assert.ok(
          fs.existsSync(path.join(entry.dir, 'metrics.jsonl')) && fs.existsSync(path.join(entry.dir, 'model.json')),
        );
      }
      fs.rmSync(workspace, { recursive: true });
      survivor.child.kill('SIGTERM');
      assert.equal(await survivor.exited, 0);
    } finally {
      for (const w of workers) if (w.child.exitCode === null) w.child.kill('SIGKILL');
      await queue.close();
      await redis.stop();
      fs.rmSync(cache, { recursive: true, force: true });
      fs.rmSync(out, { recursive: true, force: true });
    }
  },
);
