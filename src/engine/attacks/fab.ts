/**
 * FAB, the fast adaptive boundary attack (Croce & Hein 2020, "Minimally distorted adversarial
 * examples with a fast adaptive boundary attack", ICML), for L∞ and L2, and its targeted form FAB-T.
 *
 * FAB minimises the norm of the perturbation. At the iterate x_i it linearises the decision
 * boundary between the true class y and a class s: h(z) = f_s(x_i) − f_y(x_i) + ⟨∇f_s − ∇f_y, z − x_i⟩
 * (untargeted: s is the class whose linearised boundary is nearest, |f_s − f_y|/‖∇f_s − ∇f_y‖_q;
 * targeted: s is the target). It projects both x_i and the original x onto {h = 0} ∩ box (minimal
 * ‖·‖_p; exact, by sorting the coordinates' saturation points), giving δ_i and δ_0, and moves to
 *   α = min(‖δ_i‖/(‖δ_i‖ + ‖δ_0‖), α_max),  x_{i+1} = clip((1 − α)(x_i + η·δ_i) + α(x + η·δ_0))
 * (η = 1.05 extrapolates past the boundary, α_max = 0.1 biases toward x). An iterate that is
 * adversarial is kept when it is the nearest so far, and pulled back: x_{i+1} = x + β(x_{i+1} − x),
 * β = 0.9. Restarts after the first start at a random point of norm ε/2 around x. A final search
 * bisects the segment from x to the nearest adversarial point (forward passes only).
 *
 * In this threat model a sample succeeds when its nearest adversarial point lies within ε; the
 * runner (runner.ts) projects the returned point onto the ball and re-scores it.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../rng';
import type { Classifier } from '../models/classifier';
import type { ThreatModel } from '../threat';
import type { RunResult } from './common';
import { defineAttack, type AttackContext } from './runner';

export const FAB_ALPHA_MAX = 0.1;
export const FAB_ETA = 1.05;
export const FAB_BETA = 0.9;
/** Bisection steps of the final search (forward passes). */
export const FAB_FINAL_SEARCH = 10;

/** How a run picks its hyperplane and what counts as adversarial. */
interface Goal {
  /** Per-sample class s of the linearised boundary; undefined: the nearest one (untargeted). */
  towards: Int32Array | undefined;
  /** Success means "classified as towards" (given target labels) rather than "not y". */
  reachTarget: boolean;
}

/**
 * The δ of least ‖δ‖_p (p = ∞ or 2) with ⟨w, δ⟩ = r and lo ≤ p + δ ≤ hi, written into `out`.
 * With r ≥ 0 each coordinate moves by sign(w_j)·min(s·c_j, cap_j) (c_j = 1 for L∞, |w_j| for L2;
 * cap_j the room to the box in that direction); ⟨w, δ⟩ is piecewise linear and increasing in s,
 * so sorting the saturation points s_j = cap_j / c_j gives the exact s. When the box does not let
 * the hyperplane be reached, every coordinate saturates (the box's point of largest ⟨w, δ⟩).
 */
export function projectOnHyperplaneBox(
  norm: 'linf' | 'l2',
  point: Float32Array,
  w: Float32Array,
  r: number,
  lo: number,
  hi: number,
  out: Float64Array,
): void {
  const d = point.length;
  const flip = r < 0 ? -1 : 1;
  const target = Math.abs(r);
  out.fill(0);
  if (target === 0) return;
  const breaks: number[] = [];
  const slope = new Float64Array(d);
  const level = new Float64Array(d);
  let total = 0;
  for (let j = 0; j < d; j++) {
    const wj = w[j]! * flip;
    if (wj === 0) continue;
    const a = Math.abs(wj);
    const c = norm === 'linf' ? 1 : a;
    const cap = Math.max(0, wj > 0 ? hi - point[j]! : point[j]! - lo);
    slope[j] = a * c;
    level[j] = a * cap;
    total += a * c;
    breaks.push(j);
  }
  // s_j = cap_j / c_j, where coordinate j saturates.
  const keys = breaks.map((j) => level[j]! / slope[j]!);
  const order = breaks.map((_, i) => i).sort((p, q) => keys[p]! - keys[q]!);
  let a = total;
  let b = 0;
  let s = Infinity;
  for (const i of order) {
    const sj = keys[i]!;
    if (sj * a + b >= target) {
      s = (target - b) / a;
      break;
    }
    a -= slope[breaks[i]!]!;
    b += level[breaks[i]!]!;
  }
  for (const j of breaks) {
    const wj = w[j]! * flip;
    const aj = Math.abs(wj);
    out[j] = Math.sign(wj) * Math.min((s * slope[j]!) / aj, level[j]! / aj);
  }
}

function normOf(norm: 'linf' | 'l2', v: ArrayLike<number>): number {
  let acc = 0;
  for (let j = 0; j < v.length; j++) {
    const e = v[j]!;
    acc = norm === 'linf' ? Math.max(acc, Math.abs(e)) : acc + e * e;
  }
  return norm === 'linf' ? acc : Math.sqrt(acc);
}

/** Per sample: whether each point of `points` is adversarial under the goal (one forward pass). */
function adversarial(model: Classifier, points: Float32Array, shape: number[], y: Int32Array, goal: Goal): Uint8Array {
  const predicted = tf.tidy(() =>
    tf.argMax(model.predictLogits(tf.tensor4d(points, shape as [number, number, number, number])), 1).dataSync(),
  );
  return Uint8Array.from(y, (label, i) =>
    (goal.reachTarget ? predicted[i] === goal.towards![i] : predicted[i] !== label) ? 1 : 0,
  );
}

/** Per sample, the class other than its target with the highest logit at `points` (one forward pass). */
function rivals(model: Classifier, points: Float32Array, shape: number[], towards: Int32Array): Int32Array {
  const K = model.numClasses;
  const z = tf.tidy(
    () =>
      model.predictLogits(tf.tensor4d(points, shape as [number, number, number, number])).dataSync() as Float32Array,
  );
  return Int32Array.from(towards, (t, i) => {
    let top = t === 0 ? 1 : 0;
    for (let k = 0; k < K; k++) if (k !== t && z[i * K + k]! > z[i * K + top]!) top = k;
    return top;
  });
}

/**
 * f_s − f_y and ∇(f_s − f_y) at `points`, for every class s (rows [s·n + i]) or, with `towards`,
 * for each sample's own s (rows [i]): one forward and one backward pass of the rows asked for.
 */
function boundaryGradients(
  model: Classifier,
  points: Float32Array,
  shape: [number, number, number, number],
  y: Int32Array,
  towards: Int32Array | undefined,
): { diff: Float32Array; grad: Float32Array } {
  const n = shape[0];
  const K = model.numClasses;
  const blocks = towards ? 1 : K;
  const mask = new Float32Array(blocks * n * K);
  for (let k = 0; k < blocks; k++) {
    for (let i = 0; i < n; i++) {
      const s = towards ? towards[i]! : k;
      if (s === y[i]) continue;
      mask[(k * n + i) * K + s] = 1;
      mask[(k * n + i) * K + y[i]!] = -1;
    }
  }
  return tf.tidy(() => {
    const x = tf.tensor4d(points, shape);
    const tiled = blocks === 1 ? x : (tf.tile(x, [blocks, 1, 1, 1]) as tf.Tensor4D);
    const m = tf.tensor2d(mask, [blocks * n, K]);
    let diff: tf.Tensor | undefined;
    const { value, grad } = tf.valueAndGrad((input: tf.Tensor) => {
      const z = model.predictLogits(input as tf.Tensor4D);
      diff = tf.keep(tf.sum(tf.mul(z, m), 1));
      return tf.sum(diff) as tf.Scalar;
    })(tiled);
    value.dispose();
    const values = diff!.dataSync() as Float32Array;
    diff!.dispose();
    return { diff: values, grad: grad.dataSync() as Float32Array };
  });
}

type RunServices = Pick<AttackContext<'fab'>, 'model' | 'steps'>;

/** One FAB run from x (round 0) or a random start: the nearest adversarial point found, per sample. */
async function runOnce(
  services: RunServices,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  threat: ThreatModel,
  goal: Goal,
  steps: number,
  randomStart: boolean,
  rng: Rng,
): Promise<RunResult> {
  const { model } = services;
  const norm = threat.norm;
  const [lo, hi] = threat.bounds;
  const shape = x.shape;
  const n = shape[0];
  const d = n === 0 ? 0 : x.size / n;
  const K = model.numClasses;
  const x0 = x.dataSync() as Float32Array;
  const labels = Int32Array.from(y.dataSync());
  const eps = (i: number) => (typeof threat.eps === 'number' ? threat.eps : threat.eps[i]!);
  const current = Float32Array.from(x0);
  if (randomStart) {
    for (let i = 0; i < n; i++) {
      const t = new Float64Array(d);
      for (let j = 0; j < d; j++) {
        if (norm === 'linf') t[j] = 2 * rng.next() - 1;
        else t[j] = Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
      }
      const scale = (0.5 * eps(i)) / Math.max(normOf(norm, t), 1e-12);
      for (let j = 0; j < d; j++) current[i * d + j] = Math.min(hi, Math.max(lo, x0[i * d + j]! + scale * t[j]!));
    }
  }
  const best = Float32Array.from(x0);
  const bestNorm = new Float64Array(n).fill(Infinity);
  const d1 = new Float64Array(d);
  const d2 = new Float64Array(d);
  const w = new Float32Array(d);
  const keep = (points: Float32Array, fooled: Uint8Array) => {
    for (let i = 0; i < n; i++) {
      if (!fooled[i]) continue;
      let acc = 0;
      for (let j = i * d; j < (i + 1) * d; j++) {
        const e = points[j]! - x0[j]!;
        acc = norm === 'linf' ? Math.max(acc, Math.abs(e)) : acc + e * e;
      }
      const size = norm === 'linf' ? acc : Math.sqrt(acc);
      if (size < bestNorm[i]!) {
        bestNorm[i] = size;
        best.set(points.subarray(i * d, (i + 1) * d), i * d);
      }
    }
  };
  // A start that already fools the model (a random start, or a misclassified x) is a candidate.
  if (n > 0) keep(current, adversarial(model, current, shape, labels, goal));
  await services.steps(steps, () => {
    if (n === 0) return true;
    // Toward a given target, the boundary is the one between t and its strongest rival at x_i.
    const from = goal.reachTarget ? rivals(model, current, shape, goal.towards!) : labels;
    const { diff, grad } = boundaryGradients(model, current, shape, from, goal.towards);
    for (let i = 0; i < n; i++) {
      // The hyperplane: the given class, or the nearest linearised boundary.
      let block = 0;
      if (!goal.towards) {
        let nearest = Infinity;
        for (let k = 0; k < K; k++) {
          if (k === from[i]) continue;
          const row = k * n + i;
          const gap = Math.abs(diff[row]!) / (dualNorm(norm, grad, row, d) + 1e-12);
          if (gap < nearest) {
            nearest = gap;
            block = k;
          }
        }
      }
      const row = block * n + i;
      w.set(grad.subarray(row * d, (row + 1) * d));
      const value = diff[row]!;
      const xi = current.subarray(i * d, (i + 1) * d);
      const xo = x0.subarray(i * d, (i + 1) * d);
      let shift = 0;
      for (let j = 0; j < d; j++) shift += w[j]! * (xo[j]! - xi[j]!);
      projectOnHyperplaneBox(norm, xi, w, -value, lo, hi, d1);
      projectOnHyperplaneBox(norm, xo, w, -value - shift, lo, hi, d2);
      const a1 = normOf(norm, d1);
      const a2 = normOf(norm, d2);
      const alpha = a1 + a2 > 0 ? Math.min(Math.max(a1 / (a1 + a2), 0), FAB_ALPHA_MAX) : 0;
      for (let j = 0; j < d; j++) {
        const moved = (1 - alpha) * (xi[j]! + FAB_ETA * d1[j]!) + alpha * (xo[j]! + FAB_ETA * d2[j]!);
        xi[j] = Math.min(hi, Math.max(lo, moved));
      }
    }
    const fooled = adversarial(model, current, shape, labels, goal);
    keep(current, fooled);
    // Adversarial iterates step back toward x, so the search keeps closing in on the boundary.
    for (let i = 0; i < n; i++) {
      if (!fooled[i]) continue;
      for (let j = i * d; j < (i + 1) * d; j++) current[j] = x0[j]! + FAB_BETA * (current[j]! - x0[j]!);
    }
    return false;
  });
  // Final search: bisect the segment from x to each nearest adversarial point.
  const found = Uint8Array.from(bestNorm, (v) => (Number.isFinite(v) ? 1 : 0));
  if (found.some(Boolean)) {
    const low = new Float64Array(n);
    const high = new Float64Array(n).fill(1);
    const probe = Float32Array.from(best);
    for (let s = 0; s < FAB_FINAL_SEARCH; s++) {
      for (let i = 0; i < n; i++) {
        const mid = found[i] ? (low[i]! + high[i]!) / 2 : 0;
        for (let j = i * d; j < (i + 1) * d; j++) probe[j] = x0[j]! + mid * (best[j]! - x0[j]!);
      }
      const fooled = adversarial(model, probe, shape, labels, goal);
      for (let i = 0; i < n; i++) {
        if (!found[i]) continue;
        if (fooled[i]) high[i] = (low[i]! + high[i]!) / 2;
        else low[i] = (low[i]! + high[i]!) / 2;
      }
    }
    for (let i = 0; i < n; i++) {
      if (!found[i] || high[i] === 1) continue;
      for (let j = i * d; j < (i + 1) * d; j++) best[j] = x0[j]! + high[i]! * (best[j]! - x0[j]!);
      bestNorm[i] = bestNorm[i]! * high[i]!;
    }
  }
  const success = Uint8Array.from(bestNorm, (v, i) => (v <= eps(i) * (1 + 1e-6) ? 1 : 0));
  // The round's loss (higher is better): minus the norm of the nearest adversarial point.
  const loss = Float32Array.from(bestNorm, (v) => (Number.isFinite(v) ? -v : -Infinity));
  return { xAdv: tf.tensor4d(best, shape), success, loss };
}

/** ‖row‖_q of a gradient row, q the dual of the threat's norm (1 for L∞, 2 for L2). */
function dualNorm(norm: 'linf' | 'l2', grad: Float32Array, row: number, d: number): number {
  let acc = 0;
  for (let j = row * d; j < (row + 1) * d; j++) {
    const e = grad[j]!;
    acc += norm === 'l2' ? e * e : Math.abs(e);
  }
  return norm === 'l2' ? Math.sqrt(acc) : acc;
}

export const fab = defineAttack('fab', {
  run(ctx) {
    const { steps, restarts } = ctx.options;
    const rng = new Rng(ctx.seed);
    return ctx.rounds(restarts, steps, (round, s) => {
      const towards = ctx.targets ? Int32Array.from(s.gather(ctx.targets).dataSync()) : undefined;
      return runOnce(ctx, s.x, s.y, s.threat, { towards, reachTarget: Boolean(towards) }, steps, round > 0, rng);
    });
  },
});

export const fabT = defineAttack('fab-t', {
  async run(ctx) {
    const { model, x } = ctx;
    const { steps, restarts } = ctx.options;
    const targets = Math.min(ctx.options.targetClasses, model.numClasses - 1);
    const rng = new Rng(ctx.seed);
    // The targets: the clean logits' ranking, class 2nd … (targets+1)th; each round on the survivors.
    const ranked = tf.tidy(() => tf.topk(model.predictLogits(x), targets + 1).indices.dataSync() as Int32Array);
    const width = targets + 1;
    return ctx.rounds(targets * restarts, steps, (round, s) => {
      const rank = 1 + Math.floor(round / restarts);
      const rows = s.rows ?? [...Array(x.shape[0]).keys()];
      const towards = Int32Array.from(rows, (i) => ranked[i * width + rank]!);
      // FAB-T counts any misclassification as success, as AutoAttack's does.
      return runOnce(ctx, s.x, s.y, s.threat, { towards, reachTarget: false }, steps, round % restarts > 0, rng);
    });
  },
});
