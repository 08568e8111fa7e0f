/** Per-sample losses on hand-computed logits, on every backend. */
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { InputError, perSampleLoss } from '../../src/engine';
import type { LossId } from '../../src/protocol/vocabulary';
import { engineTest, forEachBackend } from './helpers';

const LOGITS = [
  [2, 1, 0, -1],
  [0, 3, 1, 0.5],
];
const Y = [0, 0];
const T = [2, 3];

function loss(id: LossId, targeted: boolean, logits = LOGITS, y = Y): number[] {
  return tf.tidy(() =>
    Array.from(
      perSampleLoss(
        id,
        tf.tensor2d(logits),
        tf.tensor1d(y, 'int32'),
        targeted ? tf.tensor1d(T, 'int32') : undefined,
      ).dataSync(),
    ),
  );
}

function close(actual: number[], expected: number[]): void {
  actual.forEach((a, i) => assert.ok(Math.abs(a - expected[i]!) < 1e-5, `[${i}] ${a} ≠ ${expected[i]}`));
}

const lse = (z: number[]) => Math.log(z.reduce((s, v) => s + Math.exp(v), 0));

forEachBackend(() => {
  engineTest('ce and targeted ce', () => {
    close(
      loss('ce', false),
      LOGITS.map((z, i) => lse(z) - z[Y[i]!]!),
    );
    close(
      loss('ce', true),
      LOGITS.map((z, i) => -(lse(z) - z[T[i]!]!)),
    );
  });

  engineTest('margin (CW): max other − true; targeted: target − max other', () => {
    close(loss('margin', false), [1 - 2, 3 - 0]);
    close(loss('margin', true), [0 - 2, 0.5 - 3]);
  });

  engineTest('dlr: −(z_y − max other)/(z_π1 − z_π3); targeted: −(z_y − z_t)/(z_π1 − (z_π3 + z_π4)/2)', () => {
    close(loss('dlr', false), [-(2 - 1) / (2 - 0), -(0 - 3) / (3 - 0.5)]);
    close(loss('dlr', true), [-(2 - 0) / (2 - (0 + -1) / 2), -(0 - 0.5) / (3 - (0.5 + 0) / 2)]);
  });

  engineTest('dlr refuses fewer than 3 classes (4 when targeted), naming the loss and the count', () => {
    assert.throws(
      () =>
        loss(
          'dlr',
          false,
          [
            [1, 0],
            [0, 1],
          ],
          [0, 1],
        ),
      (err: Error) => err instanceof InputError && /dlr needs at least 3 classes; the model has 2/.test(err.message),
    );
    assert.throws(
      () =>
        loss(
          'dlr',
          true,
          [
            [1, 0, 2],
            [0, 1, 2],
          ],
          [0, 1],
        ),
      (err: Error) =>
        err instanceof InputError && /dlr \(targeted\) needs at least 4 classes; the model has 3/.test(err.message),
    );
  });
});
