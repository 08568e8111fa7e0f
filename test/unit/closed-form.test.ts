/**
 * Closed-form truth: for a linear classifier f(x) = w·x + b the smallest perturbation that
 * flips the decision is |f(x)|/‖w‖₁ in L∞ and |f(x)|/‖w‖₂ in L2 (when the box does not bind).
 * Every attack must succeed on every sample at 1.01× that budget, and never below it, on every backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ATTACKS, getAttack, makeClassifier } from '../../src/engine';
import type { NormId } from '../../src/protocol/vocabulary';
import {
  assertTightBudget,
  closedFormSettings,
  engineTest,
  forEachBackend,
  linearClassifier,
  linearDecision,
  pointsWithinBudget,
  seededFloats,
} from './helpers';

const SHAPE: [number, number, number] = [4, 4, 1];
const D = 16;

/** Logits [w·x + b, 0]: the two-class case of linearDecision, with budget |f(x)|/‖w‖. */
function fixture(norm: NormId) {
  const w = seededFloats(D, 11, -1, 1);
  const bias = -w.reduce((s, v) => s + v * 0.5, 0) + 0.3;
  const model = linearClassifier(w, bias, SHAPE);
  return {
    model,
    ...pointsWithinBudget(SHAPE, 64, 12, (x) => linearDecision(x, (k, j) => (k === 0 ? w[j]! : 0), [bias, 0], norm)),
  };
}

forEachBackend(() => {
  for (const entry of ATTACKS.filter((a) => a.id !== 'apgd-t')) {
    for (const norm of entry.norms) {
      const { factor } = closedFormSettings(entry, norm, {});
      engineTest(
        `${entry.id} ${norm}: succeeds on every sample at ${factor}× the optimal budget, never at 0.99×`,
        async () => {
          const { model, x, y, optimal } = fixture(norm);
          // An L2 random start lands almost orthogonal to w (d = 16) and the projection turns it
          // toward w only slowly, so tightness within 1% is asked of the deterministic start there.
          const { opts } = closedFormSettings(entry, norm, { steps: 50, seed: 3, randomStart: norm === 'linf' }, model);
          await assertTightBudget(optimal, factor, (eps) =>
            entry.run(model, x, y, { norm, eps, bounds: [0, 1] }, opts),
          );
          tf.dispose([x, y]);
          model.dispose?.();
        },
      );
    }
  }

  /** Four classes, logits z = Wᵀx + b (W stored [D, K]). */
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
      ...pointsWithinBudget(SHAPE, 200, 23, (x) => linearDecision(x, (k, j) => W[j * K + k]!, b, norm)),
      Wt,
    };
  }

  for (const norm of ['linf', 'l2'] as const) {
    engineTest(
      `apgd-t ${norm} (4 classes, 3 targets): succeeds on every sample at 1.01× the optimal budget, never at 0.99×`,
      async () => {
        const { model, x, y, optimal, Wt } = multiClassFixture(norm);
        await assertTightBudget(optimal, 1.01, (eps) =>
          getAttack('apgd-t').run(
            model,
            x,
            y,
            { norm, eps, bounds: [0, 1] },
            { steps: 50, seed: 3, targetClasses: 3, randomStart: norm === 'linf' },
          ),
        );
        tf.dispose([x, y, Wt]);
      },
    );
  }
});
