/**
 * Projected gradient descent (Madry et al. 2018, "Towards Deep Learning Models Resistant to
 * Adversarial Attacks"), for L∞ and L2.
 *
 * Update: x_{t+1} = Π_{B(x,ε) ∩ box}(x_t + α · d(∇ₓ L(x_t))), d = sign for L∞, g/‖g‖₂ for L2.
 * Defaults: 10 steps, α = 2.5·ε/steps, random start, 1 restart, ce loss, keep firstSuccess.
 * EOT (eot = k > 1): every step's loss and gradient are the means over k passes (randomised models).
 * Restarts attack only the samples not yet fooled and keep the worst case per sample.
 * The runner (runner.ts) validates, counts passes, projects the result and re-scores it.
 */
import * as tf from '@tensorflow/tfjs-core';
import { linfStep } from '../kernels';
import { Rng } from '../rng';
import { ascentDirection, project, randomInit, type ThreatModel } from '../threat';
import { KeptPoints, resolveStepSize, stepPoint, type RunResult } from './common';
import { defineAttack, type AttackContext } from './runner';

/** One PGD run from one start on the given samples. */
async function runOnce(
  ctx: AttackContext<'pgd'>,
  rng: Rng,
  threat: ThreatModel,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  targets: tf.Tensor1D | undefined,
  randomStart: boolean,
): Promise<RunResult> {
  const {
    model,
    options: { steps, keep, loss, eot },
  } = ctx;
  const alpha = resolveStepSize(ctx.options.stepSize, threat, 2.5 / steps);
  let current = randomStart ? randomInit(threat, x, rng) : tf.clone(x);
  const kept = new KeptPoints(keep, current);
  /** Scores the iterate, offers it to the kept points and returns ∂loss/∂x (none for the last). */
  const look = (step: number, last: boolean) => {
    const point = stepPoint(model, current, y, loss, targets, last, eot);
    ctx.onLosses?.(step, point.loss);
    kept.offer(current, point.loss, point.success, last);
    return point.grad;
  };
  try {
    const ranAll = await ctx.steps(steps, (step) => {
      const grad = look(step, false)!;
      // L∞: one fused kernel on wasm (src/engine/kernels/fused.ts), the same iterate.
      const next =
        threat.norm === 'linf'
          ? linfStep(threat, x, current, grad, alpha)
          : tf.tidy(() => {
              const moved = tf.add(current, tf.mul(alpha, ascentDirection(threat.norm, grad))) as tf.Tensor4D;
              return project(threat, x, moved);
            });
      grad.dispose();
      current.dispose();
      current = next;
      return keep === 'firstSuccess' && kept.allFound();
    });
    // The last iterate of a single run needs no score of its own: the runner re-scores what the
    // attack returns (adversarial training's inner PGD would otherwise pay two forward passes).
    if (ranAll && keep === 'last' && ctx.options.restarts === 1 && !ctx.onLosses) {
      const n = x.shape[0];
      return { xAdv: tf.clone(current), success: new Uint8Array(n), loss: new Float32Array(n).fill(-Infinity) };
    }
    // The last pass only scores the final iterate.
    if (ranAll) look(steps, true);
    return { xAdv: kept.take(), success: kept.found, loss: kept.loss };
  } finally {
    alpha.dispose();
    kept.dispose();
    current.dispose();
  }
}

export const pgd = defineAttack('pgd', {
  run(ctx) {
    const { steps, restarts, randomStart } = ctx.options;
    const rng = new Rng(ctx.seed);
    // The first run may start at x; restarts always start at random points.
    return ctx.rounds(restarts, steps, (restart, s) =>
      runOnce(ctx, rng, s.threat, s.x, s.y, ctx.targets && s.gather(ctx.targets), randomStart || restart > 0),
    );
  },
});
