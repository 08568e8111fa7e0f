/**
 * Merges the reports of disjoint, consecutive slices of one evaluation (one per worker) into
 * the report of the whole. Accuracies are per-sample worst cases inside each slice, so the
 * sample-weighted mean is exact; passes add up; times are wall times, so the slowest slice counts.
 */
import type { Report, ReportGeometry } from '../../protocol/report';
import { blackBoxFinding, blackBoxThreshold, suiteDiagnostics } from '../eval/diagnostics';
import { distribution } from '../eval/geometry';
import { attackDiagnostics, mergeDiagnostics, nearChanceDiagnostics } from './build';
import { accuracyCi95 } from '../../protocol/stats';

function weighted(parts: Report[], pick: (r: Report) => number): number {
  const total = parts.reduce((s, r) => s + r.n, 0);
  return total === 0 ? 0 : parts.reduce((s, r) => s + pick(r) * r.n, 0) / total;
}

/** Each slice probed its own first points: pool the per-sample values and recompute. */
function mergeGeometry(parts: Report[]): ReportGeometry {
  const first = parts[0]!.geometry!;
  const pool = (pick: (g: ReportGeometry) => number[] | undefined) =>
    parts.flatMap((r) => (r.geometry && pick(r.geometry)) ?? []);
  const rep = first.representation;
  return {
    ...first,
    n: parts.reduce((s, r) => s + (r.geometry?.n ?? 0), 0),
    linearity: distribution(pool((g) => g.linearity.values)),
    ...(rep ? { representation: { layer: rep.layer, ...distribution(pool((g) => g.representation?.values)) } } : {}),
  };
}

export function mergeReports(parts: Report[], examples: number): Report {
  const first = parts[0];
  if (!first) throw new Error('mergeReports needs at least one report');
  if (parts.length === 1) return first;
  const total = (k: number, pick: (a: Report['attacks'][number]) => number | undefined) =>
    parts.reduce((s, r) => s + (pick(r.attacks[k]!) ?? 0), 0);
  const n = parts.reduce((s, r) => s + r.n, 0);
  const attacks = first.attacks.map((a, k) => ({
    ...a,
    robust_accuracy: weighted(parts, (r) => r.attacks[k]!.robust_accuracy),
    ci95: accuracyCi95(
      weighted(parts, (r) => r.attacks[k]!.robust_accuracy),
      n,
    ),
    time_s: parts.reduce((max, r) => Math.max(max, r.attacks[k]!.time_s), 0),
    forward_passes: total(k, (s) => s.forward_passes),
    backward_passes: total(k, (s) => s.backward_passes),
    // A transfer attack's surrogate passes are counted apart from the target's, in every slice.
    // (A slice whose points were all fooled before the transfer stage has none to add.)
    ...(parts.every((r) => r.attacks[k]!.surrogate_forward_passes === undefined)
      ? {}
      : {
          surrogate_forward_passes: total(k, (s) => s.surrogate_forward_passes),
          surrogate_backward_passes: total(k, (s) => s.surrogate_backward_passes),
        }),
  }));
  const curves = first.curves.map((c, k) => ({
    attack: c.attack,
    points: c.points.map((p, i) => ({
      eps: p.eps,
      accuracy: weighted(parts, (r) => r.curves[k]!.points[i]!.accuracy),
    })),
  }));
  const merged: Report = {
    ...first,
    n,
    workers: parts.length,
    clean_accuracy: weighted(parts, (r) => r.clean_accuracy),
    clean_ci95: accuracyCi95(
      weighted(parts, (r) => r.clean_accuracy),
      n,
    ),
    attacks,
    robust_accuracy: weighted(parts, (r) => r.robust_accuracy),
    // Slices are consecutive runs of the images, in order: their per-image strings join end to end.
    ...(parts.every((r) => r.robust_per_image !== undefined)
      ? { robust_per_image: parts.map((r) => r.robust_per_image).join('') }
      : { robust_per_image: undefined }),
    robust_ci95: accuracyCi95(
      weighted(parts, (r) => r.robust_accuracy),
      n,
    ),
    curve: curves[0]?.points ?? [],
    curves,
    examples: parts
      .flatMap((r) => r.examples)
      .sort((a, b) => a.index - b.index)
      .slice(0, examples),
    time_s: parts.reduce((max, r) => Math.max(max, r.time_s), 0),
    diagnostics: [],
    ...(first.geometry ? { geometry: mergeGeometry(parts) } : {}),
    ...(first.checks
      ? {
          checks: {
            max_distance_over_eps: parts.reduce((max, r) => Math.max(max, r.checks?.max_distance_over_eps ?? 0), 0),
            in_bounds: parts.every((r) => r.checks?.in_bounds !== false),
            finite: parts.every((r) => r.checks?.finite !== false),
          },
        }
      : {}),
  };
  // Accuracy comparisons are recomputed on the whole, counted findings add up over the slices,
  // and any probe finding of any slice is kept (each slice probed its own points).
  const recomputedIds = new Set([
    'single-step-beats-iterative',
    'loss-dependent-result',
    'black-box-beats-white-box',
    'near-chance',
  ]);
  const all = parts.flatMap((r) => r.diagnostics);
  const kept = all.filter((d) => !recomputedIds.has(d.id));
  // Each shard reports its black-box gain whatever its size: the threshold applies to the run's total.
  const counted = [
    ...new Set(all.filter((d) => d.id === 'black-box-beats-white-box' && d.attack).map((d) => d.attack!)),
  ]
    .map((attack) => ({
      attack,
      count: all.filter((d) => d.attack === attack).reduce((s, d) => s + (d.count ?? 0), 0),
    }))
    .filter(({ count }) => count > blackBoxThreshold(merged.n))
    .map(({ attack, count }) => blackBoxFinding(attack, count, merged.n));
  merged.diagnostics = mergeDiagnostics([
    ...nearChanceDiagnostics(merged),
    ...kept,
    ...counted,
    ...suiteDiagnostics(merged),
    ...(first.cascade ? [] : attackDiagnostics(merged)),
  ]);
  return merged;
}
