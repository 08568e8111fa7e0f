/**
 * A seeded generator passed explicitly to attacks and training: no global reseeding.
 * mulberry32 for the stream; tfjs random ops get integer seeds drawn from it.
 */
import * as tf from '@tensorflow/tfjs-core';

export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = (Math.floor(seed) ^ 0x9e3779b9) >>> 0;
  }
  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** A 31-bit seed for a tfjs random op. */
  nextSeed(): number {
    return Math.floor(this.next() * 0x7fffffff);
  }
  uniform(shape: number[], min: number, max: number): tf.Tensor {
    return tf.randomUniform(shape, min, max, 'float32', this.nextSeed());
  }
  normal(shape: number[]): tf.Tensor {
    return tf.randomNormal(shape, 0, 1, 'float32', this.nextSeed());
  }
  /** Fisher–Yates permutation of 0..n-1. */
  permutation(n: number): Int32Array {
    const order = new Int32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      const tmp = order[i]!;
      order[i] = order[j]!;
      order[j] = tmp;
    }
    return order;
  }
}
