/**
 * A classifier maps a batch NHWC in the data's pixel range (its bounds) to logits [N, classes].
 * The model's preprocessing (scale, mean, std) lives here, so attacks work in pixel space.
 */
import * as tf from '@tensorflow/tfjs-core';
import { preprocessAffine } from '../../protocol/preprocess';

export interface Classifier {
  predictLogits(x: tf.Tensor4D): tf.Tensor2D;
  /** [H, W, C] */
  inputShape: [number, number, number];
  numClasses: number;
  bounds: [number, number];
  /** Where it came from, for reports: a model.json path or a description. */
  source: string;
  /** Whether gradients flow through it: white-box attacks need them, black-box ones (square) do not. */
  gradients: boolean;
  /** Notes a user should read, such as "softmax output stripped". */
  warnings: string[];
  /** Frees the weights of a loaded model (absent when the caller owns them). */
  dispose?: () => void;
  /** The normalisation the graph itself applies to its input ("(x − 0.286) / 0.353"), when the loader saw one. */
  inGraphNormalization?: string;
  /** Hidden layers whose activations `features` returns, input to output (Layers models). */
  featureLayers?: string[];
  /** A hidden layer's activations at x, flattened to [N, D] (in the model's input space, like predictLogits). */
  features?: (x: tf.Tensor4D, layer: string) => tf.Tensor2D;
  /**
   * The first layer (Layers models) or node (ONNX graphs) whose output is not finite at x, named
   * for a message (`layer "conv1" (Conv2D)`); undefined when all are finite or the format cannot say.
   */
  firstNonFinite?: (x: tf.Tensor4D) => string | undefined;
}

/**
 * A model's preprocessing (src/protocol/preprocess.ts): the data's bounds map linearly onto
 * `scale` (default: the bounds), then per channel (x − mean) / std; one value stands for every channel.
 */
export interface Normalization {
  scale?: [number, number];
  mean: number[];
  std: number[];
}

/**
 * Wraps a logits function with optional preprocessing, folded once into one per-channel affine
 * map x·a + b of the pixels; tf ops have gradients unless told otherwise.
 */
export function makeClassifier(
  logitsFn: (x: tf.Tensor4D) => tf.Tensor2D,
  meta: Omit<Classifier, 'predictLogits' | 'gradients'> & { gradients?: boolean; normalization?: Normalization },
): Classifier {
  const { normalization, gradients = true, ...withoutGradients } = meta;
  const rest = { ...withoutGradients, gradients };
  if (!normalization) return { ...rest, predictLogits: logitsFn };
  const { a, b } = preprocessAffine(
    { scale: normalization.scale ?? rest.bounds, mean: normalization.mean, std: normalization.std },
    rest.bounds,
    rest.inputShape[2],
  );
  const normalize = (x: tf.Tensor4D) => tf.add(tf.mul(x, tf.tensor1d(a)), tf.tensor1d(b)) as tf.Tensor4D;
  const features = rest.features;
  const firstNonFinite = rest.firstNonFinite;
  return {
    ...rest,
    predictLogits: (x) => tf.tidy(() => logitsFn(normalize(x))),
    ...(features ? { features: (x: tf.Tensor4D, layer: string) => tf.tidy(() => features(normalize(x), layer)) } : {}),
    ...(firstNonFinite
      ? {
          firstNonFinite: (x: tf.Tensor4D) => {
            let found: string | undefined;
            tf.tidy(() => {
              found = firstNonFinite(normalize(x));
            });
            return found;
          },
        }
      : {}),
  };
}

/** Predicted class and its softmax confidence, per sample. */
export function predict(model: Classifier, x: tf.Tensor4D): { labels: Int32Array; confidence: Float32Array } {
  return tf.tidy(() => {
    const probs = tf.softmax(model.predictLogits(x));
    return {
      labels: tf.argMax(probs, 1).dataSync() as Int32Array,
      confidence: tf.max(probs, 1).dataSync() as Float32Array,
    };
  });
}

/** A classifier that counts the images pushed through it, so that no attack counts by hand. */
export interface CountingClassifier extends Classifier {
  readonly passes: { forward: number; backward: number };
}

/**
 * Wraps a model to count forward passes (every predictLogits call) and backward passes (every
 * gradient that flows back through the logits it returned, however it was asked for: tf.grad,
 * tf.valueAndGrad, an optimizer). The logits pass through an identity with a custom gradient
 * that counts the images and hands the gradient on unchanged, so a gradient cannot bypass the
 * count. Counters nest: a transfer attack's surrogate counter sees the passes of the PGD run
 * inside it, as each wrapper's identity counts. The wrapper does not own the weights (no dispose).
 */
export function countingClassifier(model: Classifier): CountingClassifier {
  const { dispose: _notOwned, ...rest } = model;
  const passes = { forward: 0, backward: 0 };
  const counted = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => ({
    value: tf.clone(inputs[0] as tf.Tensor),
    gradFunc: (dy: tf.Tensor) => {
      passes.backward += dy.shape[0]!;
      return tf.clone(dy);
    },
  }));
  return {
    ...rest,
    passes,
    predictLogits: (x) => {
      passes.forward += x.shape[0];
      return tf.tidy(() => counted(model.predictLogits(x)) as tf.Tensor2D);
    },
  };
}
