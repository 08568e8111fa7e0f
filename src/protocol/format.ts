/**
 * How numbers, times and runs read to a person, written once for the Runs view, the lenses, the
 * CLI and the webviews, so that one run reads the same everywhere. Pure: no node:, no DOM, since
 * the webviews and the language server bundle it too.
 */
import { pctCi } from './stats';
import { NORM_LABELS, type NormId, type RunKind, type RunStatus } from './vocabulary';

/** 0.7125 → "71.3%". */
export function pct(fraction: number): string {
  return `${(fraction * 100).toFixed(1)}%`;
}

/**
 * An accuracy over n images with its 95% Wilson interval, "71.3% ± 2.8" (src/protocol/stats.ts);
 * just "71.3%" when n is unknown (runs recorded before issue 13).
 */
export function pctN(fraction: number, n: number | undefined): string {
  return n === undefined || n < 1 ? pct(fraction) : pctCi(fraction, n);
}

/** A wall time in seconds: 12.34 → "12.3 s" (digits 2: "12.34 s"; 0: "12 s"). */
export function duration(seconds: number, digits = 1): string {
  return `${seconds.toFixed(digits)} s`;
}

/** Time left: "45 s" up to 89 s, then whole minutes ("2 min"). */
export function eta(seconds: number): string {
  return seconds < 90 ? duration(Math.round(seconds), 0) : `${Math.round(seconds / 60)} min`;
}

/** An error message as one line of a tree or a lens shows it: its first 80 characters. */
export function clipError(message: string): string {
  return message.slice(0, 80);
}

const MINUTE = 60;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/**
 * "just now", "1 min ago", "5 h ago", "3 days ago" (hours up to 36, so never "1 days"). `then` is an ISO date or a
 * millisecond timestamp; an absent or unreadable date reads as "". A date in the future (clock
 * skew between machines) reads as "just now".
 */
export function relativeTime(then: string | number | undefined, now: number): string {
  const time = typeof then === 'string' ? Date.parse(then) : then;
  if (time === undefined || Number.isNaN(time)) return '';
  const seconds = Math.max(0, (now - time) / 1000);
  if (seconds < 45) return 'just now';
  if (seconds < 90 * MINUTE) return `${Math.max(1, Math.round(seconds / MINUTE))} min ago`;
  if (seconds < 36 * HOUR) return `${Math.round(seconds / HOUR)} h ago`;
  return `${Math.round(seconds / DAY)} days ago`;
}

/** What a finished evaluation says about its model (stored in the run's run.json). */
export interface RunSummary {
  robustAccuracy: number;
  cleanAccuracy: number;
  /** The strongest attack's label ("PGD-20") or the suite ("strong suite"). */
  attack: string;
  norm: NormId;
  eps: number;
  /** Images evaluated (absent in runs recorded before issue 13): the accuracies get their 95% interval. */
  n?: number;
}

/** A finished evaluation in one line: "robust 71.3% (PGD-20, ε=0.1) · clean 84.0%" (L2 runs say "L2 ε=…"). */
export function runTitle(summary: RunSummary): string {
  const norm = summary.norm === 'linf' ? '' : `${NORM_LABELS[summary.norm]} `;
  const robust = `robust ${pctN(summary.robustAccuracy, summary.n)} (${summary.attack}, ${norm}ε=${summary.eps})`;
  return `${robust} · clean ${pctN(summary.cleanAccuracy, summary.n)}`;
}

/** A training run's progress as the run store keeps it. */
export interface TrainingProgress {
  epoch: number;
  epochs: number;
  clean?: number;
  robust?: number;
  etaSeconds?: number;
}

/**
 * A training run in one line: "pgd-at · epoch 3/5 · ETA 2 min · clean 80.0% · robust 41.5%" (the ETA
 * only while it runs; "starting" before its first epoch ends).
 */
export function trainingRunTitle(run: { method: string; status: string; progress?: TrainingProgress }): string {
  const p = run.progress;
  const running = run.status === 'running';
  const parts = [run.method, p ? `epoch ${p.epoch}/${p.epochs}` : running ? 'starting' : ''];
  if (running && p?.etaSeconds !== undefined) parts.push(`ETA ${eta(p.etaSeconds)}`);
  if (p?.clean !== undefined) parts.push(`clean ${pct(p.clean)}`);
  if (p?.robust !== undefined) parts.push(`robust ${pct(p.robust)}`);
  return parts.filter(Boolean).join(' · ');
}

/**
 * A training run's default name: "smallcnn · PGD-AT ε=0.1 · 5 ep" (model folder, method label, ε
 * unless the method has no adversary, epochs). The method label is TRAIN_METHOD_INFO's.
 */
export function trainingRunName(run: { model: string; methodLabel: string; eps?: number; epochs: number }): string {
  const method = run.eps === undefined ? run.methodLabel : `${run.methodLabel} ε=${run.eps}`;
  return `${run.model} · ${method} · ${run.epochs} ep`;
}

/**
 * The one word a run's status reads as. The Stop action of a training run ends it "stopped"
 * (stored as "cancelled"); an evaluation's Cancel ends it "cancelled".
 */
export function statusWord(kind: RunKind, status: RunStatus): string {
  return kind === 'training' && status === 'cancelled' ? 'stopped' : status;
}

/** The codicon each status shows with (the Stop action and a stopped training run share one icon). */
export const STATUS_ICONS: Readonly<Record<RunStatus, string>> = {
  running: 'sync~spin',
  done: 'pass',
  failed: 'error',
  cancelled: 'debug-stop',
};

/** A run's status icon: a stopped training run shows the Stop action's square, a cancelled evaluation a slashed circle. */
export function statusIcon(kind: RunKind, status: RunStatus): string {
  return kind === 'evaluation' && status === 'cancelled' ? 'circle-slash' : STATUS_ICONS[status];
}

/** A run panel's title: "Attack: smallcnn · L∞ ε=0.1" (the model by its folder or its training run's name). */
export function runPanelTitle(prefix: string, model: string, norm: NormId, eps: number): string {
  return `${prefix}: ${model} · ${NORM_LABELS[norm]} ε=${eps}`;
}
