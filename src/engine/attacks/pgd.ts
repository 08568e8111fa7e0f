/**
 * Projected gradient descent (Madry et al. 2018, "Towards Deep Learning Models Resistant to
 * Adversarial Attacks"), for L∞ and L2.
 *
 * Update: x_{t+1} = Π_{B(x,ε) ∩ box}(x_t + α · d(∇ₓ L(x_t))), d = sign for L∞, g/‖g‖₂ for L2.
 * Defaults: 10 steps, α = 2.5·ε/steps, random start, 1 restart, ce loss, keep firstSuccess.
 * Restarts attack only the samples not yet fooled and keep the worst case per sample.
 * The runner (runner.ts) validates, counts passes, projects the result and re-scores it.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../rng';
import { ascentDirection, project, randomInit, type ThreatModel } from '../threat';
import { onSurvivors, resolveStepSize, selectRows, stepPoint, type RunResult } from './common';
import { defineAttack, type AttackContext } from './runner';

/** One PGD run from one start on the given samples. */
async function runOnce(ctx: AttackContext<'pgd'>, rng: Rng, threat: ThreatModel, x: tf.Tensor4D, y: tf.Tensor1D,
  targets: tf.Tensor1D | undefined, randomStart: boolean): Promise<RunResult> {
  const { model, options: { steps, keep, loss } } = ctx;
  const n = x.shape[0];
  const alpha = resolveStepSize(ctx.options.stepSize, threat, 2.5 / steps);
  let current = randomStart ? randomInit(threat, x, rng) : tf.clone(x);
  let best = tf.clone(current);
  const bestLoss = new Float32Array(n).fill(-Infinity);
  const found = new Uint8Array(n);
  try {
    for (let step = 0; step <= steps; step++) {
      ctx.checkAbort();
      // The last pass only scores the final iterate.
      const scoreOnly = step === steps;
      const point = stepPoint(model, current, y, loss, targets, scoreOnly);
      const { loss: lossValues, success: successValues } = point;
      ctx.onLosses?.(step, lossValues);
      // Which samples take `current` as their kept point; `found` is success at the kept point.
      const take = new Uint8Array(n);
      for (let i = 0; i < n; i++) {
        if (keep === 'last') take[i] = scoreOnly ? 1 : 0;
        else if (keep === 'maxLoss') take[i] = lossValues[i]! > bestLoss[i]! ? 1 : 0;
        else take[i] = !found[i] && (successValues[i] || scoreOnly) ? 1 : 0;
        if (take[i]) {
          bestLoss[i] = lossValues[i]!;
          found[i] = successValues[i]!;
        }
      }
      if (take.some((t) => t)) {
        const merged = selectRows(take, current, best);
        best.dispose();
        best = merged;
      }
      if (point.grad) {
        const grad = point.grad;
        const next = tf.tidy(() => {
          const moved = tf.add(current, tf.mul(alpha, ascentDirection(threat.norm, grad))) as tf.Tensor4D;
          return project(threat, x, moved);
        });
        grad.dispose();
        current.dispose();
        current = next;
        await ctx.stepDone();
        if (keep === 'firstSuccess' && found.every((f) => f)) {
          ctx.skipSteps(steps - step - 1);
          break;
        }
      }
    }
    // firstSuccess / maxLoss keep the kept point; 'last' took the final iterate above.
    const result = { xAdv: best, success: found, loss: bestLoss };
    best = current; // so that finally disposes the iterate, not the result
    return result;
  } finally {
    alpha.dispose();
    if (best !== current) best.dispose();
    current.dispose();
  }
}

export const pgd = defineAttack('pgd', {
  async run(ctx) {
    const { steps, restarts, randomStart } = ctx.options;
    ctx.planSteps(steps * restarts);
    const rng = new Rng(ctx.seed);
    const result = await onSurvivors(ctx.x, ctx.y, ctx.threat, restarts,
      // The first run may start at x; restarts always start at random points.
      (restart, s) =>
        runOnce(ctx, rng, s.threat, s.x, s.y, ctx.targets && s.gather(ctx.targets), randomStart || restart > 0),
      ctx.stopEarly);
    return result.xAdv;
  },
});
