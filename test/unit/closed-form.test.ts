/**
 * Closed-form truth: for a linear classifier f(x) = w·x + b the smallest perturbation that
 * flips the decision is |f(x)|/‖w‖₁ in L∞ and |f(x)|/‖w‖₂ in L2 (when the box does not bind).
 * Every attack must succeed on every sample at 1.01× that budget, and never below it.
 */
import { before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { ATTACKS, type Norm } from '../../src/engine';
import { expectNoLeak, linearClassifier, seededFloats, useBackend } from './helpers';

const SHAPE: [number, number, number] = [4, 4, 1];
const D = 16;

before(() => useBackend('wasm'));

function fixture(norm: Norm) {
  const w = seededFloats(D, 11, -1, 1);
  const bias = -w.reduce((s, v) => s + v * 0.5, 0) + 0.3;
  const model = linearClassifier(w, bias, SHAPE);
  const wNorm = norm === 'linf' ? w.reduce((s, v) => s + Math.abs(v), 0) : Math.sqrt(w.reduce((s, v) => s + v * v, 0));
  // Inputs near the centre of the box, so a budget of ≤ 0.15 never reaches its edges.
  const raw = seededFloats(64 * D, 12, 0.35, 0.65);
  const xs: number[] = [];
  const labels: number[] = [];
  const optimal: number[] = [];
  for (let i = 0; i < 64 && xs.length < 24 * D; i++) {
    const x = raw.subarray(i * D, (i + 1) * D);
    const f = x.reduce((s, v, j) => s + v * w[j]!, bias);
    const budget = Math.abs(f) / wNorm;
    if (budget < 0.01 || budget > (norm === 'linf' ? 0.15 : 0.15)) continue;
    xs.push(...x);
    labels.push(f > 0 ? 0 : 1);
    optimal.push(budget);
  }
  return { model, x: tf.tensor4d(xs, [labels.length, ...SHAPE]), y: tf.tensor1d(labels, 'int32'), optimal: Float32Array.from(optimal) };
}

for (const entry of ATTACKS) {
  for (const norm of entry.norms) {
    test(`${entry.id} ${norm}: succeeds on every sample at 1.01× the optimal budget, never at 0.99×`, async () => {
      const { model, x, y, optimal } = fixture(norm);
      assert.ok(optimal.length >= 12, `fixture has ${optimal.length} samples`);
      // An L2 random start lands almost orthogonal to w (d = 16) and the projection turns it
      // toward w only slowly, so tightness within 1% is asked of the deterministic start there.
      const opts = { steps: 50, seed: 3, randomStart: norm === 'linf' };
      for (const [factor, expectSuccess] of [[1.01, true], [0.99, false]] as const) {
        const eps = optimal.map((e) => e * factor);
        const result = await expectNoLeak(async () => {
          const r = await entry.run(model, x, y, { norm, eps, bounds: [0, 1] }, opts);
          r.xAdv.dispose();
          return r;
        });
        const hits = result.success.filter(Boolean).length;
        assert.equal(hits, expectSuccess ? optimal.length : 0,
          `${factor}× budget: ${hits}/${optimal.length} succeeded`);
      }
      tf.dispose([x, y]);
    });
  }
}
