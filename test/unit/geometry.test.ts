/** Robust-representation constant C and the local-linearity gap γ: closed forms, scaling, and the example models. */
import { before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { firstN, loadClassifier, loadTrainingData, makeClassifier, type Classifier } from '../../src/engine';
import { geometryProbe, linearityGap, representationConstant } from '../../src/engine/eval/geometry';
import { engineTest, expectNoLeak, seededFloats, useBackend } from './helpers';

const SHAPE: [number, number, number] = [4, 4, 1];
const D = 16;
const K = 3;

before(() => useBackend('wasm'));

/** Features f(x) = Wᵀx (16 → 3); logits the same, so the model is linear up to its softmax. */
function linearModel(): { model: Classifier; W: Float32Array; Wt: tf.Tensor2D } {
  const W = seededFloats(D * K, 31, -1, 1);
  const Wt = tf.keep(tf.tensor2d(W, [D, K]));
  const f = (x: tf.Tensor4D) => tf.tidy(() => tf.matMul(tf.reshape(x, [x.shape[0], -1]), Wt) as tf.Tensor2D);
  const model = makeClassifier(f, {
    inputShape: SHAPE,
    numClasses: K,
    bounds: [0, 1],
    source: 'linear',
    warnings: [],
    featureLayers: ['dense'],
    features: (x) => f(x),
  });
  return { model, W, Wt };
}

/** σ_max(W) by power iteration on WᵀW (3 × 3). */
function largestSingularValue(W: Float32Array): number {
  const g = Array.from({ length: K * K }, (_, e) => {
    const a = Math.floor(e / K);
    const b = e % K;
    let s = 0;
    for (let i = 0; i < D; i++) s += W[i * K + a]! * W[i * K + b]!;
    return s;
  });
  let v = [1, 0.5, 0.25];
  let lambda = 0;
  for (let it = 0; it < 500; it++) {
    const w = [0, 1, 2].map((a) => g[a * K]! * v[0]! + g[a * K + 1]! * v[1]! + g[a * K + 2]! * v[2]!);
    lambda = Math.hypot(...w);
    v = w.map((x) => x / lambda);
  }
  return Math.sqrt(lambda);
}

engineTest(
  'C of a linear layer in an L2 ball: never above its largest singular value, and within 1% of it',
  async () => {
    const { model, W, Wt } = linearModel();
    const x = tf.tensor4d(seededFloats(8 * D, 32, 0.4, 0.6), [8, ...SHAPE]);
    const result = await expectNoLeak(() =>
      representationConstant(model, x, { norm: 'l2', eps: 0.05, bounds: [0, 1] }, undefined, { steps: 60 }),
    );
    const sigma = largestSingularValue(W);
    assert.equal(result?.layer, 'dense');
    // PGD finds a lower bound on the local constant; for a linear map the bound is σ_max,
    // reached on the top singular direction.
    for (const c of result!.c) assert.ok(c <= sigma * 1.0001 && c >= sigma * 0.99, `C ${c} vs σ_max ${sigma}`);
    tf.dispose([x, Wt]);
  },
);

engineTest('γ is ≥ 0 and, for a smooth model, shrinks about 4× when ε halves (second order)', async () => {
  const { model, Wt } = linearModel();
  const x = tf.tensor4d(seededFloats(8 * D, 33, 0.4, 0.6), [8, ...SHAPE]);
  const y = tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1], 'int32');
  const at = (eps: number) =>
    expectNoLeak(() => linearityGap(model, x, y, { norm: 'linf', eps, bounds: [0, 1] }, { steps: 40 }));
  const big = await at(0.02);
  const small = await at(0.01);
  big.forEach((g, i) => {
    assert.ok(g > 0 && small[i]! > 0, `sample ${i}: γ ${g}, ${small[i]}`);
    const ratio = g / small[i]!;
    assert.ok(ratio > 3 && ratio < 5, `sample ${i}: γ(0.02)/γ(0.01) = ${ratio}`);
  });
  tf.dispose([x, y, Wt]);
});

engineTest(
  'the robust example has a smaller C and γ than the standard one; a model without layers has no C',
  async () => {
    const data = await loadTrainingData('embedded');
    const split = firstN(data.test, 40);
    const threat = { norm: 'linf' as const, eps: 0.1, bounds: [0, 1] as [number, number] };
    const examples = path.join(__dirname, '..', '..', 'examples', 'fashion-mnist');
    const [standard, robust] = await Promise.all(
      ['smallcnn', 'smallcnn-robust'].map((m) => loadClassifier(path.join(examples, m, 'model.json'))),
    );
    const a = await expectNoLeak(() => geometryProbe(standard!, split, data.shape, threat, { steps: 10 }));
    const b = await expectNoLeak(() => geometryProbe(robust!, split, data.shape, threat, { steps: 10 }));
    assert.equal(a.representation?.layer, 'fc1');
    assert.equal(a.n, 40);
    assert.equal(a.representation?.values.length, 40);
    assert.ok(
      b.representation!.median < a.representation!.median / 2,
      `C medians: robust ${b.representation!.median}, standard ${a.representation!.median}`,
    );
    assert.ok(
      b.linearity.median < a.linearity.median / 10,
      `γ medians: robust ${b.linearity.median}, standard ${a.linearity.median}`,
    );
    const bare = makeClassifier(standard!.predictLogits, {
      inputShape: data.shape,
      numClasses: 10,
      bounds: [0, 1],
      source: 'bare',
      warnings: [],
    });
    const c = await geometryProbe(bare, firstN(split, 10), data.shape, threat, { steps: 2 });
    assert.equal(c.representation, undefined);
    assert.equal(c.linearity.values.length, 10);
    standard!.dispose?.();
    robust!.dispose?.();
  },
);
