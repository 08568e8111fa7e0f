import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend, makeClassifier, type BackendChoice, type Classifier } from '../../src/engine';

export async function useBackend(choice: BackendChoice = 'wasm'): Promise<void> {
  const info = await initBackend(choice);
  assert.equal(info.name, choice === 'wasm-stock' ? 'wasm' : choice);
}

/** Runs fn and asserts it leaves tf.memory().numTensors where it found it. */
export async function expectNoLeak<T>(fn: () => Promise<T> | T): Promise<T> {
  const before = tf.memory().numTensors;
  const result = await fn();
  assert.equal(tf.memory().numTensors, before, 'tf.memory().numTensors changed');
  return result;
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `rl-${prefix}-`));
}

/** A linear classifier on [h, w, 1] inputs with logits [w·x + b, 0]. */
export function linearClassifier(weights: Float32Array, bias: number, shape: [number, number, number]): Classifier {
  const w = tf.keep(tf.tensor2d(weights, [weights.length, 1]));
  return makeClassifier((x) => tf.tidy(() => {
    const f = tf.add(tf.matMul(tf.reshape(x, [x.shape[0], -1]), w), bias);
    return tf.concat([f, tf.zerosLike(f)], 1) as tf.Tensor2D;
  }), { inputShape: shape, numClasses: 2, bounds: [0, 1], source: 'linear', warnings: [] });
}

/** Deterministic pseudo-random floats for fixtures. */
export function seededFloats(n: number, seed: number, lo = 0, hi = 1): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return lo + ((s >>> 8) / 16777216) * (hi - lo);
  });
}
