/** Clean accuracy and predictions over a split, in batches. */
import * as tf from '@tensorflow/tfjs-core';
import { batchTensors, type Split } from '../data/datasets';
import type { Classifier } from '../models/classifier';
import { InputError } from '../errors';

export interface Predictions {
  labels: Int32Array;
  confidence: Float32Array;
}

/**
 * Predictions over a split, in batches. With `finite`, logits that are not finite (NaN or ±∞: NaN
 * weights, an overflow) are an InputError naming the model, the first image and the first layer
 * whose output is not finite, instead of an argmax over NaN that reads as class 0.
 */
export async function predictSplit(
  model: Classifier,
  split: Split,
  shape: [number, number, number],
  batchSize = 500,
  options: { finite?: boolean } = {},
): Promise<Predictions> {
  const labels = new Int32Array(split.count);
  const confidence = new Float32Array(split.count);
  for (let start = 0; start < split.count; start += batchSize) {
    const { x, y } = batchTensors(split, shape, start, batchSize);
    try {
      const p = tf.tidy(() => {
        const logits = model.predictLogits(x);
        const finiteRows = options.finite ? (tf.all(tf.isFinite(logits), 1).dataSync() as Uint8Array) : undefined;
        const probs = tf.softmax(logits);
        return {
          labels: tf.argMax(probs, 1).dataSync() as Int32Array,
          confidence: tf.max(probs, 1).dataSync() as Float32Array,
          bad: finiteRows ? finiteRows.findIndex((ok) => !ok) : -1,
        };
      });
      if (p.bad >= 0) throw nonFiniteError(model, x, p.bad, start + p.bad);
      labels.set(p.labels, start);
      confidence.set(p.confidence, start);
    } finally {
      tf.dispose([x, y]);
    }
    await Promise.resolve();
  }
  return { labels, confidence };
}

/** The error of non-finite logits at row `row` of x (test image `index`), naming the first layer at fault. */
function nonFiniteError(model: Classifier, x: tf.Tensor4D, row: number, index: number): InputError {
  const image = tf.slice(x, [row, 0, 0, 0], [1, -1, -1, -1]);
  let layer: string | undefined;
  try {
    layer = model.firstNonFinite?.(image);
  } finally {
    image.dispose();
  }
  return new InputError(
    model.source,
    'logits',
    `are not finite (NaN or ±∞) for test image ${index} on the clean pass` +
      (layer ? `; the first non-finite output is ${layer}` : '') +
      '; check the weights (NaN or ∞) and the input scale',
  );
}

export async function accuracyOn(
  model: Classifier,
  split: Split,
  shape: [number, number, number],
  batchSize = 500,
): Promise<number> {
  if (split.count === 0) return 0;
  const { labels } = await predictSplit(model, split, shape, batchSize);
  let correct = 0;
  for (let i = 0; i < split.count; i++) if (labels[i] === split.labels[i]) correct++;
  return correct / split.count;
}
