/**
 * Training runs on the cluster with the editor's live view (issue 15, README "Scale out"): the
 * worker reports each finished epoch and its batches as BullMQ job progress (checked by
 * trainJobProgressSchema), the coordinator hands them on in order, and an editor-style run through
 * the engine host's cluster path ends stored in the run store as a local run is (train.json, the
 * model, metrics.jsonl); stopped, its checkpoint comes back and Resume on the cluster continues
 * from it. Against a redis-server of the test's own and one worker process; skips without Redis.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Queue } from 'bullmq';
import { clusterStatus } from '../../src/cluster/status';
import { runTrainOnCluster } from '../../src/cluster/sweep';
import { EngineHost } from '../../src/extension/engine-host';
import { parseRedisUrl, parseTrainJobProgress, TRAIN_QUEUE } from '../../src/protocol/cluster';
import { epochMetricsSchema, type RunEpoch } from '../../src/protocol/epoch-metrics';
import { defaultTrainJob, type TrainJob } from '../../src/protocol/jobs';
import type { EpochParams, TrainProgressParams } from '../../src/protocol/messages/worker';
import { RunStore } from '../../src/store/runs';
import { assertBundlesBuilt, quietLog, SKIP, startRedis, startWorker, until } from './cluster-harness';

const ROOT = path.join(__dirname, '..', '..');

const EPOCH: RunEpoch = {
  epoch: 1,
  epochs: 2,
  loss: 0.9,
  trainAccuracy: 0.6,
  testAccuracy: 0.7,
  robustAccuracy: 0.2,
  learningRate: 0.001,
  eps: 0.1,
  seconds: 1.5,
};

test('progress payloads: epochs and batches parse (NaN, sent as null, restored); anything else is ignored', () => {
  assert.deepEqual(parseTrainJobProgress({ kind: 'epoch', epoch: EPOCH }), { kind: 'epoch', epoch: EPOCH });
  // JSON carries a diverged run's NaN loss as null.
  const diverged = parseTrainJobProgress(JSON.parse(JSON.stringify({ kind: 'epoch', epoch: { ...EPOCH, loss: NaN } })));
  assert.equal(diverged?.kind, 'epoch');
  assert.ok(diverged?.kind === 'epoch' && Number.isNaN(diverged.epoch.loss));
  assert.deepEqual(
    parseTrainJobProgress({ kind: 'batch', phase: 'training', epochs: 2, epoch: 1, batch: 3, batches: 6 }),
    {
      kind: 'batch',
      phase: 'training',
      epochs: 2,
      epoch: 1,
      batch: 3,
      batches: 6,
    },
  );
  for (const bad of [
    undefined,
    null,
    42,
    'epoch 1',
    [EPOCH],
    { epoch: 1, epochs: 2 },
    { kind: 'epoch' },
    { kind: 'epoch', epoch: { ...EPOCH, epoch: 0 } },
    { kind: 'epoch', epoch: { ...EPOCH, testAccuracy: 'high' } },
    { kind: 'epoch', epoch: { ...EPOCH, learningRate: null } },
    { kind: 'epoch', epoch: EPOCH, path: '/etc/passwd' },
    { kind: 'batch', phase: 'sleeping', epochs: 2 },
    { kind: 'batch', phase: 'training', epochs: 0 },
    { kind: 'batch', phase: 'training', epochs: 2, batch: -1 },
    { kind: 'stage', label: 'clean' },
  ]) {
    assert.equal(parseTrainJobProgress(bad), undefined, JSON.stringify(bad));
  }
});

/** A tiny run on the embedded data: 2 epochs of 300 images, 20 images for robust accuracy. */
function tinyJob(out: string, extra: Partial<TrainJob> = {}): TrainJob {
  return {
    ...defaultTrainJob('standard'),
    epochs: 2,
    batchSize: 100,
    trainLimit: 300,
    robustEvalLimit: 20,
    ...extra,
    out,
  };
}

function metricsOf(dir: string): RunEpoch[] {
  return fs
    .readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => epochMetricsSchema.parse(JSON.parse(line)) as RunEpoch);
}

test(
  'a cluster training run: epochs in order with the worker’s metrics, hostile progress ignored; the editor’s run stored, stopped, resumed',
  { skip: SKIP, timeout: 120_000 },
  async (t) => {
    assertBundlesBuilt();
    const redis = await startRedis();
    const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-train-cache-'));
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-train-ws-'));
    const queue = new Queue(TRAIN_QUEUE, { connection: parseRedisUrl(redis.url) });
    const worker = startWorker(redis.url, 'train-w1', cache);
    const { lines, log } = quietLog();
    const host = new EngineHost(ROOT, log as never, () => 1);
    try {
      await until('the worker', () => /engine thread on redis:/.test(worker.log()));

      await t.test('the coordinator gets each epoch once, in order, as the worker computed it', async () => {
        const out = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-train-out-'));
        const epochs: RunEpoch[] = [];
        const batches: string[] = [];
        const logged: string[] = [];
        let hostile: Promise<unknown> | undefined;
        const { modelFile, result } = await runTrainOnCluster(tinyJob(out), {
          redis: redis.url,
          resume: false,
          onEpoch: (e) => epochs.push(e),
          onTrainProgress: (p) => batches.push(`${p.phase}:${p.epoch ?? '-'}:${p.batch ?? '-'}`),
          onLog: (message) => {
            logged.push(message);
            const m = /^sweep (\w+): 1 training run enqueued/.exec(message);
            // Progress that is not a training run's, sent to the run's own job: each is ignored.
            if (m)
              hostile = queue.getJob(`${m[1]}-0`).then(async (job) => {
                for (const bad of [
                  'epoch 9 of 9',
                  { epoch: 9, epochs: 9 },
                  { kind: 'epoch', epoch: { ...EPOCH, epoch: 9, loss: 'low' } },
                  { kind: 'batch', phase: 'hacking', epochs: 2 },
                ])
                  await job!.updateProgress(bad as object);
              });
          },
        });
        await hostile;
        assert.deepEqual(
          epochs.map((e) => [e.epoch, e.epochs]),
          [
            [1, 2],
            [2, 2],
          ],
        );
        // The same numbers the worker wrote into the run's metrics.jsonl (and its result).
        assert.deepEqual(
          epochs.map(({ epochs: _e, ...m }) => m),
          metricsOf(out),
        );
        assert.deepEqual(result.epochs, epochs);
        assert.ok(epochs.every((e) => e.testAccuracy >= 0 && e.testAccuracy <= 1 && e.robustAccuracy !== undefined));
        assert.ok(
          batches.some((b) => b.startsWith('training:1:')),
          batches.join(' '),
        );
        assert.ok(
          batches.some((b) => b.startsWith('training:2:')),
          batches.join(' '),
        );
        assert.ok(fs.existsSync(modelFile) && modelFile === path.join(out, 'model.json'), modelFile);
        assert.equal(
          logged.filter((l) => /progress report that is not a training run's was ignored/.test(l)).length,
          1,
        );
        assert.match(worker.log(), /trained run \w+ training 0 \(seed=0\): epochs 1, 2 in/);
        fs.rmSync(out, { recursive: true });
      });

      const store = new RunStore(folder);
      const record = (id: string, job: TrainJob) =>
        store.create({
          id,
          kind: 'training',
          status: 'running',
          name: 'editor run',
          model: 'standard (new smallcnn)',
          created: new Date().toISOString(),
          config: job,
        });

      await t.test(
        'an editor run through the engine host: stored as a local run, with the epochs it streamed',
        async () => {
          const id = store.newId('training');
          const job = tinyJob(store.dir(id), { modelFolder: 'smallcnn-standard', workers: 2 });
          record(id, job);
          const epochs: EpochParams[] = [];
          const progress: TrainProgressParams[] = [];
          const result = await host.trainOnCluster(
            id,
            job,
            'auto',
            false,
            { redis: redis.url },
            {
              onEpoch: (e) => epochs.push(e),
              onTrainProgress: (p) => progress.push(p),
            },
          );
          const dir = store.dir(id);
          assert.equal(result.modelFile, path.join(dir, 'smallcnn-standard', 'model.json'));
          assert.ok(fs.existsSync(result.modelFile));
          assert.match(result.notes?.[0] ?? '', /^trained on the cluster by train-w1$/);
          assert.deepEqual(
            epochs.map((e) => [e.runId, e.epoch, e.epochs]),
            [
              [id, 1, 2],
              [id, 2, 2],
            ],
          );
          assert.deepEqual(
            epochs.map(({ runId: _r, epochs: _e, ...m }) => m),
            metricsOf(dir),
          );
          assert.ok(progress.length > 0 && progress.every((p) => p.runId === id && p.epochs === 2));
          const train = JSON.parse(fs.readFileSync(path.join(dir, 'train.json'), 'utf8')) as {
            config: { out: string; modelFolder: string };
          };
          assert.equal(train.config.out, dir);
          assert.equal(train.config.modelFolder, 'smallcnn-standard');
          // The record is the editor's: the run folder coming back does not replace it.
          assert.equal(store.read(id).name, 'editor run');
          assert.deepEqual((await clusterStatus(redis.url)).training, { waiting: 0, running: 0, failed: 0 });
        },
      );

      await t.test(
        'Stop: the run stops, its checkpoint comes back; Resume on the cluster continues from it',
        async () => {
          const id = store.newId('training');
          // PGD-AT's epochs are longer (a worker looks for a stop twice a second), so it stops mid-run.
          const job = tinyJob(store.dir(id), {
            ...defaultTrainJob('pgd-at'),
            epochs: 4,
            trainLimit: 600,
            modelFolder: 'smallcnn-pgd-at',
          });
          record(id, job);
          const first: number[] = [];
          let stopping: Promise<boolean> | undefined;
          const run = host.trainOnCluster(
            id,
            job,
            'auto',
            false,
            { redis: redis.url },
            {
              onEpoch: (e) => {
                first.push(e.epoch);
                stopping ??= host.cancel(id);
              },
            },
          );
          await assert.rejects(run, { name: 'AbortError' });
          assert.equal(await stopping, true);
          const dir = store.dir(id);
          const state = JSON.parse(fs.readFileSync(path.join(dir, 'checkpoints', 'last', 'state.json'), 'utf8')) as {
            epoch: number;
          };
          assert.ok(state.epoch >= 1 && state.epoch < 4, `checkpoint of epoch ${state.epoch}`);
          assert.deepEqual(
            metricsOf(dir).map((m) => m.epoch),
            Array.from({ length: state.epoch }, (_, i) => i + 1),
          );
          assert.ok(
            lines.some((l) => /its last checkpoint is back in /.test(l)),
            lines.join('\n'),
          );
          assert.equal(fs.existsSync(path.join(dir, 'smallcnn-pgd-at', 'model.json')), false);

          const resumed: number[] = [];
          const result = await host.trainOnCluster(
            id,
            job,
            'auto',
            true,
            { redis: redis.url },
            {
              onEpoch: (e) => resumed.push(e.epoch),
            },
          );
          assert.deepEqual(
            resumed,
            [1, 2, 3, 4].filter((e) => e > state.epoch),
          );
          assert.match(result.notes?.[0] ?? '', new RegExp(`resumed after epoch ${state.epoch}\\)$`));
          assert.deepEqual(
            metricsOf(dir).map((m) => m.epoch),
            [1, 2, 3, 4],
          );
          assert.ok(fs.existsSync(path.join(dir, 'smallcnn-pgd-at', 'model.json')));
          assert.equal(store.read(id).name, 'editor run');
          assert.deepEqual((await clusterStatus(redis.url)).training, { waiting: 0, running: 0, failed: 0 });
        },
      );
    } finally {
      await host.dispose();
      await queue.close();
      worker.child.kill('SIGTERM');
      await worker.exited;
      await redis.stop();
      fs.rmSync(cache, { recursive: true, force: true });
      fs.rmSync(folder, { recursive: true, force: true });
    }
  },
);
