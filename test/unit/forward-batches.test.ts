/**
 * Forward-only work runs in larger batches than gradient work (clean accuracy, Square's queries)
 * and gives the same predictions; the row selection of the iterative attacks keeps its values
 * without tf.where's broadcast; APGD spends no pass on a sample once it is fooled, and the others
 * move as they would alone. Every test leaves tf.memory().numTensors where it found it.
 */
import { before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import {
  apgd,
  batchTensors,
  evaluateAttacks,
  firstN,
  getAttack,
  loadClassifier,
  loadTrainingData,
  predictSplit,
  square,
  type Classifier,
  type Dataset,
} from '../../src/engine';
import { selectRows } from '../../src/engine/attacks/common';
import { FORWARD_BATCH_FACTOR, forwardBatchSize } from '../../src/engine/scheduling';
import { engineTest, useBackend } from './helpers';

const ROBUST = path.join(__dirname, '..', '..', 'examples', 'fashion-mnist', 'smallcnn-robust', 'model.json');
let model: Classifier;
let data: Dataset;

before(async () => {
  await useBackend('wasm');
  model = await loadClassifier(ROBUST);
  data = await loadTrainingData('embedded');
});

engineTest('the forward batch is 4× the gradient batch, bounded by the input size, never below it', () => {
  assert.equal(FORWARD_BATCH_FACTOR, 4);
  assert.equal(forwardBatchSize(250, 28 * 28), 1000);
  assert.equal(forwardBatchSize(128, 32 * 32 * 3), 512);
  // 224×224×3 images: 4M values hold 27 of them, fewer than the gradient batch of 64.
  assert.equal(forwardBatchSize(64, 224 * 224 * 3), 64);
  assert.equal(forwardBatchSize(16, 224 * 224 * 3), 27);
  assert.equal(forwardBatchSize(1, 0), 4);
});

engineTest('clean predictions at the forward batch equal those at a small batch, and leave no tensor', async () => {
  const split = firstN(data.test, 600);
  const large = forwardBatchSize(100, 28 * 28);
  assert.equal(large, 400);
  const before = tf.memory().numTensors;
  const small = await predictSplit(model, split, data.shape, 100);
  const big = await predictSplit(model, split, data.shape, large);
  const whole = await predictSplit(model, split, data.shape, 1000);
  assert.equal(tf.memory().numTensors, before);
  assert.equal(big.labels.length, 600);
  assert.deepEqual(Array.from(big.labels), Array.from(small.labels));
  assert.deepEqual(Array.from(whole.labels), Array.from(small.labels));
  for (let i = 0; i < 600; i++) {
    assert.ok(Math.abs(big.confidence[i]! - small.confidence[i]!) < 1e-5, `confidence ${i}`);
    assert.ok(big.confidence[i]! >= 0.1 && big.confidence[i]! <= 1, `confidence ${i} is a top-class probability`);
  }
  // The robust example's clean accuracy on the first 600 embedded images is in its README's range.
  const correct = Array.from(big.labels).filter((l, i) => l === split.labels[i]).length;
  assert.ok(correct / 600 > 0.8 && correct / 600 < 0.95, `clean accuracy ${correct / 600}`);
});

engineTest(
  'Square in an evaluation runs as one forward batch: the same flags as one call on every survivor',
  async () => {
    const split = firstN(data.test, 36);
    // At ε = 0.15 Square fools some points and not others within its 40 queries.
    const threat = { norm: 'linf' as const, eps: 0.15, bounds: [0, 1] as [number, number] };
    const options = { queries: 40, seed: 5 };
    // A gradient batch of 10 gives a forward batch of 40: the clean-correct points (≤ 36) fit in one.
    const evaluation = await evaluateAttacks(
      model,
      split,
      data.shape,
      threat,
      [{ entry: getAttack('square'), options }],
      {
        batchSize: 10,
      },
    );
    const clean = await predictSplit(model, split, data.shape, 10);
    const survivors = [...clean.labels.keys()].filter((i) => clean.labels[i] === split.labels[i]);
    assert.ok(survivors.length > 25, `${survivors.length} clean-correct points`);
    const { x, y } = batchTensors(split, data.shape, 0, survivors.length, Int32Array.from(survivors));
    const direct = await square(model, x, y, threat, options);
    tf.dispose([x, y, direct.xAdv]);
    const fooled = evaluation.attacks[0]!.fooled;
    assert.deepEqual(
      survivors.map((i) => fooled[i]),
      direct.success.map((s) => (s ? 1 : 0)),
    );
    assert.equal(evaluation.attacks[0]!.forwardPasses, direct.forwardPasses);
    const count = direct.success.filter(Boolean).length;
    assert.ok(count > 0 && count < survivors.length, `Square fooled ${count} of ${survivors.length}`);
  },
);

engineTest('selectRows keeps the chosen rows exactly, without broadcasting the mask', () => {
  const a = tf.tensor4d(
    Float32Array.from({ length: 4 * 2 * 2 * 1 }, (_, i) => i + 0.25),
    [4, 2, 2, 1],
  );
  const b = tf.tensor4d(
    Float32Array.from({ length: 4 * 2 * 2 * 1 }, (_, i) => -i - 0.5),
    [4, 2, 2, 1],
  );
  const mask = Uint8Array.from([1, 0, 0, 1]);
  const picked = selectRows(mask, a, b);
  const reference = tf.tidy(() => tf.where(tf.tensor4d(mask, [4, 1, 1, 1], 'bool'), a, b));
  assert.deepEqual(Array.from(picked.dataSync()), Array.from(reference.dataSync()));
  assert.deepEqual(Array.from(picked.dataSync().slice(4, 8)), [-4.5, -5.5, -6.5, -7.5]);
  assert.deepEqual(picked.shape, [4, 2, 2, 1]);
  const all = selectRows(Uint8Array.from([1, 1, 1, 1]), a, b);
  const none = selectRows(new Uint8Array(4), a, b);
  assert.deepEqual(Array.from(all.dataSync()), Array.from(a.dataSync()));
  assert.deepEqual(Array.from(none.dataSync()), Array.from(b.dataSync()));
  // Each result is the caller's own: disposing it leaves the inputs alive.
  tf.dispose([picked, reference, all, none]);
  assert.equal(a.isDisposed || b.isDisposed, false);
  tf.dispose([a, b]);
});

engineTest('APGD drops fooled samples from its batch; the others end where they would alone, bit for bit', async () => {
  const standard = await loadClassifier(ROBUST.replace('smallcnn-robust', 'smallcnn'));
  try {
    const { x, y } = batchTensors(data.test, data.shape, 0, 24);
    const threat = { norm: 'linf' as const, eps: 0.03, bounds: [0, 1] as [number, number] };
    const options = { steps: 30, loss: 'ce' as const, randomStart: false };
    const whole = await apgd(standard, x, y, threat, options);
    const fooled = whole.success.filter(Boolean).length;
    assert.ok(fooled >= 6 && fooled < 24, `APGD fooled ${fooled} of 24 at ε = 0.03`);
    // Every pass on a fooled sample after its first fooling step would be wasted: fewer than 24 × 30.
    assert.ok(whole.backwardPasses < 24 * 30 - 3 * fooled, `${whole.backwardPasses} backward passes`);
    const wholePixels = whole.xAdv.dataSync();
    const per = 28 * 28;
    for (const i of [0, 5, 11, 23]) {
      const [xi, yi] = tf.tidy(() => [tf.slice(x, [i, 0, 0, 0], [1, -1, -1, -1]), tf.slice(y, [i], [1])]) as [
        tf.Tensor4D,
        tf.Tensor1D,
      ];
      const alone = await apgd(standard, xi, yi, threat, options);
      assert.equal(alone.success[0], whole.success[i], `sample ${i}: success`);
      assert.equal(alone.finalLoss[0], whole.finalLoss[i], `sample ${i}: loss`);
      assert.deepEqual(Array.from(alone.xAdv.dataSync()), Array.from(wholePixels.slice(i * per, (i + 1) * per)));
      tf.dispose([xi, yi, alone.xAdv]);
    }
    tf.dispose([x, y, whole.xAdv]);
  } finally {
    standard.dispose?.();
  }
});
