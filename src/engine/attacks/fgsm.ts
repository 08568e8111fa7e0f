/**
 * Fast gradient sign method (Goodfellow et al. 2015, "Explaining and Harnessing Adversarial
 * Examples"); for L2 the fast gradient method with the normalised gradient.
 *
 * Update: x' = Π_{B(x,ε) ∩ box}(x + ε · d(∇ₓ L(x))), d = sign for L∞, g/‖g‖₂ for L2.
 * Targeted: descend the CE toward the target label. Defaults: ce loss, one step of size ε.
 */
import * as tf from '@tensorflow/tfjs-core';
import { throwIfAborted } from '../errors';
import type { Classifier } from '../models/classifier';
import { ascentDirection, epsTensor, project, type ThreatModel } from '../threat';
import { evaluatePoint, lossAndGrad, validateAttack } from './common';
import type { AttackOptions, AttackResult } from './types';

export async function fgsm(
  model: Classifier, x: tf.Tensor4D, y: tf.Tensor1D, threat: ThreatModel, opts: AttackOptions = {},
): Promise<AttackResult> {
  validateAttack('fgsm', model, x, y, threat, opts);
  throwIfAborted(opts.signal, 'FGSM');
  const loss = opts.loss ?? 'ce';
  const targets = opts.targeted ? opts.targeted.labels : undefined;
  const n = x.shape[0];
  const start = lossAndGrad(model, x, y, loss, targets);
  const xAdv = tf.tidy(() => {
    const step = tf.mul(epsTensor(threat), ascentDirection(threat.norm, start.grad));
    return project(threat, x, tf.add(x, step) as tf.Tensor4D);
  });
  tf.dispose([start.grad, start.loss, start.success]);
  const scored = evaluatePoint(model, xAdv, y, loss, targets);
  const success = Array.from(scored.success.dataSync(), Boolean);
  const finalLoss = scored.loss.dataSync() as Float32Array;
  tf.dispose([scored.loss, scored.success]);
  opts.onStep?.(1, 1);
  return { xAdv, success, finalLoss, forwardPasses: 2 * n, backwardPasses: n };
}
