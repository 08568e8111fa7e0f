/**
 * What robust training adds to a method's update (PGD-AT, TRADES):
 *
 * - Weight averaging: an exponential moving average of the trainable weights, kept beside the raw
 *   ones, w̄ ← d_t·w̄ + (1 − d_t)·w after every update, with the warm-up d_t = min(d, (1 + t)/(10 + t))
 *   (t = updates before this one), so that the first updates are not averaged with the random
 *   initialisation for thousands of steps.
 * - AWP (Wu, Xia & Wang 2020, "Adversarial Weight Perturbation Helps Robust Generalization"): after
 *   x' is found, one ascent step on the weights, layer by layer v_l = γ·‖w_l‖·g_l/‖g_l‖ with g the
 *   gradient of the method's adversarial loss, then the training gradient at w + v, applied to w.
 *   As in the authors' code, only the kernels (weights of two or more dimensions) are perturbed,
 *   not the biases; w is restored by assignment, so it comes back bit for bit.
 * - Early stopping on robust validation (Rice, Wong & Kolter 2020, robust overfitting): images held
 *   out of the TRAINING split (its last N), disjoint from the images trained on and from the test split.
 */
import * as tf from '@tensorflow/tfjs-core';
import { InputError } from '../errors';
import {
  DEFAULT_AWP_GAMMA,
  DEFAULT_EMA_DECAY,
  DEFAULT_VALIDATION_IMAGES,
  VALIDATION_PGD_STEPS,
} from '../../protocol/training';

export { DEFAULT_AWP_GAMMA, DEFAULT_EMA_DECAY, DEFAULT_VALIDATION_IMAGES, VALIDATION_PGD_STEPS };

/** The decay of the t-th update (t = 0 for the first): min(decay, (1 + t)/(10 + t)). */
export function emaDecayAt(decay: number, t: number): number {
  return Math.min(decay, (1 + t) / (10 + t));
}

/** The moving average of a list of variables; owns its tensors (dispose). */
export class WeightAverage {
  private values: tf.Tensor[];

  constructor(
    readonly decay: number,
    variables: tf.Variable[],
  ) {
    this.values = variables.map((v) => tf.clone(v));
  }

  get weights(): readonly tf.Tensor[] {
    return this.values;
  }

  /** Folds in the variables' current values as update number `t` (0-based, over the whole run). */
  update(variables: tf.Variable[], t: number): void {
    const d = emaDecayAt(this.decay, t);
    const next = tf.tidy(() => variables.map((v, i) => tf.add(tf.mul(this.values[i]!, d), tf.mul(v, 1 - d))));
    tf.dispose(this.values);
    this.values = next;
  }

  /** The average as one flat array, in variable order (checkpoints). */
  flatten(): Float32Array {
    const size = this.values.reduce((s, v) => s + v.size, 0);
    const out = new Float32Array(size);
    let offset = 0;
    for (const v of this.values) {
      out.set(v.dataSync() as Float32Array, offset);
      offset += v.size;
    }
    return out;
  }

  /** Replaces the average with a flat copy (a checkpoint's). */
  load(flat: Float32Array): void {
    const total = this.values.reduce((s, v) => s + v.size, 0);
    if (flat.length !== total)
      throw new Error(`the weight average holds ${total} values, the checkpoint ${flat.length}`);
    let offset = 0;
    const next = this.values.map((v) => {
      const t = tf.tensor(flat.slice(offset, offset + v.size), v.shape, 'float32');
      offset += v.size;
      return t;
    });
    tf.dispose(this.values);
    this.values = next;
  }

  dispose(): void {
    tf.dispose(this.values);
    this.values = [];
  }
}

/** Runs `fn` with `weights` in `variables`, then puts the variables' own values back exactly. */
export async function withWeights<T>(
  variables: tf.Variable[],
  weights: readonly tf.Tensor[],
  fn: () => Promise<T>,
): Promise<T> {
  const saved = variables.map((v) => tf.clone(v));
  try {
    variables.forEach((v, i) => v.assign(weights[i]!));
    return await fn();
  } finally {
    variables.forEach((v, i) => v.assign(saved[i]!));
    tf.dispose(saved);
  }
}

/**
 * AWP's perturbation of each kernel: v_l = γ·‖w_l‖·g_l/(‖g_l‖ + 1e-20) (Frobenius norms, one per
 * layer). A zero gradient gives a zero perturbation. Caller disposes.
 */
export function awpPerturbation(kernels: tf.Tensor[], grads: tf.Tensor[], gamma: number): tf.Tensor[] {
  return tf.tidy(() =>
    kernels.map((w, i) => {
      const g = grads[i]!;
      const scale = tf.div(tf.mul(gamma, tf.norm(w)), tf.add(tf.norm(g), 1e-20));
      return tf.mul(g, scale);
    }),
  );
}

/** Adds `perturbation` to `kernels` and returns their values from before, to restore by assignment. */
export function perturbKernels(kernels: tf.Variable[], perturbation: tf.Tensor[]): tf.Tensor[] {
  const saved = kernels.map((k) => tf.clone(k));
  tf.tidy(() => kernels.forEach((k, i) => k.assign(tf.add(k, perturbation[i]!))));
  return saved;
}

/** Puts the kernels' saved values back (exactly: an assignment, not a subtraction) and disposes them. */
export function restoreKernels(kernels: tf.Variable[], saved: tf.Tensor[]): void {
  kernels.forEach((k, i) => k.assign(saved[i]!));
  tf.dispose(saved);
}

/** Which training images a run trains on and which it holds out for validation: index ranges [start, end). */
export interface TrainingSplit {
  train: { start: number; end: number };
  validation: { start: number; end: number };
}

/**
 * The training split's first images train (the first `trainLimit`, else all the held-out ones
 * leave), its last `validation` ones validate: disjoint by construction, and both disjoint from
 * the test split. Too few images, or a trainLimit that would reach into the held-out ones, is refused.
 */
export function trainingSplit(count: number, trainLimit: number | undefined, validation: number): TrainingSplit {
  if (validation <= 0)
    return { train: { start: 0, end: Math.min(count, trainLimit ?? count) }, validation: { start: count, end: count } };
  if (validation >= count) {
    throw new InputError(
      'train options',
      'validation',
      `${validation} held-out images leave none of the ${count} training images to train on`,
    );
  }
  const available = count - validation;
  if (trainLimit !== undefined && trainLimit > available) {
    throw new InputError(
      'train options',
      'trainLimit',
      `${trainLimit} training images and ${validation} held out for validation exceed the ${count} of the training split; ` +
        `use at most ${available} training images, or hold out fewer`,
    );
  }
  return { train: { start: 0, end: trainLimit ?? available }, validation: { start: available, end: count } };
}
