/** Contract tests over the attack registry: budget, bounds, shapes, memory, seeds, abort. */
import { before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import {
  ATTACKS, AbortError, apgdCheckpoints, batchTensors, getAttack, distance, firstN, InputError, loadDataset, makeClassifier, pgd, predict, smallCnn, trainStandard,
  type AttackOptions, type Classifier, type Norm,
} from '../../src/engine';
import { expectNoLeak, useBackend } from './helpers';

let model: Classifier;
let x: tf.Tensor4D;
let y: tf.Tensor1D;
const BOUNDS: [number, number] = [0, 1];
const EPS: Record<Norm, number> = { linf: 0.05, l2: 1.0 };

before(async () => {
  await useBackend('wasm');
  const data = loadDataset('embedded');
  // A briefly trained network (≈70% clean), so attacks meet both robust and fragile samples.
  const net = smallCnn(data.shape, 10, 5);
  await trainStandard(net, data, { epochs: 1, trainLimit: 2000, evalLimit: 1, seed: 5 });
  model = makeClassifier((input) => net.apply(input) as tf.Tensor2D, {
    inputShape: data.shape, numClasses: 10, bounds: BOUNDS, source: 'random smallcnn', warnings: [],
  });
  ({ x, y } = batchTensors(firstN(data.test, 12), data.shape, 0, 12));
});

for (const entry of ATTACKS) {
  for (const norm of entry.norms) {
    const threat = { norm, eps: EPS[norm], bounds: BOUNDS };
    // Square's budget is in queries; transfer crafts on a surrogate (here the model itself).
    const options = (): AttackOptions => ({ steps: 5, seed: 7, queries: 30, ...(entry.id === 'transfer' ? { surrogate: model } : {}) });

    test(`${entry.id} ${norm}: stays in the ball and the box, keeps shapes, leaks nothing`, async () => {
      await expectNoLeak(async () => {
        const result = await entry.run(model, x, y, threat, options());
        assert.deepEqual(result.xAdv.shape, x.shape);
        assert.equal(result.success.length, 12);
        assert.equal(result.finalLoss.length, 12);
        const dist = distance(norm, x, result.xAdv);
        for (const d of dist) assert.ok(d <= EPS[norm] * (1 + 1e-5) + 1e-6, `distance ${d} > ε ${EPS[norm]}`);
        const [lo, hi] = tf.tidy(() => [tf.min(result.xAdv).dataSync()[0]!, tf.max(result.xAdv).dataSync()[0]!]);
        assert.ok(lo >= BOUNDS[0] && hi <= BOUNDS[1], `xAdv in [${lo}, ${hi}]`);
        // success flags describe the returned points
        const predicted = predict(model, result.xAdv).labels;
        const labels = y.dataSync();
        result.success.forEach((s, i) => assert.equal(s, predicted[i] !== labels[i], `sample ${i}`));
        assert.ok(result.forwardPasses >= 12, `${result.forwardPasses} forward passes`);
        // Only white-box attacks take gradients of the model under attack.
        if (entry.access === 'white-box') assert.ok(result.backwardPasses >= 12, `${result.backwardPasses} backward passes`);
        else assert.equal(result.backwardPasses, 0);
        result.xAdv.dispose();
      });
    });

    test(`${entry.id} ${norm}: the same seed gives the same output`, async () => {
      const a = await entry.run(model, x, y, threat, { ...options(), randomStart: true });
      const b = await entry.run(model, x, y, threat, { ...options(), randomStart: true });
      assert.deepEqual(a.xAdv.dataSync(), b.xAdv.dataSync());
      tf.dispose([a.xAdv, b.xAdv]);
    });

    test(`${entry.id} ${norm}: an abort stops it within one step`, async () => {
      const controller = new AbortController();
      let steps = 0;
      const outcome = await expectNoLeak(() => entry.run(model, x, y, threat, {
        ...options(), queries: 20, steps: 20, signal: controller.signal, onStep: () => { steps++; if (steps === 1) controller.abort(); },
      }).then((r) => { r.xAdv.dispose(); return 'finished'; }, (err: Error) => err));
      assert.equal(steps, 1, `ran ${steps} steps; the abort came after step 1`);
      // A single-step attack has nothing left to stop; an iterative one must throw.
      if (entry.iterative) assert.ok(outcome instanceof AbortError, `expected AbortError, got ${String(outcome)}`);
      else assert.equal(outcome, 'finished');
    });

    test(`${entry.id} ${norm}: per-sample ε, with ε = 0 leaving a sample untouched`, async () => {
      const eps = Float32Array.from({ length: 12 }, (_, i) => (i % 3 === 0 ? 0 : EPS[norm]));
      const result = await entry.run(model, x, y, { norm, eps, bounds: BOUNDS }, options());
      const dist = distance(norm, x, result.xAdv);
      dist.forEach((d, i) => assert.ok(d <= eps[i]! + 1e-6, `sample ${i}: ${d} > ${eps[i]}`));
      assert.ok(dist.some((d) => d > 0), 'nothing moved');
      result.xAdv.dispose();
    });
  }
}

test('an aborted signal before the start throws AbortError with the attack name', async () => {
  const controller = new AbortController();
  controller.abort();
  await expectNoLeak(() => assert.rejects(pgd(model, x, y, { norm: 'linf', eps: 0.1, bounds: BOUNDS }, { signal: controller.signal }),
    (err: Error) => err instanceof AbortError && /PGD aborted/.test(err.message)));
});

test('PGD restarts attack only the surviving samples', async () => {
  const threat = { norm: 'linf' as const, eps: 0.03, bounds: BOUNDS };
  const once = await pgd(model, x, y, threat, { steps: 5, restarts: 1, seed: 1, keep: 'last' });
  const thrice = await pgd(model, x, y, threat, { steps: 5, restarts: 3, seed: 1, keep: 'last' });
  const survivors = once.success.filter((s) => !s).length;
  assert.ok(survivors < 12 && survivors > 0, `fixture needs a mix of fooled and robust samples, got ${survivors} robust`);
  // Restarts 2 and 3 run on at most the survivors of run 1 (6 passes each: 5 steps + the score pass).
  assert.ok(thrice.forwardPasses <= once.forwardPasses + 2 * 6 * survivors, `${thrice.forwardPasses} forward passes`);
  assert.ok(thrice.forwardPasses > once.forwardPasses);
  // The worst case is kept: whatever run 1 fooled stays fooled.
  once.success.forEach((s, i) => { if (s) assert.equal(thrice.success[i], true, `sample ${i}`); });
  tf.dispose([once.xAdv, thrice.xAdv]);
});

test('PGD keep policies: firstSuccess fools at least as many as last; maxLoss keeps the highest loss', async () => {
  const threat = { norm: 'linf' as const, eps: 0.02, bounds: BOUNDS };
  const results = {
    last: await pgd(model, x, y, threat, { steps: 8, seed: 2, keep: 'last', loss: 'margin' }),
    maxLoss: await pgd(model, x, y, threat, { steps: 8, seed: 2, keep: 'maxLoss', loss: 'margin' }),
    firstSuccess: await pgd(model, x, y, threat, { steps: 8, seed: 2, keep: 'firstSuccess', loss: 'margin' }),
  };
  const count = (s: boolean[]) => s.filter(Boolean).length;
  assert.ok(count(results.firstSuccess.success) >= count(results.last.success));
  results.maxLoss.finalLoss.forEach((l, i) => assert.ok(l >= results.last.finalLoss[i]! - 1e-5, `sample ${i}`));
  tf.dispose(Object.values(results).map((r) => r.xAdv));
});

test('bad attack arguments name the field and the allowed range', async () => {
  const bad = async (threat: { norm: Norm; eps: number; bounds: [number, number] }, opts: AttackOptions, pattern: RegExp) =>
    expectNoLeak(() => assert.rejects(pgd(model, x, y, threat, opts), (err: Error) => err instanceof InputError && pattern.test(err.message)));
  await bad({ norm: 'linf', eps: -0.1, bounds: BOUNDS }, {}, /pgd attack: eps: -0\.1 is invalid; ε must be a finite number ≥ 0/);
  await bad({ norm: 'linf', eps: 1.5, bounds: BOUNDS }, {}, /eps: 1\.5 is wider than the bounds \[0, 1\] allow for linf \(at most 1\)/);
  await bad({ norm: 'l2', eps: 40, bounds: BOUNDS }, {}, /eps: 40 is wider than the bounds \[0, 1\] allow for l2 \(at most 28\)/);
  await bad({ norm: 'linf', eps: 0.1, bounds: [1, 0] }, {}, /bounds: \[1, 0\] is not a valid range/);
  await bad({ norm: 'linf', eps: 0.1, bounds: BOUNDS }, { steps: 0 }, /steps: 0 is invalid; need an integer ≥ 1/);
  await bad({ norm: 'linf', eps: 0.1, bounds: BOUNDS }, { stepSize: -1 }, /stepSize: -1 is invalid/);
  const refused = async (id: string, m: Classifier, opts: AttackOptions, pattern: RegExp) => expectNoLeak(() => assert.rejects(
    getAttack(id).run(m, x, y, { norm: 'linf', eps: 0.1, bounds: BOUNDS }, opts), (err: Error) => err instanceof InputError && pattern.test(err.message)));
  const twoClasses = makeClassifier((input) => tf.tidy(() => tf.slice(model.predictLogits(input), [0, 0], [-1, 2]) as tf.Tensor2D),
    { ...model, numClasses: 2, source: 'two classes' });
  const threeClasses = { ...twoClasses, numClasses: 3 };
  await refused('apgd', twoClasses, { loss: 'dlr' }, /apgd attack: loss: dlr needs at least 3 classes; the model has 2/);
  await refused('apgd-t', threeClasses, {}, /apgd-t attack: loss: dlr \(targeted\) needs at least 4 classes; the model has 3/);
  await refused('apgd-t', model, { targeted: { labels: y } }, /APGD-T chooses its own targets/);
  await refused('apgd-t', model, { targetClasses: 0 }, /targetClasses: 0 is invalid; need an integer ≥ 1/);
  await refused('transfer', model, {}, /transfer attack: surrogate: needs a surrogate model/);
  await refused('transfer', model, { surrogate: twoClasses }, /surrogate: two classes is 28×28×1 → 2 but the target is 28×28×1 → 10/);
  await refused('square', model, { queries: 0 }, /square attack: queries: 0 is invalid; need an integer ≥ 1/);
  await refused('square', model, { pInit: 1.5 }, /pInit: 1\.5 is invalid; need 0 < p ≤ 1/);
});

test('targeted attacks move predictions to the target class, and success means "classified as the target"', async () => {
  const labels = y.dataSync();
  const targets = tf.tensor1d(Array.from(labels, (l) => (l + 1) % 10), 'int32');
  const threat = { norm: 'linf' as const, eps: 0.25, bounds: BOUNDS };
  await expectNoLeak(async () => {
    // APGD-T picks its own targets (and refuses given ones: see the bad-arguments test).
    for (const entry of ATTACKS.filter((a) => a.id !== 'apgd-t')) {
      const result = await entry.run(model, x, y, threat, {
        steps: 30, seed: 4, targeted: { labels: targets }, loss: 'ce', queries: 500, ...(entry.id === 'transfer' ? { surrogate: model } : {}),
      });
      const predicted = predict(model, result.xAdv).labels;
      const wanted = targets.dataSync();
      result.success.forEach((s, i) => assert.equal(s, predicted[i] === wanted[i], `${entry.id} sample ${i}`));
      const hits = result.success.filter(Boolean).length;
      // Iterative attacks reach the target on (nearly) every sample at this budget; FGSM, one step, on fewer.
      if (entry.iterative) assert.ok(hits >= 10, `${entry.id}: ${hits}/12 reached their target`);
      else assert.ok(hits >= 1, `${entry.id}: ${hits}/12 reached their target`);
      result.xAdv.dispose();
    }
  });
  targets.dispose();
});

test('APGD halves its step at the checkpoints of Croce & Hein 2020 (N = 100: 22, 41, 57, 70, 80, 87, 93, 99)', () => {
  assert.deepEqual(apgdCheckpoints(100), [22, 41, 57, 70, 80, 87, 93, 99]);
  assert.deepEqual(apgdCheckpoints(10), [3, 5, 6, 7, 8, 9, 10]);
});
