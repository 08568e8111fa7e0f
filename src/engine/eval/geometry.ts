/**
 * The local geometry of a model around its inputs, estimated with PGD in input space:
 *
 * - Robust representations (seed §6): C in ‖f(x) − f(x')‖₂ ≤ C·ε for a hidden layer f. For each
 *   sample, maximise ‖f(x') − f(x)‖₂ over the ε-ball (PGD from a random start, as the gradient of the
 *   distance vanishes at x' = x) and report C = max distance / ε. A lower bound on the true local
 *   constant; robust training should shrink it.
 * - Local linearity (Qin et al. 2019, "Adversarial Robustness through Local Linearization"):
 *   γ(ε, x) = max_{‖δ‖ ≤ ε} |ℓ(x + δ) − ℓ(x) − δᵀ∇ₓℓ(x)|, the largest gap between the ce
 *   loss and its first-order Taylor model inside the ball. Small γ means gradients predict the loss well,
 *   so gradient attacks can be trusted; a large γ is a symptom of gradient masking.
 */
import * as tf from '@tensorflow/tfjs-core';
import { throwIfAborted } from '../errors';
import { yieldToEventLoop } from '../scheduling';
import type { Classifier } from '../models/classifier';
import { batchTensors, type Split } from '../data/datasets';
import { perSampleLoss } from '../losses';
import { Rng } from '../rng';
import { ascentDirection, epsTensor, project, randomInit, type ThreatModel } from '../threat';

export interface GeometryOptions {
  steps?: number;
  seed?: number;
  signal?: AbortSignal;
}

export interface Distribution {
  mean: number;
  median: number;
  p90: number;
  max: number;
  /** Per-sample values, for histograms. */
  values: number[];
}

export function distribution(values: ArrayLike<number>): Distribution {
  const sorted = Float64Array.from(values).sort();
  const at = (q: number) =>
    sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * (sorted.length - 1) + 0.5))]! : 0;
  const mean = sorted.length ? sorted.reduce((s, v) => s + v, 0) / sorted.length : 0;
  return { mean, median: at(0.5), p90: at(0.9), max: at(1), values: Array.from(values, (v) => +v.toFixed(6)) };
}

/**
 * Maximises a per-sample objective over the ball with PGD from a random start; returns the best
 * value seen per sample. The step decays from ε to ε/steps (cosine): early steps as large as the
 * ball act like power iteration (for a linear map they find the top singular direction), late
 * ones refine.
 */
async function maximise(
  objective: (xAdv: tf.Tensor4D) => tf.Tensor1D,
  x: tf.Tensor4D,
  threat: ThreatModel,
  opts: GeometryOptions,
  what: string,
): Promise<Float32Array> {
  const steps = opts.steps ?? 20;
  const n = x.shape[0];
  const best = new Float32Array(n).fill(-Infinity);
  const eps = epsTensor(threat);
  let current = randomInit(threat, x, new Rng(opts.seed ?? 0));
  let perSample: tf.Tensor1D | undefined;
  const grad = tf.valueAndGrad((xa: tf.Tensor) => {
    perSample = tf.keep(objective(xa as tf.Tensor4D));
    return tf.sum(perSample) as tf.Scalar;
  });
  try {
    for (let step = 0; step <= steps; step++) {
      throwIfAborted(opts.signal, what);
      if (step === steps) {
        const values = tf.tidy(() => objective(current).dataSync() as Float32Array);
        values.forEach((v, i) => {
          if (v > best[i]!) best[i] = v;
        });
        break;
      }
      const { value, grad: g } = grad(current);
      value.dispose();
      const values = perSample!.dataSync() as Float32Array;
      perSample!.dispose();
      values.forEach((v, i) => {
        if (v > best[i]!) best[i] = v;
      });
      const size = Math.max(1 / steps, 0.5 * (1 + Math.cos((Math.PI * step) / steps)));
      const next = tf.tidy(() =>
        project(
          threat,
          x,
          tf.add(current, tf.mul(tf.mul(eps, size), ascentDirection(threat.norm, g as tf.Tensor4D))) as tf.Tensor4D,
        ),
      );
      g.dispose();
      current.dispose();
      current = next;
      if (opts.signal) await yieldToEventLoop();
    }
  } finally {
    current.dispose();
    eps.dispose();
  }
  return best;
}

/** C per sample for `layer` (default: the last hidden layer); undefined when the model exposes no layers. */
export async function representationConstant(
  model: Classifier,
  x: tf.Tensor4D,
  threat: ThreatModel,
  layer?: string,
  opts: GeometryOptions = {},
): Promise<{ layer: string; c: Float32Array } | undefined> {
  const features = model.features;
  const chosen = layer ?? model.featureLayers?.[model.featureLayers.length - 1];
  if (!features || !chosen) return undefined;
  const clean = tf.tidy(() => features(x, chosen));
  try {
    const distance = await maximise(
      (xa) =>
        tf.tidy(() => {
          // Squared distance for a smooth gradient; the reported value is its square root.
          return tf.sum(tf.square(tf.sub(features(xa, chosen), clean)), 1) as tf.Tensor1D;
        }),
      x,
      threat,
      opts,
      'representation probe',
    );
    const eps = (i: number) => (typeof threat.eps === 'number' ? threat.eps : threat.eps[i]!);
    return {
      layer: chosen,
      c: Float32Array.from(distance, (d, i) => (eps(i) > 0 ? Math.sqrt(Math.max(d, 0)) / eps(i) : 0)),
    };
  } finally {
    clean.dispose();
  }
}

/** γ(ε, x) per sample, for the ce loss at the true labels. */
export async function linearityGap(
  model: Classifier,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  threat: ThreatModel,
  opts: GeometryOptions = {},
): Promise<Float32Array> {
  const lossAt = (xa: tf.Tensor4D) => perSampleLoss('ce', model.predictLogits(xa), y);
  // ℓ(x) per sample and ∇ℓ(x) from one forward and backward pass.
  let kept: tf.Tensor1D | undefined;
  const { value, grad } = tf.valueAndGrad((xa: tf.Tensor) => {
    kept = tf.keep(lossAt(xa as tf.Tensor4D));
    return tf.sum(kept) as tf.Scalar;
  })(x);
  value.dispose();
  const base = kept!;
  try {
    return await maximise(
      (xa) =>
        tf.tidy(() => {
          const n = x.shape[0];
          const delta = tf.sub(xa, x);
          const firstOrder = tf.sum(tf.reshape(tf.mul(delta, grad), [n, -1]), 1);
          return tf.abs(tf.sub(tf.sub(lossAt(xa), base), firstOrder)) as tf.Tensor1D;
        }),
      x,
      threat,
      opts,
      'linearity probe',
    );
  } finally {
    tf.dispose([grad, base]);
  }
}

/**
 * Medians measured on the example models with `robustness-lab evaluate --n 200` (L∞ ε = 0.1,
 * layer fc1, 20 steps, the embedded sample's first 200 test images; docs/results.md), with the exact
 * wasm Sign kernel.
 */
export const REFERENCE_GEOMETRY: ReadonlyArray<{
  model: string;
  norm: string;
  eps: number;
  layer: string;
  c_median: number;
  gamma_median: number;
}> = [
  {
    model: 'examples/fashion-mnist/smallcnn (standard)',
    norm: 'linf',
    eps: 0.1,
    layer: 'fc1',
    c_median: 207.8,
    gamma_median: 24.2,
  },
  {
    model: 'examples/fashion-mnist/smallcnn-robust (PGD-AT)',
    norm: 'linf',
    eps: 0.1,
    layer: 'fc1',
    c_median: 19.25,
    gamma_median: 0.0278,
  },
  {
    model: 'examples/fashion-mnist/smallcnn-distilled (T = 100)',
    norm: 'linf',
    eps: 0.1,
    layer: 'fc1',
    c_median: 10831,
    gamma_median: 0,
  },
];

export interface GeometryProbe {
  n: number;
  eps: number;
  steps: number;
  representation?: Distribution & { layer: string };
  linearity: Distribution;
}

/** Both estimates on the first `limit` points of a split (default 200), in batches of 100. */
export async function geometryProbe(
  model: Classifier,
  split: Split,
  shape: [number, number, number],
  threat: ThreatModel & { eps: number },
  opts: GeometryOptions & { limit?: number; layer?: string; onProgress?: (done: number, total: number) => void } = {},
): Promise<GeometryProbe> {
  const n = Math.min(split.count, opts.limit ?? 200);
  const c: number[] = [];
  const gamma: number[] = [];
  let layer: string | undefined;
  for (let start = 0; start < n; start += 100) {
    opts.onProgress?.(start, n);
    const { x, y } = batchTensors(split, shape, start, Math.min(100, n - start));
    try {
      const rep = await representationConstant(model, x, threat, opts.layer, opts);
      if (rep) {
        layer = rep.layer;
        for (const value of rep.c) c.push(value);
      }
      for (const value of await linearityGap(model, x, y, threat, opts)) gamma.push(value);
    } finally {
      tf.dispose([x, y]);
    }
  }
  opts.onProgress?.(n, n);
  return {
    n,
    eps: threat.eps,
    steps: opts.steps ?? 20,
    linearity: distribution(gamma),
    ...(layer ? { representation: { layer, ...distribution(c) } } : {}),
  };
}
