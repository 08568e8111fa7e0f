/** Clean accuracy and predictions over a split, in batches. */
import * as tf from '@tensorflow/tfjs-core';
import { batchTensors, type Split } from '../data/datasets';
import { predict, type Classifier } from '../models/classifier';

export interface Predictions {
  labels: Int32Array;
  confidence: Float32Array;
}

export async function predictSplit(
  model: Classifier,
  split: Split,
  shape: [number, number, number],
  batchSize = 500,
): Promise<Predictions> {
  const labels = new Int32Array(split.count);
  const confidence = new Float32Array(split.count);
  for (let start = 0; start < split.count; start += batchSize) {
    const { x, y } = batchTensors(split, shape, start, batchSize);
    const p = predict(model, x);
    labels.set(p.labels, start);
    confidence.set(p.confidence, start);
    tf.dispose([x, y]);
    await Promise.resolve();
  }
  return { labels, confidence };
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
