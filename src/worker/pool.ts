/**
 * Splits one attack evaluation across worker threads, each with its own wasm instance (tfjs-wasm
 * is single-threaded under Node), and merges the slices' reports. The split is embarrassingly
 * parallel: consecutive slices of the test images, no gradient exchange.
 */
import { mergeReports } from '../engine/report/merge';
import type { AttackJob } from '../protocol/jobs';
import type { LogLevel, ProgressParams } from '../protocol/messages/worker';
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
  try {
    const reports = await Promise.all(
      parts.map((slice, i) =>
        clients[i]!.runAttack(`${options.runId}-${i}`, { ...job, ...slice }, options.backend, (p) => {
          latest[i] = p;
          const label = latest[0]?.label ?? p.label;
          const same = latest.filter((q): q is ProgressParams => q?.label === label);
          options.onProgress?.({
            label,
            done: same.reduce((s, q) => s + q.done, 0),
            total: same.reduce((s, q) => s + q.total, 0),
          });
        }),
      ),
    );
    return mergeReports(reports, job.examples);
  } finally {
    options.signal?.removeEventListener('abort', cancel);
    await Promise.all(clients.map((c) => c.dispose()));
  }
}
