/**
 * The cluster (issue 15, README "Scale out"): the protocol's checks without Redis, then a real
 * redis-server on a free loopback port (a temporary folder, no persistence) with worker processes
 * (dist/cli.js worker) and coordinators (dist/cli.js evaluate --redis). Skips the Redis half, saying
 * so, when redis-server is not installed (.ci/run installs it).
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Queue, QueueEvents } from 'bullmq';
import { cli, comparable, freePort, SKIP, startRedis, startWorker, until, type WorkerProcess } from './cluster-harness';
import {
  CLUSTER_PROTOCOL_VERSION,
  MAX_FIELD_CHARS,
  parseRedisUrl,
  parseShardJob,
  redactRedisUrl,
  SHARD_QUEUE,
  shardFields,
  shardRanges,
  shardSeed,
} from '../../src/protocol/cluster';
import { stageMerger } from '../../src/worker/pool';
import type { FinishedStage } from '../../src/protocol/messages/worker';

const ROOT = path.join(__dirname, '..', '..');
const CLI = path.join(ROOT, 'dist', 'cli.js');
const MODEL = path.join(ROOT, 'examples', 'fashion-mnist', 'smallcnn', 'model.json');

// ---------------------------------------------------------------- without Redis

test('Redis URLs: host, port, database, user and percent-encoded password; rediss:// turns TLS on', () => {
  assert.deepEqual(parseRedisUrl('redis://127.0.0.1:6380'), { host: '127.0.0.1', port: 6380 });
  assert.deepEqual(parseRedisUrl('redis://queue.lab'), { host: 'queue.lab', port: 6379 });
  assert.deepEqual(parseRedisUrl('rediss://worker:p%40ss%3Aw0rd@queue.lab:6390/2'), {
    host: 'queue.lab',
    port: 6390,
    username: 'worker',
    password: 'p@ss:w0rd',
    db: 2,
    tls: { servername: 'queue.lab' },
  });
  assert.deepEqual(parseRedisUrl('redis://:secret@[::1]:7000'), { host: '::1', port: 7000, password: 'secret' });
  assert.throws(() => parseRedisUrl('http://queue.lab'), /scheme is "http:"; use redis:\/\/ or rediss:\/\//);
  assert.throws(() => parseRedisUrl('queue.lab:6379'), /scheme is "queue.lab:"/);
  assert.throws(() => parseRedisUrl('redis://host/zero'), /database "zero" is not a number/);
  assert.throws(() => parseRedisUrl('not a url at all'), /is not a URL/);
  assert.equal(redactRedisUrl('rediss://u:hunter2@queue.lab:6390'), 'rediss://u:***@queue.lab:6390');
  assert.doesNotMatch(redactRedisUrl('redis://:hunter2@h'), /hunter2/);
});

test('shards: consecutive, the last one shorter; seeds from the run seed and the first image only', () => {
  const shards = shardRanges(100, 600, 250, 7);
  assert.deepEqual(
    shards.map((s) => [s.index, s.offset, s.n]),
    [
      [0, 100, 250],
      [1, 350, 250],
      [2, 600, 100],
    ],
  );
  assert.deepEqual(
    shards.map((s) => s.seed),
    [shardSeed(7, 100), shardSeed(7, 350), shardSeed(7, 600)],
  );
  // A run from image 0 keeps its seed on its first shard; other shards differ, and stay 31-bit.
  assert.equal(shardSeed(7, 0), 7);
  const seeds = new Set(Array.from({ length: 40 }, (_, k) => shardSeed(7, k * 250)));
  assert.equal(seeds.size, 40);
  for (const s of seeds) assert.ok(Number.isInteger(s) && s >= 0 && s < 2 ** 31);
  assert.notEqual(shardSeed(8, 250), shardSeed(7, 250));
  assert.deepEqual(shardFields(shards[0]!), { offset: 100, n: 250, seed: shardSeed(7, 100) });
  assert.equal(shardFields(shards[1]!).probes, false, 'only the first shard probes');
  assert.throws(() => shardRanges(0, 10, 0, 1), /shard size must be a positive integer/);
});

test("stages merge in the first shard's order; its probe stages are its own", () => {
  const stage = (kind: FinishedStage['kind'], label: string, n: number, robust?: number): FinishedStage =>
    ({
      index: 0,
      kind,
      label,
      n,
      seconds: 1,
      ...(robust !== undefined ? { robust, accuracy: robust / n } : {}),
    }) as FinishedStage;
  const out: FinishedStage[] = [];
  const merge = stageMerger(2, (s) => out.push(s));
  merge(1, stage('clean', 'clean', 50, 40));
  assert.equal(out.length, 0);
  merge(0, stage('clean', 'clean', 50, 45));
  merge(0, stage('attack', 'FGSM', 50, 20));
  merge(0, stage('diagnostics', 'diagnostics', 0));
  assert.deepEqual(
    out.map((s) => [s.label, s.n, s.robust]),
    [['clean', 100, 85]],
  );
  merge(1, stage('attack', 'FGSM', 50, 10));
  assert.deepEqual(
    out.map((s) => [s.label, s.n, s.robust]),
    [
      ['clean', 100, 85],
      ['FGSM', 100, 30],
      ['diagnostics', 0, undefined],
    ],
  );
});

/** A valid payload (2 images of 28×28), to spoil one field at a time. */
function goodPayload(): Record<string, unknown> {
  return {
    protocol: CLUSTER_PROTOCOL_VERSION,
    kind: 'attack-shard',
    runId: 'abc123',
    shard: { index: 0, offset: 0, n: 2, seed: 0 },
    model: { hash: 'a'.repeat(64), main: 'model.json' },
    settings: {
      norm: 'linf',
      eps: 0.1,
      steps: 10,
      restarts: 1,
      randomStart: true,
      batchSize: 250,
      curve: [],
      examples: 0,
      bounds: [0, 1],
      attacks: ['fgsm'],
    },
    images: Buffer.alloc(2 * 784).toString('base64'),
    labels: Buffer.from([1, 2]).toString('base64'),
    shape: [28, 28, 1],
    classNames: ['a', 'b', 'c'],
  };
}

test('shard payloads: a good one parses; wrong version, paths, oversized fields and junk are refused', () => {
  assert.ok('job' in parseShardJob(goodPayload()));
  const refused = (payload: unknown, pattern: RegExp) => {
    const r = parseShardJob(payload);
    assert.ok('error' in r, `accepted ${JSON.stringify(payload).slice(0, 120)}`);
    assert.match(r.error, pattern);
  };
  refused(
    { ...goodPayload(), protocol: 99 },
    new RegExp(`protocol version 99 is not this worker's \\(${CLUSTER_PROTOCOL_VERSION}\\)`),
  );
  refused({ ...goodPayload(), protocol: undefined }, /protocol version null/);
  refused({ ...goodPayload(), model: '/etc/passwd' }, /names a path \(model\)/);
  refused({ ...goodPayload(), data: '/home/user/secrets' }, /names a path \(data\)/);
  refused(
    { ...goodPayload(), settings: { ...(goodPayload().settings as object), model: '/tmp/x/model.json' } },
    /names a path \(model\)/,
  );
  refused(
    { ...goodPayload(), settings: { ...(goodPayload().settings as object), surrogate: '../../m.json' } },
    /names a path \(surrogate\)/,
  );
  refused(
    { ...goodPayload(), model: { hash: 'a'.repeat(64), main: '../../etc/passwd' } },
    /model.main: must be a plain file name/,
  );
  refused({ ...goodPayload(), model: { hash: 'xyz', main: 'model.json' } }, /model.hash: must be a SHA-256/);
  refused({ ...goodPayload(), runId: 'x'.repeat(MAX_FIELD_CHARS + 1) }, /field runId \(4097 chars\) is too large/);
  refused({ ...goodPayload(), classNames: Array.from({ length: 20_000 }, () => 'c') }, /classNames \(20000 items\)/);
  refused({ ...goodPayload(), shard: { index: 0, offset: 0, n: 1e9, seed: 0 } }, /shard.n/);
  refused({ ...goodPayload(), images: '!!!not base64!!!' }, /images: must be base64/);
  refused({ ...goodPayload(), settings: { ...(goodPayload().settings as object), eps: 'big' } }, /settings.eps/);
  refused({ ...goodPayload(), extra: 1 }, /payload|extra/);
  refused('a string', /not a JSON object/);
  refused(null, /not a JSON object/);
  refused([1, 2], /not a JSON object/);
});

test('a coordinator says at once when Redis cannot be reached, without the password', async () => {
  const port = await freePort();
  const run = await cli([
    ...'attack --attack fgsm --n 10'.split(' '),
    '--model',
    MODEL,
    '--redis',
    `redis://:hunter2@127.0.0.1:${port}`,
  ]);
  assert.equal(run.code, 2, run.stderr);
  assert.match(
    run.stderr,
    new RegExp(`robustness-lab: cannot reach Redis at redis://:\\*\\*\\*@127\\.0\\.0\\.1:${port}.*ECONNREFUSED`),
  );
  assert.doesNotMatch(run.stderr, /hunter2|\n\s+at /);
});

// ---------------------------------------------------------------- with Redis

// 2,000 images as the issue asks: 8 shards of 250 on 3 workers (the probes run on the first shard only).
const N = 2000;
const EVAL = ['evaluate', '--suite', 'quick', '--model', MODEL, '--n', String(N), '--eps', '0.03', '--json'];

test(
  'the cluster: 3 worker processes, hostile jobs refused, a report equal to the local one, a worker killed, a bad model',
  { skip: SKIP, timeout: 170_000 },
  async (t) => {
    assert.ok(fs.existsSync(CLI), 'dist/cli.js is missing; npm test builds it first');
    const redis = await startRedis();
    const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-cluster-cache-'));
    const workers = ['w1', 'w2', 'w3'].map((name) => startWorker(redis.url, name, cache));
    const connection = parseRedisUrl(redis.url);
    const queue = new Queue(SHARD_QUEUE, { connection });
    const events = new QueueEvents(SHARD_QUEUE, { connection });
    try {
      // The local run meanwhile (one thread, in process): the reference.
      const local = cli([...EVAL, '--workers', '1']);
      await until('3 workers', () => workers.every((w) => /engine thread on redis:/.test(w.log())));
      await events.waitUntilReady();

      await t.test('hostile and malformed jobs fail once, with the reason, and no worker crashes', async () => {
        const spoiled: Array<[string, unknown, RegExp]> = [
          ['version', { ...goodPayload(), protocol: 99 }, /protocol version 99 is not this worker's/],
          ['path', { ...goodPayload(), model: '/etc/passwd' }, /names a path \(model\)/],
          ['oversized', { ...goodPayload(), runId: 'r'.repeat(100_000) }, /field runId \(100000 chars\) is too large/],
          [
            'short',
            { ...goodPayload(), images: Buffer.alloc(10).toString('base64') },
            /holds 10 pixel bytes and 2 labels/,
          ],
          ['unknown model', goodPayload(), /model aaaaaaaaaaaa is not in Redis/],
          ['junk', 'just a string', /not a JSON object/],
        ];
        const jobs = await Promise.all(
          spoiled.map(([id, data]) => queue.add('attack-shard', data, { jobId: `hostile-${id}`, attempts: 1 })),
        );
        for (const [k, job] of jobs.entries()) {
          await assert.rejects(job.waitUntilFinished(events, 20_000), spoiled[k]![2]);
          const state = await queue.getJobState(job.id!);
          assert.equal(state, 'failed');
          const failed = await queue.getJob(job.id!);
          assert.equal(failed!.attemptsMade, 1, `${job.id} ran once`);
          await failed!.remove();
        }
        for (const w of workers) assert.equal(w.child.exitCode, null, `${w.name} still runs:\n${w.log()}`);
      });

      await t.test('worker --status lists the workers connected and the queues', async () => {
        const status = await cli(['worker', '--redis', redis.url, '--status']);
        assert.equal(status.code, 0, status.stderr);
        assert.match(
          status.stdout,
          /^3 workers: w1, w2, w3\nshards: 0 waiting, 0 running, 0 failed\ntraining runs: 0 waiting/,
        );
      });

      const localDone = await local;
      assert.equal(localDone.code, 0, localDone.stderr);
      const reference = JSON.parse(localDone.stdout) as Record<string, unknown>;
      assert.equal(reference.n, N);

      await t.test(`a ${N}-image evaluate --suite quick on 3 workers equals the local run`, async () => {
        const run = await cli([...EVAL, '--redis', redis.url]);
        assert.equal(run.code, 0, run.stderr);
        const report = JSON.parse(run.stdout) as Record<string, unknown>;
        assert.deepEqual(comparable(report), comparable(reference));
        assert.match(run.stderr, /8 shards of ≤ 250 images/);
        // Every worker took shards; each shard ran once.
        const ran = workers.map((w) => (w.log().match(/ran run \w+ shard \d+/g) ?? []).length);
        assert.equal(
          ran.reduce((a, b) => a + b, 0),
          8,
          workers.map((w) => w.log()).join('\n'),
        );
        assert.ok((report.workers as number) >= 2, `shards ran on ${String(report.workers)} workers`);
        assert.deepEqual(await queue.getJobCounts('wait', 'active', 'completed', 'failed', 'delayed'), {
          wait: 0,
          active: 0,
          completed: 0,
          failed: 0,
          delayed: 0,
        });
      });

      await t.test(
        'kill -9 a worker holding a shard: the run finishes, equal to the local one, the queue empty',
        async () => {
          const before = workers.map((w) => w.log().length);
          const run = cli([...EVAL, '--redis', redis.url]);
          // The first worker to start a shard other than the first (which carries the probes) dies.
          let victim: WorkerProcess | undefined;
          let held = '';
          await until('a worker holding a shard', () => {
            for (const [k, w] of workers.entries()) {
              const m = /started (run \w+ shard [1-7]) /.exec(w.log().slice(before[k]));
              if (m) [victim, held] = [w, m[1]!];
            }
            return victim !== undefined;
          });
          victim!.child.kill('SIGKILL');
          assert.equal(await victim!.exited, null);
          const done = await run;
          assert.equal(done.code, 0, done.stderr);
          assert.deepEqual(comparable(JSON.parse(done.stdout) as Record<string, unknown>), comparable(reference));
          // The shard it held ran again, on another worker, once.
          const rerun = workers.filter((w) => w !== victim && w.log().includes(`ran ${held} `));
          assert.equal(rerun.length, 1, `${held} after the kill:\n${workers.map((w) => w.log()).join('\n')}`);
          assert.deepEqual(await queue.getJobCounts('wait', 'active', 'completed', 'failed', 'delayed'), {
            wait: 0,
            active: 0,
            completed: 0,
            failed: 0,
            delayed: 0,
          });
        },
      );

      await t.test('Ctrl-C on the coordinator cancels the run: its jobs leave the queue', async () => {
        const before = workers.map((w) => w.log().length);
        const run = cli([...EVAL, '--redis', redis.url]);
        await until('a started shard', () => workers.some((w, k) => /started run/.test(w.log().slice(before[k]))));
        run.child.kill('SIGINT');
        const done = await run;
        assert.equal(done.code, 130, done.stderr);
        assert.match(done.stderr, /cancelled/);
        assert.deepEqual(await queue.getJobCounts('wait', 'active', 'completed', 'failed', 'delayed'), {
          wait: 0,
          active: 0,
          completed: 0,
          failed: 0,
          delayed: 0,
        });
        // Each live worker's shards ended (stopped at their next step), none left half-run.
        const settled = (text: string) =>
          (text.match(/started run/g) ?? []).length === (text.match(/(ran|failed) run/g) ?? []).length;
        await until('the workers to let go', () =>
          workers.every((w) => w.child.exitCode !== null || w.child.signalCode !== null || settled(w.log())),
        );
      });

      await t.test("a bad model fails the run once, with the worker's message", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-bad-model-'));
        fs.copyFileSync(MODEL, path.join(dir, 'model.json'));
        fs.writeFileSync(path.join(dir, 'weights.bin'), Buffer.alloc(100));
        const live = workers.filter((w) => w.child.exitCode === null && w.child.signalCode === null);
        const before = live.map((w) => w.log().length);
        const run = await cli([
          'attack',
          '--model',
          path.join(dir, 'model.json'),
          '--n',
          '300',
          '--attack',
          'fgsm',
          '--redis',
          redis.url,
        ]);
        assert.equal(run.code, 2, run.stderr);
        assert.match(run.stderr, /shard \d \(images \d+–\d+\) failed: w\d: .*weights/);
        const failures = live.flatMap(
          (w, k) =>
            w
              .log()
              .slice(before[k])
              .match(/failed run \w+ shard \d/g) ?? [],
        );
        assert.ok(failures.length >= 1 && failures.length <= 2, failures.join('\n'));
        assert.equal(new Set(failures).size, failures.length, 'no shard was retried');
        fs.rmSync(dir, { recursive: true });
      });

      // SIGTERM: the remaining workers finish what they hold and exit cleanly.
      for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGTERM');
      for (const w of workers.filter((x) => x.child.signalCode !== 'SIGKILL')) {
        assert.equal(await w.exited, 0, w.log());
        assert.match(w.log(), /stopped/);
      }
    } finally {
      for (const w of workers) if (w.child.exitCode === null) w.child.kill('SIGKILL');
      await Promise.allSettled([events.close(), queue.close()]);
      await redis.stop();
      fs.rmSync(cache, { recursive: true, force: true });
    }
  },
);
