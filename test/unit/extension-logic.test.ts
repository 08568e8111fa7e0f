/** The extension host's logic without an editor: panel state, jobs from settings, model summaries. */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { attackJobFor, containingFolder } from '../../src/extension/jobs-from-settings';
import { describeModel, formatModelInfo } from '../../src/formats/model-formats';
import { initialState, reducePanel, statusText } from '../../src/extension/panel-state';
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
