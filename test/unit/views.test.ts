/**
 * The views and entry points without an editor: how runs read in the Runs view, the models the
 * Models view lists and the quick pick built from them, the one refusal of an unreadable model,
 * the .gitignore offer's edit, the bundled example, and the settings behind attack jobs.
 */
process.env.TZ = 'UTC';
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Config, type SettingsSection } from '../../src/extension/config';
import { copyExample, EXAMPLE_FILES } from '../../src/extension/example';
import { addStoreToGitignore, ignoresStore } from '../../src/extension/gitignore';
import { attackJobFor } from '../../src/extension/jobs-from-settings';
import { listModel, modelPickItems, refusal } from '../../src/extension/model-choice';
import { workspaceRelative } from '../../src/common/workspace-path';
import { readableTime, runItemView } from '../../src/extension/run-items';
import { attackJobSchema } from '../../src/protocol/jobs';
import type { RunEntry, RunRecord } from '../../src/store/runs';
import { tempDir } from './helpers';

const ROOT = path.join(__dirname, '..', '..');
const STARTED = '2026-12-01T04:12:00.000Z';
const NOW = Date.parse('2026-12-01T04:16:30.000Z');

const entry = (record: Partial<RunRecord> & Pick<RunRecord, 'id' | 'kind' | 'status'>): RunEntry => ({
  id: record.id,
  dir: `/w/.robustness/runs/${record.id}`,
  record: { model: 'examples/fashion-mnist/smallcnn/model.json', created: STARTED, ...record },
});

test('Runs view: a finished evaluation leads with its model and robust accuracy; the tooltip has readable times', () => {
  const view = runItemView(
    entry({
      id: '20261201-041200-000-eval',
      kind: 'evaluation',
      status: 'done',
      finished: '2026-12-01T04:14:00.000Z',
      summary: { robustAccuracy: 0.064, cleanAccuracy: 0.891, attack: 'PGD-10', norm: 'linf', eps: 0.1, n: 1000 },
    }),
    NOW,
  );
  // n = 1,000: the accuracies carry their 95% Wilson interval (64 of 1,000: [5.0%, 8.1%] → ± 1.7).
  assert.equal(view.label, 'smallcnn · robust 6.4% ± 1.7');
  assert.equal(view.description, 'PGD-10 · L∞ ε=0.1 · clean 89.1% · 3 min ago');
  assert.deepEqual(view.icon, { id: 'pass', color: 'testing.iconPassed' });
  assert.equal(view.contextValue, 'robustness.run.done');
  assert.equal(view.opens, 'report');
  assert.equal(
    view.tooltip,
    [
      '**smallcnn · robust 6.4% ± 1.7**',
      'started 1 Dec 2026, 04:12 · 5 min ago',
      'done 1 Dec 2026, 04:14 · 3 min ago',
      'model `examples/fashion-mnist/smallcnn/model.json`',
      'attack PGD-10 · L∞ ε=0.1',
      'clean 89.1% ± 2.1 · robust 6.4% ± 1.7',
      'run `20261201-041200-000-eval`',
    ].join('  \n'),
  );
  assert.doesNotMatch(view.tooltip, /T04:12:00|Z\b/, 'no raw UTC timestamp');
  assert.equal(readableTime('2026-03-09T17:05:00.000Z'), '9 Mar 2026, 17:05');
  assert.equal(readableTime('not a date'), '');
});

test('Runs view: running, failed and cancelled evaluations; a named run leads with its name', () => {
  const job = { attacks: ['fgsm', 'pgd'], norm: 'l2', eps: 1 };
  const running = runItemView(entry({ id: 'r1', kind: 'evaluation', status: 'running', config: job }), NOW, {
    label: 'PGD-10',
    done: 120,
    total: 300,
  });
  assert.deepEqual([running.label, running.description], ['smallcnn · running', 'PGD-10 120/300']);
  assert.equal(running.icon.id, 'sync~spin');
  assert.match(running.tooltip, /\nfgsm, pgd · L2 ε=1 {2}\n/);
  assert.equal(runItemView(entry({ id: 'r1', kind: 'evaluation', status: 'running' }), NOW).description, 'starting');
  const failed = runItemView(
    entry({
      id: 'r2',
      kind: 'evaluation',
      status: 'failed',
      error: 'broken/model.json: is not valid JSON (Expected property name)',
      finished: '2026-12-01T04:13:00.000Z',
    }),
    NOW,
  );
  assert.equal(failed.label, 'smallcnn · failed');
  assert.equal(failed.description, 'broken/model.json: is not valid JSON (Expected property name) · 4 min ago');
  assert.deepEqual(failed.icon, { id: 'error', color: 'testing.iconFailed' });
  assert.match(failed.tooltip, /\nerror: broken\/model\.json: is not valid JSON \(Expected property name\) {2}\n/);
  assert.equal(failed.opens, undefined);
  const cancelled = runItemView(entry({ id: 'r3', kind: 'evaluation', status: 'cancelled', name: 'my *run*' }), NOW);
  assert.deepEqual([cancelled.label, cancelled.icon.id], ['my *run* · cancelled', 'circle-slash']);
  assert.match(cancelled.tooltip, /^\*\*my \\\*run\\\* · cancelled\*\*/, 'a name is shown as text, not markdown');
});

test('Runs view: a stopped training run reads "stopped" with the Stop icon; its name is the label', () => {
  const progress = { epoch: 2, epochs: 4, clean: 0.8, robust: 0.415, etaSeconds: 60 };
  const stopped = runItemView(
    entry({
      id: '20261201-041200-000-train',
      kind: 'training',
      status: 'cancelled',
      name: 'smallcnn · PGD-AT ε=0.1 · 4 ep',
      config: { method: 'pgd-at' },
      progress,
      finished: '2026-12-01T04:15:00.000Z',
    }),
    NOW,
  );
  assert.equal(stopped.label, 'smallcnn · PGD-AT ε=0.1 · 4 ep');
  assert.equal(stopped.description, 'stopped · epoch 2/4 · clean 80.0% · robust 41.5% · 2 min ago');
  assert.deepEqual(stopped.icon, { id: 'debug-stop' });
  assert.equal(stopped.contextValue, 'robustness.training.cancelled');
  assert.equal(stopped.opens, 'training');
  assert.match(stopped.tooltip, /\nstopped 1 Dec 2026, 04:15 · 2 min ago {2}\n/);
  assert.match(stopped.tooltip, /\ntraining · pgd-at · stopped {2}\n/);
  const running = runItemView(
    entry({ id: 't2', kind: 'training', status: 'running', name: 'smallcnn · PGD-AT ε=0.1 · 4 ep', progress }),
    NOW,
  );
  assert.equal(running.description, 'epoch 2/4 · ETA 60 s · clean 80.0% · robust 41.5%');
  // An older record without a name: the method and progress lead, as before.
  const unnamed = runItemView(entry({ id: 't3', kind: 'training', status: 'done', config: { method: 'trades' } }), NOW);
  assert.deepEqual([unnamed.label, unnamed.description], ['trades', 'done · 5 min ago']);
  // An attack on a training run's final model is named after that run.
  const final = entry({
    id: 'e9',
    kind: 'evaluation',
    status: 'running',
    model: '.robustness/runs/20261201-041200-000-train/model.json',
  });
  const names = new Map([['20261201-041200-000-train', 'smallcnn · PGD-AT ε=0.1 · 4 ep']]);
  assert.equal(runItemView(final, NOW, undefined, names).label, 'smallcnn · PGD-AT ε=0.1 · 4 ep · running');
  assert.equal(runItemView(final, NOW).label, '20261201-041200-000 · running', 'an unnamed run: its id');
  // Today's layout: the final model in a folder named after the run.
  const inFolder = {
    ...final,
    record: { ...final.record!, model: '.robustness/runs/20261201-041200-000-train/smallcnn-pgd-at-eps0.1/model.json' },
  };
  assert.equal(runItemView(inFolder, NOW, undefined, names).label, 'smallcnn · PGD-AT ε=0.1 · 4 ep · running');
  const broken = runItemView({ id: 'x', dir: '/w/.robustness/runs/x', problem: 'run.json is missing' }, NOW);
  assert.deepEqual(
    [broken.label, broken.description, broken.contextValue],
    ['x (broken)', 'run.json is missing', 'robustness.run.broken'],
  );
});

/** A workspace with the example model, a second model and a malformed one. */
function modelWorkspace(): { folder: string; good: string; other: string; broken: string } {
  const folder = tempDir('rl-views-');
  const good = path.join(folder, 'examples', 'smallcnn', 'model.json');
  const other = path.join(folder, 'models', 'distilled', 'model.json');
  const broken = path.join(folder, 'broken', 'model.json');
  for (const file of [good, other, broken]) fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.copyFileSync(path.join(ROOT, 'examples', 'fashion-mnist', 'smallcnn', 'model.json'), good);
  fs.copyFileSync(path.join(ROOT, 'examples', 'fashion-mnist', 'smallcnn-distilled', 'model.json'), other);
  fs.writeFileSync(broken, '{"modelTopology": {"class_name": "Sequential", ');
  return { folder, good, other, broken };
}

test('model quick pick: the listed models with their info line and relative path, readable ones first', () => {
  const { folder, good, other, broken } = modelWorkspace();
  const listed = [broken, good, other].map((file) => listModel(file, [folder]));
  assert.deepEqual(listed[1], { file: good, label: 'smallcnn', info: '28×28×1 → 10' });
  assert.equal(listed[0]!.label, 'broken');
  assert.match(listed[0]!.info, /^unreadable: is not valid JSON \(/);
  assert.ok(!listed[0]!.info.includes(folder), 'no absolute path in the view');
  assert.deepEqual(
    modelPickItems(listed, [folder]).map((i) => [i.label, i.description, i.detail]),
    [
      ['smallcnn', '28×28×1 → 10', 'examples/smallcnn/model.json'],
      ['distilled', '28×28×1 → 10', 'models/distilled/model.json'],
      ['broken', listed[0]!.info, 'broken/model.json'],
    ],
  );
  assert.equal(listModel(good, [folder], 'smallcnn · PGD-AT ε=0.1 · 4 ep').label, 'smallcnn · PGD-AT ε=0.1 · 4 ep');
  assert.equal(
    workspaceRelative(good, ['/elsewhere', folder]),
    `${path.basename(folder)}/examples/smallcnn/model.json`,
  );
  assert.equal(workspaceRelative('/elsewhere/model.json', [folder]), '/elsewhere/model.json');
});

test('an unreadable model is refused with one message, its path workspace-relative; a good one is not', () => {
  const { folder, good, broken } = modelWorkspace();
  const message = refusal(broken, [folder], 'attack') ?? '';
  assert.match(message, /^Robustness Lab: broken\/model\.json cannot be attacked: is not valid JSON \(.+\)$/);
  assert.ok(!message.includes(folder), message);
  assert.match(
    refusal(broken, [folder], 'train') ?? '',
    /^Robustness Lab: broken\/model\.json cannot be trained from: /,
  );
  assert.match(refusal(broken, [folder], 'evaluate') ?? '', / cannot be evaluated: /);
  assert.equal(refusal(good, [folder], 'attack'), undefined);
  const missing = path.join(folder, 'gone', 'model.json');
  assert.equal(
    refusal(missing, [folder], 'curve'),
    'Robustness Lab: gone/model.json cannot be attacked for a curve: cannot be read: ENOENT',
  );
});

test('.gitignore: the line is appended once, the file created when missing, existing ignores respected', () => {
  const created = tempDir('rl-gitignore-');
  assert.equal(addStoreToGitignore(created), 'added');
  assert.equal(fs.readFileSync(path.join(created, '.gitignore'), 'utf8'), '.robustness/\n');
  assert.equal(addStoreToGitignore(created), 'already');
  assert.equal(fs.readFileSync(path.join(created, '.gitignore'), 'utf8'), '.robustness/\n');
  const appended = tempDir('rl-gitignore-');
  fs.writeFileSync(path.join(appended, '.gitignore'), 'node_modules/\ndist');
  assert.equal(addStoreToGitignore(appended), 'added');
  assert.equal(fs.readFileSync(path.join(appended, '.gitignore'), 'utf8'), 'node_modules/\ndist\n.robustness/\n');
  assert.equal(addStoreToGitignore(appended), 'already');
  assert.equal(
    fs.readFileSync(path.join(appended, '.gitignore'), 'utf8').match(/\.robustness/g)?.length,
    1,
    'never a second line',
  );
  assert.ok(ignoresStore('a\n/.robustness\nb'));
  assert.ok(ignoresStore('.robustness/**\r\n'));
  assert.ok(!ignoresStore('.robustness-old/\n# .robustness/'));
});

test('the example: copied with its spec into robustness-example/, reused the second time, never overwritten', () => {
  const folder = tempDir('rl-example-');
  const first = copyExample(ROOT, folder);
  assert.equal(first.created, true);
  assert.equal(first.dir, path.join(folder, 'robustness-example'));
  for (const file of EXAMPLE_FILES) assert.ok(fs.existsSync(path.join(first.dir, file)), file);
  const spec = fs.readFileSync(first.spec, 'utf8');
  assert.match(spec, /"model": "smallcnn\/model\.json"/, "the spec's model path is relative to the spec");
  assert.equal(listModel(first.model, [folder]).info, '28×28×1 → 10');
  fs.writeFileSync(first.spec, `${spec}\n// edited`);
  const second = copyExample(ROOT, folder);
  assert.deepEqual(second, { ...first, created: false });
  assert.match(fs.readFileSync(first.spec, 'utf8'), /\/\/ edited$/);
  // A folder of that name holding something else: the next name.
  const taken = tempDir('rl-example-');
  fs.mkdirSync(path.join(taken, 'robustness-example'));
  assert.equal(copyExample(ROOT, taken).dir, path.join(taken, 'robustness-example-2'));
});

interface ContributedSetting {
  default?: unknown;
  order?: number;
  markdownDescription?: string;
}
const PACKAGE = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  contributes: { configuration: { properties: Record<string, ContributedSetting> } };
};
const PROPERTIES = PACKAGE.contributes.configuration.properties;
function settings(overrides: Record<string, unknown> = {}): SettingsSection {
  return {
    get: <T>(key: string) => (key in overrides ? overrides[key] : PROPERTIES[`robustness.${key}`]?.default) as T,
    inspect: <T>(key: string) => ({ defaultValue: PROPERTIES[`robustness.${key}`]?.default as T }),
  };
}

test('settings: ordered threat model, attack, data, samples, training, backend; ε is "Epsilon (ε)"', () => {
  const keys = Object.keys(PROPERTIES).sort((a, b) => (PROPERTIES[a]!.order ?? 99) - (PROPERTIES[b]!.order ?? 99));
  assert.deepEqual(keys, [
    'robustness.threatModel.norm',
    'robustness.threatModel.epsilon',
    'robustness.attack.steps',
    'robustness.attack.stepSize',
    'robustness.attack.restarts',
    'robustness.curve.epsilons',
    'robustness.dataset',
    'robustness.dataFolder',
    'robustness.dataLabels',
    'robustness.dataResize',
    'robustness.dataChannels',
    'robustness.preprocess.scale',
    'robustness.preprocess.mean',
    'robustness.preprocess.std',
    'robustness.samples',
    'robustness.report.examples',
    'robustness.training.trainImages',
    'robustness.backend',
    'robustness.workers',
    'robustness.cluster.redisUrl',
    'robustness.cluster.shardSize',
  ]);
  assert.ok(new Set(keys.map((k) => PROPERTIES[k]!.order)).size === keys.length, 'one order per setting');
  assert.match(PROPERTIES['robustness.threatModel.epsilon']!.markdownDescription ?? '', /^Epsilon \(ε\)/);
  for (const key of keys) assert.doesNotMatch(PROPERTIES[key]!.markdownDescription ?? '', /\bEps\b/, key);
});

test('settings: step size, restarts, the curve grid, example rows, a data folder and workers reach the job', () => {
  const config = new Config(
    settings({
      'attack.stepSize': 0.01,
      'attack.restarts': 3,
      'curve.epsilons': [0.2, 0, 0.05],
      'report.examples': 8,
      dataset: 'folder',
      dataFolder: 'data/idx',
      workers: 2,
    }),
  );
  assert.deepEqual(config.problems, []);
  assert.equal(config.workers, 2);
  assert.equal(config.dataset, 'data/idx');
  const job = attackJobFor('/w/m/model.json', '/w', config.attackSettings, 'attack');
  assert.ok(attackJobSchema.safeParse(job).success);
  assert.deepEqual(
    [job.stepSize, job.restarts, job.examples, job.data, job.curve],
    [0.01, 3, 8, path.resolve('/w/data/idx'), [0, 0.05, 0.1, 0.2]],
    'the grid is sorted and passes through ε = 0.1',
  );
  const defaults = attackJobFor('/w/m/model.json', '/w', new Config(settings()).attackSettings, 'curve');
  assert.deepEqual(
    [defaults.stepSize, defaults.restarts, defaults.examples, defaults.data, defaults.curve],
    [undefined, 1, 32, 'embedded', [0, 0.025, 0.05, 0.1, 0.15, 0.2]],
  );
  assert.equal('stepSize' in defaults, false, 'no α: each attack uses its own default');
});

test('settings: each bad value falls back to its default with a message naming the setting and what it takes', () => {
  const config = new Config(
    settings({
      'attack.stepSize': 0,
      'attack.restarts': 0,
      'curve.epsilons': [0.1, -0.05],
      'report.examples': 2.5,
      dataset: 42,
      workers: 64,
    }),
  );
  assert.deepEqual(
    [config.stepSize, config.restarts, config.curve, config.examples, config.dataset, config.workers],
    [undefined, 1, undefined, 32, 'embedded', 1],
  );
  assert.deepEqual(config.problems, [
    'Robustness Lab: the setting robustness.attack.stepSize is 0, but it must be a number > 0, or null ' +
      '(each attack’s default); using the default, null.',
    'Robustness Lab: the setting robustness.attack.restarts is 0, but it must be a whole number ≥ 1; using the default, 1.',
    'Robustness Lab: the setting robustness.curve.epsilons is [0.1,-0.05], but it must be a list of numbers ≥ 0 ' +
      'such as [0, 0.05, 0.1], or null (the norm’s default grid); using the default, null.',
    'Robustness Lab: the setting robustness.dataset is 42, but it must be one of "embedded", "fashion-mnist", ' +
      '"folder" (with "folder", robustness.dataFolder names the folder); using the default, "embedded".',
    'Robustness Lab: the setting robustness.report.examples is 2.5, but it must be a whole number from 0 to 1000; ' +
      'using the default, 32.',
    'Robustness Lab: the setting robustness.workers is 64, but it must be a whole number from 1 to 16; using the default, 1.',
  ]);
  const noFolder = new Config(settings({ dataset: 'folder' }));
  assert.equal(noFolder.dataset, 'embedded');
  assert.deepEqual(noFolder.problems, [
    'Robustness Lab: the setting robustness.dataset is "folder", but robustness.dataFolder is empty; set it to a ' +
      'data folder (relative to the workspace folder). Using "embedded" until then.',
  ]);
});

test('settings of earlier versions: threatModel.eps and a folder in dataset are honoured, with a note', () => {
  const config = new Config(settings({ 'threatModel.eps': 0.05, dataset: 'data/idx' }));
  assert.equal(config.eps, 0.05);
  assert.equal(config.dataset, 'data/idx');
  assert.deepEqual(config.problems, [
    'Robustness Lab: the setting robustness.threatModel.eps is now robustness.threatModel.epsilon; using its ' +
      'value, 0.05, until you rename it.',
    'Robustness Lab: the setting robustness.dataset names a folder, "data/idx"; write "robustness.dataset": ' +
      '"folder" and "robustness.dataFolder": "data/idx" instead. Reading that folder until then.',
  ]);
  const both = new Config(settings({ 'threatModel.eps': 0.05, 'threatModel.epsilon': 0.2 }));
  assert.equal(both.eps, 0.2, 'the new setting wins when both are set');
});
