/**
 * How numbers, times and runs read to a person, written once for the Runs view, the lenses, the
 * CLI and the webviews, so that one run reads the same everywhere. Pure: no node:, no DOM, since
 * the webviews and the language server bundle it too.
 */

/** 0.7125 → "71.3%". */
export function pct(fraction: number): string {
  return `${(fraction * 100).toFixed(1)}%`;
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

/** What a finished evaluation says about its model (the run store's RunSummary). */
export interface RunTitleSummary {
  robustAccuracy: number;
  cleanAccuracy: number;
  /** The strongest attack's label ("PGD-20") or the suite ("strong suite"). */
  attack: string;
  norm: string;
  eps: number;
}

/** A finished evaluation in one line: "robust 71.3% (PGD-20, ε=0.1) · clean 84.0%" (L2 runs say "L2 ε=…"). */
export function runTitle(summary: RunTitleSummary): string {
  const norm = summary.norm === 'l2' ? 'L2 ' : '';
  const robust = `robust ${pct(summary.robustAccuracy)} (${summary.attack}, ${norm}ε=${summary.eps})`;
  return `${robust} · clean ${pct(summary.cleanAccuracy)}`;
}
