/**
 * Numbers with their uncertainty (issue 13): the Wilson score interval of an accuracy measured on n
 * images, and McNemar's exact test for two models (or attacks) scored on the same images. Written
 * once for the CLI, report.json and the views. Pure: no node:, no DOM.
 */

/** The normal quantile of a two-sided 95% interval. */
export const Z95 = 1.959964;

/**
 * The Wilson score interval of k successes out of n (95% unless z says otherwise), as fractions
 * [lo, hi] within [0, 1]. Unlike the normal ("Wald") interval it stays inside [0, 1] and does not
 * collapse to a point at k = 0 or k = n. n = 0 gives [0, 1] (nothing measured).
 */
export function wilson(k: number, n: number, z = Z95): [number, number] {
  if (!Number.isInteger(k) || !Number.isInteger(n) || n < 0 || k < 0 || k > n) {
    throw new RangeError(`wilson: need whole numbers 0 ≤ k ≤ n, got k = ${k}, n = ${n}`);
  }
  if (n === 0) return [0, 1];
  const p = k / n;
  const z2 = z * z;
  const denominator = 1 + z2 / n;
  const center = (p + z2 / (2 * n)) / denominator;
  const half = (z / denominator) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return [k === 0 ? 0 : Math.max(0, center - half), k === n ? 1 : Math.min(1, center + half)];
}

/** The 95% Wilson interval of an accuracy over n images (k = the accuracy × n, rounded). */
export function accuracyCi95(accuracy: number, n: number): [number, number] {
  return wilson(Math.min(n, Math.max(0, Math.round(accuracy * n))), n);
}

/**
 * McNemar's exact test for paired outcomes on the same images: b = images only A got right,
 * c = images only B got right (images both or neither got right say nothing about the
 * difference). Under "A and B are equally accurate" b ~ Binomial(b + c, 1/2); the two-sided p is
 * twice the smaller tail, capped at 1. b = c = 0 gives p = 1.
 */
export function mcnemarExact(b: number, c: number): number {
  if (!Number.isInteger(b) || !Number.isInteger(c) || b < 0 || c < 0) {
    throw new RangeError(`mcnemar: need whole counts b, c ≥ 0, got b = ${b}, c = ${c}`);
  }
  const m = b + c;
  if (m === 0) return 1;
  const low = Math.min(b, c);
  // Sum the tail in log space: 0.5^m underflows past m ≈ 1074.
  const logHalf = m * Math.log(0.5);
  let tail = 0;
  let logC = 0;
  for (let i = 0; i <= low; i++) {
    if (i > 0) logC += Math.log(m - i + 1) - Math.log(i);
    tail += Math.exp(logC + logHalf);
  }
  return Math.min(1, 2 * tail);
}

/** A point count to one decimal, rounded up (the ± of an interval is never understated). */
function upTo1(points: number): string {
  return (Math.ceil(points * 10 - 1e-9) / 10).toFixed(1);
}

/**
 * An accuracy with its 95% Wilson interval: "76.2% ± 2.6". The Wilson interval is asymmetric
 * about the accuracy; ± is its larger side (in percentage points) rounded up to 0.1, so the
 * printed range always covers the interval. At k = 0 or k = n, where one side is zero, the
 * interval itself is shown: "100.0% [99.6, 100.0]".
 */
export function pctCi(accuracy: number, n: number): string {
  const [lo, hi] = accuracyCi95(accuracy, n);
  const head = `${(accuracy * 100).toFixed(1)}%`;
  if (lo === 0 || hi === 1) return `${head} [${(lo * 100).toFixed(1)}, ${(hi * 100).toFixed(1)}]`;
  return `${head} ± ${upTo1(Math.max(accuracy - lo, hi - accuracy) * 100)}`;
}

/** Just the "± 2.6" (or "[99.6, 100.0]" at the edges) of pctCi, for a table column. */
export function ciText(accuracy: number, n: number): string {
  return pctCi(accuracy, n).replace(/^\S+ /, '');
}

/** 1000 → "1,000" (the comparison line's n). */
function thousands(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** The paired comparison of A and B on the same n images. */
export interface PairedComparison {
  /** Accuracy of A minus accuracy of B, as a fraction. */
  difference: number;
  /** Images only A got right, only B got right. */
  b: number;
  c: number;
  p: number;
  n: number;
}

/** Compares per-image correctness (same images, same order) of A and B with McNemar's exact test. */
export function comparePaired(a: readonly boolean[], bCorrect: readonly boolean[]): PairedComparison {
  if (a.length !== bCorrect.length) {
    throw new RangeError(
      `compare: the two runs scored different numbers of images (${a.length} and ${bCorrect.length})`,
    );
  }
  let b = 0;
  let c = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] && !bCorrect[i]) b++;
    else if (!a[i] && bCorrect[i]) c++;
  }
  const n = a.length;
  return { difference: n === 0 ? 0 : (b - c) / n, b, c, p: mcnemarExact(b, c), n };
}

/**
 * "TRADES − PGD-AT: −1.2 points, p = 0.21, not significant at n = 1,000" (significant: p < 0.05).
 * p reads to two significant digits; below 0.001 it reads "p < 0.001".
 */
export function comparisonText(nameA: string, nameB: string, r: Pick<PairedComparison, 'difference' | 'p' | 'n'>) {
  const points = r.difference * 100;
  const sign = points > 0.05 ? '+' : points < -0.05 ? '−' : '';
  const p = r.p < 0.001 ? 'p < 0.001' : `p = ${Number(r.p.toPrecision(2))}`;
  const verdict = r.p < 0.05 ? 'significant' : 'not significant';
  return `${nameA} − ${nameB}: ${sign}${Math.abs(points).toFixed(1)} points, ${p}, ${verdict} at n = ${thousands(r.n)}`;
}
