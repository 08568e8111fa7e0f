/**
 * Momentum iterative FGSM (Dong et al. 2018, "Boosting Adversarial Attacks with Momentum"),
 * for L∞ and L2.
 *
 * Update: g_{t+1} = μ·g_t + ∇ₓL(x_t)/‖∇ₓL(x_t)‖₁;  x_{t+1} = Π(x_t + α·d(g_{t+1})),
 * d = sign for L∞, g/‖g‖₂ for L2. Defaults: 10 steps, α = ε/steps, μ = 1, no random start,
 * ce loss; a sample keeps its first fooling iterate, else the last.
 */
import * as tf from '@tensorflow/tfjs-core';
import { throwIfAborted } from '../errors';
import { yieldToEventLoop } from '../scheduling';
import type { Classifier } from '../models/classifier';
import { ascentDirection, project, type ThreatModel } from '../threat';
import { resolveStepSize, selectRows, stepPoint, validateAttack } from './common';
import type { AttackOptions, AttackResult } from './types';

export async function miFgsm(
  model: Classifier, x: tf.Tensor4D, y: tf.Tensor1D, threat: ThreatModel, opts: AttackOptions = {},
): Promise<AttackResult> {
  validateAttack('mi-fgsm', model, x, y, threat, opts);
  const steps = opts.steps ?? 10;
  const decay = opts.decay ?? 1;
  const loss = opts.loss ?? 'ce';
  const targets = opts.targeted ? opts.targeted.labels : undefined;
  const n = x.shape[0];
  const alpha = resolveStepSize(opts.stepSize, threat, 1 / steps);
  let current = tf.clone(x);
  let kept = tf.clone(x);
  let momentum = tf.zerosLike(x) as tf.Tensor4D;
  const found = new Uint8Array(n);
  const keptLoss = new Float32Array(n);
  let forward = 0;
  let backward = 0;
  try {
    for (let step = 0; step <= steps; step++) {
      throwIfAborted(opts.signal, 'MI-FGSM');
      const last = step === steps;
      const point = stepPoint(model, current, y, loss, targets, last);
      forward += n;
      const { loss: values, success: succeeded } = point;
      const take = Uint8Array.from(found, (f, i) => (!f && (succeeded[i] || last) ? 1 : 0));
      take.forEach((t, i) => { if (t) { found[i] = succeeded[i]!; keptLoss[i] = values[i]!; } });
      if (take.some(Boolean)) {
        const merged = selectRows(take, current, kept);
        kept.dispose();
        kept = merged;
      }
      if (!point.grad) break;
      const grad = point.grad;
      backward += n;
      const nextMomentum = tf.tidy(() => {
        const l1 = tf.reshape(tf.sum(tf.abs(tf.reshape(grad, [n, -1])), 1), [n, 1, 1, 1]);
        return tf.add(tf.mul(decay, momentum), tf.div(grad, tf.maximum(l1, 1e-12))) as tf.Tensor4D;
      });
      grad.dispose();
      momentum.dispose();
      momentum = nextMomentum;
      const next = tf.tidy(() => project(threat, x, tf.add(current, tf.mul(alpha, ascentDirection(threat.norm, momentum))) as tf.Tensor4D));
      current.dispose();
      current = next;
      opts.onStep?.(step + 1, steps);
      if (opts.signal) await yieldToEventLoop();
      if (found.every(Boolean)) break;
    }
    const xAdv = project(threat, x, kept);
    return { xAdv, success: Array.from(found, Boolean), finalLoss: keptLoss, forwardPasses: forward, backwardPasses: backward };
  } finally {
    tf.dispose([alpha, current, kept, momentum]);
  }
}
