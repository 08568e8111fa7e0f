/**
 * Auto-PGD (Croce & Hein 2020, "Reliable evaluation of adversarial robustness with an ensemble
 * of diverse parameter-free attacks"), for L∞ and L2, and its targeted form APGD-T.
 *
 * Update, with momentum α = 0.75 and a per-sample step η (initially 2ε):
 *   z_{k+1} = Π(x_k + η·d(∇ₓL(x_k)))
 *   x_{k+1} = Π(x_k + α·(z_{k+1} − x_k) + (1 − α)·(x_k − x_{k−1}))
 * At checkpoints w_j = ⌈p_j·N⌉ (p_0 = 0, p_1 = 0.22, p_{j+1} = p_j + max(p_j − p_{j−1} − 0.03, 0.06))
 * η is halved, and the iterate reset to the best point, for every sample where fewer than
 * ρ = 0.75 of the steps since the last checkpoint raised the loss, or where neither η nor the
 * best loss changed since then. A sample keeps its first fooling point, else its highest loss.
 * EOT (eot = k > 1): the loss (for these step-size decisions) and the gradient are means over k passes.
 *
 * APGD-T runs the targeted dlr loss once per target: the classes ranked 2nd … (k+1)th by the
 * clean logits, each round only on the samples no earlier target fooled. A sample that fools the
 * model leaves the batch at the end of that step with its first fooling point (the updates are per
 * sample, so the others' iterates are the same bit for bit): no pass is spent on it afterwards.
 * The runner (runner.ts)
 * validates, counts passes, projects the result and re-scores it (APGD-T's loss: untargeted dlr).
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../rng';
import { apgdLinfStep } from '../kernels';
import { ascentDirection, epsTensor, project, randomInit, subsetThreat, type ThreatModel } from '../threat';
import { gatherRows, selectRows, stepPoint, type RunResult } from './common';
import { defineAttack, type AttackContext } from './runner';
import type { LossId } from '../../protocol/vocabulary';

const MOMENTUM = 0.75;
const RHO = 0.75;

/** The iterations at which the step size may be halved, for N iterations. */
export function apgdCheckpoints(steps: number): number[] {
  const p = [0, 0.22];
  while (p[p.length - 1]! < 1) {
    const a = p[p.length - 1]!;
    const b = p[p.length - 2]!;
    p.push(a + Math.max(a - b - 0.03, 0.06));
  }
  // Rounded first: 0.57 is 0.5700000000000001 in floating point, and its ceiling must not be 58.
  return [...new Set(p.filter((v) => v <= 1).map((v) => Math.ceil(+(v * steps).toFixed(9))))].filter((w) => w > 0);
}

/** What a run needs of the runner's context: the counted model and the step loop. */
type RunServices = Pick<AttackContext<'apgd'>, 'model' | 'steps'>;

async function runOnce(
  services: RunServices,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  threat: ThreatModel,
  targets: tf.Tensor1D | undefined,
  loss: LossId,
  steps: number,
  randomStart: boolean,
  rng: Rng,
  eot = 1,
): Promise<RunResult> {
  const { model } = services;
  const n = x.shape[0];
  const per = n === 0 ? 0 : x.size / n;
  const checkpoints = new Set(apgdCheckpoints(steps));
  // Per-sample state, indexed by the sample's row in x.
  const eta = new Float32Array(n).fill(2);
  const etaAtCheckpoint = Float32Array.from(eta);
  const bestLoss = new Float32Array(n).fill(-Infinity);
  const bestLossAtCheckpoint = new Float32Array(n).fill(-Infinity);
  const increases = new Int32Array(n);
  const lastLoss = new Float32Array(n).fill(-Infinity);
  const found = new Uint8Array(n);
  const foundLoss = new Float32Array(n);
  let lastCheckpoint = 0;
  // The rows still searched. A sample that fools the model keeps its first fooling point and
  // leaves the batch at the end of that step (every update is per sample, so the others move as
  // they would with it): the forward and backward passes go to the samples still standing.
  let rows = [...Array(n).keys()];
  /** First fooling points of the samples that left, row by row of x. */
  let left: Float32Array | undefined;
  let xs = x;
  let ys = y;
  let ts = targets;
  let part = threat;
  let eps = epsTensor(threat);
  /** x, y and the targets of the rows still searched, once some have left (ours to dispose). */
  let gathered: tf.Tensor[] = [];
  let current = randomStart ? randomInit(threat, x, rng) : tf.clone(x);
  let previous = tf.clone(current);
  let best = tf.clone(current); // highest-loss point
  let kept = tf.clone(current); // first fooling point
  const replace = (old: tf.Tensor4D, next: tf.Tensor4D) => {
    old.dispose();
    return next;
  };
  /** Scores the iterate of step k (values per position in `rows`): the loss increases, the best point, the first fooling point. */
  const record = (k: number, values: Float32Array, succeeded: Uint8Array) => {
    const better = new Uint8Array(rows.length);
    const firstHit = new Uint8Array(rows.length);
    rows.forEach((i, j) => {
      const v = Number.isFinite(values[j]!) ? values[j]! : -Infinity;
      if (k > 0 && v > lastLoss[i]!) increases[i]!++;
      lastLoss[i] = v;
      if (v > bestLoss[i]!) {
        bestLoss[i] = v;
        better[j] = 1;
      }
      if (!found[i] && succeeded[j]) {
        found[i] = 1;
        foundLoss[i] = v;
        firstHit[j] = 1;
      }
    });
    if (better.some(Boolean)) best = replace(best, selectRows(better, current, best));
    if (firstHit.some(Boolean)) kept = replace(kept, selectRows(firstHit, current, kept));
  };
  /**
   * After step `iteration`, the fooled samples leave the batch (their first fooling points set
   * aside, the rest gathered) once they are an eighth of it and the passes that saves, over the
   * steps left, outweigh about one step of the batch (what the gathers cost); until then they
   * ride along unread. Each new batch size makes the wasm kernels allocate buffers of a new size,
   * so shrinking by a single sample every step would grow the heap (measured: +60 MB peak RSS).
   */
  const compact = (iteration: number) => {
    const stay = [...rows.keys()].filter((j) => !found[rows[j]!]);
    const gone = rows.length - stay.length;
    if (stay.length === 0 || gone * 8 < rows.length || gone * (steps - iteration) < rows.length) return;
    const keptPixels = kept.dataSync() as Float32Array;
    left ??= new Float32Array(n * per);
    rows.forEach((i, j) => {
      if (found[i]) left!.set(keptPixels.subarray(j * per, (j + 1) * per), i * per);
    });
    const take = <T extends tf.Tensor>(t: T): T => gatherRows(t, stay);
    current = replace(current, take(current));
    previous = replace(previous, take(previous));
    best = replace(best, take(best));
    kept = replace(kept, take(kept));
    const next = [take(xs), take(ys), ...(ts ? [take(ts)] : [])];
    tf.dispose(gathered);
    gathered = next;
    [xs, ys] = next as [tf.Tensor4D, tf.Tensor1D];
    ts = next[2] as tf.Tensor1D | undefined;
    rows = stay.map((j) => rows[j]!);
    part = subsetThreat(threat, rows);
    eps.dispose();
    eps = epsTensor(part);
  };
  try {
    const ranAll = await services.steps(steps, (k) => {
      const point = stepPoint(model, current, ys, loss, ts, false, eot);
      record(k, point.loss, point.success);
      const grad = point.grad!;
      const m = rows.length;
      // One gradient step of size η, then momentum (the first step has none).
      const next = tf.tidy(() => {
        const etaT = tf.mul(
          tf.tensor4d(
            Float32Array.from(rows, (i) => eta[i]!),
            [m, 1, 1, 1],
          ),
          eps,
        );
        // L∞: one fused kernel on wasm (src/engine/kernels/fused.ts), the same iterate.
        if (threat.norm === 'linf') return apgdLinfStep(part, xs, current, previous, grad, etaT, MOMENTUM, k === 0);
        const z = project(part, xs, tf.add(current, tf.mul(etaT, ascentDirection(threat.norm, grad))) as tf.Tensor4D);
        if (k === 0) return z;
        const moved = tf.add(
          tf.add(current, tf.mul(MOMENTUM, tf.sub(z, current))),
          tf.mul(1 - MOMENTUM, tf.sub(current, previous)),
        );
        return project(part, xs, moved as tf.Tensor4D);
      });
      grad.dispose();
      previous = replace(previous, current);
      current = next;
      const iteration = k + 1;
      if (checkpoints.has(iteration) && iteration < steps) {
        const halve = new Uint8Array(m);
        const span = iteration - lastCheckpoint;
        // The samples that left keep their state: they are never read again.
        rows.forEach((i, j) => {
          const fewIncreases = increases[i]! < RHO * span;
          const stalled = etaAtCheckpoint[i] === eta[i] && bestLossAtCheckpoint[i] === bestLoss[i];
          if (fewIncreases || stalled) {
            halve[j] = 1;
            eta[i] = eta[i]! / 2;
          }
          etaAtCheckpoint[i] = eta[i]!;
          bestLossAtCheckpoint[i] = bestLoss[i]!;
          increases[i] = 0;
        });
        lastCheckpoint = iteration;
        // Restart the halved samples from their best point.
        if (halve.some(Boolean)) current = replace(current, selectRows(halve, best, current));
      }
      // Every sample fooled: score nothing more.
      if (found.every(Boolean)) return true;
      compact(iteration);
      return false;
    });
    // The last pass only scores the final iterate.
    if (ranAll) {
      const last = stepPoint(model, current, ys, loss, ts, true, eot);
      record(steps, last.loss, last.success);
    }
    const mine = selectRows(
      Uint8Array.from(rows, (i) => found[i]!),
      kept,
      best,
    );
    let xAdv = mine;
    if (left) {
      // Every row of x: its first fooling point if it left, else this run's point.
      const pixels = left;
      const own = mine.dataSync() as Float32Array;
      rows.forEach((i, j) => pixels.set(own.subarray(j * per, (j + 1) * per), i * per));
      mine.dispose();
      xAdv = tf.tensor4d(pixels, x.shape);
    }
    return { xAdv, success: found, loss: Float32Array.from(bestLoss, (v, i) => (found[i] ? foundLoss[i]! : v)) };
  } finally {
    tf.dispose([eps, current, previous, best, kept, ...gathered]);
  }
}

export const apgd = defineAttack('apgd', {
  async run(ctx) {
    const { steps, restarts, randomStart, loss, eot } = ctx.options;
    const rng = new Rng(ctx.seed);
    return ctx.rounds(restarts, steps, (round, s) => {
      const targets = ctx.targets && s.gather(ctx.targets);
      return runOnce(ctx, s.x, s.y, s.threat, targets, loss, steps, randomStart || round > 0, rng, eot);
    });
  },
});

export const apgdT = defineAttack('apgd-t', {
  async run(ctx) {
    const {
      model,
      x,
      options: { steps, randomStart, loss },
    } = ctx;
    const rounds = Math.min(ctx.options.targetClasses, model.numClasses - 1);
    const rng = new Rng(ctx.seed);
    // The targets: the clean logits' ranking, class 2nd … (rounds+1)th.
    const ranked = tf.tidy(() => tf.topk(model.predictLogits(x), rounds + 1).indices as tf.Tensor2D);
    try {
      return await ctx.rounds(rounds, steps, async (round, s) => {
        const own = tf.tidy(() => tf.squeeze(tf.slice(ranked, [0, round + 1], [-1, 1]), [1]) as tf.Tensor1D);
        try {
          const run = await runOnce(ctx, s.x, s.y, s.threat, s.gather(own), loss, steps, randomStart || round > 0, rng);
          // A round "succeeds" by reaching its target; APGD-T counts any misclassification.
          const fooled = tf.tidy(
            () =>
              tf.notEqual(tf.argMax(model.predictLogits(run.xAdv), 1), tf.cast(s.y, 'int32')).dataSync() as Uint8Array,
          );
          return { ...run, success: Uint8Array.from(fooled) };
        } finally {
          own.dispose();
        }
      });
    } finally {
      ranked.dispose();
    }
  },
});
