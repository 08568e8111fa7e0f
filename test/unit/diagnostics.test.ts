/**
 * Gradient-masking diagnostics fire on models built to trigger them and stay quiet on the plain
 * example model; the strong suite runs AutoAttack's way and breaks the distilled example.
 */
import { before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import {
  firstN,
  loadClassifier,
  loadTrainingData,
  makeClassifier,
  runAttackJob,
  type Classifier,
  type Split,
} from '../../src/engine';
import { blackBoxFinding, evaluationDiagnostics, probeDiagnostics } from '../../src/engine/eval/diagnostics';
import { mergeReports } from '../../src/engine/report/merge';
import { wilson } from '../../src/protocol/stats';
import { attackDiagnostics } from '../../src/engine/report/build';
import type { Evaluation } from '../../src/engine/eval/evaluate';
import type { AttackJob } from '../../src/protocol/jobs';
import type { Report } from '../../src/protocol/report';
import { engineTest, expectNoLeak, useBackend } from './helpers';

const EXAMPLES = path.join(__dirname, '..', '..', 'examples', 'fashion-mnist');
const THREAT = { norm: 'linf' as const, eps: 0.1, bounds: [0, 1] as [number, number] };
let plain: Classifier;
let split: Split;
let shape: [number, number, number];

before(async () => {
  await useBackend('wasm');
  const data = await loadTrainingData('embedded');
  split = firstN(data.test, 300);
  shape = data.shape;
  plain = await loadClassifier(path.join(EXAMPLES, 'smallcnn', 'model.json'));
});

/** The plain model with its logits passed through `f`. */
function wrapped(
  source: string,
  f: (logits: tf.Tensor2D) => tf.Tensor2D,
  input: (x: tf.Tensor4D) => tf.Tensor4D = (x) => x,
): Classifier {
  return makeClassifier((x) => tf.tidy(() => f(plain.predictLogits(input(x)))), {
    inputShape: plain.inputShape,
    numClasses: plain.numClasses,
    bounds: plain.bounds,
    source,
    warnings: [],
  });
}

async function probe(model: Classifier): Promise<Map<string, { severity: string; masking: boolean; message: string }>> {
  const found = await expectNoLeak(() => probeDiagnostics(model, split, shape, THREAT, { probe: 100, seed: 1 }));
  return new Map(found.map((d) => [d.id, { severity: d.severity, masking: Boolean(d.masking), message: d.message }]));
}

engineTest('none fires on the plain example model', async () => {
  const found = await probe(plain);
  assert.deepEqual([...found.keys()], [], [...found.values()].map((d) => d.message).join('\n'));
});

engineTest('a softmax-output model: the outputs are probabilities', async () => {
  const found = await probe(wrapped('softmax', (z) => tf.softmax(z)));
  assert.equal(found.get('probability-outputs')?.masking, true);
  assert.match(found.get('probability-outputs')!.message, /Export the logits/);
});

engineTest(
  'T-scaled logits (distillation at T = 100, deployed at T = 1): saturated softmax and zero gradients',
  async () => {
    const found = await probe(wrapped('T=100', (z) => tf.mul(z, 100)));
    assert.equal(found.get('saturated-softmax')?.masking, true);
    assert.match(
      found.get('saturated-softmax')!.message,
      /top logit leads by more than 17 on|On \d+\.\d% of the probe points/,
    );
    assert.equal(found.get('zero-gradients')?.masking, true);
  },
);

engineTest('a model with a random layer: repeated forward passes differ', async () => {
  const found = await probe(wrapped('random', (z) => tf.add(z, tf.randomNormal(z.shape, 0, 0.5))));
  assert.equal(found.get('random-outputs')?.severity, 'error');
  assert.match(found.get('random-outputs')!.message, /EOT.*--suite rand/);
});

engineTest('a model with zero gradients (quantised input): zero gradients, and PGD fails at a huge ε', async () => {
  const found = await probe(
    wrapped(
      'quantised',
      (z) => z,
      (x) => tf.div(tf.round(tf.mul(x, 4)), 4) as tf.Tensor4D,
    ),
  );
  assert.match(found.get('zero-gradients')?.message ?? '', /exactly zero on 100\.0% of the probe points/);
  assert.equal(found.get('no-chance-at-large-eps')?.masking, true);
  assert.equal(found.get('black-box-beats-white-box')?.masking, true, 'Square needs no gradients');
});

engineTest(
  'evaluation checks: an example outside its ball is an error; a black-box gain over white-box attacks is flagged',
  () => {
    const fooled = (k: number) => Uint8Array.from({ length: 100 }, (_, i) => (i < k ? 1 : 0));
    const run = (id: string, k: number) => ({
      id,
      label: id,
      params: {},
      robustAccuracy: 1 - k / 100,
      timeSeconds: 1,
      forwardPasses: 1,
      backwardPasses: 1,
      fooled: fooled(k),
    });
    const base: Evaluation = {
      cascade: false,
      checks: { maxDistanceOverEps: 1, inBounds: true, finite: true },
      n: 100,
      threat: THREAT,
      cleanAccuracy: 1,
      attacks: [run('pgd', 10), run('square', 30)],
      robustAccuracy: 0.7,
      examples: [],
      seconds: 1,
    };
    const ids = (e: Evaluation) => evaluationDiagnostics(e).map((d) => d.id);
    assert.deepEqual(ids(base), ['black-box-beats-white-box']);
    assert.match(
      evaluationDiagnostics(base)[0]!.message,
      /^square fools 20 points \(20\.0%\) that no white-box attack did/,
    );
    assert.equal(evaluationDiagnostics(base)[0]!.count, 20);
    assert.deepEqual(ids({ ...base, attacks: [run('pgd', 30), run('square', 30)] }), []);
    const broken = {
      ...base,
      attacks: [run('pgd', 30)],
      checks: { maxDistanceOverEps: 1.2, inBounds: true, finite: false },
    };
    assert.deepEqual(
      evaluationDiagnostics(broken).map((d) => [d.id, d.severity]),
      [['invalid-examples', 'error']],
    );
  },
);

engineTest('the strong suite breaks the distilled example that ce-PGD calls robust, and flags it', async () => {
  const job = {
    model: path.join(EXAMPLES, 'smallcnn-distilled', 'model.json'),
    data: 'embedded',
    attacks: [],
    norm: 'linf',
    eps: 0.1,
    steps: 20,
    restarts: 1,
    loss: 'ce',
    randomStart: true,
    n: 100,
    batchSize: 100,
    seed: 0,
    curve: [],
    examples: 4,
    bounds: [0, 1],
  } satisfies AttackJob;
  const pgdReport = await runAttackJob({ ...job, attacks: ['pgd'] }, 'test');
  const strongJob = { ...job, attacks: undefined, suite: 'strong' as const, queries: 100 };
  const strong = await expectNoLeak(() => runAttackJob(strongJob, 'test'));
  assert.ok(pgdReport.robust_accuracy > 0.6, `ce-PGD-20 reports ${pgdReport.robust_accuracy}`);
  assert.ok(strong.robust_accuracy <= 0.05, `strong suite leaves ${strong.robust_accuracy}`);
  assert.equal(strong.suite, 'strong');
  assert.equal(strong.cascade, true);
  assert.deepEqual(
    strong.attacks.map((a) => a.id),
    ['apgd', 'apgd-t', 'square'],
  );
  // Accuracy after each stage never rises.
  strong.attacks.reduce((prev, a) => {
    assert.ok(a.robust_accuracy <= prev);
    return a.robust_accuracy;
  }, strong.clean_accuracy);
  assert.ok(
    strong.checks && strong.checks.max_distance_over_eps <= 1 + 1e-5 && strong.checks.in_bounds && strong.checks.finite,
  );
  const masking = strong.diagnostics.filter((d) => d.masking).map((d) => d.id);
  for (const id of ['saturated-softmax', 'zero-gradients', 'loss-dependent-result'])
    assert.ok(masking.includes(id), `${id} in ${masking.join(', ')}`);
});

engineTest('merging worker slices adds up counted findings and recomputes stage checks on the whole', async () => {
  const slice = (ce: number, robust: number, square: number): Report => ({
    tool: { name: 'robustness-lab', version: '0' },
    command: 'evaluate',
    created: '',
    model: 'm',
    dataset: 'd',
    n: 100,
    threat: { norm: 'linf', eps: 0.1, bounds: [0, 1] },
    backend: 'wasm',
    workers: 1,
    clean_accuracy: 0.9,
    attacks: [
      {
        id: 'apgd',
        label: 'APGD-CE',
        params: { loss: 'ce' },
        robust_accuracy: ce,
        time_s: 1,
        forward_passes: 1,
        backward_passes: 1,
      },
      {
        id: 'square',
        label: 'Square-1000',
        params: {},
        robust_accuracy: robust,
        time_s: 1,
        forward_passes: 1,
        backward_passes: 0,
      },
    ],
    robust_accuracy: robust,
    curve: [],
    curves: [],
    suite: 'strong',
    cascade: true,
    diagnostics: [
      blackBoxFinding('Square-1000', square, 100),
      { id: 'zero-gradients', severity: 'warning', message: 'z', masking: true },
    ],
    checks: { max_distance_over_eps: 1, in_bounds: true, finite: true },
    class_names: [],
    examples: [],
    time_s: 1,
  });
  const merged = mergeReports([slice(0.5, 0.45, 2), slice(0.3, 0.25, 3)], 0);
  // The 95% intervals are recomputed on the whole n = 200, not kept from a slice.
  assert.deepEqual(merged.clean_ci95, wilson(180, 200));
  assert.deepEqual(merged.attacks[0]!.ci95, wilson(80, 200));
  assert.deepEqual(merged.robust_ci95, wilson(70, 200));
  assert.equal(merged.robust_per_image, undefined, 'no slice kept per-image results');
  const joined = mergeReports(
    [
      { ...slice(0.5, 0.45, 2), robust_per_image: '1'.repeat(45) + '0'.repeat(55) },
      { ...slice(0.3, 0.25, 3), robust_per_image: '0'.repeat(75) + '1'.repeat(25) },
    ],
    0,
  );
  assert.equal(joined.robust_per_image, '1'.repeat(45) + '0'.repeat(130) + '1'.repeat(25), 'slices in order');
  const byId = new Map(merged.diagnostics.map((d) => [d.id, d]));
  assert.equal(byId.get('black-box-beats-white-box')?.count, 5);
  assert.match(byId.get('black-box-beats-white-box')!.message, /^Square-1000 fools 5 points \(2\.5%\)/);
  // APGD-CE 40% vs the whole suite 35%: 5 points, not the 10-point gap that flags a masked loss.
  assert.equal(byId.has('loss-dependent-result'), false);
  assert.equal(byId.get('zero-gradients')?.masking, true);
  // The threshold (0.5% of n, above 1) judges the run's total, not each shard: four shards of a
  // 400-image run with 1 black-box gain each make 4 > 2, found; with 0, 1, 0, 1 they make 2, not.
  const shards = (counts: number[]) =>
    mergeReports(
      counts.map((c) => ({
        ...slice(0.5, 0.45, 2),
        diagnostics: c ? [blackBoxFinding('Square-1000', c, 100)] : [],
      })),
      0,
    ).diagnostics.find((d) => d.id === 'black-box-beats-white-box');
  assert.equal(shards([1, 1, 1, 1])?.count, 4);
  assert.equal(shards([0, 1, 0, 1]), undefined);
  const masked = mergeReports([slice(0.8, 0.05, 0), slice(0.9, 0.03, 0)], 0);
  assert.match(
    masked.diagnostics.find((d) => d.id === 'loss-dependent-result')?.message ?? '',
    /APGD-CE leaves 85\.0% but the full suite 4\.0%/,
  );
});

engineTest(
  "merging worker slices adds every pass count, the transfer surrogate's apart from the target's",
  async () => {
    const slice = (n: number, surrogateForward: number): Report => ({
      tool: { name: 'robustness-lab', version: '0' },
      command: 'attack',
      created: '',
      model: 'm',
      dataset: 'd',
      n,
      threat: { norm: 'linf', eps: 0.1, bounds: [0, 1] },
      backend: 'wasm',
      workers: 1,
      clean_accuracy: 0.9,
      attacks: [
        {
          id: 'transfer',
          label: 'Transfer',
          params: {},
          robust_accuracy: 0.5,
          time_s: 1,
          forward_passes: n,
          backward_passes: 0,
          surrogate_forward_passes: surrogateForward,
          surrogate_backward_passes: surrogateForward - n,
        },
      ],
      robust_accuracy: 0.5,
      curve: [],
      curves: [],
      diagnostics: [],
      class_names: [],
      examples: [],
      time_s: 1,
    });
    const counts = (parts: Report[]) => {
      const [transfer] = mergeReports(parts, 0).attacks;
      return [
        transfer!.forward_passes,
        transfer!.backward_passes,
        transfer!.surrogate_forward_passes,
        transfer!.surrogate_backward_passes,
      ];
    };
    assert.deepEqual(counts([slice(100, 700), slice(60, 420)]), [160, 0, 1120, 960]);
    // A first slice whose points fell before the transfer stage ran no surrogate: the others still count.
    const { surrogate_forward_passes: _f, surrogate_backward_passes: _b, ...unrun } = slice(100, 0).attacks[0]!;
    const fooledEarly = { ...slice(100, 0), attacks: [{ ...unrun, forward_passes: 0 }] };
    assert.deepEqual(counts([fooledEarly, slice(60, 420)]), [60, 0, 420, 360]);
  },
);

engineTest('single-step-beats-iterative reads single-step from the catalogue, not from an attack id', () => {
  const stage = (id: string, label: string, robust: number) => ({
    id,
    label,
    params: {},
    robust_accuracy: robust,
    time_s: 1,
    forward_passes: 1,
    backward_passes: 1,
  });
  const flagged = attackDiagnostics({ n: 100, attacks: [stage('fgsm', 'FGSM', 0.1), stage('pgd', 'PGD-10', 0.3)] });
  assert.deepEqual(
    flagged.map((d) => [d.id, d.masking]),
    [['single-step-beats-iterative', true]],
  );
  assert.match(flagged[0]!.message, /^FGSM \(10\.0%\) beats PGD-10 \(30\.0%\)/);
  // MI-FGSM is iterative: it beating PGD says nothing about a single step.
  assert.deepEqual(
    attackDiagnostics({ n: 100, attacks: [stage('mi-fgsm', 'MI-FGSM-10', 0.1), stage('pgd', 'PGD-10', 0.3)] }),
    [],
  );
});
