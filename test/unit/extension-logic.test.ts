/** The extension host's logic without an editor: panel state, jobs from settings, model summaries. */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { attackJobFor, containingFolder } from '../../src/extension/jobs-from-settings';
import { describeModel, formatModelInfo } from '../../src/formats/model-formats';
import { cancelQuestion, initialState, reducePanel, statusText, statusTooltip } from '../../src/extension/panel-state';
import type { FinishedStage } from '../../src/protocol/messages/worker';
import { stageLine } from '../../src/protocol/suites';
import { attackJobSchema, DEFAULT_CURVE_GRID } from '../../src/protocol/jobs';
import type { Report } from '../../src/protocol/report';

const AT = '2026-11-25T08:00:00.000Z';
const REPORT = { clean_accuracy: 0.9, robust_accuracy: 0.05 } as Report;

test('panel state: progress while running, then done with the report; late progress is dropped', () => {
  let s = initialState('r1', 'Attack: smallcnn', AT);
  assert.equal(s.status, 'running');
  s = reducePanel(s, { type: 'progress', label: 'PGD-10', done: 120, total: 451 });
  assert.deepEqual(s.progress, { label: 'PGD-10', done: 120, total: 451 });
  assert.equal(statusText(s, Date.parse(AT) + 3200), '$(shield) PGD-10 120/451 · 3 s');
  s = reducePanel(s, { type: 'finished', report: REPORT });
  assert.equal(s.status, 'done');
  assert.equal(s.progress, undefined);
  assert.equal(s.report, REPORT);
  assert.equal(statusText(s, Date.parse(AT)), '');
  assert.deepEqual(reducePanel(s, { type: 'progress', label: 'late', done: 1, total: 2 }), s);
  assert.deepEqual(reducePanel(s, { type: 'cancelled' }), s, 'a finished run cannot become cancelled');
});

test('panel state: cancel and failure end the run and keep the error', () => {
  const running = reducePanel(initialState('r2', 't', AT), { type: 'progress', label: 'FGSM', done: 1, total: 2 });
  const cancelled = reducePanel(running, { type: 'cancelled' });
  assert.equal(cancelled.status, 'cancelled');
  assert.equal(cancelled.progress, undefined);
  const failed = reducePanel(running, { type: 'failed', error: 'broken/model.json: is not valid JSON' });
  assert.equal(failed.status, 'failed');
  assert.equal(failed.error, 'broken/model.json: is not valid JSON');
  assert.equal(statusText(initialState('r3', 't', AT), Date.parse(AT)), '$(shield) starting · 0 s');
});

const stage = (index: number, label: string, extra: Partial<FinishedStage> = {}): FinishedStage => ({
  kind: index === 0 ? 'clean' : 'attack',
  index,
  total: 5,
  label,
  n: 300,
  seconds: 2,
  ...extra,
});

test('panel state: finished stages fold in order, a repeated stage replaces its row, late ones are dropped', () => {
  let s = initialState('e1', 'Evaluate (strong): smallcnn', AT, 'strong');
  assert.equal(s.suite, 'strong');
  s = reducePanel(s, { type: 'stage', stage: stage(0, 'clean', { accuracy: 0.84, robust: 252 }) });
  s = reducePanel(s, { type: 'progress', label: 'APGD-CE', done: 100, total: 252 });
  assert.equal(statusText(s, Date.parse(AT) + 4000), '$(shield) 1/5 · APGD-CE 100/252 · 4 s');
  s = reducePanel(s, { type: 'stage', stage: stage(1, 'APGD-CE', { accuracy: 0.4, robust: 120, attacked: 252 }) });
  s = reducePanel(s, { type: 'stage', stage: stage(2, 'APGD-T (3 targets)', { accuracy: 0.31, robust: 93 }) });
  assert.deepEqual(
    s.stages!.map((x) => [x.index, x.label, x.accuracy]),
    [
      [0, 'clean', 0.84],
      [1, 'APGD-CE', 0.4],
      [2, 'APGD-T (3 targets)', 0.31],
    ],
  );
  // The elapsed time counts on with no new event: the text is recomputed from the clock.
  assert.equal(statusText(s, Date.parse(AT) + 9000), '$(shield) 3/5 · APGD-CE 100/252 · 9 s');
  assert.equal(statusText(s, Date.parse(AT) + 10000), '$(shield) 3/5 · APGD-CE 100/252 · 10 s');
  assert.equal(statusTooltip(s), 'Robustness Lab: Evaluate (strong): smallcnn — 2 stages done — click to cancel');
  const again = reducePanel(s, { type: 'stage', stage: stage(2, 'APGD-T (3 targets)', { accuracy: 0.3 }) });
  assert.deepEqual(
    again.stages!.map((x) => x.accuracy),
    [0.84, 0.4, 0.3],
  );
  const cancelled = reducePanel(s, { type: 'cancelled', report: { ...REPORT, partial: PARTIAL } });
  assert.equal(cancelled.status, 'cancelled');
  assert.deepEqual(cancelled.report?.partial, PARTIAL);
  assert.equal(cancelled.stages!.length, 3, 'the finished stages stay with the partial report');
  assert.deepEqual(reducePanel(cancelled, { type: 'stage', stage: stage(3, 'Square-1000') }), cancelled);
});

const PARTIAL = { cancelled_after: 'APGD-T (3 targets)', stages_done: 2, stages_total: 5 };

test('the status-bar click asks before cancelling a long evaluation, not a short attack', () => {
  const start = initialState('e2', 'Evaluate (strong): smallcnn', AT, 'strong');
  assert.equal(cancelQuestion(start, Date.parse(AT) + 3000), undefined, 'a run of 3 s with no stage cancels at once');
  const long = cancelQuestion(start, Date.parse(AT) + 12000);
  assert.equal(long?.message, 'Cancel the evaluation? 0 stages done');
  assert.match(long!.detail, /running for 12 s\. No stage has finished yet: nothing would be kept\./);
  let s = reducePanel(start, { type: 'stage', stage: stage(0, 'clean', { accuracy: 0.84 }) });
  s = reducePanel(s, { type: 'stage', stage: stage(1, 'APGD-CE', { accuracy: 0.4 }) });
  s = reducePanel(s, { type: 'stage', stage: stage(2, 'APGD-T (3 targets)', { accuracy: 0.31 }) });
  const asked = cancelQuestion(s, Date.parse(AT) + 5000);
  assert.equal(asked?.message, 'Cancel the evaluation? 2 of 5 stages done');
  assert.match(asked!.detail, /kept as a partial report, cancelled after APGD-T \(3 targets\)\./);
  assert.equal(cancelQuestion({ ...s, status: 'done' }, Date.parse(AT) + 5000), undefined);
});

test('stage lines: clean, a stage with its accuracy, a skipped stage, the diagnostics', () => {
  assert.equal(
    stageLine(stage(0, 'clean', { accuracy: 0.84, robust: 252, seconds: 0.4 })),
    'clean: 84.0% (252/300) · 0.4 s',
  );
  assert.equal(
    stageLine(stage(2, 'APGD-T (3 targets)', { accuracy: 0.31, robust: 93, seconds: 11.52 })),
    'stage 2 of 5 · APGD-T (3 targets): 31.0% (93/300) · 11.5 s',
  );
  assert.equal(
    stageLine(stage(3, 'Square-1000', { accuracy: 0, robust: 0, attacked: 0, skipped: true, seconds: 0 })),
    'stage 3 of 5 · Square-1000: skipped (all fooled)',
  );
  assert.equal(
    stageLine({
      ...stage(4, 'diagnostics'),
      kind: 'diagnostics',
      findings: 2,
      masking: 2,
      detail: 'saturated-softmax, zero-gradients',
      seconds: 4.1,
    }),
    'stage 4 of 5 · diagnostics: 2 findings (2 masking): saturated-softmax, zero-gradients · 4.1 s',
  );
});

test('jobs from settings: a valid job, the curve includes ε, folders resolve, outside paths are refused', () => {
  const settings = {
    norm: 'linf' as const,
    eps: 0.08,
    steps: 20,
    samples: 300,
    dataset: 'data/idx',
    restarts: 1,
    examples: 32,
  };
  const job = attackJobFor('/w/models/cnn/model.json', '/w', settings, 'attack');
  assert.ok(attackJobSchema.safeParse(job).success);
  assert.deepEqual(job.attacks, ['fgsm', 'pgd']);
  assert.equal(job.data, path.resolve('/w/data/idx'));
  assert.deepEqual(
    job.curve,
    [...DEFAULT_CURVE_GRID, 0.08].sort((a, b) => a - b),
  );
  assert.deepEqual(
    attackJobFor('/w/m/model.json', '/w', { ...settings, norm: 'l2', eps: 1 }, 'curve').curve,
    [0, 0.25, 0.5, 1, 1.5, 2],
    'an L2 curve runs over ten times the L∞ grid',
  );
  assert.equal(
    attackJobFor('/w/m/model.json', '/w', { ...settings, dataset: 'embedded', eps: 0.1 }, 'curve').curve.length,
    6,
  );
  assert.deepEqual(attackJobFor('/w/m/model.json', '/w', { ...settings, dataset: 'fashion-mnist' }, 'curve').attacks, [
    'pgd',
  ]);
  const strong = attackJobFor('/w/m/model.json', '/w', settings, 'evaluate');
  assert.ok(attackJobSchema.safeParse(strong).success);
  assert.equal(strong.suite, 'strong');
  assert.equal(
    strong.attacks,
    undefined,
    'the suite table says what evaluate runs; the job names no attacks of its own',
  );
  // No job-wide loss: each attack runs its own (APGD-T dlr).
  assert.deepEqual(
    [strong.eps, strong.steps, strong.n, strong.norm, strong.loss, strong.batchSize],
    [0.08, 20, 300, 'linf', undefined, 250],
  );
  assert.equal(job.suite, undefined, 'Attack This Model runs the listed attacks, not a suite');
  assert.equal(containingFolder('/w/models/cnn/model.json', ['/other', '/w']), '/w');
  assert.equal(containingFolder('/w/../etc/model.json', ['/w']), undefined);
  assert.equal(containingFolder('/wx/model.json', ['/w']), undefined);
});

test('model summaries: layers and graph models, read without tfjs', () => {
  const example = path.join(__dirname, '..', '..', 'examples', 'fashion-mnist', 'smallcnn', 'model.json');
  assert.equal(formatModelInfo(describeModel(example)), '28×28×1 → 10');
  const graph = path.join(__dirname, '..', 'fixtures', 'graph-model', 'model.json');
  assert.equal(formatModelInfo(describeModel(graph)), '2×2×1');
  assert.equal(formatModelInfo({ format: 'tfjs-graph' }), 'Graph model');
});
