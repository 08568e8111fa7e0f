/**
 * The threat model: a norm ball of radius ε (scalar or per sample) around each input,
 * intersected with the valid input box. `project` is the only place that clips to both.
 */
import * as tf from '@tensorflow/tfjs-core';
import { InputError } from './errors';
import { NORMS, type NormId } from '../protocol/vocabulary';
import type { Rng } from './rng';

export interface ThreatModel {
  norm: NormId;
  /** Radius, one for all samples or one per sample. */
  eps: number | Float32Array;
  /** Valid input range [lo, hi]; x' is clipped into it. */
  bounds: [number, number];
}

/** Largest meaningful radius: the whole box for L∞, its diagonal for L2. */
export function maxEps(norm: NormId, bounds: [number, number], inputSize: number): number {
  const width = bounds[1] - bounds[0];
  return norm === 'linf' ? width : width * Math.sqrt(inputSize);
}

/** Checks a threat model against a batch; `source` names the spec or option for errors. */
export function validateThreat(threat: ThreatModel, n: number, inputSize: number, source = 'threat model'): void {
  if (!NORMS.includes(threat.norm)) {
    throw new InputError(source, 'norm', `"${String(threat.norm)}" is not a norm; use one of ${NORMS.join(', ')}`);
  }
  const [lo, hi] = threat.bounds;
  if (!(Number.isFinite(lo) && Number.isFinite(hi) && lo < hi)) {
    throw new InputError(source, 'bounds', `[${lo}, ${hi}] is not a valid range (need finite lo < hi)`);
  }
  const limit = maxEps(threat.norm, threat.bounds, inputSize);
  const values = typeof threat.eps === 'number' ? [threat.eps] : Array.from(threat.eps);
  if (typeof threat.eps !== 'number' && threat.eps.length !== n) {
    throw new InputError(source, 'eps', `has ${threat.eps.length} per-sample values for ${n} samples`);
  }
  for (const eps of values) {
    if (!Number.isFinite(eps) || eps < 0) {
      throw new InputError(source, 'eps', `${eps} is invalid; ε must be a finite number ≥ 0`);
    }
    if (eps > limit) {
      throw new InputError(
        source,
        'eps',
        `${eps} is wider than the bounds [${lo}, ${hi}] allow for ${threat.norm} (at most ${+limit.toFixed(4)})`,
      );
    }
  }
}

/** ε as a [n,1,1,1] tensor, or a scalar. */
export function epsTensor(threat: ThreatModel): tf.Tensor {
  return typeof threat.eps === 'number' ? tf.scalar(threat.eps) : tf.tensor4d(threat.eps, [threat.eps.length, 1, 1, 1]);
}

/** The threat restricted to the samples at `indices` (for restarts on survivors). */
export function subsetThreat(threat: ThreatModel, indices: ArrayLike<number>): ThreatModel {
  if (typeof threat.eps === 'number') return threat;
  const eps = threat.eps;
  return { ...threat, eps: Float32Array.from(indices, (i) => eps[i]!) };
}

function perSampleNorm(delta: tf.Tensor, norm: NormId): tf.Tensor {
  const flat = tf.reshape(delta, [delta.shape[0]!, -1]);
  const value = norm === 'linf' ? tf.max(tf.abs(flat), 1) : tf.sqrt(tf.sum(tf.square(flat), 1));
  return tf.reshape(value, [delta.shape[0]!, 1, 1, 1]);
}

/** Clips xAdv into the ε-ball around x and into the bounds. */
export function project(threat: ThreatModel, x: tf.Tensor4D, xAdv: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const eps = epsTensor(threat);
    let delta = tf.sub(xAdv, x);
    if (threat.norm === 'linf') {
      delta = tf.minimum(tf.maximum(delta, tf.neg(eps)), eps);
    } else {
      const norms = perSampleNorm(delta, 'l2');
      const factor = tf.minimum(1, tf.div(eps, tf.maximum(norms, 1e-12)));
      delta = tf.mul(delta, factor);
    }
    return tf.clipByValue(tf.add(x, delta), threat.bounds[0], threat.bounds[1]) as tf.Tensor4D;
  });
}

/** A uniform random point of the ball (L∞: uniform cube; L2: uniform in the ball), projected. */
export function randomInit(threat: ThreatModel, x: tf.Tensor4D, rng: Rng): tf.Tensor4D {
  return tf.tidy(() => {
    const eps = epsTensor(threat);
    let delta: tf.Tensor;
    if (threat.norm === 'linf') {
      delta = tf.mul(rng.uniform(x.shape, -1, 1), eps);
    } else {
      const n = x.shape[0];
      const d = x.size / n;
      const direction = rng.normal(x.shape);
      const unit = tf.div(direction, tf.maximum(perSampleNorm(direction, 'l2'), 1e-12));
      const radius = tf.pow(rng.uniform([n, 1, 1, 1], 0, 1), 1 / d);
      delta = tf.mul(tf.mul(unit, radius), eps);
    }
    return project(threat, x, tf.add(x, delta) as tf.Tensor4D);
  });
}

/** The steepest-ascent direction of unit norm: sign(g) for L∞, g/‖g‖₂ for L2. */
export function ascentDirection(norm: NormId, grad: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    if (norm === 'linf') return tf.sign(grad) as tf.Tensor4D;
    return tf.div(grad, tf.maximum(perSampleNorm(grad, 'l2'), 1e-12)) as tf.Tensor4D;
  });
}

/** Per-sample ‖xAdv − x‖ in the threat's norm. */
export function distance(norm: NormId, x: tf.Tensor4D, xAdv: tf.Tensor4D): Float32Array {
  return tf.tidy(() => perSampleNorm(tf.sub(xAdv, x), norm).dataSync() as Float32Array);
}
