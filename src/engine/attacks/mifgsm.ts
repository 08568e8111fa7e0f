/**
 * Momentum iterative FGSM (Dong et al. 2018, "Boosting Adversarial Attacks with Momentum"),
 * for L∞ and L2.
 *
 * Update: g_{t+1} = μ·g_t + ∇ₓL(x_t)/‖∇ₓL(x_t)‖₁;  x_{t+1} = Π(x_t + α·d(g_{t+1})),
 * d = sign for L∞, g/‖g‖₂ for L2. Defaults: 10 steps, α = ε/steps, μ = 1, no random start,
 * ce loss; a sample keeps its first fooling iterate, else the last. The runner (runner.ts)
 * validates, counts passes, projects the result and re-scores it.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ascentDirection, project } from '../threat';
import { KeptPoints, resolveStepSize, stepPoint } from './common';
import { defineAttack } from './runner';

export const miFgsm = defineAttack('mi-fgsm', {
  async run(ctx) {
    const {
      model,
      x,
      y,
      threat,
      targets,
      options: { steps, decay, loss },
    } = ctx;
    ctx.planSteps(steps);
    const n = x.shape[0];
    const alpha = resolveStepSize(ctx.options.stepSize, threat, 1 / steps);
    let current = tf.clone(x);
    // A sample keeps its first fooling iterate, else the last.
    const kept = new KeptPoints('firstSuccess', x);
    let momentum = tf.zerosLike(x) as tf.Tensor4D;
    try {
      const ranAll = await ctx.steps(steps, () => {
        const point = stepPoint(model, current, y, loss, targets, false);
        kept.offer(current, point.loss, point.success, false);
        const grad = point.grad!;
        const nextMomentum = tf.tidy(() => {
          const l1 = tf.reshape(tf.sum(tf.abs(tf.reshape(grad, [n, -1])), 1), [n, 1, 1, 1]);
          return tf.add(tf.mul(decay, momentum), tf.div(grad, tf.maximum(l1, 1e-12))) as tf.Tensor4D;
        });
        grad.dispose();
        momentum.dispose();
        momentum = nextMomentum;
        const next = tf.tidy(() =>
          project(threat, x, tf.add(current, tf.mul(alpha, ascentDirection(threat.norm, momentum))) as tf.Tensor4D),
        );
        current.dispose();
        current = next;
        return kept.allFound();
      });
      if (ranAll) {
        const last = stepPoint(model, current, y, loss, targets, true);
        kept.offer(current, last.loss, last.success, true);
      }
      return kept.take();
    } finally {
      tf.dispose([alpha, current, momentum]);
      kept.dispose();
    }
  },
});
