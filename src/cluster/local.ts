/**
 * A local run in this process, shard by shard: the same shards, seeds and merge as worker threads
 * (src/worker/pool.ts) and the cluster (./coordinator.ts), so all three give the same report.
 */
import { runAttackJob, type JobHooks } from '../engine';
import { DEFAULT_SHARD_SIZE, shardFields, shardRanges } from '../protocol/cluster';
import type { AttackJob } from '../protocol/jobs';
import type { Report } from '../protocol/report';
import { mergeShardReports, progressMerger, stageMerger } from '../worker/pool';

export async function runAttackShardsInProcess(
  job: AttackJob,
  command: string,
  hooks: JobHooks,
  shardSize = DEFAULT_SHARD_SIZE,
): Promise<Report> {
  const started = performance.now();
  const shards = shardRanges(job.offset ?? 0, job.n, shardSize, job.seed);
  if (shards.length === 1) return runAttackJob({ ...job, seed: shards[0]!.seed }, command, hooks);
  const onStage = stageMerger(shards.length, hooks.onStage);
  const onProgress = progressMerger(shards, hooks.onProgress);
  const reports: Report[] = [];
  for (const shard of shards) {
    reports.push(
      await runAttackJob({ ...job, ...shardFields(shard) }, command, {
        ...hooks,
        onProgress: (p) => onProgress(shard.index, p),
        onStage: (stage) => onStage(shard.index, stage),
        // A cancel ends the run; a partial shard would not merge with the others.
        keepPartial: false,
      }),
    );
  }
  const merged = mergeShardReports(
    reports,
    job.examples,
    shards.map(() => 'in-process'),
  );
  return { ...merged, time_s: (performance.now() - started) / 1000 };
}
