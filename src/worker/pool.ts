/**
 * Splits one attack evaluation across worker threads, each with its own wasm instance (tfjs-wasm
 * is single-threaded under Node), and merges the shards' reports. The split is embarrassingly
 * parallel: consecutive shards of the test images (src/protocol/cluster.ts), no gradient exchange.
 */
import { mergeReports } from '../engine/report/merge';
import { DEFAULT_SHARD_SIZE, FIRST_SHARD_STAGES, shardFields, shardRanges, type Shard } from '../protocol/cluster';
import type { AttackJob } from '../protocol/jobs';
import type { FinishedStage, LogLevel } from '../protocol/messages/worker';
import type { BackendPreference } from '../protocol/vocabulary';
import type { Report } from '../protocol/report';
import { EngineClient } from './client';

export interface ParallelOptions {
  script: string;
  workers: number;
  backend: BackendPreference;
  runId: string;
  /** Images per shard (default DEFAULT_SHARD_SIZE, src/protocol/cluster.ts). */
  shardSize?: number;
  signal?: AbortSignal;
  onProgress?: (p: { label: string; done: number; total: number }) => void;
  /** Each stage once every slice has finished it, merged over the slices. */
  onStage?: (stage: FinishedStage) => void;
  onLog?: (level: LogLevel, message: string) => void;
}

/** Consecutive slices [offset, offset + n) covering [start, start + n) as evenly as possible. */
export function slices(start: number, n: number, parts: number): Array<{ offset: number; n: number }> {
  const count = Math.max(1, Math.min(parts, n));
  return Array.from({ length: count }, (_, i) => {
    const from = start + Math.floor((i * n) / count);
    const to = start + Math.floor(((i + 1) * n) / count);
    return { offset: from, n: to - from };
  });
}

/**
 * One stage over all slices: counts add up, the accuracy is over all points, the time is the
 * slowest slice's; the probes' findings are the first slice's (each slice probes its own points).
 */
export function mergeStages(parts: FinishedStage[]): FinishedStage {
  const first = parts[0];
  if (!first) throw new Error('mergeStages needs at least one stage');
  const sum = (pick: (s: FinishedStage) => number | undefined) =>
    parts.some((s) => pick(s) !== undefined) ? parts.reduce((t, s) => t + (pick(s) ?? 0), 0) : undefined;
  const n = parts.reduce((t, s) => t + s.n, 0);
  const robust = sum((s) => s.robust);
  const merged: FinishedStage = {
    ...first,
    n,
    seconds: Math.max(...parts.map((s) => s.seconds)),
    ...(robust !== undefined ? { robust, accuracy: n === 0 ? 0 : robust / n } : {}),
  };
  for (const key of ['attacked', 'forwardPasses', 'backwardPasses'] as const) {
    const total = sum((s) => s[key]);
    if (total !== undefined) merged[key] = total;
  }
  if (first.skipped !== undefined || parts.some((s) => s.skipped)) {
    if (parts.every((s) => s.skipped)) merged.skipped = true;
    else delete merged.skipped;
  }
  return merged;
}

/**
 * The report of a run from its shards' reports (in shard order), merged by mergeReports; `group[i]`
 * names the engine thread or worker that ran shard i: the run's workers are the distinct groups,
 * an attack's time is the longest any one of them spent on it (its shards in turn), and so is the run's.
 */
export function mergeShardReports(reports: Report[], examples: number, group: string[]): Report {
  const merged = mergeReports(reports, examples);
  const names = [...new Set(group)];
  const longest = (pick: (r: Report) => number) =>
    Math.max(...names.map((g) => reports.reduce((s, r, i) => (group[i] === g ? s + pick(r) : s), 0)));
  return {
    ...merged,
    workers: names.length,
    time_s: longest((r) => r.time_s),
    attacks: merged.attacks.map((a, k) => ({ ...a, time_s: longest((r) => r.attacks[k]!.time_s) })),
  };
}

/**
 * One stage over all shards, as they finish it, in the first shard's order: a stage the first
 * shard alone runs (the probes, FIRST_SHARD_STAGES) is its own; any other is sent once every
 * shard has finished it (shards finish their stages in the same order).
 */
export function stageMerger(shards: number, onStage?: (stage: FinishedStage) => void) {
  const stagesByShard: FinishedStage[][] = Array.from({ length: shards }, () => []);
  /** Stages sent, of the first shard's list; of the others', their stages merged so far. */
  let sent = 0;
  const used = Array.from({ length: shards }, () => 0);
  return (i: number, stage: FinishedStage) => {
    stagesByShard[i]!.push(stage);
    for (;;) {
      const head = stagesByShard[0]![sent];
      if (!head) return;
      if (FIRST_SHARD_STAGES.includes(head.kind)) {
        onStage?.(mergeStages([head]));
      } else {
        if (!stagesByShard.every((list, k) => k === 0 || list.length > used[k]!)) return;
        onStage?.(mergeStages([head, ...stagesByShard.slice(1).map((list, k) => list[used[k + 1]!++]!)]));
      }
      sent++;
    }
  };
}

/**
 * Progress over shards: the sum over the shards now at the same label, plus the images of the
 * shards not started yet (still to do); a shard at another stage is left out until it gets there.
 */
export function progressMerger(
  shards: Shard[],
  onProgress?: (p: { label: string; done: number; total: number }) => void,
) {
  const latest: Array<{ label: string; done: number; total: number } | undefined> = shards.map(() => undefined);
  return (i: number, p: { label: string; done: number; total: number }) => {
    latest[i] = p;
    let done = 0;
    let total = 0;
    shards.forEach((s, k) => {
      const q = latest[k];
      if (q?.label === p.label) {
        done += q.done;
        total += q.total;
      } else if (!q) total += s.n;
    });
    onProgress?.({ label: p.label, done, total });
  };
}

/**
 * Runs an attack job as its shards (src/protocol/cluster.ts: `shardSize` images each, each with the
 * seed derived from the run's seed and its first image), on up to `workers` threads that take the
 * next shard as they finish one. The report is the merge of the shards in order, so it does not
 * depend on the number of threads, and equals a cluster run's (src/cluster).
 */
export async function runAttackParallel(job: AttackJob, options: ParallelOptions): Promise<Report> {
  const started = performance.now();
  const shards = shardRanges(job.offset ?? 0, job.n, options.shardSize ?? DEFAULT_SHARD_SIZE, job.seed);
  const count = Math.max(1, Math.min(options.workers, shards.length));
  const clients = Array.from(
    { length: count },
    () =>
      new EngineClient({
        script: options.script,
        ...(options.onLog ? { onLog: options.onLog } : {}),
      }),
  );
  const current: Array<string | undefined> = clients.map(() => undefined);
  const cancel = () =>
    clients.forEach((c, i) => {
      if (c.alive && current[i]) void c.cancel(current[i]!).catch(() => {});
    });
  options.signal?.addEventListener('abort', cancel, { once: true });
  const onStage = stageMerger(shards.length, options.onStage);
  const onProgress = progressMerger(shards, options.onProgress);
  const reports: Report[] = [];
  const ranOn: string[] = [];
  let next = 0;
  const drain = async (c: number): Promise<void> => {
    while (next < shards.length) {
      if (options.signal?.aborted) throw Object.assign(new Error('cancelled'), { name: 'AbortError' });
      const shard = shards[next++]!;
      const runId = `${options.runId}-${shard.index}`;
      current[c] = runId;
      reports[shard.index] = await clients[c]!.runAttack(
        runId,
        { ...job, ...shardFields(shard) },
        options.backend,
        (p) => onProgress(shard.index, p),
        { onStage: ({ runId: _r, ...stage }) => onStage(shard.index, stage) },
      );
      ranOn[shard.index] = `thread ${c}`;
      current[c] = undefined;
    }
  };
  try {
    await Promise.all(clients.map((_, c) => drain(c)));
    const merged = mergeShardReports(reports, job.examples, ranOn);
    return shards.length > 1 ? { ...merged, time_s: (performance.now() - started) / 1000 } : merged;
  } finally {
    options.signal?.removeEventListener('abort', cancel);
    await Promise.all(clients.map((c) => c.dispose()));
  }
}
