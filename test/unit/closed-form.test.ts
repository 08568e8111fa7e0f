/**
 * Closed-form truth: for a linear classifier f(x) = w·x + b the smallest perturbation that
 * flips the decision is |f(x)|/‖w‖₁ in L∞ and |f(x)|/‖w‖₂ in L2 (when the box does not bind).
 * Every attack must succeed on every sample at 1.01× that budget, and never below it, on every backend.
 */
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { ATTACKS, getAttack, makeClassifier, type AttackEntry, type AttackOptions } from '../../src/engine';
import type { NormId } from '../../src/protocol/vocabulary';
import { engineTest, expectNoLeak, forEachBackend, linearClassifier, seededFloats } from './helpers';

const SHAPE: [number, number, number] = [4, 4, 1];
const D = 16;
/** The largest optimal budget a fixture sample may need, so that 1.01× of it stays inside the box. */
const MAX_BUDGET = 0.15;

function fixture(norm: NormId) {
  const w = seededFloats(D, 11, -1, 1);
  const bias = -w.reduce((s, v) => s + v * 0.5, 0) + 0.3;
  const model = linearClassifier(w, bias, SHAPE);
  const wNorm = dualNorm(w, norm);
  return {
    model,
    ...pointsWithinBudget(64, 12, (x) => {
      const f = x.reduce((s, v, j) => s + v * w[j]!, bias);
      return { label: f > 0 ? 0 : 1, budget: Math.abs(f) / wNorm };
    }),
  };
}

/** The norm that bounds a linear function's change over the ball: ‖v‖₁ for L∞, ‖v‖₂ for L2. */
function dualNorm(v: ArrayLike<number>, norm: NormId): number {
  const values = Array.from(v);
  return norm === 'linf'
    ? values.reduce((s, e) => s + Math.abs(e), 0)
    : Math.sqrt(values.reduce((s, e) => s + e * e, 0));
}

/**
 * Up to 24 of `candidates` seeded inputs near the centre of the box (so a budget of ≤ 0.15 never
 * reaches its edges) whose minimal adversarial budget, as `solve` gives it, lies in [0.01, 0.15].
 */
function pointsWithinBudget(
  candidates: number,
  seed: number,
  solve: (x: Float32Array) => { label: number; budget: number },
) {
  const raw = seededFloats(candidates * D, seed, 0.35, 0.65);
  const xs: number[] = [];
  const labels: number[] = [];
  const optimal: number[] = [];
  for (let i = 0; i < candidates && labels.length < 24; i++) {
    const x = raw.subarray(i * D, (i + 1) * D);
    const { label, budget } = solve(x);
    if (budget < 0.01 || budget > MAX_BUDGET) continue;
    xs.push(...x);
    labels.push(label);
    optimal.push(budget);
  }
  return {
    x: tf.tensor4d(xs, [labels.length, ...SHAPE]),
    y: tf.tensor1d(labels, 'int32'),
    optimal: Float32Array.from(optimal),
  };
}

/** The options of `wanted` that the attack takes (its catalogue entry lists them). */
function taken(entry: AttackEntry, wanted: AttackOptions): AttackOptions {
  return Object.fromEntries(Object.entries(wanted).filter(([name]) => name in entry.options || name === 'seed'));
}

/** What each attack needs beyond the shared options, and the budget factor it must succeed at. */
function settings(id: string, norm: NormId, model?: ReturnType<typeof linearClassifier>) {
  // Square is a random search: in L∞ 1000 queries find the optimal corner within 1%; in L2
  // its centred-square windows cannot line up with w exactly, so it gets 3000 queries and 1.5×.
  if (id === 'square')
    return { opts: { queries: norm === 'linf' ? 1000 : 3000 }, factor: norm === 'linf' ? 1.01 : 1.5 };
  if (id === 'transfer') return { opts: model ? { surrogate: model } : {}, factor: 1.01 };
  return { opts: {}, factor: 1.01 };
}

forEachBackend(() => {
  for (const entry of ATTACKS.filter((a) => a.id !== 'apgd-t')) {
    for (const norm of entry.norms) {
      const { factor } = settings(entry.id, norm);
      engineTest(
        `${entry.id} ${norm}: succeeds on every sample at ${factor}× the optimal budget, never at 0.99×`,
        async () => {
          const { model, x, y, optimal } = fixture(norm);
          assert.ok(optimal.length >= 12, `fixture has ${optimal.length} samples`);
          // An L2 random start lands almost orthogonal to w (d = 16) and the projection turns it
          // toward w only slowly, so tightness within 1% is asked of the deterministic start there.
          const extra = settings(entry.id, norm, model);
          const opts = { ...taken(entry, { steps: 50, seed: 3, randomStart: norm === 'linf' }), ...extra.opts };
          for (const [f, expectSuccess] of [
            [extra.factor, true],
            [0.99, false],
          ] as const) {
            const eps = optimal.map((e) => e * f);
            const result = await expectNoLeak(async () => {
              const r = await entry.run(model, x, y, { norm, eps, bounds: [0, 1] }, opts);
              r.xAdv.dispose();
              return r;
            });
            const hits = result.success.filter(Boolean).length;
            assert.equal(
              hits,
              expectSuccess ? optimal.length : 0,
              `${f}× budget: ` + `${hits}/${optimal.length} succeeded`,
            );
          }
          tf.dispose([x, y]);
          model.dispose?.();
        },
      );
    }
  }

  /**
   * Four classes, logits z = Wᵀx + b: the smallest perturbation that changes the decision is
   * min over t ≠ y of (z_y − z_t)/‖w_y − w_t‖_q (q = 1 for L∞, 2 for L2): at that radius the
   * nearest rival ties with y, and below it every rival stays behind.
   */
  function multiClassFixture(norm: NormId) {
    const K = 4;
    const W = seededFloats(D * K, 21, -1, 1);
    const b = seededFloats(K, 22, -0.2, 0.2);
    const Wt = tf.keep(tf.tensor2d(W, [D, K]));
    const model = makeClassifier(
      (x) => tf.tidy(() => tf.add(tf.matMul(tf.reshape(x, [x.shape[0], -1]), Wt), tf.tensor1d(b)) as tf.Tensor2D),
      { inputShape: SHAPE, numClasses: K, bounds: [0, 1], source: 'linear-4', warnings: [] },
    );
    return {
      model,
      ...pointsWithinBudget(200, 23, (x) => {
        const z = Array.from({ length: K }, (_, k) => x.reduce((s, v, j) => s + v * W[j * K + k]!, b[k]!));
        const yk = z.indexOf(Math.max(...z));
        let budget = Infinity;
        for (let t = 0; t < K; t++) {
          if (t === yk) continue;
          const diff = Array.from({ length: D }, (_, j) => W[j * K + yk]! - W[j * K + t]!);
          budget = Math.min(budget, (z[yk]! - z[t]!) / dualNorm(diff, norm));
        }
        return { label: yk, budget };
      }),
      Wt,
    };
  }

  for (const norm of ['linf', 'l2'] as const) {
    engineTest(
      `apgd-t ${norm} (4 classes, 3 targets): succeeds on every sample at 1.01× the optimal budget, never at 0.99×`,
      async () => {
        const { model, x, y, optimal, Wt } = multiClassFixture(norm);
        assert.ok(optimal.length >= 12, `fixture has ${optimal.length} samples`);
        for (const [f, expectSuccess] of [
          [1.01, true],
          [0.99, false],
        ] as const) {
          const result = await expectNoLeak(async () => {
            const r = await getAttack('apgd-t').run(
              model,
              x,
              y,
              { norm, eps: optimal.map((e) => e * f), bounds: [0, 1] },
              { steps: 50, seed: 3, targetClasses: 3, randomStart: norm === 'linf' },
            );
            r.xAdv.dispose();
            return r;
          });
          const hits = result.success.filter(Boolean).length;
          assert.equal(hits, expectSuccess ? optimal.length : 0, `${f}× budget: ${hits}/${optimal.length} succeeded`);
        }
        tf.dispose([x, y, Wt]);
      },
    );
  }
});
