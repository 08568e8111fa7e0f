/**
 * Splits one attack evaluation across worker threads, each with its own wasm instance (tfjs-wasm
 * is single-threaded under Node), and merges the slices' reports. The split is embarrassingly
 * parallel: consecutive slices of the test images, no gradient exchange.
 */
import { mergeReports } from '../engine/report/merge';
import type { AttackJob } from '../protocol/jobs';
import type { FinishedStage, LogLevel, ProgressParams, StageParams } from '../protocol/messages/worker';
import type { BackendPreference } from '../protocol/vocabulary';
import type { Report } from '../protocol/report';
import { EngineClient } from './client';

export interface ParallelOptions {
  script: string;
  workers: number;
  backend: BackendPreference;
  runId: string;
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

export async function runAttackParallel(job: AttackJob, options: ParallelOptions): Promise<Report> {
  const parts = slices(job.offset ?? 0, job.n, options.workers);
  const latest: Array<ProgressParams | undefined> = parts.map(() => undefined);
  const clients = parts.map(
    () =>
      new EngineClient({
        script: options.script,
        ...(options.onLog ? { onLog: options.onLog } : {}),
      }),
  );
  const cancel = () =>
    clients.forEach((c, i) => {
      if (c.alive) void c.cancel(`${options.runId}-${i}`).catch(() => {});
    });
  options.signal?.addEventListener('abort', cancel, { once: true });
  // Stage k is sent once every slice has sent it; slices finish stages in the same order.
  const stagesBySlice: FinishedStage[][] = parts.map(() => []);
  let stagesSent = 0;
  const onStage = (i: number, { runId: _r, ...stage }: StageParams) => {
    stagesBySlice[i]!.push(stage);
    while (stagesBySlice.every((list) => list.length > stagesSent)) {
      options.onStage?.(mergeStages(stagesBySlice.map((list) => list[stagesSent]!)));
      stagesSent++;
    }
  };
  try {
    const reports = await Promise.all(
      parts.map((slice, i) =>
        clients[i]!.runAttack(
          `${options.runId}-${i}`,
          { ...job, ...slice },
          options.backend,
          (p) => {
            latest[i] = p;
            const label = latest[0]?.label ?? p.label;
            const same = latest.filter((q): q is ProgressParams => q?.label === label);
            options.onProgress?.({
              label,
              done: same.reduce((s, q) => s + q.done, 0),
              total: same.reduce((s, q) => s + q.total, 0),
            });
          },
          { onStage: (stage) => onStage(i, stage) },
        ),
      ),
    );
    return mergeReports(reports, job.examples);
  } finally {
    options.signal?.removeEventListener('abort', cancel);
    await Promise.all(clients.map((c) => c.dispose()));
  }
}
