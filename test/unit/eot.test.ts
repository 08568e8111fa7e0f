/**
 * Expectation over transformation on a model built to need it: a linear classifier whose logits
 * carry a term a·sin(ω·(x·v_c) + φ_c) with a fresh random phase φ_c per call, sample and class.
 * Its value is at most a (small against the margins), but its gradient a·ω·cos(…)·v_c is ±6 per pixel against
 * the linear part's |w| ≤ 1, zero-mean over φ: one pass's gradient sign points the wrong way as often as not.
 * Plain APGD random-walks; averaged over 20 passes the noise shrinks by √20 and the linear part leads.
 */
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { getAttack, makeClassifier, type Classifier } from '../../src/engine';
import { engineTest, forEachBackend, seededFloats } from './helpers';

const SHAPE: [number, number, number] = [4, 4, 1];
const D = 16;
const C = 3;
const AMPLITUDE = 0.02;
const OMEGA = 300;
const N = 40;
const W = seededFloats(D * C, 5, -1, 1);

/** The randomised model: seeds its phases from a call counter, so every run of a test draws the same noise. */
function noisyLinear(seed: number): Classifier & { dispose: () => void } {
  const w = tf.keep(tf.tensor2d(W, [D, C]));
  // v_c = ±1 per pixel and class: the noise's gradient is a·ω·cos(…)·v_c, 6× |w| on average.
  const v = tf.keep(
    tf.tensor2d(
      Float32Array.from(seededFloats(D * C, 9), (u) => (u < 0.5 ? -1 : 1)),
      [D, C],
    ),
  );
  let calls = 0;
  return makeClassifier(
    (x) =>
      tf.tidy(() => {
        const flat = tf.reshape(x, [x.shape[0], D]);
        const phase = tf.randomUniform([x.shape[0], C], 0, 2 * Math.PI, 'float32', seed + calls++);
        const noise = tf.mul(AMPLITUDE, tf.sin(tf.add(tf.mul(OMEGA, tf.matMul(flat, v)), phase)));
        return tf.add(tf.matMul(flat, w), noise) as tf.Tensor2D;
      }),
    {
      inputShape: SHAPE,
      numClasses: C,
      bounds: [0, 1],
      source: 'noisy linear',
      warnings: [],
      dispose: () => tf.dispose([w, v]),
    },
  ) as Classifier & { dispose: () => void };
}

/**
 * N points inside the box, labelled by the linear part, each with ε = 1.25× its smallest L∞
 * budget min_j (z_y − z_j)/‖w_y − w_j‖₁: the attack must find nearly the best corner, a random one fails.
 */
function points(): { x: tf.Tensor4D; y: tf.Tensor1D; eps: Float32Array } {
  const pixels = seededFloats(N * D, 21, 0.3, 0.7);
  const eps = new Float32Array(N);
  const labels = new Float32Array(N);
  for (let i = 0; i < N; i++) {
    const z = Array.from({ length: C }, (_, c) => {
      let s = 0;
      for (let d = 0; d < D; d++) s += pixels[i * D + d]! * W[d * C + c]!;
      return s;
    });
    const y = z.indexOf(Math.max(...z));
    labels[i] = y;
    let budget = Infinity;
    for (let j = 0; j < C; j++) {
      if (j === y) continue;
      let l1 = 0;
      for (let d = 0; d < D; d++) l1 += Math.abs(W[d * C + y]! - W[d * C + j]!);
      budget = Math.min(budget, (z[y]! - z[j]!) / l1);
    }
    eps[i] = 1.25 * budget;
  }
  return { x: tf.tensor4d(pixels, [N, ...SHAPE]), y: tf.tensor1d(labels), eps };
}

/** Success rates measured on cpu (seeded, so fixed): APGD-50 7.5% → 72.5% with EOT-20, PGD-50 0% → 30%. */
const MARGIN = { apgd: 50, pgd: 25 } as const;

forEachBackend(() => {
  for (const id of ['apgd', 'pgd'] as const) {
    engineTest(
      `${id}: EOT-20 fools ≥ ${MARGIN[id]} points more of a randomised model than one pass per step`,
      async () => {
        const model = noisyLinear(1000);
        const { x, y, eps } = points();
        const threat = { norm: 'linf' as const, eps, bounds: [0, 1] as [number, number] };
        try {
          const plain = await getAttack(id).run(model, x, y, threat, { steps: 50, seed: 3 });
          const eot = await getAttack(id).run(model, x, y, threat, { steps: 50, seed: 3, eot: 20 });
          tf.dispose([plain.xAdv, eot.xAdv]);
          const rate = (s: boolean[]) => (100 * s.filter(Boolean).length) / s.length;
          assert.ok(rate(plain.success) <= 10, `plain ${id} fooled ${rate(plain.success)}%`);
          assert.ok(
            rate(eot.success) - rate(plain.success) >= MARGIN[id],
            `plain ${rate(plain.success)}% vs EOT-20 ${rate(eot.success)}%`,
          );
          // Every pass counts: each step's backward passes come 20 per sample, and outnumber one pass's (APGD: fooled samples leave sooner).
          assert.equal(eot.backwardPasses % 20, 0);
          assert.ok(eot.backwardPasses > 2 * plain.backwardPasses, `${eot.backwardPasses} vs ${plain.backwardPasses}`);
          assert.equal(
            getAttack(id).label({ steps: 50, eot: 20 }),
            id === 'apgd' ? 'APGD-CE-50 EOT-20' : 'PGD-50 EOT-20',
          );
        } finally {
          tf.dispose([x, y]);
          model.dispose();
        }
      },
    );
  }
}, ['cpu']);
