/**
 * Per-sample losses on logits [N, C], written as the quantity an attack *maximises*.
 * Untargeted forms push away from the true label y; targeted forms (label t) pull toward t.
 *
 * - ce:     CE(z, y)                              targeted: −CE(z, t)
 * - margin: max_{j≠y} z_j − z_y  (Carlini–Wagner)  targeted: z_t − max_{j≠t} z_j
 * - dlr:    −(z_y − max_{j≠y} z_j) / (z_π1 − z_π3)  (Croce & Hein 2020, needs ≥ 3 classes)
 *           targeted: −(z_y − z_t) / (z_π1 − (z_π3 + z_π4)/2)  (needs ≥ 4 classes)
 * A loss > 0 for margin means the sample is already misclassified (or hits its target).
 */
import * as tf from '@tensorflow/tfjs-core';
import { InputError } from './errors';
import type { LossId } from '../protocol/vocabulary';

const BIG = 1e9;

/** max over j ≠ label of z_j. */
function maxOther(logits: tf.Tensor2D, oneHotLabel: tf.Tensor2D): tf.Tensor1D {
  return tf.max(tf.sub(logits, tf.mul(oneHotLabel, BIG)), 1) as tf.Tensor1D;
}

function pick(logits: tf.Tensor2D, oneHotLabel: tf.Tensor2D): tf.Tensor1D {
  return tf.sum(tf.mul(logits, oneHotLabel), 1) as tf.Tensor1D;
}

export function minClassesFor(loss: LossId, targeted: boolean): number {
  if (loss === 'dlr') return targeted ? 4 : 3;
  return 2;
}

export function perSampleLoss(
  loss: LossId,
  logits: tf.Tensor2D,
  labels: tf.Tensor1D,
  targets?: tf.Tensor1D,
): tf.Tensor1D {
  const classes = logits.shape[1];
  const needed = minClassesFor(loss, targets !== undefined);
  if (classes < needed) {
    throw new InputError(
      'attack options',
      'loss',
      `${loss}${targets ? ' (targeted)' : ''} needs at least ${needed} classes; the model has ${classes}`,
    );
  }
  return tf.tidy(() => {
    const yHot = tf.oneHot(tf.cast(labels, 'int32'), classes) as tf.Tensor2D;
    const tHot = targets ? (tf.oneHot(tf.cast(targets, 'int32'), classes) as tf.Tensor2D) : undefined;
    switch (loss) {
      case 'ce': {
        const logProbs = tf.logSoftmax(logits);
        const ce = (hot: tf.Tensor2D) => tf.neg(tf.sum(tf.mul(logProbs, hot), 1));
        return (tHot ? tf.neg(ce(tHot)) : ce(yHot)) as tf.Tensor1D;
      }
      case 'margin':
        return (
          tHot ? tf.sub(pick(logits, tHot), maxOther(logits, tHot)) : tf.sub(maxOther(logits, yHot), pick(logits, yHot))
        ) as tf.Tensor1D;
      case 'dlr': {
        // The 1st … 4th largest logits by repeated max-and-mask (TopK has no gradient in tfjs;
        // ArgMax and OneHot do, as zeros, so the gradient flows through the picked logits).
        const ranked: tf.Tensor1D[] = [];
        let rest: tf.Tensor2D = logits;
        for (let k = 0; k < Math.min(4, classes); k++) {
          ranked.push(tf.max(rest, 1) as tf.Tensor1D);
          rest = tf.sub(rest, tf.mul(tf.oneHot(tf.argMax(rest, 1), classes), BIG)) as tf.Tensor2D;
        }
        const col = (k: number) => ranked[k]!;
        const zy = pick(logits, yHot);
        if (tHot) {
          const denom = tf.add(tf.sub(col(0), tf.div(tf.add(col(2), col(3)), 2)), 1e-12);
          return tf.neg(tf.div(tf.sub(zy, pick(logits, tHot)), denom)) as tf.Tensor1D;
        }
        const denom = tf.add(tf.sub(col(0), col(2)), 1e-12);
        return tf.neg(tf.div(tf.sub(zy, maxOther(logits, yHot)), denom)) as tf.Tensor1D;
      }
    }
  });
}
