/** The built CLI end to end: train, attack with a curve, report.json against its schema. */
import { before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import Ajv from 'ajv';
import type { Report } from '../../src/protocol/report';
import { tempDir } from './helpers';

const CLI = path.join(__dirname, '..', '..', 'dist', 'cli.js');
const ROOT = path.join(__dirname, '..', '..');
const VERSION = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version as string;
const SCHEMA = JSON.parse(
  fs.readFileSync(path.join(__dirname, '..', '..', 'src', 'protocol', 'report-schema.json'), 'utf8'),
);

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 180_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

let work: string;
let modelFile: string;

before(() => {
  assert.ok(fs.existsSync(CLI), `${CLI} is missing; npm test builds it first`);
  work = tempDir('cli');
  const trained = cli('train', '--epochs', '1', '--n-train', '1500', '--seed', '3', '--out', path.join(work, 'model'));
  assert.equal(trained.status, 0, trained.stderr);
  assert.match(trained.stderr, /backend: wasm \(our kernels\)/);
  assert.match(trained.stdout, /^epoch\s+loss\s+train acc\s+test acc/m);
  modelFile = path.join(work, 'model', 'model.json');
  const saved = JSON.parse(fs.readFileSync(modelFile, 'utf8'));
  assert.equal(saved.userDefinedMetadata.robustnessLab.trainImages, 1500);
});

test('attack writes a report.json that follows the schema with every field filled, and a self-contained report.html', () => {
  const out = path.join(work, 'report');
  const r = cli(
    'attack',
    '--model',
    modelFile,
    ...'--n 60 --eps 0.1 --steps 5 --curve 0,0.05,0.1 --examples 8 --out'.split(' '),
    out,
  );
  assert.equal(r.status, 0, r.stderr);
  const report = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8')) as Report;
  // Per image: 60 characters, as many "1" as the robust accuracy counts; intervals around each accuracy.
  assert.equal(report.robust_per_image?.length, 60);
  assert.equal(report.robust_per_image!.replace(/0/g, '').length, Math.round(report.robust_accuracy * 60));
  for (const [acc, ci] of [
    [report.clean_accuracy, report.clean_ci95],
    [report.robust_accuracy, report.robust_ci95],
    ...report.attacks.map((a) => [a.robust_accuracy, a.ci95] as const),
  ] as const) {
    assert.ok(ci && ci[0] <= acc && acc <= ci[1] && ci[1] - ci[0] > 0.05, `${acc} in ${ci}`);
  }
  assert.match(r.stdout, /^attack +accuracy +95% CI +time s/m);
  // The same report against itself: no discordant image, p = 1.
  const self = cli('compare', path.join(out, 'report.json'), path.join(out, 'report.json'), '--names', 'A,B');
  assert.equal(self.status, 0, self.stderr);
  assert.match(self.stdout, /images only A keeps: 0; only B keeps: 0/);
  assert.match(self.stdout, /^A − B: 0\.0 points, p = 1, not significant at n = 60$/m);
  // Each stage's line as it finishes, in order, before the table.
  const stageLines = r.stderr.split('\n').filter((l) => /^(clean: \d+\.|stage \d)/.test(l));
  assert.deepEqual(
    stageLines.map((l) => l.replace(/ · [\d.]+ s$/, '')),
    [
      `clean: ${(report.clean_accuracy * 100).toFixed(1)}% (${Math.round(report.clean_accuracy * 60)}/60)`,
      `stage 1 of 3 · FGSM: ${(report.attacks[0]!.robust_accuracy * 100).toFixed(1)}% (${Math.round(report.attacks[0]!.robust_accuracy * 60)}/60)`,
      `stage 2 of 3 · PGD-5: ${(report.attacks[1]!.robust_accuracy * 100).toFixed(1)}% (${Math.round(report.attacks[1]!.robust_accuracy * 60)}/60)`,
      'stage 3 of 3 · curve: 2 curves over 3 radii (ε 0…0.1)',
    ],
  );
  const validate = new Ajv({ allErrors: true, strict: false }).compile(SCHEMA);
  assert.ok(validate(report), JSON.stringify(validate.errors));

  assert.equal(report.n, 60);
  assert.deepEqual(
    report.tool,
    { name: 'robustness-lab', version: VERSION },
    "package.json's version, by esbuild's define",
  );
  assert.equal(cli('--version').stdout, `${VERSION}\n`);
  assert.deepEqual(report.threat, { norm: 'linf', eps: 0.1, bounds: [0, 1] });
  assert.equal(report.backend, 'wasm (our kernels)');
  assert.match(report.dataset, /^embedded \(/);
  assert.equal(report.model, modelFile);
  assert.deepEqual(
    report.attacks.map((a) => a.label),
    ['FGSM', 'PGD-5'],
  );
  for (const a of report.attacks) {
    assert.ok(a.robust_accuracy <= report.clean_accuracy, `${a.id} above clean accuracy`);
    assert.ok(a.forward_passes > 0 && a.backward_passes > 0 && a.time_s > 0, a.id);
  }
  assert.ok(report.clean_accuracy > 0.4, `clean accuracy ${report.clean_accuracy}`);
  assert.ok(report.robust_accuracy <= Math.min(...report.attacks.map((a) => a.robust_accuracy)));
  assert.equal(report.curves.length, 2);
  assert.deepEqual(
    report.curve.map((p) => p.eps),
    [0, 0.05, 0.1],
  );
  assert.equal(report.curve[0]!.accuracy, report.clean_accuracy);
  for (const c of report.curves) {
    for (let i = 1; i < c.points.length; i++)
      assert.ok(c.points[i]!.accuracy <= c.points[i - 1]!.accuracy, 'curve not monotone');
  }
  assert.equal(report.class_names.length, 10);
  assert.equal(report.examples.length, 8);
  for (const e of report.examples) {
    for (const png of [e.clean.png, e.perturbation.png, e.adversarial.png])
      assert.match(png, /^data:image\/png;base64,iVBOR/);
    assert.equal(e.perturbation.scale, 0.1);
    // Fooled: an attack changed a correct prediction; a clean mistake is never fooled.
    const outcome =
      e.clean.prediction !== e.label ? 'clean-mistake' : e.adversarial.prediction !== e.label ? 'fooled' : 'robust';
    assert.equal(e.outcome, outcome);
    assert.equal(e.fooled, outcome === 'fooled');
    // The attack that made the image: the one that fooled it, or the last that ran (PGD-5); none for a clean mistake.
    const attacks = outcome === 'clean-mistake' ? ['clean'] : outcome === 'fooled' ? ['FGSM', 'PGD-5'] : ['PGD-5'];
    assert.ok(attacks.includes(e.adversarial.attack_label!), `${outcome} by ${e.adversarial.attack_label}`);
  }
  assert.deepEqual(report.diagnostics, [], 'attack runs the masking probes only with --diagnostics');

  const html = fs.readFileSync(path.join(out, 'report.html'), 'utf8');
  assert.match(html, /<script type="application\/json" id="report-data">/);
  assert.doesNotMatch(html, /<script[^>]+src=|<link[^>]+href=/, 'report.html must not load anything');
  assert.ok(html.includes('renderReport') || html.includes('curve-canvas'), 'renderer missing from report.html');

  assert.match(r.stdout, /^clean\s+\d+\.\d%/m);
  assert.match(r.stdout, /^PGD-5\s+\d+\.\d%/m);
  assert.match(r.stdout, /backend wasm \(our kernels\)/);
});

test('bad options fail with exit code 2 and a message naming the option or file', () => {
  const negative = cli('attack', '--model', modelFile, '--eps', '-0.1', '--n', '5');
  assert.equal(negative.status, 2);
  assert.match(negative.stderr, /--eps: eps: -0\.1 is invalid; ε must be a finite number ≥ 0/);

  const wide = cli('attack', '--model', modelFile, '--eps', '2', '--n', '5');
  assert.equal(wide.status, 2);
  assert.match(wide.stderr, /--eps: eps: 2 is wider than the bounds \[0, 1\] allow for linf/);

  const missing = cli('attack', '--model', path.join(work, 'nope', 'model.json'), '--n', '5');
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /nope\/model\.json: cannot be read: ENOENT/);

  const unknown = cli('attack', '--model', modelFile, '--attack', 'pgdd', '--n', '5');
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /--attack: unknown attack "pgdd"; available: fgsm, pgd/);

  const noSurrogate = cli('attack', '--model', modelFile, '--attack', 'transfer', '--n', '5');
  assert.equal(noSurrogate.status, 2);
  assert.match(noSurrogate.stderr, /--attack: transfer: needs a surrogate model: pass --surrogate <model\.json>/);

  const badSuite = cli('evaluate', '--model', modelFile, '--suite', 'strongest', '--n', '5');
  assert.equal(badSuite.status, 2);
  assert.match(
    badSuite.stderr,
    /option '--suite <suite>' argument 'strongest' is invalid\. Allowed choices are strong, quick/,
  );

  const suiteAndList = cli('evaluate', '--model', modelFile, '--suite', 'quick', '--attack', 'pgd', '--n', '5');
  assert.equal(suiteAndList.status, 2);
  assert.match(
    suiteAndList.stderr,
    /evaluate: --attack: cannot be combined with --suite: the quick suite runs FGSM → PGD-20; /,
  );

  const badLayer = cli('evaluate', '--model', modelFile, ...'--suite quick --n 5 --workers 1 --layer fc9'.split(' '));
  assert.equal(badLayer.status, 2);
  assert.match(badLayer.stderr, /model\.json: layer: "fc9" is not a hidden layer; choose one of conv1, conv2, fc1/);

  const threshold = cli('attack', '--model', modelFile, '--n', '20', '--steps', '2', '--min-robust', '0.99');
  assert.equal(threshold.status, 3);
  assert.match(threshold.stderr, /is below --min-robust 99\.0%/);
});

test('evaluate --suite quick: FGSM then PGD-20 on the survivors, accuracy after each stage, diagnostics and geometry in the report', () => {
  const run = cli(
    'evaluate',
    '--model',
    modelFile,
    ...'--suite quick --n 40 --workers 1 --examples 2 --json'.split(' '),
  );
  assert.equal(run.status, 0, run.stderr);
  const report = JSON.parse(run.stdout);
  assert.equal(report.suite, 'quick');
  assert.equal(report.cascade, true);
  assert.deepEqual(
    report.attacks.map((a: { label: string }) => a.label),
    ['FGSM', 'PGD-20'],
  );
  assert.ok(
    report.attacks[1].robust_accuracy <= report.attacks[0].robust_accuracy,
    'a later stage never raises accuracy',
  );
  assert.equal(report.robust_accuracy, report.attacks[1].robust_accuracy);
  assert.ok(report.checks.max_distance_over_eps <= 1 + 1e-5 && report.checks.in_bounds && report.checks.finite);
  assert.equal(report.geometry.representation.layer, 'fc1');
  assert.equal(report.geometry.linearity.values.length, 40);
  // The probes ran (a suite always runs them) and flag no masking on a plainly trained network.
  assert.deepEqual(
    report.diagnostics.filter((d: { masking?: boolean }) => d.masking),
    [],
  );
  const table = cli('evaluate', '--model', modelFile, ...'--suite quick --n 20 --workers 1 --examples 0'.split(' '));
  assert.match(table.stdout, /suite quick: each attack on the points still robust; accuracy after each stage/);
  assert.match(table.stdout, /stage +accuracy after/);
  assert.match(table.stdout, /final check: max ‖x'−x‖\/ε \d\.\d{4}, in bounds yes, finite yes/);
});

test('check prints spec problems as file:line:col and exits 1; run executes a spec headless like its Run lens', () => {
  const dir = tempDir('cli-spec');
  const bad = path.join(dir, 'bad.robustness.json');
  fs.writeFileSync(
    bad,
    '{\n  "model": "nope/model.json",\n  "data": "embedded",\n' +
      '  "threat": {"norm": "linf", "eps": -0.1},\n  "attacks": ["pgdd"]\n}\n',
  );
  const checked = cli('check', bad);
  assert.equal(checked.status, 1);
  assert.deepEqual(checked.stderr.trim().split('\n'), [
    `${bad}:2:12: error: nope/model.json does not exist (${path.join(dir, 'nope', 'model.json')}) [model-missing]`,
    `${bad}:4:37: error: threat.eps must be ≥ 0 (it is a radius); got -0.1 [eps-negative]`,
    `${bad}:5:15: error: unknown attack "pgdd"; did you mean "pgd"? [unknown-attack]`,
    '0 of 1 spec without errors',
  ]);
  const both = path.join(dir, 'both.robustness.json');
  fs.writeFileSync(
    both,
    '{\n  "model": "nope/model.json",\n  "data": "embedded",\n' +
      '  "threat": {"norm": "linf", "eps": 0.1},\n' +
      '  "attacks": ["pgd"], "suite": "strong", "training": {"method": "standard", "epochs": 1}\n}\n',
  );
  const bothChecked = cli('check', both);
  assert.equal(bothChecked.status, 1);
  assert.equal(
    bothChecked.stderr.split('\n')[0],
    `${both}:5:3: error: give "attacks" or "suite", not both: ` +
      'the strong suite runs its own attacks (APGD-CE → APGD-T (dlr) → Square (→ transfer, with a surrogate)); ' +
      'remove "attacks" to run the suite, or "suite" to run your list [suite-and-attacks]',
  );
  const refused = cli('run', bad);
  assert.equal(refused.status, 2);
  assert.match(refused.stderr, /bad\.robustness\.json: has errors \(listed above\); nothing was run/);

  const spec = path.join(dir, 'small.robustness.json');
  fs.writeFileSync(
    spec,
    JSON.stringify({
      model: path.relative(dir, path.join(ROOT, 'examples', 'fashion-mnist', 'smallcnn', 'model.json')),
      data: { id: 'embedded', n: 40, offset: 10 },
      threat: { norm: 'linf', eps: 0.1 },
      attacks: ['fgsm', { id: 'pgd', steps: 5, restarts: 2, loss: 'margin' }],
      output: { examples: 2, report: 'out' },
    }),
  );
  assert.equal(cli('check', spec).status, 0);
  const ran = cli('run', spec, '--workers', '1');
  assert.equal(ran.status, 0, ran.stderr);
  const report = JSON.parse(fs.readFileSync(path.join(dir, 'out', 'report.json'), 'utf8'));
  assert.equal(report.n, 40);
  assert.deepEqual(
    report.attacks.map((a: { label: string }) => a.label),
    ['FGSM', 'PGD-5×2 (margin)'],
  );
  assert.equal(report.examples.length, 2);
  assert.equal(report.examples[0].index >= 10, true);
  assert.ok(fs.existsSync(path.join(dir, 'out', 'report.html')));
});
