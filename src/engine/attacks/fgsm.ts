/**
 * Fast gradient sign method (Goodfellow et al. 2015, "Explaining and Harnessing Adversarial
 * Examples"); for L2 the fast gradient method with the normalised gradient.
 *
 * Update: x' = x + ε · d(∇ₓ L(x)), d = sign for L∞, g/‖g‖₂ for L2 (the runner projects onto
 * B(x,ε) ∩ box and scores x'). Targeted: descend the CE toward the target label.
 * Defaults: ce loss, one step of size ε.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ascentDirection, epsTensor } from '../threat';
import { lossAndGrad } from './common';
import { defineAttack } from './runner';

export const fgsm = defineAttack('fgsm', {
  async run({ model, x, y, threat, targets, options, planSteps, steps }) {
    planSteps(1);
    let xAdv = x;
    await steps(1, () => {
      const start = lossAndGrad(model, x, y, options.loss, targets);
      const step = tf.tidy(() => tf.mul(epsTensor(threat), ascentDirection(threat.norm, start.grad)));
      xAdv = tf.add(x, step) as tf.Tensor4D;
      tf.dispose([step, start.grad, start.loss, start.success]);
    });
    return xAdv;
  },
});
