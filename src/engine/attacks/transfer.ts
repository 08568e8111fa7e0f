/**
 * Transfer attack (Papernot, McDaniel & Goodfellow 2016, "Transferability in Machine Learning";
 * Tramèr et al. 2018): adversarial examples crafted with PGD on a surrogate model, then scored
 * on the target. It needs no gradient of the target, so a target that masks its gradients
 * still falls if the surrogate's examples transfer.
 *
 * Update: x' = PGD_surrogate(x) (maximising the surrogate's loss, last iterate), scored on the target.
 * Defaults: PGD-20 on the surrogate, α = 2.5·ε/steps, random start, ce loss.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { InputError } from '../errors';
import type { Classifier } from '../models/classifier';
import type { ThreatModel } from '../threat';
import { evaluatePoint, validateAttack } from './common';
import { pgd } from './pgd';
import type { AttackOptions, AttackResult } from './types';

export async function transfer(
  model: Classifier, x: tf.Tensor4D, y: tf.Tensor1D, threat: ThreatModel, opts: AttackOptions = {},
): Promise<AttackResult> {
  validateAttack('transfer', model, x, y, threat, opts);
  const surrogate = opts.surrogate;
  if (!surrogate) throw new InputError('transfer attack', 'surrogate', 'needs a surrogate model (--surrogate <model.json>) to craft the examples on');
  const shape = (m: Classifier) => `${m.inputShape.join('×')} → ${m.numClasses}`;
  if (shape(surrogate) !== shape(model)) {
    throw new InputError('transfer attack', 'surrogate', `${surrogate.source} is ${shape(surrogate)} but the target is ${shape(model)}`);
  }
  const { surrogate: _s, ...rest } = opts;
  const crafted = await pgd(surrogate, x, y, threat, { steps: 20, ...rest, keep: 'last' });
  try {
    const scored = evaluatePoint(model, crafted.xAdv, y, opts.loss ?? 'ce', opts.targeted ? opts.targeted.labels : undefined);
    const success = Array.from(scored.success.dataSync(), Boolean);
    const finalLoss = scored.loss.dataSync() as Float32Array;
    scored.loss.dispose();
    scored.success.dispose();
    // The target's own cost: one forward pass per image (the surrogate's passes are listed apart in the docs).
    return { xAdv: crafted.xAdv, success, finalLoss, forwardPasses: x.shape[0], backwardPasses: 0 };
  } catch (err) {
    crafted.xAdv.dispose();
    throw err;
  }
}
