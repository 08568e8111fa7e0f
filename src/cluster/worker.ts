/**
 * `robustness-lab worker --redis URL`: takes shard jobs from the queue until stopped, each on one
 * of N engine threads (dist/worker.js, as local runs use), so this thread stays free to renew the
 * jobs' locks. Every payload is parsed (src/protocol/cluster.ts) before any of it is used; a
 * refused or failing job fails once, with its reason, and the worker goes on.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type IORedis from 'ioredis';
import { attackJobSchema } from '../protocol/jobs';
import {
  parseShardJob,
  parseTrainRun,
  redactRedisUrl,
  SHARD_QUEUE,
  shardFields,
  TRAIN_QUEUE,
  type TrainJobProgress,
} from '../protocol/cluster';
import type { BackendPreference } from '../protocol/vocabulary';
import { EngineClient } from '../worker/client';
import { cancelKey, type ShardResult } from './coordinator';
import { downloadFolder, uploadFolder } from './folder-store';
import { checkpointKey, RUN_FOLDER_TTL_S, runFolderKey, type TrainRunResult } from './sweep';
import { ModelCache } from './model-store';
import { writeShardFolder } from './shard-data';
import { connectRedis, redisOptions } from './redis';

export interface ClusterWorkerOptions {
  redis: string;
  /** Shards run at once, one engine thread each. */
  concurrency: number;
  /** The engine thread's script (dist/worker.js). */
  script: string;
  backend: BackendPreference;
  /** Where models are cached by hash (default ~/.cache/robustness-lab/models). */
  cacheDir?: string;
  /** This worker's name in logs and reports (default host:pid). */
  name?: string;
  /** A job whose lock is not renewed for this long is given to another worker (ms; default 10 s). */
  lockMs?: number;
  log: (line: string) => void;
}

export interface RunningWorker {
  name: string;
  /** Finishes the jobs in hand, then stops (SIGTERM); with `force`, stops them at their next step. */
  close(force?: boolean): Promise<void>;
  /** Resolves once the worker has stopped. */
  closed: Promise<void>;
}

/** N engine threads, each lent to one job at a time; a crashed one is replaced. */
class EnginePool {
  private readonly free: EngineClient[] = [];
  private readonly all = new Set<EngineClient>();

  constructor(private readonly script: string) {}

  acquire(): EngineClient {
    const client = this.free.pop() ?? new EngineClient({ script: this.script });
    this.all.add(client);
    return client;
  }

  release(client: EngineClient): void {
    if (client.alive) this.free.push(client);
    else this.all.delete(client);
  }

  async dispose(): Promise<void> {
    await Promise.all([...this.all].map((c) => c.dispose()));
  }
}

/**
 * Polls the run's cancel key every `ms`; once it is set, cancels `engineRunId` on the engine thread
 * (it stops at its next step). `stop()` when the job ends; `cancelled` says whether it fired.
 */
function watchCancel(redis: IORedis, runId: string, engine: EngineClient, engineRunId: string, ms: number) {
  let cancelled = false;
  const timer = setInterval(() => {
    void redis.exists(cancelKey(runId)).then(
      (n) => {
        if (n && !cancelled) {
          cancelled = true;
          void engine.cancel(engineRunId).catch(() => {});
        }
      },
      () => {},
    );
  }, ms);
  return {
    get cancelled() {
      return cancelled;
    },
    stop: () => clearInterval(timer),
  };
}

export async function startClusterWorker(o: ClusterWorkerOptions): Promise<RunningWorker> {
  const name = o.name ?? `${os.hostname()}:${process.pid}`;
  const redis: IORedis = await connectRedis(o.redis);
  const cache = new ModelCache(redis, o.cacheDir ?? path.join(os.homedir(), '.cache', 'robustness-lab', 'models'));
  const engines = new EnginePool(o.script);
  const lockDuration = o.lockMs ?? 10_000;

  const processor = async (job: Job): Promise<ShardResult> => {
    const parsed = parseShardJob(job.data);
    if ('error' in parsed) {
      o.log(`refused job ${job.id}: ${parsed.error}`);
      throw new UnrecoverableError(`${name} refused the job: ${parsed.error}`);
    }
    const sj = parsed.job;
    const { shard, shape } = sj;
    const images = Buffer.from(sj.images, 'base64');
    const labels = Buffer.from(sj.labels, 'base64');
    const perImage = shape[0] * shape[1] * shape[2];
    if (images.length !== shard.n * perImage || labels.length !== shard.n) {
      const problem = `holds ${images.length} pixel bytes and ${labels.length} labels, not ${shard.n} images of ${shape.join('×')}`;
      o.log(`refused job ${job.id}: ${problem}`);
      throw new UnrecoverableError(`${name} refused the job: it ${problem}`);
    }
    const label = `run ${sj.runId} shard ${shard.index} (images ${shard.offset}–${shard.offset + shard.n - 1})`;
    const t0 = performance.now();
    o.log(`started ${label} (job ${job.id})`);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-shard-'));
    const engine = engines.acquire();
    const runId = `${sj.runId}-${shard.index}`;
    const poll = watchCancel(redis, sj.runId, engine, runId, 1000);
    try {
      const modelFile = await cache.file(sj.model);
      const surrogateFile = sj.surrogate ? await cache.file(sj.surrogate) : undefined;
      writeShardFolder(dir, images, labels, shape, sj.classNames);
      const attackJob = attackJobSchema.parse({
        ...sj.settings,
        model: modelFile,
        data: dir,
        ...shardFields(shard),
        // The worker's folder holds the shard's images alone.
        offset: 0,
        ...(surrogateFile ? { surrogate: surrogateFile } : {}),
      });
      let lastProgress = 0;
      let ordinal = 0;
      const report = await engine.runAttack(
        runId,
        attackJob,
        o.backend,
        (p) => {
          const now = performance.now();
          if (now - lastProgress < 500 && p.done < p.total) return;
          lastProgress = now;
          void job.updateProgress({ label: p.label, done: p.done, total: p.total }).catch(() => {});
        },
        {
          onStage: ({ runId: _r, ...stage }) => {
            void job.updateProgress({ stage, ordinal: ordinal++ }).catch(() => {});
          },
        },
      );
      // The shard's images are numbered from its first image in the run.
      for (const example of report.examples) example.index += shard.offset;
      o.log(`ran ${label} in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
      return { worker: name, report };
    } catch (err) {
      const message = poll.cancelled ? 'cancelled by the coordinator' : (err as Error).message;
      o.log(`failed ${label}: ${message}`);
      throw new UnrecoverableError(`${name}: ${message}`);
    } finally {
      poll.stop();
      engines.release(engine);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };

  /**
   * A training run of a sweep, in a folder of this worker's own: resumed from its checkpoint in
   * Redis when one is there (its last worker died), checkpointed into Redis after every epoch, and
   * its final folder (model, metrics, train.json) left in Redis for the coordinator.
   */
  const trainProcessor = async (job: Job): Promise<TrainRunResult> => {
    const parsed = parseTrainRun(job.data);
    if ('error' in parsed) {
      o.log(`refused job ${job.id}: ${parsed.error}`);
      throw new UnrecoverableError(`${name} refused the job: ${parsed.error}`);
    }
    const { run } = parsed;
    const label = `run ${run.runId} training ${run.index} (${run.name})`;
    const t0 = performance.now();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-train-'));
    const engine = engines.acquire();
    const runId = `${run.runId}-t${run.index}`;
    const ckpt = checkpointKey(run.runId, run.index);
    // Twice a second: a stopped run's checkpoint is brought back once its job has stopped.
    const poll = watchCancel(redis, run.runId, engine, runId, 500);
    try {
      const resume = await downloadFolder(redis, ckpt, dir);
      const resumedAfter = resume ? checkpointEpoch(dir) : 0;
      o.log(
        resume ? `resumed ${label} after epoch ${resumedAfter} (job ${job.id})` : `started ${label} (job ${job.id})`,
      );
      const epochsRun: number[] = [];
      let uploads: Promise<unknown> = Promise.resolve();
      // Progress goes out in order (trainJobProgressSchema): an epoch once its checkpoint is in
      // Redis, so a coordinator never shows an epoch that a resumed run would train again.
      const report = (progress: TrainJobProgress) => {
        uploads = uploads.then(() => job.updateProgress(progress).catch(() => {}));
      };
      let lastBatch = 0;
      const result = await engine.train(runId, { ...run.settings, out: dir, workers: 1 }, o.backend, resume, {
        onEpoch: ({ runId: _r, ...epoch }) => {
          epochsRun.push(epoch.epoch);
          // The checkpoint is on disk before the epoch is announced (src/engine/training/train-loop.ts).
          uploads = uploads
            .then(() => uploadFolder(redis, ckpt, dir, RUN_FOLDER_TTL_S))
            .then(
              (bytes) => o.log(`${label}: epoch ${epoch.epoch} of ${epoch.epochs} checkpointed (${bytes} bytes)`),
              (err: Error) => o.log(`${label}: checkpoint upload failed: ${err.message}`),
            );
          report({ kind: 'epoch', epoch });
        },
        // The engine throttles these (each phase's start, each epoch's first and last batch, one per
        // 250 ms); the queue gets at most one a second besides the phases' starts and epochs' ends.
        onTrainProgress: ({ runId: _r, ...p }) => {
          const now = performance.now();
          const edge = p.phase !== 'training' || p.batch === 0 || p.batch === p.batches;
          if (!edge && now - lastBatch < 1000) return;
          lastBatch = now;
          report({ kind: 'batch', ...p });
        },
      });
      await uploads;
      await uploadFolder(redis, runFolderKey(run.runId, run.index), dir, RUN_FOLDER_TTL_S);
      o.log(`trained ${label}: epochs ${epochsRun.join(', ')} in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
      return {
        worker: name,
        resumedAfter,
        epochsRun,
        modelFile: path.relative(dir, result.modelFile).split(path.sep).join('/'),
        epochs: result.epochs,
        seconds: result.seconds,
      };
    } catch (err) {
      const message = poll.cancelled ? 'cancelled by the coordinator' : (err as Error).message;
      o.log(`failed ${label}: ${message}`);
      throw new UnrecoverableError(`${name}: ${message}`);
    } finally {
      poll.stop();
      engines.release(engine);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };

  // A job whose worker died goes back to the queue (BullMQ's stalled check); twice more at most.
  const queueOptions = {
    connection: redisOptions(o.redis),
    concurrency: o.concurrency,
    name,
    lockDuration,
    stalledInterval: Math.max(1000, Math.floor(lockDuration / 2)),
    maxStalledCount: 2,
    removeOnComplete: { age: 24 * 3600 },
    removeOnFail: { age: 24 * 3600 },
  };
  const trainer = new Worker(TRAIN_QUEUE, trainProcessor, queueOptions);
  trainer.on('error', (err) => o.log(`queue error: ${err.message}`));

  const worker = new Worker(SHARD_QUEUE, processor, queueOptions);
  worker.on('error', (err) => o.log(`queue error: ${err.message}`));
  await Promise.all([worker.waitUntilReady(), trainer.waitUntilReady()]);
  o.log(
    `worker ${name}: ${o.concurrency} engine thread${o.concurrency === 1 ? '' : 's'} on ${redactRedisUrl(o.redis)}`,
  );
  let resolveClosed!: () => void;
  const closed = new Promise<void>((resolve) => (resolveClosed = resolve));
  let closing: Promise<void> | undefined;
  return {
    name,
    closed,
    close(force = false) {
      if (force) {
        closing = Promise.all([worker.close(true), trainer.close(true)]).then(async () => {
          await engines.dispose();
          redis.disconnect();
          resolveClosed();
        });
        return closing;
      }
      closing ??= Promise.all([worker.close(), trainer.close()]).then(async () => {
        await engines.dispose();
        redis.disconnect();
        resolveClosed();
      });
      return closing;
    },
  };
}

/** The epoch of the checkpoint in a run folder (checkpoints/last/state.json), 0 when unreadable. */
function checkpointEpoch(dir: string): number {
  try {
    const state = JSON.parse(fs.readFileSync(path.join(dir, 'checkpoints', 'last', 'state.json'), 'utf8')) as {
      epoch?: unknown;
    };
    return typeof state.epoch === 'number' ? state.epoch : 0;
  } catch {
    return 0;
  }
}
