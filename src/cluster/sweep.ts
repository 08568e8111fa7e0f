/**
 * `robustness-lab train --redis URL --sweep 'method=pgd-at,trades eps=0.05,0.1 seed=0,1' --out DIR`:
 * one training run per combination, each a BullMQ job that a worker checkpoints into Redis after
 * every epoch (so a run whose worker dies resumes on another from its last epoch), and each run's
 * folder (model, metrics.jsonl, train.json) brought back into DIR/<combination>/.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Queue, QueueEvents, type Job } from 'bullmq';
import { z } from 'zod';
import {
  CLUSTER_PROTOCOL_VERSION,
  parseSweep,
  parseTrainJobProgress,
  SWEEP_KEYS,
  TRAIN_QUEUE,
  type TrainJobProgress,
  type TrainRun,
} from '../protocol/cluster';
import { runEpochSchema, type RunEpoch } from '../protocol/epoch-metrics';
import { trainJobSchema, type TrainJob } from '../protocol/jobs';
import { defaultLearningRate, trainingRunDisplayName } from '../protocol/training';
import { BUILTIN_DATA, type TrainMethod } from '../protocol/vocabulary';
import { cancelKey } from './coordinator';
import type { RunStore } from '../store/runs';
import { downloadFolder, uploadFolder } from './folder-store';
import { awaitJobs, ClusterError, connectRedis, KEY_PREFIX, redisOptions } from './redis';

/** Checkpoints and finished run folders stay in Redis for a day. */
export const RUN_FOLDER_TTL_S = 24 * 3600;
export const checkpointKey = (runId: string, index: number) => `${KEY_PREFIX}:ckpt:${runId}:${index}`;
export const runFolderKey = (runId: string, index: number) => `${KEY_PREFIX}:run:${runId}:${index}`;

export const trainRunResultSchema = z.strictObject({
  worker: z.string().min(1).max(200),
  /** The epoch of the checkpoint it resumed from (0: from the start). */
  resumedAfter: z.number().int().min(0),
  /** The epochs this worker trained. */
  epochsRun: z.array(z.number().int().min(1)),
  /** The model file, relative to the run folder. */
  modelFile: z.string().min(1).max(400),
  epochs: z.array(runEpochSchema),
  seconds: z.number().finite(),
});
export type TrainRunResult = z.infer<typeof trainRunResultSchema>;

export interface SweepOptions {
  redis: string;
  sweep: string;
  /** The learning rate the user gave (else each run takes its method's default). */
  learningRate?: number;
  signal?: AbortSignal;
  onLog?: (message: string) => void;
  /**
   * Put each run into this run store (a workspace's .robustness/runs/<id>/, as the editor's training
   * runs: the Runs view and the training panel's trade-off scatter show them) instead of
   * `<out>/<combination>/`.
   */
  store?: RunStore;
  /** Each finished epoch of run `index`, in order, once its checkpoint is in Redis. */
  onEpoch?: (index: number, epoch: RunEpoch) => void;
  /** Where run `index` is between epochs (phase, batch), at most about once a second. */
  onTrainProgress?: (index: number, progress: Omit<Extract<TrainJobProgress, { kind: 'batch' }>, 'kind'>) => void;
}

/**
 * How long a cancelled run's job may take to stop (its worker looks every second) before its checkpoint
 * is fetched: within the editor's grace for a cancel (CLUSTER_CANCEL_GRACE_MS, 10 s).
 */
const CANCEL_WAIT_MS = 8000;

/** A run of a sweep: its folder here, its job, and its record when it is kept in a run store. */
interface PlannedRun {
  id?: string;
  name: string;
  dir: string;
  job: TrainJob;
  /** Its folder here (a stopped run's checkpoint, metrics) goes to Redis first: the run resumes from it. */
  resume?: boolean;
}

export interface SweepRun {
  name: string;
  dir: string;
  job: TrainJob;
  result: TrainRunResult;
}

/** The base job with a combination's fields, checked as any training job is. */
function combine(base: TrainJob, fields: Record<string, string | number>, o: SweepOptions, out: string): TrainJob {
  const job: Record<string, unknown> = { ...base, out };
  for (const [key, value] of Object.entries(fields)) job[SWEEP_KEYS[key as keyof typeof SWEEP_KEYS]] = value;
  if (fields.method !== undefined && fields.lr === undefined && o.learningRate === undefined) {
    job.learningRate = defaultLearningRate(job.method as TrainMethod, base.optimizer);
  }
  const parsed = trainJobSchema.safeParse(job);
  if (!parsed.success) {
    throw new ClusterError(
      `--sweep: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  return parsed.data;
}

export async function runTrainSweepOnCluster(base: TrainJob, o: SweepOptions): Promise<SweepRun[]> {
  if (!(BUILTIN_DATA as readonly string[]).includes(base.data)) {
    throw new ClusterError(
      `--data ${base.data}: a cluster sweep trains on built-in data (${BUILTIN_DATA.join(', ')}), which every worker has`,
    );
  }
  if (base.init) throw new ClusterError('--init: a cluster sweep trains the example network from scratch');
  let combos: ReturnType<typeof parseSweep>;
  try {
    combos = parseSweep(o.sweep);
  } catch (err) {
    throw new ClusterError((err as Error).message, { cause: err });
  }
  const store = o.store;
  const runs: PlannedRun[] = combos.map((c) => {
    const id = store?.newId('training');
    const dir = id ? store!.dir(id) : path.join(base.out, c.name);
    if (fs.existsSync(path.join(dir, 'checkpoints'))) {
      throw new ClusterError(`${dir} already holds a training run; choose another --out`);
    }
    const job = combine(base, c.fields, o, dir);
    if (id) {
      // Recorded as running at once (which also reserves the id), as the editor records its runs.
      store!.create({
        id,
        kind: 'training',
        status: 'running',
        name: `${trainingRunDisplayName(job)} · seed ${job.seed} (sweep)`,
        model: `${job.method} (new smallcnn)`,
        created: new Date().toISOString(),
        config: job,
      });
    }
    return { ...(id ? { id } : {}), name: c.name, dir, job };
  });
  return runOnQueue(runs, o);
}

/** Files of a run folder that stay here: the run store's record of the run. */
const LOCAL_ONLY = ['run.json'];

/**
 * Runs `runs` as jobs of the training queue and brings each finished run's folder into its `dir`
 * (train.json naming that folder); a run cancelled or failed keeps its last checkpoint, brought
 * back into its `dir` too when it is kept in a run store or is a single run (so Resume continues).
 */
async function runOnQueue(runs: PlannedRun[], o: SweepOptions & { bringBack?: boolean }): Promise<SweepRun[]> {
  const store = o.store;
  const redis = await connectRedis(o.redis);
  const connection = redisOptions(o.redis);
  const queue = new Queue(TRAIN_QUEUE, { connection });
  const events = new QueueEvents(TRAIN_QUEUE, { connection });
  const runId = crypto.randomBytes(8).toString('hex');
  const ids = runs.map((_, i) => `${runId}-${i}`);
  let finished = false;
  let added: Job[] = [];
  /** The runs whose final folder is here. */
  const done = new Set<number>();
  try {
    await events.waitUntilReady();
    const payloads: TrainRun[] = runs.map((r, index) => {
      const { out: _out, init: _init, workers: _workers, preprocessDefaults: _d, ...settings } = r.job;
      return {
        protocol: CLUSTER_PROTOCOL_VERSION,
        kind: 'train-run',
        runId,
        index,
        name: r.name,
        settings: settings as TrainRun['settings'],
      };
    });
    // A resumed run starts from the checkpoint in its folder here, as a run whose worker died does.
    for (const [i, r] of runs.entries()) {
      if (r.resume) await uploadFolder(redis, checkpointKey(runId, i), r.dir, RUN_FOLDER_TTL_S, LOCAL_ONLY);
    }
    added = await queue.addBulk(
      payloads.map((data, i) => ({
        name: 'train-run',
        data,
        opts: { jobId: ids[i]!, attempts: 1, removeOnComplete: { age: 24 * 3600 }, removeOnFail: { age: 24 * 3600 } },
      })),
    );
    o.onLog?.(`sweep ${runId}: ${runs.length} training run${runs.length === 1 ? '' : 's'} enqueued`);
    // Each run's epochs in order, each once (a resumed run does not announce its earlier ones again);
    // a payload that is not a training job's progress is ignored.
    const lastEpoch = runs.map(() => 0);
    let ignored = 0;
    events.on('progress', (({ jobId, data }: { jobId: string; data: unknown }) => {
      const i = ids.indexOf(jobId);
      if (i < 0) return;
      const p = parseTrainJobProgress(data);
      if (!p) {
        if (ignored++ === 0) o.onLog?.(`${runs[i]!.name}: a progress report that is not a training run's was ignored`);
        return;
      }
      if (p.kind === 'batch') {
        const { kind: _k, ...progress } = p;
        o.onTrainProgress?.(i, progress);
        return;
      }
      if (p.epoch.epoch <= lastEpoch[i]!) return;
      lastEpoch[i] = p.epoch.epoch;
      o.onLog?.(`${runs[i]!.name}: epoch ${p.epoch.epoch} of ${p.epoch.epochs}`);
      o.onEpoch?.(i, p.epoch);
    }) as never);
    const results = await awaitJobs(
      added,
      events,
      o.signal,
      (i, message) => `training run ${runs[i]!.name} failed: ${message}`,
      async (value, i) => {
        const parsed = trainRunResultSchema.safeParse(value);
        if (!parsed.success) throw new ClusterError(`training run ${runs[i]!.name}: the worker's result is malformed`);
        const r = runs[i]!;
        fs.mkdirSync(r.dir, { recursive: true });
        if (!(await downloadFolder(redis, runFolderKey(runId, i), r.dir))) {
          throw new ClusterError(`training run ${r.name}: its folder is not in Redis`);
        }
        done.add(i);
        nameRunFolder(r.dir);
        if (r.id) {
          const last = parsed.data.epochs[parsed.data.epochs.length - 1];
          store!.update(r.id, {
            status: 'done',
            finished: new Date().toISOString(),
            ...(last
              ? {
                  progress: {
                    epoch: last.epoch,
                    epochs: r.job.epochs,
                    clean: last.testAccuracy,
                    ...(last.robustAccuracy !== undefined ? { robust: last.robustAccuracy } : {}),
                  },
                }
              : {}),
          });
        }
        o.onLog?.(
          `${r.name}: done on ${parsed.data.worker}` +
            (parsed.data.resumedAfter ? ` (resumed after epoch ${parsed.data.resumedAfter})` : ''),
        );
        return parsed.data;
      },
    );
    finished = true;
    return runs.map((r, i) => ({ ...r, result: results[i]! }));
  } catch (err) {
    // The runs that did not finish are recorded as the editor records a stopped or failed run.
    const cancelled = (err as Error).name === 'AbortError';
    for (const r of runs) {
      if (!r.id || store!.read(r.id).status !== 'running') continue;
      store!.update(r.id, {
        status: cancelled ? 'cancelled' : 'failed',
        finished: new Date().toISOString(),
        ...(cancelled ? {} : { error: (err as Error).message }),
      });
    }
    throw err;
  } finally {
    if (!finished) await redis.set(cancelKey(runId), '1', 'EX', 3600).catch(() => {});
    if (!finished && (store || o.bringBack)) {
      await bringBackCheckpoints(redis, runs, added, events, runId, done, o);
    }
    await Promise.all(ids.map((id) => queue.remove(id).catch(() => 0)));
    const keys = runs.flatMap((_, i) => [checkpointKey(runId, i), runFolderKey(runId, i)]);
    if (finished) await redis.del(...keys).catch(() => 0);
    await Promise.allSettled([events.close(), queue.close()]);
    redis.disconnect();
  }
}

/**
 * The runs that did not finish: once their jobs have stopped (or CANCEL_WAIT_MS passed), each last
 * checkpoint in Redis is written into the run's folder here, so Resume continues from it.
 */
async function bringBackCheckpoints(
  redis: Awaited<ReturnType<typeof connectRedis>>,
  runs: PlannedRun[],
  jobs: Job[],
  events: QueueEvents,
  runId: string,
  done: Set<number>,
  o: SweepOptions,
): Promise<void> {
  await Promise.all(
    jobs.map(async (job) => {
      const state = await job.getState().catch(() => 'unknown');
      if (state === 'active') await job.waitUntilFinished(events, CANCEL_WAIT_MS).catch(() => undefined);
    }),
  );
  for (const [i, r] of runs.entries()) {
    if (done.has(i)) continue;
    try {
      if (!(await downloadFolder(redis, checkpointKey(runId, i), r.dir))) continue;
      nameRunFolder(r.dir);
      o.onLog?.(`${r.name}: its last checkpoint is back in ${r.dir}`);
    } catch (err) {
      o.onLog?.(`${r.name}: its checkpoint could not be brought back: ${(err as Error).message}`);
    }
  }
}

/** train.json names the worker's folder: name this one. */
function nameRunFolder(dir: string): void {
  const record = path.join(dir, 'train.json');
  if (!fs.existsSync(record)) return;
  const json = JSON.parse(fs.readFileSync(record, 'utf8')) as { config?: { out?: string } };
  if (json.config) json.config.out = dir;
  fs.writeFileSync(record, JSON.stringify(json, null, 2));
}

export interface ClusterTrainOptions {
  redis: string;
  /** Continue from the checkpoint in job.out (a stopped run's), which goes to Redis first. */
  resume: boolean;
  signal?: AbortSignal;
  onLog?: (message: string) => void;
  onEpoch?: (epoch: RunEpoch) => void;
  onTrainProgress?: (progress: Omit<Extract<TrainJobProgress, { kind: 'batch' }>, 'kind'>) => void;
}

/**
 * One training run (the editor's) on a worker of the cluster, into its own folder `job.out` as a
 * local run leaves it: the final model (in job.modelFolder), metrics.jsonl, train.json. Its epochs
 * stream back as they finish. Cancelled or failed, its last checkpoint is brought back into
 * `job.out`, so Resume continues from it (here, or on the cluster with `resume`).
 */
export async function runTrainOnCluster(
  job: TrainJob,
  o: ClusterTrainOptions,
): Promise<{ modelFile: string; result: TrainRunResult }> {
  if (!(BUILTIN_DATA as readonly string[]).includes(job.data)) {
    throw new ClusterError(
      `data ${job.data}: a cluster training run trains on built-in data (${BUILTIN_DATA.join(', ')}), which every worker has`,
    );
  }
  if (job.init)
    throw new ClusterError('a cluster training run trains the example network from scratch, not from a model');
  if (!o.resume && fs.existsSync(path.join(job.out, 'checkpoints'))) {
    throw new ClusterError(`${job.out} already holds a training run`);
  }
  const parsed = trainJobSchema.safeParse(job);
  if (!parsed.success) throw new ClusterError(`the training job does not parse: ${parsed.error.issues[0]?.message}`);
  const [run] = await runOnQueue(
    [{ name: `seed=${job.seed}`, dir: job.out, job: parsed.data, ...(o.resume ? { resume: true } : {}) }],
    {
      redis: o.redis,
      sweep: '',
      bringBack: true,
      ...(o.signal ? { signal: o.signal } : {}),
      ...(o.onLog ? { onLog: o.onLog } : {}),
      ...(o.onEpoch ? { onEpoch: (_i: number, epoch: RunEpoch) => o.onEpoch!(epoch) } : {}),
      ...(o.onTrainProgress
        ? {
            onTrainProgress: (_i: number, p: Parameters<NonNullable<ClusterTrainOptions['onTrainProgress']>>[0]) =>
              o.onTrainProgress!(p),
          }
        : {}),
    },
  );
  return { modelFile: path.join(job.out, ...run!.result.modelFile.split('/')), result: run!.result };
}
