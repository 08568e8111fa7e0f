/**
 * The report's examples (issue 16, item 1): fooled means an attack changed a correct prediction,
 * a clean mistake is never fooled, each example names the attack that made its image; the counts
 * the panel shows; and what a person reads of a report: the export's proposed file name (item 2),
 * the dataset's name and where n came from (item 10).
 */
import * as assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { buildReport, evaluateAttacks, getAttack, mergeReports, type Classifier } from '../../src/engine';
import type { Report, ReportExample } from '../../src/protocol/report';
import {
  confidenceDrop,
  datasetLabel,
  dropText,
  exampleOutcome,
  exampleVerdict,
  exportFileName,
  modelName,
  nSourceText,
  outcomeCounts,
  samplesSummary,
} from '../../src/protocol/report-text';
import { engineTest, linearClassifier, useBackend } from './helpers';

const SHAPE: [number, number, number] = [2, 2, 1];

/**
 * f(x) = Σx − 2 on four pixels, logits [f, 0]: class 0 when the pixels sum above 2. Each sample
 * has four equal pixels v: FGSM at ε = 0.1 moves f by 0.4 toward the other class.
 *   0: label 0, v = 255 (f = +2)    correct, margin 2: robust
 *   1: label 0, v = 140 (f ≈ +0.2)  correct, margin 0.2: fooled by FGSM
 *   2: label 1, v = 255 (f = +2)    predicted 0: a clean mistake
 *   3: label 1, v = 0   (f = −2)    correct: robust
 *   4: label 0, v = 0   (f = −2)    predicted 1: a clean mistake
 */
const PIXELS = [255, 140, 255, 0, 0];
const LABELS = [0, 0, 1, 1, 0];
const split = {
  images: Uint8Array.from(PIXELS.flatMap((v) => [v, v, v, v])),
  labels: Uint8Array.from(LABELS),
  count: PIXELS.length,
};
const threat = { norm: 'linf' as const, eps: 0.1, bounds: [0, 1] as [number, number] };
const fgsm = { entry: getAttack('fgsm'), options: {} };
// One step of 1e-4 from the clean point: it fools nothing, but runs on every clean-correct point.
const feeblePgd = { entry: getAttack('pgd'), options: { steps: 1, stepSize: 1e-4, randomStart: false } };

function reportOf(evaluation: Awaited<ReturnType<typeof evaluateAttacks>>, suite: string | null = null): Report {
  return buildReport(evaluation, {
    command: 'test',
    version: 'test',
    model: 'models/linear/model.json',
    modelWarnings: [],
    dataset: 'embedded (/opt/extensions/robustness-lab/media/data/fashion-mnist-sample)',
    backend: 'cpu',
    classNames: ['zero', 'one'],
    shape: SHAPE,
    curves: [],
    seconds: 1,
    suite,
  });
}

describe('report examples: fooled, robust, clean mistake', () => {
  let model: Classifier;
  before(async () => {
    await useBackend('cpu');
    model = linearClassifier(new Float32Array([1, 1, 1, 1]), -2, SHAPE);
  });

  engineTest(
    'each attack on every clean-correct point: clean mistakes are not fooled, and FGSM keeps its fooling image',
    async () => {
      const evaluation = await evaluateAttacks(model, split, SHAPE, threat, [fgsm, feeblePgd], { examples: 5 });
      const report = reportOf(evaluation);
      assert.equal(report.clean_accuracy, 3 / 5);
      assert.equal(report.robust_accuracy, 2 / 5);
      assert.deepEqual(
        report.examples.map((e) => e.outcome),
        ['robust', 'fooled', 'clean-mistake', 'robust', 'clean-mistake'],
      );
      assert.deepEqual(
        report.examples.map((e) => e.fooled),
        [false, true, false, false, false],
      );
      // The image shown is the attack that fooled the sample (FGSM), not the later PGD-1 that did not;
      // robust samples show the last attack that ran on them; clean mistakes none.
      assert.deepEqual(
        report.examples.map((e) => [e.adversarial.attack, e.adversarial.attack_label]),
        [
          ['pgd', 'PGD-1'],
          ['fgsm', 'FGSM'],
          ['clean', 'clean'],
          ['pgd', 'PGD-1'],
          ['clean', 'clean'],
        ],
      );
      assert.deepEqual(
        report.examples.map((e) => [e.clean.prediction, e.adversarial.prediction]),
        [
          ['zero', 'zero'],
          ['zero', 'one'],
          ['zero', 'zero'],
          ['one', 'one'],
          ['one', 'one'],
        ],
      );
      assert.deepEqual(report.examples.map(exampleVerdict), [
        'robust to PGD-1',
        'fooled by FGSM',
        'already wrong',
        'robust to PGD-1',
        'already wrong',
      ]);
      assert.deepEqual(outcomeCounts(report.examples), { fooled: 1, robust: 2, cleanMistakes: 2, attacked: 3 });
      assert.equal(samplesSummary(report.examples), '1 of 3 fooled · 2 already wrong');
      // A clean mistake's "adversarial" image is its clean image: nothing was added.
      assert.equal(report.examples[2]!.adversarial.png, report.examples[2]!.clean.png);
    },
  );

  engineTest(
    'a suite in cascade: a fooled sample names the stage that fooled it, a robust one the last stage',
    async () => {
      const evaluation = await evaluateAttacks(model, split, SHAPE, threat, [feeblePgd, fgsm], {
        examples: 5,
        cascade: true,
      });
      const report = reportOf(evaluation, 'quick');
      assert.deepEqual(
        report.examples.map((e) => [e.outcome, e.adversarial.attack_label]),
        [
          ['robust', 'FGSM'],
          ['fooled', 'FGSM'],
          ['clean-mistake', 'clean'],
          ['robust', 'FGSM'],
          ['clean-mistake', 'clean'],
        ],
      );
      assert.deepEqual(
        report.attacks.map((a) => [a.label, a.robust_accuracy]),
        [
          ['PGD-1', 3 / 5],
          ['FGSM', 2 / 5],
        ],
      );
    },
  );

  engineTest('merged worker slices keep each example outcome and the counts add up', async () => {
    const first = { images: split.images.subarray(0, 12), labels: split.labels.subarray(0, 3), count: 3 };
    const second = { images: split.images.subarray(12), labels: split.labels.subarray(3), count: 2 };
    const parts = [];
    for (const [slice, offset] of [
      [first, 0],
      [second, 3],
    ] as const) {
      const part = reportOf(await evaluateAttacks(model, slice, SHAPE, threat, [fgsm], { examples: 5 }));
      for (const e of part.examples) e.index += offset;
      parts.push(part);
    }
    const merged = mergeReports(parts, 5);
    assert.equal(merged.n, 5);
    assert.deepEqual(
      merged.examples.map((e) => [e.index, e.outcome, e.fooled]),
      [
        [0, 'robust', false],
        [1, 'fooled', true],
        [2, 'clean-mistake', false],
        [3, 'robust', false],
        [4, 'clean-mistake', false],
      ],
    );
    assert.equal(samplesSummary(merged.examples), '1 of 3 fooled · 2 already wrong');
  });
});

/** A report example as older reports stored it: no outcome, no attack label. */
function legacyExample(label: string, clean: string, adversarial: string, fooled: boolean): ReportExample {
  return {
    index: 0,
    label,
    clean: { prediction: clean, confidence: 0.9, png: '' },
    perturbation: { png: '', scale: 0.1 },
    adversarial: { prediction: adversarial, confidence: 0.6, png: '', attack: 'pgd' },
    fooled,
  };
}

test('reports written before outcomes existed: a clean mistake stored as fooled is read as a clean mistake', () => {
  const examples = [
    legacyExample('Shirt', 'T-shirt', 'T-shirt', true),
    legacyExample('Bag', 'Bag', 'Sandal', true),
    legacyExample('Coat', 'Coat', 'Coat', false),
  ];
  assert.deepEqual(examples.map(exampleOutcome), ['clean-mistake', 'fooled', 'robust']);
  assert.equal(samplesSummary(examples), '1 of 2 fooled · 1 already wrong');
  assert.equal(exampleVerdict(examples[1]!), 'fooled by pgd', 'the id stands in for the missing label');
  assert.equal(samplesSummary(examples.slice(1)), '1 of 2 fooled', 'no clean mistakes: no "already wrong"');
});

test('the confidence drop: the whole confidence when the prediction changed, else the difference', () => {
  const changed = legacyExample('Bag', 'Bag', 'Sandal', true);
  const held = legacyExample('Coat', 'Coat', 'Coat', false);
  assert.ok(Math.abs(confidenceDrop(changed) - 0.9) < 1e-12);
  assert.ok(Math.abs(confidenceDrop(held) - 0.3) < 1e-12);
  assert.equal(dropText(0.834), '−83 pts');
  assert.equal(dropText(0.3), '−30 pts');
  assert.equal(dropText(0), '0 pts');
  assert.equal(dropText(-0.02), '+2 pts');
});

const report = (over: Partial<Report>): Pick<Report, 'model' | 'suite' | 'attacks' | 'threat'> => ({
  model: 'examples/fashion-mnist/smallcnn/model.json',
  suite: null,
  attacks: [
    { label: 'FGSM', robust_accuracy: 0.3 },
    { label: 'PGD-20', robust_accuracy: 0.1 },
  ] as Report['attacks'],
  threat: { norm: 'linf', eps: 0.1, bounds: [0, 1] },
  ...over,
});

test('export proposes <model>-<attack or suite>-eps<ε>.<ext>, sanitised', () => {
  assert.equal(exportFileName(report({}), 'html'), 'smallcnn-pgd-20-eps0.1.html', 'the strongest attack');
  assert.equal(exportFileName(report({}), 'json'), 'smallcnn-pgd-20-eps0.1.json');
  assert.equal(exportFileName(report({}), 'png'), 'smallcnn-pgd-20-eps0.1.png');
  assert.equal(
    exportFileName(report({ model: 'examples/fashion-mnist/smallcnn-distilled/model.json', suite: 'strong' }), 'html'),
    'smallcnn-distilled-strong-eps0.1.html',
  );
  assert.equal(
    exportFileName(report({ threat: { norm: 'linf', eps: 8 / 255, bounds: [0, 1] } }), 'html'),
    'smallcnn-pgd-20-eps0.0314.html',
  );
  // Labels with spaces, parentheses and ×; a Windows path; a model file that is not model.json.
  assert.equal(
    exportFileName(
      report({
        model: 'C:\\work\\models\\cnn.onnx',
        attacks: [{ label: 'APGD-T (9 targets)', robust_accuracy: 0.2 }] as Report['attacks'],
      }),
      'json',
    ),
    'cnn-apgd-t-9-targets-eps0.1.json',
  );
  assert.equal(
    exportFileName(
      report({ attacks: [{ label: 'PGD-10×5 (margin)', robust_accuracy: 0 }] as Report['attacks'] }),
      'html',
    ),
    'smallcnn-pgd-10-5-margin-eps0.1.html',
  );
  assert.equal(
    exportFileName(report({ model: '../../../model.json', attacks: [] }), 'html'),
    'model-clean-eps0.1.html',
  );
  assert.equal(modelName('/abs/smallcnn/model.json'), 'smallcnn');
});

test('the dataset in the header: built-in sets by name, workspace folders relative, no absolute path outside', () => {
  const install = 'embedded (/home/u/.vscode/extensions/robustness-lab-0.1.0/media/data/fashion-mnist-sample)';
  assert.equal(datasetLabel(install), 'embedded Fashion-MNIST sample');
  assert.equal(datasetLabel('fashion-mnist (/usr/share/datasets/fashion-mnist)'), 'Fashion-MNIST');
  const inWorkspace = (p: string) => (p.startsWith('/ws/') ? p.slice(4) : undefined);
  assert.equal(datasetLabel('/ws/data/cifar (/ws/data/cifar)', inWorkspace), 'data/cifar');
  assert.equal(datasetLabel('/elsewhere/data/cifar (/elsewhere/data/cifar)', inWorkspace), 'cifar');
  assert.equal(datasetLabel('D:\\data\\mnist (D:\\data\\mnist)'), 'mnist');
  assert.equal(datasetLabel('data/mnist'), 'data/mnist');
});

test("a spec's n that overrides robustness.samples is said; the setting's own n is not", () => {
  assert.equal(
    nSourceText({ n: 500, n_source: { spec: 'examples/fashion-mnist/smallcnn.robustness.json', setting: 300 } }),
    'n = 500 from the spec examples/fashion-mnist/smallcnn.robustness.json; robustness.samples is 300',
  );
  assert.equal(nSourceText({ n: 300, n_source: { spec: 'a.robustness.json', setting: 300 } }), '');
  assert.equal(nSourceText({ n: 300 }), '');
});
