/**
 * An evaluation streams each finished stage (clean, each attack, the diagnostics, the geometry,
 * the curve) in that order; a cancel keeps what finished as a partial report; a stage with
 * nothing left to attack is skipped; the advice does not send the user to the suite that ran.
 */
import { before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { runAttackJob } from '../../src/engine';
import type { AttackJob } from '../../src/protocol/jobs';
import type { FinishedStage } from '../../src/protocol/messages/worker';
import { summaryTable } from '../../src/cli/main';
import { engineTest, useBackend } from './helpers';

const EXAMPLES = path.join(__dirname, '..', '..', 'examples', 'fashion-mnist');
const STRONG: AttackJob = {
  model: path.join(EXAMPLES, 'smallcnn-distilled', 'model.json'),
  data: 'embedded',
  suite: 'strong',
  queries: 100,
  norm: 'linf',
  eps: 0.1,
  steps: 20,
  restarts: 1,
  randomStart: true,
  n: 40,
  batchSize: 100,
  seed: 0,
  curve: [],
  examples: 4,
  bounds: [0, 1],
};

before(async () => {
  await useBackend('wasm');
});

engineTest(
  'stages stream in order: clean, each suite stage with its accuracy, diagnostics, geometry, curve',
  async () => {
    const stages: FinishedStage[] = [];
    const report = await runAttackJob({ ...STRONG, curve: [0, 0.1] }, 'test', { onStage: (s) => stages.push(s) });
    assert.deepEqual(
      stages.map((s) => [s.kind, s.index, s.total]),
      [
        ['clean', 0, 6],
        ['attack', 1, 6],
        ['attack', 2, 6],
        ['attack', 3, 6],
        ['diagnostics', 4, 6],
        ['geometry', 5, 6],
        ['curve', 6, 6],
      ],
    );
    assert.deepEqual(
      stages.map((s) => s.label),
      ['clean', 'APGD-CE', 'APGD-T (3 targets)', 'Square-100', 'diagnostics', 'geometry', 'curve'],
    );
    // Each stage's numbers are the report's, as they were known when it finished.
    assert.equal(stages[0]!.accuracy, report.clean_accuracy);
    assert.equal(stages[0]!.robust, Math.round(report.clean_accuracy * 40));
    report.attacks.forEach((a, k) => {
      const stage = stages[k + 1]!;
      assert.equal(stage.accuracy, a.robust_accuracy);
      assert.equal(stage.forwardPasses, a.forward_passes);
      assert.equal(stage.n, 40);
      assert.ok(Math.abs(stage.seconds - a.time_s) < 1e-9);
    });
    // The cascade attacks exactly the points the stage before left.
    assert.equal(stages[1]!.attacked, stages[0]!.robust);
    assert.equal(stages[2]!.attacked, stages[1]!.robust);
    const masking = report.diagnostics.filter((d) => d.masking).length;
    assert.ok(stages[4]!.findings! >= 2, `the distilled model's probes find masking: ${stages[4]!.detail}`);
    assert.ok(masking >= stages[4]!.masking!);
    assert.match(stages[5]!.detail!, /γ median \d/);
    assert.match(stages[6]!.detail!, /1 curve over 2 radii \(ε 0…0\.1\)/);
    assert.equal(report.partial, undefined);
    // The strong suite ran: no finding tells the user to run it.
    for (const d of report.diagnostics) assert.doesNotMatch(d.message, /Evaluate \(strong\)|and the strong suite\./);
    assert.match(
      report.diagnostics.find((d) => d.id === 'saturated-softmax')!.message,
      /This evaluation ran the strong suite: its worst case \(the last stage\) is the number to report/,
    );
  },
);

engineTest('a cancel after APGD-T keeps the finished stages as a partial report', async () => {
  const controller = new AbortController();
  const stages: FinishedStage[] = [];
  const report = await runAttackJob(STRONG, 'test', {
    signal: controller.signal,
    keepPartial: true,
    onStage: (s) => {
      stages.push(s);
      if (s.label.startsWith('APGD-T')) controller.abort();
    },
  });
  assert.deepEqual(report.partial, { cancelled_after: 'APGD-T (3 targets)', stages_done: 2, stages_total: 5 });
  assert.deepEqual(
    report.attacks.map((a) => [a.label, a.robust_accuracy]),
    stages.slice(1).map((s) => [s.label, s.accuracy]),
  );
  assert.deepEqual(
    report.attacks.map((a) => a.id),
    ['apgd', 'apgd-t'],
  );
  assert.equal(report.robust_accuracy, stages[2]!.accuracy, 'the worst case so far');
  assert.equal(report.geometry, undefined);
  assert.ok(report.examples.every((e) => ['clean', 'apgd', 'apgd-t'].includes(e.adversarial.attack)));
});

engineTest(
  'a cancel in the middle of a stage drops that stage whole; without keepPartial it still throws',
  async () => {
    const controller = new AbortController();
    // Batches of 10: APGD-T reports progress after its first batch, and the cancel stops its second.
    const report = await runAttackJob({ ...STRONG, batchSize: 10 }, 'test', {
      signal: controller.signal,
      keepPartial: true,
      onProgress: (p) => {
        if (p.label.startsWith('APGD-T')) controller.abort();
      },
    });
    assert.deepEqual(report.partial, { cancelled_after: 'APGD-CE', stages_done: 1, stages_total: 5 });
    assert.deepEqual(
      report.attacks.map((a) => a.id),
      ['apgd'],
    );
    assert.ok(report.examples.every((e) => e.adversarial.attack !== 'apgd-t'));
    const again = new AbortController();
    await assert.rejects(
      runAttackJob(STRONG, 'test', {
        signal: again.signal,
        onProgress: (p) => {
          if (p.label.startsWith('APGD-T')) again.abort();
        },
      }),
      (err: Error) => err.name === 'AbortError',
    );
  },
);

engineTest('a stage with no point left to attack is skipped, and the CLI table says so', async () => {
  const stages: FinishedStage[] = [];
  const job: AttackJob = { ...STRONG, model: path.join(EXAMPLES, 'smallcnn', 'model.json'), eps: 0.4, n: 16 };
  const report = await runAttackJob(job, 'test', { onStage: (s) => stages.push(s) });
  assert.equal(report.attacks[0]!.robust_accuracy, 0, 'APGD-CE at ε=0.4 fools every point');
  const [, , apgdT, square] = stages;
  assert.deepEqual(
    [apgdT, square].map((s) => [s!.label, s!.skipped, s!.attacked, s!.forwardPasses]),
    [
      ['APGD-T (3 targets)', true, 0, 0],
      ['Square-100', true, 0, 0],
    ],
  );
  assert.equal(stages[1]!.skipped, undefined);
  const table = summaryTable({ ...report, model: 'smallcnn/model.json' });
  // The 95% CI column: at 0 correct the Wilson interval itself, [0.0, hi].
  assert.match(table, /APGD-T \(3 targets\) +0\.0% +\[0\.0, \d+\.\d\] +skipped \(all fooled\)\n/);
  assert.match(table, /Square-100 +0\.0% +\[0\.0, \d+\.\d\] +skipped \(all fooled\)\n/);
  assert.doesNotMatch(table, /0\.00 +0 +0/);
});
