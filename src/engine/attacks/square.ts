/**
 * Square attack (Andriushchenko, Croce, Flammarion & Hein 2020, "Square Attack: a query-efficient
 * black-box adversarial attack via random search"), for L∞ and L2. It uses only the logits —
 * no gradients — so it sees through gradient masking.
 *
 * Random search on the margin loss: each query changes the perturbation inside one random
 * square window (side s = round(√(p·h·w)), p halved on a fixed schedule of the query budget)
 * and keeps the change only if the loss rises.
 *   L∞: init vertical stripes of ±ε; a window is set to ±ε per channel.
 *   L2: init ±ε-scaled centred-square blocks; a window receives a new centred-square pattern
 *       plus its old content, taking the mass of a second window, which is cleared, so that
 *       ‖δ‖₂ stays ε.
 * Defaults: 1000 queries (`queries`), p_init 0.8 (`pInit`), margin loss, seeded; stops per sample
 * once fooled. The runner (runner.ts) validates, counts queries, projects the result and re-scores it.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../rng';
import { evaluatePoint } from './common';
import { defineAttack, type AttackContext } from './runner';

/** The fraction p at query i of n: p_init halved at 10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000 (of 10,000). */
export function squareFraction(pInit: number, i: number, n: number): number {
  const at = Math.floor((i / n) * 10000);
  const marks = [10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000];
  const halvings = marks.filter((m) => at > m).length;
  return pInit / 2 ** halvings;
}

/** A centred-square pattern of side s: rings around the centre weighted 1/(k+1)², unit L2 norm. */
function centredSquare(s: number): Float32Array {
  const out = new Float32Array(s * s);
  const c = (s - 1) / 2;
  for (let r = 0; r < s; r++)
    for (let q = 0; q < s; q++) {
      const ring = Math.floor(Math.max(Math.abs(r - c), Math.abs(q - c)));
      out[r * s + q] = 1 / (ring + 1) ** 2;
    }
  const norm = Math.sqrt(out.reduce((t, v) => t + v * v, 0));
  return out.map((v) => v / norm);
}

export const square = defineAttack('square', {
  scoreLoss: 'margin',
  // A query is one forward pass: yielding after every one would cost more than the query.
  yieldEvery: 10,
  run: async (ctx) => searchSquares(ctx),
});

async function searchSquares(ctx: AttackContext<'square'>): Promise<tf.Tensor4D> {
  const {
    model,
    x,
    y,
    threat,
    targets,
    options: { queries, pInit },
  } = ctx;
  const [n, h, w, c] = x.shape;
  const d = h * w * c;
  const rng = new Rng(ctx.seed);
  ctx.planSteps(queries - 1);
  const epsOf = (i: number) => (typeof threat.eps === 'number' ? threat.eps : threat.eps[i]!);
  const [lo, hi] = threat.bounds;
  const xs = x.dataSync() as Float32Array;
  const ys = y.dataSync();
  const ts = targets?.dataSync();
  const delta = new Float32Array(n * d);
  const idx = (i: number, r: number, q: number, ch: number) => i * d + (r * w + q) * c + ch;
  const sign = () => (rng.next() < 0.5 ? -1 : 1);

  // Initial perturbation.
  for (let i = 0; i < n; i++) {
    const e = epsOf(i);
    if (threat.norm === 'linf') {
      for (let q = 0; q < w; q++)
        for (let ch = 0; ch < c; ch++) {
          const v = e * sign();
          for (let r = 0; r < h; r++) delta[idx(i, r, q, ch)] = v;
        }
    } else {
      const b = Math.max(1, Math.floor(h / 5));
      const pattern = centredSquare(b);
      for (let r0 = 0; r0 + b <= h; r0 += b)
        for (let q0 = 0; q0 + b <= w; q0 += b)
          for (let ch = 0; ch < c; ch++) {
            const s = sign();
            for (let r = 0; r < b; r++)
              for (let q = 0; q < b; q++) delta[idx(i, r0 + r, q0 + q, ch)] = s * pattern[r * b + q]!;
          }
      const norm = Math.sqrt(delta.subarray(i * d, (i + 1) * d).reduce((t, v) => t + v * v, 0));
      for (let k = i * d; k < (i + 1) * d; k++) delta[k] = (delta[k]! * e) / Math.max(norm, 1e-12);
    }
  }

  /** x + δ for the listed samples, in the ball (L2 rescaled) and the box. */
  const candidate = (rows: number[], dl: Float32Array) => {
    const out = new Float32Array(rows.length * d);
    rows.forEach((i, j) => {
      let scale = 1;
      if (threat.norm === 'l2') {
        const norm = Math.sqrt(dl.subarray(i * d, (i + 1) * d).reduce((t, v) => t + v * v, 0));
        scale = Math.min(1, epsOf(i) / Math.max(norm, 1e-12));
      }
      for (let k = 0; k < d; k++) out[j * d + k] = Math.min(hi, Math.max(lo, xs[i * d + k]! + dl[i * d + k]! * scale));
    });
    return out;
  };
  const score = (rows: number[], pixels: Float32Array) =>
    tf.tidy(() => {
      const xb = tf.tensor4d(pixels, [rows.length, h, w, c]);
      const yb = tf.tensor1d(
        rows.map((i) => ys[i]!),
        'int32',
      );
      const tb = ts
        ? tf.tensor1d(
            rows.map((i) => ts[i]!),
            'int32',
          )
        : undefined;
      const { loss, success } = evaluatePoint(model, xb, yb, 'margin', tb);
      return { loss: loss.dataSync() as Float32Array, success: success.dataSync() as Uint8Array };
    });

  const all = [...Array(n).keys()];
  // The candidate images x + δ of the current best δ, row by row: an L∞ query changes one window of
  // a row, so its trial image is the row's candidate with that window recomputed (the same values
  // candidate() gives), instead of copying δ and recomputing every pixel of every sample.
  const current = candidate(all, delta);
  const start = score(all, current);
  const bestLoss = Float32Array.from(start.loss);
  const found = Uint8Array.from(start.success);
  /** L2 trials: δ with the changed windows, only the active rows written. */
  const trial = threat.norm === 'l2' ? new Float32Array(n * d) : undefined;
  // Query 0 scored the start; queries 1 … queries − 1 search, while some sample stands.
  const search = (q: number): boolean => {
    const active = all.filter((i) => !found[i]);
    const s = Math.min(h, w, Math.max(1, Math.round(Math.sqrt(squareFraction(pInit, q, queries) * h * w))));
    if (threat.norm === 'linf') {
      const pixels = new Float32Array(active.length * d);
      const windows = new Int32Array(active.length * 2);
      const values = new Float32Array(active.length * c);
      active.forEach((i, j) => {
        pixels.set(current.subarray(i * d, (i + 1) * d), j * d);
        const e = epsOf(i);
        const r0 = Math.floor(rng.next() * (h - s + 1));
        const q0 = Math.floor(rng.next() * (w - s + 1));
        windows[2 * j] = r0;
        windows[2 * j + 1] = q0;
        for (let ch = 0; ch < c; ch++) {
          // δ holds float32: the trial pixel is x + δ as candidate() computes it from δ.
          const v = Math.fround(e * sign());
          values[j * c + ch] = v;
          for (let r = 0; r < s; r++)
            for (let k = 0; k < s; k++) {
              const at = ((r0 + r) * w + q0 + k) * c + ch;
              pixels[j * d + at] = Math.min(hi, Math.max(lo, xs[i * d + at]! + v));
            }
        }
      });
      const scored = score(active, pixels);
      active.forEach((i, j) => {
        if (scored.loss[j]! > bestLoss[i]! || scored.success[j]) {
          bestLoss[i] = scored.loss[j]!;
          found[i] = scored.success[j]!;
          const [r0, q0] = [windows[2 * j]!, windows[2 * j + 1]!];
          for (let ch = 0; ch < c; ch++)
            for (let r = 0; r < s; r++)
              for (let k = 0; k < s; k++) delta[idx(i, r0 + r, q0 + k, ch)] = values[j * c + ch]!;
          current.set(pixels.subarray(j * d, (j + 1) * d), i * d);
        }
      });
      return found.every(Boolean);
    }
    // One L2 window pattern per query, shared by every sample.
    const pattern = centredSquare(s);
    for (const i of active) {
      trial!.set(delta.subarray(i * d, (i + 1) * d), i * d);
      const e = epsOf(i);
      const r0 = Math.floor(rng.next() * (h - s + 1));
      const q0 = Math.floor(rng.next() * (w - s + 1));
      const r1 = Math.floor(rng.next() * (h - s + 1));
      const q1 = Math.floor(rng.next() * (w - s + 1));
      let total = 0;
      for (let k = i * d; k < (i + 1) * d; k++) total += delta[k]! * delta[k]!;
      const slack = Math.max(e * e - total, 0) / c;
      for (let ch = 0; ch < c; ch++) {
        const inW1 = (r: number, k: number) => r >= r0 && r < r0 + s && k >= q0 && k < q0 + s;
        const inW2 = (r: number, k: number) => r >= r1 && r < r1 + s && k >= q1 && k < q1 + s;
        let w1 = 0;
        let both = 0;
        for (let r = 0; r < h; r++)
          for (let k = 0; k < w; k++) {
            const v = delta[idx(i, r, k, ch)]!;
            if (inW1(r, k)) w1 += v * v;
            if (inW1(r, k) || inW2(r, k)) both += v * v;
          }
        const sg = sign();
        const fresh = new Float32Array(s * s);
        for (let r = 0; r < s; r++)
          for (let k = 0; k < s; k++) {
            fresh[r * s + k] = sg * pattern[r * s + k]! + delta[idx(i, r0 + r, q0 + k, ch)]! / (Math.sqrt(w1) + 1e-12);
          }
        const fn = Math.sqrt(fresh.reduce((t, v) => t + v * v, 0));
        const target = Math.sqrt(slack + both);
        for (let r = r1; r < r1 + s; r++) for (let k = q1; k < q1 + s; k++) trial![idx(i, r, k, ch)] = 0;
        for (let r = 0; r < s; r++)
          for (let k = 0; k < s; k++) {
            trial![idx(i, r0 + r, q0 + k, ch)] = (fresh[r * s + k]! / Math.max(fn, 1e-12)) * target;
          }
      }
    }
    const scored = score(active, candidate(active, trial!));
    active.forEach((i, j) => {
      if (scored.loss[j]! > bestLoss[i]! || scored.success[j]) {
        bestLoss[i] = scored.loss[j]!;
        found[i] = scored.success[j]!;
        delta.set(trial!.subarray(i * d, (i + 1) * d), i * d);
      }
    });
    return found.every(Boolean);
  };
  if (found.every(Boolean)) ctx.skipSteps(queries - 1);
  else await ctx.steps(queries - 1, (index) => search(index + 1));
  return tf.tensor4d(candidate(all, delta), [n, h, w, c]);
}
