/**
 * examples/pytorch: the spec checks clean, and running it through the engine gives the numbers its
 * README states (clean 278/300, FGSM 125/300, PGD-10 64/300 at ε = 0.05 on the committed image
 * folder), so a change to the ONNX importer or the image-folder reader that moves them fails here.
 */
import { before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { analyzeSpec } from '../../src/experiment/analysis';
import { WorkspaceIndex } from '../../src/experiment/workspace';
import { specAttackJob, type RobustnessSpec } from '../../src/protocol/experiment-spec';
import { runAttackJob } from '../../src/engine/run-job';
import { engineTest, useBackend } from './helpers';

const ROOT = path.join(__dirname, '..', '..');
const DIR = path.join(ROOT, 'examples', 'pytorch');
const SPEC = path.join(DIR, 'model.robustness.json');

before(() => useBackend('wasm'));

test('the example spec checks clean: an .onnx model and an image folder of 300 PNGs', () => {
  const { problems, spec } = analyzeSpec(fs.readFileSync(SPEC, 'utf8'), new WorkspaceIndex([ROOT]).factsFor(SPEC));
  assert.deepEqual(problems, []);
  assert.equal(spec?.model, 'model.onnx');
  const images = fs
    .readdirSync(path.join(DIR, 'data', 'test'))
    .flatMap((c) => fs.readdirSync(path.join(DIR, 'data', 'test', c)));
  assert.equal(images.length, 300);
  assert.ok(fs.statSync(path.join(DIR, 'model.onnx')).size < 300_000);
});

engineTest("the example's README numbers: clean 92.7%, FGSM 41.7%, PGD-10 21.3% at ε = 0.05", async () => {
  const { spec } = analyzeSpec(fs.readFileSync(SPEC, 'utf8'), new WorkspaceIndex([ROOT]).factsFor(SPEC));
  const job = specAttackJob(spec as RobustnessSpec, (rel) => path.resolve(DIR, rel));
  const report = await runAttackJob({ ...job, examples: 0 }, 'test');
  assert.equal(report.n, 300);
  assert.equal(Math.round(report.clean_accuracy * 300), 278);
  assert.deepEqual(
    report.attacks.map((a) => [a.label, Math.round(a.robust_accuracy * 300)]),
    [
      ['FGSM', 125],
      ['PGD-10', 64],
    ],
  );
  assert.equal(Math.round(report.robust_accuracy * 300), 64);
});
