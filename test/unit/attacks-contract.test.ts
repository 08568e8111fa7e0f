/**
 * Contract tests over the attack registry, on every backend: budget, bounds, shapes, memory,
 * seeds, abort, options; and the runner's own guarantees (projection, re-scoring, counting),
 * checked with deliberately broken update rules.
 */
import { before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import {
  ATTACKS,
  AbortError,
  apgdCheckpoints,
  batchTensors,
  countingClassifier,
  getAttack,
  distance,
  firstN,
  InputError,
  evaluateAttacks,
  loadTrainingData,
  lossAndGrad,
  makeClassifier,
  pgd,
  planFor,
  predict,
  smallCnn,
  trainModel,
  type Attack,
  type AttackEntry,
  type AttackOptions,
  type Classifier,
} from '../../src/engine';
import type { NormId } from '../../src/protocol/vocabulary';
import { defineAttack, keepsContract } from '../../src/engine/attacks/runner';
import { defaultAttackJob, type AttackJob } from '../../src/protocol/jobs';
import { engineTest, forEachBackend, useBackend } from './helpers';

let model: Classifier;
let x: tf.Tensor4D;
let y: tf.Tensor1D;
const N = 12;
const BOUNDS: [number, number] = [0, 1];
const EPS: Record<NormId, number> = { linf: 0.05, l2: 1.0 };

before(async () => {
  await useBackend('wasm');
  const data = await loadTrainingData('embedded');
  // A briefly trained network (≈70% clean), so attacks meet both robust and fragile samples.
  // Trained once; each backend's suite reads the same weights (tfjs moves them between backends).
  const net = smallCnn(data.shape, 10, 5);
  await trainModel(net, data, { epochs: 1, trainLimit: 2000, evalLimit: 1, seed: 5 });
  model = makeClassifier((input) => net.apply(input) as tf.Tensor2D, {
    inputShape: data.shape,
    numClasses: 10,
    bounds: BOUNDS,
    source: 'random smallcnn',
    warnings: [],
  });
  ({ x, y } = batchTensors(firstN(data.test, N), data.shape, 0, N));
});

/** The options of `wanted` that the attack takes, by its catalogue entry (seed is the runner's). */
function taken(entry: AttackEntry, wanted: AttackOptions): AttackOptions {
  return Object.fromEntries(Object.entries(wanted).filter(([name]) => name in entry.options || name === 'seed'));
}

/** An attack whose output depends on its seed: a random start, or a random search. */
const seeded = (entry: AttackEntry) => 'randomStart' in entry.options || entry.access === 'black-box';

const labelsOf = (t: tf.Tensor1D) => Array.from(t.dataSync());

forEachBackend(() => {
  for (const entry of ATTACKS) {
    for (const norm of entry.norms) {
      const threat = { norm, eps: EPS[norm], bounds: BOUNDS };
      // Square's budget is in queries; transfer crafts on a surrogate (here the model itself);
      // APGD-T gets 2 target classes (2 rounds, not 9: the contract, not the strength, is tested).
      const options = (extra: AttackOptions = {}): AttackOptions =>
        taken(entry, { steps: 5, seed: 7, queries: 30, targetClasses: 2, surrogate: model, ...extra });

      engineTest(`${entry.id} ${norm}: stays in the ball and the box, keeps shapes, counts passes`, async () => {
        const result = await entry.run(model, x, y, threat, options());
        assert.deepEqual(result.xAdv.shape, x.shape);
        assert.equal(result.success.length, N);
        assert.equal(result.finalLoss.length, N);
        const dist = distance(norm, x, result.xAdv);
        for (const d of dist) assert.ok(d <= EPS[norm] * (1 + 1e-5) + 1e-6, `distance ${d} > ε ${EPS[norm]}`);
        const [lo, hi] = tf.tidy(() => [tf.min(result.xAdv).dataSync()[0]!, tf.max(result.xAdv).dataSync()[0]!]);
        assert.ok(lo >= BOUNDS[0] && hi <= BOUNDS[1], `xAdv in [${lo}, ${hi}]`);
        // success flags describe the returned points
        const predicted = predict(model, result.xAdv).labels;
        const labels = labelsOf(y);
        result.success.forEach((s, i) => assert.equal(s, predicted[i] !== labels[i], `sample ${i}`));
        if (entry.access === 'white-box') {
          // At least one gradient pass and the runner's scoring pass per image.
          assert.ok(result.backwardPasses >= N, `${result.backwardPasses} backward passes`);
          assert.ok(result.forwardPasses >= result.backwardPasses + N, `${result.forwardPasses} forward passes`);
        } else if (entry.access === 'black-box') {
          assert.equal(result.backwardPasses, 0);
          assert.ok(result.forwardPasses >= 2 * N, `${result.forwardPasses} forward passes`);
        } else {
          // Transfer: the target only scores; the surrogate does the work, counted apart.
          assert.deepEqual([result.forwardPasses, result.backwardPasses], [N, 0]);
          // PGD-5 (last iterate, no early stop) on the surrogate: 5 gradient passes and its runner's
          // re-score (a single run keeping its last iterate skips its own score pass).
          assert.deepEqual(result.surrogatePasses, { forward: 6 * N, backward: 5 * N });
        }
        if (entry.access !== 'transfer') assert.equal(result.surrogatePasses, undefined);
        result.xAdv.dispose();
      });

      engineTest(
        `${entry.id} ${norm}: the same seed gives the same output, ` +
          `${seeded(entry) ? 'another seed another' : 'the seed is unused'}`,
        async () => {
          const a = await entry.run(model, x, y, threat, options({ seed: 7 }));
          const b = await entry.run(model, x, y, threat, options({ seed: 7 }));
          const c = await entry.run(model, x, y, threat, options({ seed: 8 }));
          assert.deepEqual(a.xAdv.dataSync(), b.xAdv.dataSync());
          const changed = tf.tidy(() => tf.max(tf.abs(tf.sub(a.xAdv, c.xAdv))).dataSync()[0]!);
          if (seeded(entry)) assert.ok(changed > 0, 'seeds 7 and 8 gave the same xAdv');
          else assert.equal(changed, 0, 'a deterministic attack changed with the seed');
          tf.dispose([a.xAdv, b.xAdv, c.xAdv]);
        },
      );

      engineTest(`${entry.id} ${norm}: an abort stops it within one step`, async () => {
        const controller = new AbortController();
        let steps = 0;
        const outcome = await entry
          .run(model, x, y, threat, {
            ...options({ queries: 20, steps: 20 }),
            signal: controller.signal,
            onStep: () => {
              steps++;
              if (steps === 1) controller.abort();
            },
          })
          .then(
            (r) => {
              r.xAdv.dispose();
              return 'finished';
            },
            (err: Error) => err,
          );
        assert.equal(steps, 1, `ran ${steps} steps; the abort came after step 1`);
        // A single-step attack has nothing left to stop; an iterative one must throw.
        if (entry.iterative) assert.ok(outcome instanceof AbortError, `expected AbortError, got ${String(outcome)}`);
        else assert.equal(outcome, 'finished');
      });

      engineTest(`${entry.id} ${norm}: per-sample ε, with ε = 0 leaving a sample untouched`, async () => {
        const eps = Float32Array.from({ length: N }, (_, i) => (i % 3 === 0 ? 0 : EPS[norm]));
        const result = await entry.run(model, x, y, { norm, eps, bounds: BOUNDS }, options());
        const dist = distance(norm, x, result.xAdv);
        dist.forEach((d, i) => assert.ok(d <= eps[i]! + 1e-6, `sample ${i}: ${d} > ${eps[i]}`));
        dist.forEach((d, i) => {
          if (eps[i] === 0) assert.equal(d, 0, `sample ${i} moved with ε = 0`);
        });
        assert.ok(
          dist.some((d) => d > 0),
          'nothing moved',
        );
        result.xAdv.dispose();
      });

      engineTest(
        `${entry.id} ${norm}: rejects an option it does not take, naming it and the ones it takes`,
        async () => {
          const foreign = entry.id === 'square' ? 'steps' : 'queries';
          await assert.rejects(
            entry.run(model, x, y, threat, { ...options(), [foreign]: 3 }),
            (err: Error) =>
              err instanceof InputError &&
              err.message ===
                `${entry.id} attack: option "${foreign}" is not taken by ${entry.id}; ` +
                  `it takes ${Object.keys(entry.options).join(', ')}`,
          );
        },
      );
    }
  }

  engineTest('an aborted signal before the start throws AbortError with the attack name', async () => {
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(
      pgd(model, x, y, { norm: 'linf', eps: 0.1, bounds: BOUNDS }, { signal: controller.signal }),
      (err: Error) => err instanceof AbortError && /PGD aborted/.test(err.message),
    );
  });

  engineTest('PGD restarts attack only the surviving samples', async () => {
    const threat = { norm: 'linf' as const, eps: 0.03, bounds: BOUNDS };
    const once = await pgd(model, x, y, threat, { steps: 5, restarts: 1, seed: 1, keep: 'last' });
    const thrice = await pgd(model, x, y, threat, { steps: 5, restarts: 3, seed: 1, keep: 'last' });
    const survivors = once.success.filter((s) => !s).length;
    assert.ok(
      survivors < N && survivors > 0,
      `fixture needs a mix of fooled and robust samples, got ${survivors} robust`,
    );
    // One run keeping its last iterate: 5 gradient passes and the runner's re-score, for every image
    // (the run's own score pass is skipped: nothing reads it).
    assert.deepEqual([once.forwardPasses, once.backwardPasses], [6 * N, 5 * N]);
    // With restarts, run 1 scores its last iterate (N passes: the survivors are chosen from it), and
    // restarts 2 and 3 run on at most the survivors of run 1 (6 passes each: 5 steps + the score pass).
    assert.ok(
      thrice.forwardPasses <= once.forwardPasses + N + 2 * 6 * survivors,
      `${thrice.forwardPasses} forward passes`,
    );
    assert.ok(thrice.forwardPasses > once.forwardPasses);
    // The worst case is kept: whatever run 1 fooled stays fooled.
    once.success.forEach((s, i) => {
      if (s) assert.equal(thrice.success[i], true, `sample ${i}`);
    });
    tf.dispose([once.xAdv, thrice.xAdv]);
  });

  engineTest(
    'PGD keep policies: firstSuccess fools at least as many as last; maxLoss keeps the highest loss',
    async () => {
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
    },
  );

  engineTest('bad attack arguments name the field and the allowed range', async () => {
    const bad = async (
      threat: { norm: NormId; eps: number; bounds: [number, number] },
      opts: AttackOptions,
      pattern: RegExp,
    ) =>
      assert.rejects(
        pgd(model, x, y, threat, opts),
        (err: Error) => err instanceof InputError && pattern.test(err.message),
      );
    await bad(
      { norm: 'linf', eps: -0.1, bounds: BOUNDS },
      {},
      /pgd attack: eps: -0\.1 is invalid; ε must be a finite number ≥ 0/,
    );
    await bad(
      { norm: 'linf', eps: 1.5, bounds: BOUNDS },
      {},
      /eps: 1\.5 is wider than the bounds \[0, 1\] allow for linf \(at most 1\)/,
    );
    await bad(
      { norm: 'l2', eps: 40, bounds: BOUNDS },
      {},
      /eps: 40 is wider than the bounds \[0, 1\] allow for l2 \(at most 28\)/,
    );
    await bad({ norm: 'linf', eps: 0.1, bounds: [1, 0] }, {}, /bounds: \[1, 0\] is not a valid range/);
    const linf = { norm: 'linf' as const, eps: 0.1, bounds: BOUNDS };
    await bad(linf, { steps: 0 }, /^pgd attack: steps: 0 is invalid; need an integer ≥ 1$/);
    await bad(linf, { steps: 2.5 }, /^pgd attack: steps: 2\.5 is invalid; need an integer ≥ 1$/);
    await bad(linf, { stepSize: -1 }, /^pgd attack: stepSize: -1 is invalid; need a number > 0/);
    await bad(linf, { stepSize: { relative: 0 } }, /^pgd attack: stepSize: 0 is invalid; need a number > 0/);
    await bad(
      linf,
      { keep: 'best' as never },
      /^pgd attack: keep: "best" is not a keep policy; use one of last, maxLoss, firstSuccess$/,
    );
    await bad(
      linf,
      { loss: 'hinge' as never },
      /^pgd attack: loss: "hinge" is not a loss; use one of ce, margin, dlr$/,
    );
    await bad(linf, { randomStart: 'yes' as never }, /^pgd attack: randomStart: yes is invalid; need true or false$/);
    const refused = async (id: string, m: Classifier, opts: AttackOptions, pattern: RegExp) =>
      assert.rejects(
        getAttack(id).run(m, x, y, linf, opts),
        (err: Error) => err instanceof InputError && pattern.test(err.message),
      );
    const twoClasses = makeClassifier(
      (input) => tf.tidy(() => tf.slice(model.predictLogits(input), [0, 0], [-1, 2]) as tf.Tensor2D),
      { ...model, numClasses: 2, source: 'two classes' },
    );
    const threeClasses = { ...twoClasses, numClasses: 3 };
    await refused(
      'apgd',
      twoClasses,
      { loss: 'dlr' },
      /apgd attack: loss: dlr needs at least 3 classes; the model has 2/,
    );
    await refused(
      'apgd-t',
      threeClasses,
      {},
      /apgd-t attack: loss: dlr \(targeted\) needs at least 4 classes; the model has 3/,
    );
    await refused(
      'apgd-t',
      model,
      { targeted: { labels: y } },
      /apgd-t attack: targeted: APGD-T chooses its own targets/,
    );
    await refused(
      'apgd-t',
      model,
      { targetClasses: 0 },
      /apgd-t attack: targetClasses: 0 is invalid; need an integer ≥ 1/,
    );
    await refused('transfer', model, {}, /transfer attack: surrogate: needs a surrogate model/);
    await refused(
      'transfer',
      model,
      { surrogate: twoClasses },
      /surrogate: two classes is 28×28×1 → 2 but the target is 28×28×1 → 10/,
    );
    await refused('square', model, { queries: 0 }, /square attack: queries: 0 is invalid; need an integer ≥ 1/);
    await refused(
      'square',
      model,
      { pInit: 1.5 },
      /square attack: pInit: 1\.5 is invalid; need a number with 0 < pInit ≤ 1/,
    );
    await refused(
      'square',
      model,
      { pInit: 0 },
      /square attack: pInit: 0 is invalid; need a number with 0 < pInit ≤ 1/,
    );
    await refused('mi-fgsm', model, { decay: -1 }, /mi-fgsm attack: decay: -1 is invalid; need a number ≥ 0/);
  });

  engineTest(
    'targeted attacks move predictions to the target class, and success means "classified as the target"',
    async () => {
      const targets = tf.tensor1d(
        labelsOf(y).map((l) => (l + 1) % 10),
        'int32',
      );
      const threat = { norm: 'linf' as const, eps: 0.25, bounds: BOUNDS };
      // APGD-T picks its own targets (and refuses given ones: see the bad-arguments test).
      for (const entry of ATTACKS.filter((a) => a.targetable)) {
        const result = await entry.run(model, x, y, threat, {
          ...taken(entry, { steps: 30, seed: 4, loss: 'ce', queries: 500, surrogate: model }),
          targeted: { labels: targets },
        });
        const predicted = predict(model, result.xAdv).labels;
        const wanted = labelsOf(targets);
        result.success.forEach((s, i) => assert.equal(s, predicted[i] === wanted[i], `${entry.id} sample ${i}`));
        const hits = result.success.filter(Boolean).length;
        // Iterative attacks reach the target on (nearly) every sample at this budget; FGSM, one step, on fewer.
        if (entry.iterative) assert.ok(hits >= 10, `${entry.id}: ${hits}/${N} reached their target`);
        else assert.ok(hits >= 1, `${entry.id}: ${hits}/${N} reached their target`);
        result.xAdv.dispose();
      }
      targets.dispose();
    },
  );
});

describe('the runner keeps the contract whatever the update rule does', () => {
  before(() => useBackend('wasm'));
  const threat = { norm: 'linf' as const, eps: 0.05, bounds: BOUNDS };

  engineTest('an xAdv outside the ball and the box is projected onto both, then scored', async () => {
    // A broken rule: 10ε past the ball on every pixel, half of them past the box as well.
    const broken = defineAttack('fgsm', {
      run: async (ctx) =>
        tf.tidy(
          () =>
            tf.add(
              ctx.x,
              tf.mul(tf.sub(tf.randomUniform(ctx.x.shape, 0, 1, 'float32', 3), 0.5), 20 * 0.05 * 2),
            ) as tf.Tensor4D,
        ),
    });
    const result = await broken(model, x, y, threat);
    const dist = distance('linf', x, result.xAdv);
    dist.forEach((d, i) => assert.ok(d <= 0.05 + 1e-6, `sample ${i}: ${d} > ε`));
    assert.ok(Math.max(...dist) > 0.05 - 1e-6, 'the projection should reach the edge of the ball');
    const [lo, hi] = tf.tidy(() => [tf.min(result.xAdv).dataSync()[0]!, tf.max(result.xAdv).dataSync()[0]!]);
    assert.ok(lo >= 0 && hi <= 1, `xAdv in [${lo}, ${hi}]`);
    // Scored at the projected point: one forward pass, no backward pass.
    const predicted = predict(model, result.xAdv).labels;
    result.success.forEach((s, i) => assert.equal(s, predicted[i] !== labelsOf(y)[i], `sample ${i}`));
    assert.deepEqual([result.forwardPasses, result.backwardPasses], [N, 0]);
    result.xAdv.dispose();
  });

  engineTest(
    'success comes from the logits, not the rule: a rule that returns x scores exactly the clean errors',
    async () => {
      // A rule can return only xAdv; here it returns the clean batch, so nothing may count as fooled
      // except the samples the model already gets wrong.
      // It returns ctx.x itself: the runner must not dispose the caller's batch.
      const idle = defineAttack('pgd', { run: async (ctx) => ctx.x });
      const result = await idle(model, x, y, threat, { steps: 3 });
      const clean = predict(model, x).labels;
      const labels = labelsOf(y);
      assert.deepEqual(
        result.success,
        labels.map((l, i) => clean[i] !== l),
      );
      assert.ok(
        result.success.some((s) => !s),
        'the fixture has correctly classified samples',
      );
      assert.equal(x.isDisposed, false);
      result.xAdv.dispose();
    },
  );

  engineTest(
    'passes are counted by the wrapper: a rule that takes one gradient shows N backward, 2N forward',
    async () => {
      const oneStep = defineAttack('fgsm', {
        run: async ({ model: counted, x: input, y: labels, options }) => {
          const point = lossAndGrad(counted, input, labels, options.loss);
          tf.dispose([point.loss, point.success]);
          const moved = tf.add(input, point.grad) as tf.Tensor4D;
          point.grad.dispose();
          return moved;
        },
      });
      const result = await oneStep(model, x, y, threat);
      assert.deepEqual([result.forwardPasses, result.backwardPasses], [2 * N, N]);
      result.xAdv.dispose();
    },
  );

  engineTest('a rule cannot take a gradient uncounted: a bare tf.grad on ctx.model counts N backward', async () => {
    const bare = defineAttack('fgsm', {
      run: async ({ model: counted, x: input }) => {
        const grad = tf.grad((v: tf.Tensor) => tf.sum(counted.predictLogits(v as tf.Tensor4D)))(input);
        const moved = tf.tidy(() => tf.add(input, tf.mul(0.01, tf.sign(grad)))) as tf.Tensor4D;
        grad.dispose();
        return moved;
      },
    });
    const result = await bare(model, x, y, threat);
    // The gradient's forward pass, its backward pass, and the runner's scoring pass.
    assert.deepEqual([result.forwardPasses, result.backwardPasses], [2 * N, N]);
    result.xAdv.dispose();
  });

  engineTest(
    'the runner owns the step loop: abort before each step, progress after, a stop drops the steps left',
    async () => {
      const ran: string[] = [];
      const loops = defineAttack('pgd', {
        run: async (ctx) => {
          ctx.planSteps(10);
          // The first loop stops after its 3rd of 4 steps; the second runs all 3.
          ran.push(
            `first ${await ctx.steps(4, (i) => {
              ran.push(`a${i}`);
              return i === 2;
            })}`,
          );
          ran.push(
            `second ${await ctx.steps(3, async (i) => {
              ran.push(`b${i}`);
            })}`,
          );
          return ctx.x;
        },
      });
      const progress: string[] = [];
      const result = await loops(model, x, y, threat, { onStep: (done, total) => progress.push(`${done}/${total}`) });
      result.xAdv.dispose();
      assert.deepEqual(ran, ['a0', 'a1', 'a2', 'first false', 'b0', 'b1', 'b2', 'second true']);
      assert.deepEqual(progress, ['1/10', '2/10', '3/10', '4/9', '5/9', '6/9']);
      ran.length = 0;
      const controller = new AbortController();
      await assert.rejects(
        loops(model, x, y, threat, {
          signal: controller.signal,
          onStep: (done) => {
            if (done === 2) controller.abort();
          },
        }),
        (err: Error) => err instanceof AbortError && err.message.startsWith('PGD aborted'),
      );
      assert.deepEqual(ran, ['a0', 'a1'], 'the abort after step 2 stops the loop before step 3');
    },
  );

  test('labels read the catalogue defaults: no options and the defaults spelled out give the same label', () => {
    const expected: Record<string, string> = {
      fgsm: 'FGSM',
      pgd: 'PGD-10',
      apgd: 'APGD-CE',
      'apgd-t': 'APGD-T (9 targets)',
      fab: 'FAB',
      'fab-t': 'FAB-T (9 targets)',
      'mi-fgsm': 'MI-FGSM-10',
      square: 'Square-1000',
      transfer: 'Transfer (PGD-20 on surrogate)',
    };
    for (const entry of ATTACKS) {
      const defaults = Object.fromEntries(Object.entries(entry.options).filter(([, v]) => v !== null)) as AttackOptions;
      assert.equal(entry.label({}), expected[entry.id], entry.id);
      assert.equal(entry.label(defaults), expected[entry.id], `${entry.id} with its defaults`);
    }
    assert.equal(getAttack('pgd').label({ steps: 20, restarts: 2, loss: 'margin' }), 'PGD-20×2 (margin)');
    assert.equal(getAttack('apgd').label({ steps: 50, loss: 'dlr' }), 'APGD-DLR-50');
    assert.equal(getAttack('apgd-t').label({ steps: 50, loss: 'ce', targetClasses: 3 }), 'APGD-T-50 (ce, 3 targets)');
  });

  test('an attack list without a loss runs each attack with its own: APGD-T dlr, PGD ce (PGD-10)', () => {
    const job: AttackJob = { ...defaultAttackJob(), model: 'm/model.json', attacks: ['apgd-t', 'pgd', 'apgd'] };
    assert.equal(job.loss, undefined, 'defaultAttackJob sets no loss');
    const plans = job.attacks.map((id) => planFor(id, job));
    assert.deepEqual(
      plans.map((p) => p.options.loss),
      ['dlr', 'ce', 'ce'],
    );
    assert.deepEqual(
      plans.map((p) => p.entry.label(p.options)),
      ['APGD-T-10 (9 targets)', 'PGD-10', 'APGD-CE-10'],
    );
    // A job-wide loss still reaches every attack that takes one, and the label says so where it is not the default.
    const ce = { ...job, loss: 'ce' as const };
    assert.deepEqual(planFor('apgd-t', ce).options.loss, 'ce');
    assert.equal(planFor('apgd-t', ce).entry.label(planFor('apgd-t', ce).options), 'APGD-T-10 (ce, 9 targets)');
    assert.deepEqual(planFor('apgd-t:margin', ce).options.loss, 'margin');
  });

  test('every registered attack is made by defineAttack, so none can skip the projection or the re-score', () => {
    assert.deepEqual(
      ATTACKS.filter((a) => !keepsContract(a.run)).map((a) => a.id),
      [],
    );
    assert.equal(
      keepsContract(async () => {
        throw new Error('hand-made');
      }),
      false,
    );
  });

  engineTest('the evaluator refuses a hand-made attack that claims success without the runner', async () => {
    const data = await loadTrainingData('embedded');
    const claimsAll: Attack = async (_m, input) => ({
      xAdv: tf.clone(input),
      success: Array.from({ length: input.shape[0] }, () => true),
      finalLoss: new Float32Array(input.shape[0]),
      forwardPasses: 0,
      backwardPasses: 0,
    });
    await assert.rejects(
      evaluateAttacks(model, firstN(data.test, 4), data.shape, threat, [
        { entry: { ...getAttack('pgd'), run: claimsAll }, options: {} },
      ]),
      /attack pgd was not made by defineAttack/,
    );
  });

  engineTest('counting wrappers nest: a pass through the inner one is counted by both', () => {
    const outer = countingClassifier(model);
    const inner = countingClassifier(outer);
    tf.dispose(inner.predictLogits(x));
    // A bare tf.grad, through nobody's helper: the wrappers count it all the same.
    tf.dispose(tf.grad((input: tf.Tensor) => tf.sum(inner.predictLogits(input as tf.Tensor4D)))(x));
    assert.deepEqual(
      [outer.passes, inner.passes],
      [
        { forward: 2 * N, backward: N },
        { forward: 2 * N, backward: N },
      ],
    );
    assert.equal((inner as Classifier).dispose, undefined, 'the wrapper must not own the weights');
  });
});

test('APGD halves its step at the checkpoints of Croce & Hein 2020 (N = 100: 22, 41, 57, 70, 80, 87, 93, 99)', () => {
  assert.deepEqual(apgdCheckpoints(100), [22, 41, 57, 70, 80, 87, 93, 99]);
  assert.deepEqual(apgdCheckpoints(10), [3, 5, 6, 7, 8, 9, 10]);
});
