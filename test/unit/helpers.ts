import * as assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend, makeClassifier, type BackendChoice, type Classifier } from '../../src/engine';
import type { TensorBackend } from '../../src/protocol/vocabulary';

export async function useBackend(choice: BackendChoice = 'wasm'): Promise<void> {
  const info = await initBackend(choice);
  assert.equal(info.name, choice === 'wasm-stock' ? 'wasm' : choice);
}

export type EngineBackend = TensorBackend;

function resolves(pkg: string): boolean {
  try {
    createRequire(path.join(process.cwd(), 'index.js')).resolve(pkg);
    return true;
  } catch {
    return false;
  }
}

/**
 * The backends engine suites run on: cpu (the reference), wasm (our kernels), and tensorflow
 * when tfjs-node resolves. RL_TEST_BACKENDS=wasm (a comma list) narrows them while working.
 */
export const ENGINE_BACKENDS: readonly EngineBackend[] = (() => {
  const all: EngineBackend[] = ['cpu', 'wasm', ...(resolves('@tensorflow/tfjs-node') ? ['tensorflow' as const] : [])];
  const wanted = process.env.RL_TEST_BACKENDS?.split(',').map((b) => b.trim());
  return wanted ? all.filter((b) => wanted.includes(b)) : all;
})();

/**
 * Runs a suite once per backend, as tfjs's describeWithFlags does: each run is a describe block
 * "on <backend>" whose before hook switches the backend, so a kernel bug on one backend (the wasm
 * Sign bug) fails there. `body` registers the tests (and may create its fixtures in a before hook).
 */
export function forEachBackend(
  body: (backend: EngineBackend) => void,
  backends: readonly EngineBackend[] = ENGINE_BACKENDS,
): void {
  for (const backend of backends) {
    describe(`on ${backend}`, () => {
      before(() => useBackend(backend));
      body(backend);
    });
  }
}

/**
 * Runs fn and asserts it leaves tf.memory().numTensors where it found it (tfjs's
 * expectNoLeakedTensors).
 */
export async function expectNoLeak<T>(fn: () => Promise<T> | T): Promise<T> {
  const before = tf.memory().numTensors;
  const result = await fn();
  assert.equal(tf.memory().numTensors, before, 'tf.memory().numTensors changed');
  return result;
}

/** A test that also asserts it leaves no tensor behind: every engine test is one. */
export function engineTest(name: string, fn: () => Promise<unknown> | unknown): void {
  test(name, async () => {
    await expectNoLeak(fn);
  });
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `rl-${prefix}-`));
}

/** A linear classifier on [h, w, 1] inputs with logits [w·x + b, 0]; dispose() frees w. */
export function linearClassifier(weights: Float32Array, bias: number, shape: [number, number, number]): Classifier {
  const w = tf.keep(tf.tensor2d(weights, [weights.length, 1]));
  return makeClassifier(
    (x) =>
      tf.tidy(() => {
        const f = tf.add(tf.matMul(tf.reshape(x, [x.shape[0], -1]), w), bias);
        return tf.concat([f, tf.zerosLike(f)], 1) as tf.Tensor2D;
      }),
    { inputShape: shape, numClasses: 2, bounds: [0, 1], source: 'linear', warnings: [], dispose: () => w.dispose() },
  );
}

/** Deterministic pseudo-random floats for fixtures. */
export function seededFloats(n: number, seed: number, lo = 0, hi = 1): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return lo + ((s >>> 8) / 16777216) * (hi - lo);
  });
}
