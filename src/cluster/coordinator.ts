/**
 * The coordinator side of a cluster run (`attack|evaluate|curve|run --redis URL`): the run's first
 * n images split into shards (src/protocol/cluster.ts), each a BullMQ job carrying its images and
 * the model's hash; the shards' reports merged exactly as a local run merges its shards
 * (src/worker/pool.ts), so the report is the local one, timings aside.
 */
import * as crypto from 'node:crypto';
import { Queue, QueueEvents, type Job } from 'bullmq';
import { z } from 'zod';
import { loadData, loadJobModel, sliceSplit } from '../engine';
import { preprocessLayers } from '../engine/preprocess';
import {
  CLUSTER_PROTOCOL_VERSION,
  DEFAULT_SHARD_SIZE,
  SHARD_QUEUE,
  shardRanges,
  type ShardJob,
  type ShardSettings,
} from '../protocol/cluster';
import type { AttackJob } from '../protocol/jobs';
import type { FinishedStage } from '../protocol/messages/worker';
import type { Report } from '../protocol/report';
import { mergeShardReports, progressMerger, stageMerger } from '../worker/pool';
import { uploadModel } from './model-store';
import { awaitJobs, ClusterError, connectRedis, KEY_PREFIX, redisOptions } from './redis';

export interface ClusterRunOptions {
  redis: string;
  shardSize?: number;
  command: string;
  signal?: AbortSignal;
  onProgress?: (p: { label: string; done: number; total: number }) => void;
  onStage?: (stage: FinishedStage) => void;
  onLog?: (message: string) => void;
}

/** What a worker sends back for a shard (checked before it is merged). */
export const shardResultSchema = z.object({
  worker: z.string().min(1).max(200),
  report: z.looseObject({
    n: z.number().int(),
    attacks: z.array(z.looseObject({ robust_accuracy: z.number() })),
    clean_accuracy: z.number(),
    examples: z.array(z.looseObject({ index: z.number().int() })),
  }),
});
export interface ShardResult {
  worker: string;
  report: Report;
}

/** What a worker reports while it runs a shard (BullMQ job progress). */
export const shardProgressSchema = z.union([
  z.strictObject({ label: z.string(), done: z.number(), total: z.number() }),
  z.strictObject({ stage: z.looseObject({ kind: z.string(), label: z.string() }), ordinal: z.number().int() }),
]);

/** The key a run's cancel is written under; workers poll it and stop the run's shards. */
export const cancelKey = (runId: string) => `${KEY_PREFIX}:cancel:${runId}`;
export const shardJobId = (runId: string, index: number) => `${runId}-${index}`;

/** The run's shards, its images as a local run reads them, and the settings every shard job carries. */
async function prepare(job: AttackJob, shardSize: number) {
  const offset = job.offset ?? 0;
  const shards = shardRanges(offset, job.n, shardSize, job.seed);
  // The data as a local run reads it; converted to the model's input when the job asks to.
  let inputShape: readonly number[] | undefined;
  if (job.dataOptions?.resize || job.dataOptions?.channels !== undefined) {
    const { model } = await loadJobModel(job, job.model, job.bounds);
    inputShape = model.inputShape;
    model.dispose?.();
  }
  const data = await loadData(job.data, 'test', offset + job.n, {
    ...job.dataOptions,
    ...(inputShape ? { inputShape } : {}),
  });
  const test = sliceSplit(data.samples, offset, job.n);
  const perImage = data.shape[0] * data.shape[1] * data.shape[2];
  // The run's preprocessing sources, the sidecar's included, travel as the job's own layers.
  const layers = preprocessLayers(job, job.model);
  const {
    model: _model,
    data: _data,
    dataOptions: _dataOptions,
    surrogate: _surrogate,
    preprocessDefaults: _defaults,
    offset: _offset,
    n: _n,
    seed: _seed,
    probes: _probes,
    ...rest
  } = job;
  const settings = { ...rest, ...(layers.length ? { preprocess: layers } : {}) } as ShardSettings;
  return { offset, shards, data, test, perImage, settings };
}

export async function runAttackOnCluster(job: AttackJob, o: ClusterRunOptions): Promise<Report> {
  const started = performance.now();
  // Redis first: an unreachable server is the first thing to say.
  const redis = await connectRedis(o.redis);
  let prepared: Awaited<ReturnType<typeof prepare>>;
  try {
    prepared = await prepare(job, o.shardSize ?? DEFAULT_SHARD_SIZE);
  } catch (err) {
    redis.disconnect();
    throw err;
  }
  const { offset, shards, data, test, perImage, settings } = prepared;

  const connection = redisOptions(o.redis);
  const queue = new Queue(SHARD_QUEUE, { connection });
  const events = new QueueEvents(SHARD_QUEUE, { connection });
  const runId = crypto.randomBytes(8).toString('hex');
  const ids = shards.map((s) => shardJobId(runId, s.index));
  let finished = false;
  /**
   * Removes the run's jobs (idempotent by shard id); a running one once its worker lets go of it,
   * waiting up to `ms` (a cancelled shard stops at its worker's next step).
   */
  const removeJobs = async (ms: number) => {
    const deadline = Date.now() + ms;
    let left = ids;
    for (;;) {
      const kept = await Promise.all(
        left.map(async (id) => ((await queue.remove(id).catch(() => 0)) === 0 && (await queue.getJob(id)) ? id : '')),
      );
      left = kept.filter(Boolean);
      if (left.length === 0 || Date.now() > deadline) return;
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  try {
    await events.waitUntilReady();
    const model = await uploadModel(redis, job.model);
    const surrogate = job.surrogate ? await uploadModel(redis, job.surrogate) : undefined;
    o.onLog?.(
      `run ${runId}: ${shards.length} shard${shards.length === 1 ? '' : 's'} of ≤ ${o.shardSize ?? DEFAULT_SHARD_SIZE} images; ` +
        `model ${model.hash.slice(0, 12)} ${model.uploaded ? 'uploaded' : 'already in Redis'}`,
    );
    const onStage = stageMerger(shards.length, o.onStage);
    const onProgress = progressMerger(shards, o.onProgress);
    const stagesSeen = shards.map(() => 0);
    const indexOf = new Map(ids.map((id, i) => [id, i]));
    const onEvent = ({ jobId, data }: { jobId: string; data: unknown }) => {
      const i = indexOf.get(jobId);
      const parsed = shardProgressSchema.safeParse(data);
      if (i === undefined || !parsed.success) return;
      if ('stage' in parsed.data) {
        // A shard run again after its worker died sends its stages again: each counts once.
        if (parsed.data.ordinal !== stagesSeen[i]) return;
        stagesSeen[i]!++;
        onStage(i, parsed.data.stage as unknown as FinishedStage);
      } else onProgress(i, parsed.data);
    };
    events.on('progress', onEvent as never);

    const payloads: ShardJob[] = shards.map((s) => {
      const from = (s.offset - offset) * perImage;
      return {
        protocol: CLUSTER_PROTOCOL_VERSION,
        kind: 'attack-shard',
        runId,
        shard: s,
        model: { hash: model.hash, main: model.main },
        ...(surrogate ? { surrogate: { hash: surrogate.hash, main: surrogate.main } } : {}),
        settings,
        images: Buffer.from(test.images.subarray(from, from + s.n * perImage)).toString('base64'),
        labels: Buffer.from(test.labels.subarray(s.offset - offset, s.offset - offset + s.n)).toString('base64'),
        shape: data.shape,
        classNames: data.classNames,
      };
    });
    const added: Job[] = await queue.addBulk(
      payloads.map((data, i) => ({
        name: 'attack-shard',
        data,
        opts: {
          jobId: ids[i]!,
          // A deterministic failure is final; a worker that dies is BullMQ's stalled-job check's business.
          attempts: 1,
          removeOnComplete: { age: 24 * 3600 },
          removeOnFail: { age: 24 * 3600 },
        },
      })),
    );
    const results = await awaitJobs(
      added,
      events,
      o.signal,
      (i, message) => {
        const s = shards[i]!;
        return `shard ${s.index} (images ${s.offset}–${s.offset + s.n - 1}) failed: ${message}`;
      },
      (value, i) => {
        const parsed = shardResultSchema.safeParse(value);
        if (!parsed.success || parsed.data.report.n !== shards[i]!.n) {
          throw new ClusterError(`shard ${i}: the worker's result is not a report of ${shards[i]!.n} images`);
        }
        return parsed.data as unknown as ShardResult;
      },
    );
    finished = true;
    const merged = mergeShardReports(
      results.map((r) => r.report),
      job.examples,
      results.map((r) => r.worker),
    );
    o.onLog?.(`run ${runId}: shards ran on ${[...new Set(results.map((r) => r.worker))].join(', ')}`);
    return {
      ...merged,
      command: o.command,
      model: job.model,
      dataset: `${data.id} (${data.location})`,
      time_s: (performance.now() - started) / 1000,
    };
  } finally {
    // Failed or cancelled: waiting shards go at once, running ones stop at their next step (workers
    // poll the cancel key), and their jobs go once they have.
    if (!finished) await redis.set(cancelKey(runId), '1', 'EX', 3600).catch(() => {});
    await removeJobs(finished ? 0 : 5000);
    await Promise.allSettled([events.close(), queue.close()]);
    redis.disconnect();
  }
}
