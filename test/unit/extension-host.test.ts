/**
 * The extension host's plain modules, without an editor: the command ids and settings against
 * package.json, the one run guard, and a run's life in the RunController.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { COMMAND_IDS } from '../../src/extension/command-ids';
import { Config, SETTING_KEYS, SETTINGS_NEEDING_RELOAD, type SettingsSection } from '../../src/extension/config';
import {
  CancelledWithPartial,
  keepPartialReport,
  RunController,
  type RunHost,
  type RunOutcome,
} from '../../src/extension/run-controller';
import type { Report } from '../../src/protocol/report';
import { isGuarded, placeRun, type GuardedPlacement } from '../../src/extension/run-placement';
import type { RunFinishedParams } from '../../src/protocol/messages/lsp';
import { LENS_COMMANDS } from '../../src/server/lenses';
import { BACKEND_PREFERENCES, NORMS } from '../../src/protocol/vocabulary';
import { newTrainingRun, readTrainJob } from '../../src/extension/training-runs';
import { defaultTrainJob } from '../../src/protocol/jobs';
import { RunStore } from '../../src/store/runs';

interface ContributedSetting {
  default?: unknown;
}
const PACKAGE = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as {
  contributes: {
    commands: Array<{ command: string }>;
    configuration: { properties: Record<string, ContributedSetting> };
  };
};
const PREFIX = 'robustness.';

/** VS Code's answer for an unset setting: its contributed default. */
function packageDefaults(overrides: Record<string, unknown> = {}): SettingsSection {
  return {
    get<T>(key: string): T | undefined {
      if (key in overrides) return overrides[key] as T;
      return PACKAGE.contributes.configuration.properties[PREFIX + key]?.default as T | undefined;
    },
    inspect<T>(key: string) {
      return { defaultValue: PACKAGE.contributes.configuration.properties[PREFIX + key]?.default as T | undefined };
    },
  };
}

test('the command table registers exactly the commands package.json contributes, each once', () => {
  const contributed = PACKAGE.contributes.commands.map((c) => c.command);
  assert.equal(new Set(COMMAND_IDS).size, COMMAND_IDS.length, 'a command id is listed twice');
  assert.deepEqual([...COMMAND_IDS].sort(), [...contributed].sort());
});

test("every command the language server's lenses invoke is one the extension registers", () => {
  const registered: readonly string[] = COMMAND_IDS;
  for (const command of Object.values(LENS_COMMANDS))
    assert.ok(registered.includes(command), `${command} is not registered`);
});

test("Config reads every contributed setting, with package.json's defaults and no others", () => {
  const contributed = Object.keys(PACKAGE.contributes.configuration.properties).map((k) => k.slice(PREFIX.length));
  assert.deepEqual([...SETTING_KEYS].sort(), contributed.sort());
  for (const key of SETTINGS_NEEDING_RELOAD) assert.ok(SETTING_KEYS.includes(key));
  const config = new Config(packageDefaults());
  assert.deepEqual(
    {
      backend: config.backend,
      settings: config.attackSettings,
      trainImages: config.trainImages,
      workers: config.workers,
    },
    {
      backend: 'auto',
      settings: { norm: 'linf', eps: 0.1, steps: 10, restarts: 1, samples: 500, examples: 32, dataset: 'embedded' },
      trainImages: undefined,
      workers: 1,
    },
  );
  const changed = new Config(packageDefaults({ 'threatModel.norm': 'l2', samples: 300, 'training.trainImages': 1000 }));
  assert.equal(changed.norm, 'l2');
  assert.equal(changed.samples, 300);
  assert.equal(changed.trainImages, 1000);
  assert.match(
    changed.describe(),
    /^l2 ε=0\.1, steps 10, default α, restarts 1, default curve, samples 300, examples 32, dataset embedded, backend auto, workers 1$/,
  );
  assert.deepEqual(changed.problems, []);
  assert.throws(
    () => new Config({ get: () => undefined, inspect: () => undefined }),
    /robustness\.threatModel\.norm has no value and no default/,
  );
});

test('an invalid setting falls back to its default, with one warning naming it and the allowed values', () => {
  const config = new Config(packageDefaults({ 'threatModel.norm': 'l3', 'attack.steps': 2.5, samples: 200 }));
  assert.equal(config.norm, 'linf');
  assert.equal(config.steps, 10);
  assert.equal(config.samples, 200, 'the valid settings are kept');
  assert.deepEqual(config.problems, [
    'Robustness Lab: the setting robustness.threatModel.norm is "l3", but it must be one of "linf", "l2"; ' +
      'using the default, "linf".',
    'Robustness Lab: the setting robustness.attack.steps is 2.5, but it must be a whole number ≥ 1; ' +
      'using the default, 10.',
  ]);
  const backend = new Config(
    packageDefaults({
      backend: 'webgl',
      'training.trainImages': 0,
      'threatModel.epsilon': '0.1',
    }),
  );
  assert.deepEqual(
    { backend: backend.backend, trainImages: backend.trainImages, eps: backend.eps },
    { backend: 'auto', trainImages: undefined, eps: 0.1 },
  );
  assert.equal(backend.problems.length, 3);
  assert.match(backend.problems[0] ?? '', /robustness\.threatModel\.epsilon is "0\.1", but it must be a number ≥ 0/);
  assert.match(backend.problems[1] ?? '', /robustness\.training\.trainImages is 0.*a whole number ≥ 1, or null/);
  assert.match(backend.problems[2] ?? '', /robustness\.backend is "webgl".*one of "auto", "wasm", "cpu", "tensorflow"/);
});

test("the allowed values Config warns with are package.json's enums", () => {
  const enumOf = (key: string) =>
    (PACKAGE.contributes.configuration.properties[PREFIX + key] as { enum?: string[] }).enum;
  for (const [key, values] of [
    ['backend', BACKEND_PREFERENCES],
    ['threatModel.norm', NORMS],
  ] as const) {
    assert.deepEqual(enumOf(key), [...values]);
    const problem = new Config(packageDefaults({ [key]: 'nope' })).problems[0] ?? '';
    assert.ok(problem.includes(values.map((v) => `"${v}"`).join(', ')), problem);
  }
});

test('one guard places every run: trusted workspaces only, inside a workspace folder', () => {
  const folders = ['/w/a', '/w/b'];
  assert.deepEqual(placeRun({ trusted: false, folders, file: '/w/a/m/model.json' }), { refusal: 'untrusted' });
  assert.deepEqual(placeRun({ trusted: true, folders, file: '/w/b/m/model.json' }), { folder: '/w/b' });
  assert.deepEqual(placeRun({ trusted: true, folders, file: '/elsewhere/model.json' }), {
    refusal: 'outside-workspace',
    file: '/elsewhere/model.json',
  });
  assert.deepEqual(placeRun({ trusted: true, folders, file: '/w/a/../c/model.json' }), {
    refusal: 'outside-workspace',
    file: '/w/a/../c/model.json',
  });
  assert.deepEqual(
    placeRun({ trusted: true, folders }),
    { folder: '/w/a' },
    'a run from no file lives in the first folder',
  );
  assert.deepEqual(placeRun({ trusted: true, folders: [] }), { refusal: 'no-folder' });
  assert.deepEqual(placeRun({ trusted: false, folders: [] }), { refusal: 'untrusted' });
});

test('the guard checks the files a run reads: inside the folder the run is placed in', () => {
  const folders = ['/w/a', '/w/b'];
  const spec = '/w/b/exp.robustness.json';
  assert.deepEqual(placeRun({ trusted: true, folders, file: spec, reads: ['/w/b/m/model.json', undefined] }), {
    folder: '/w/b',
  });
  assert.deepEqual(
    placeRun({ trusted: true, folders, file: spec, reads: ['/w/b/m/model.json', '/w/a/s/model.json'] }),
    { refusal: 'reads-outside', file: spec, outside: '/w/a/s/model.json', folder: '/w/b' },
    "a surrogate in another workspace folder is outside the spec's folder",
  );
  assert.deepEqual(placeRun({ trusted: true, folders, reads: ['/elsewhere/model.json'] }), {
    refusal: 'reads-outside',
    file: '/w/a',
    outside: '/elsewhere/model.json',
    folder: '/w/a',
  });
  assert.deepEqual(placeRun({ trusted: false, folders, file: spec, reads: ['/elsewhere/model.json'] }), {
    refusal: 'untrusted',
  });
  assert.equal(isGuarded(placeRun({ trusted: true, folders: [] })), false);
  assert.equal(isGuarded(placeRun({ trusted: true, folders, file: '/w/a/m/model.json' })), true);
});

test("a spec's training run is stored in the spec's workspace folder, not the first one", () => {
  const first = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-first-'));
  const second = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-second-'));
  const spec = path.join(second, 'specs', 'exp.robustness.json');
  const init = path.join(second, 'models', 'base', 'model.json');
  const placement = placeRun({ trusted: true, folders: [first, second], file: spec, reads: [init] });
  assert.ok(isGuarded(placement));
  const { job, record } = newTrainingRun(
    placement,
    { ...defaultTrainJob('pgd-at'), data: 'embedded', init },
    { spec },
    new Date('2026-12-01T02:40:00.123Z'),
  );
  assert.equal(record.id, '20261201-024000-123-train');
  assert.equal(job.out, path.join(second, '.robustness', 'runs', record.id));
  assert.deepEqual(
    { kind: record.kind, model: record.model, spec: record.spec, config: record.config },
    {
      kind: 'training',
      model: path.join('models', 'base', 'model.json'),
      spec: path.join('specs', 'exp.robustness.json'),
      config: job,
    },
  );
  const { host } = fakeHost();
  const controller = RunController.start(host, placement, record);
  assert.equal(controller.folder, second);
  assert.equal(new RunStore(second).read(record.id).status, 'running');
  assert.deepEqual(new RunStore(first).list(), [], 'nothing is stored in the first folder');
  const fresh = newTrainingRun(guarded(first), defaultTrainJob('standard'));
  assert.equal(fresh.record.model, 'standard (new smallcnn)');
  assert.equal(fresh.record.spec, undefined);
  assert.ok(fresh.job.out.startsWith(path.join(first, '.robustness', 'runs')));
  fs.rmSync(first, { recursive: true });
  fs.rmSync(second, { recursive: true });
});

test('a resumed training run is guarded, in the workspace folder its run folder is in', () => {
  const folders = ['/w/a', '/w/b'];
  const runDir = '/w/b/.robustness/runs/20261201-024000-123-train';
  assert.deepEqual(placeRun({ trusted: true, folders, file: runDir }), { folder: '/w/b' });
  assert.deepEqual(placeRun({ trusted: false, folders, file: runDir }), { refusal: 'untrusted' });
});

test('a stored training job is read back through its schema, or refused naming the file', () => {
  const job = { ...defaultTrainJob('trades'), data: 'embedded', out: '/w/.robustness/runs/r' };
  assert.deepEqual(readTrainJob(JSON.parse(JSON.stringify(job)), '/w/run.json'), job);
  assert.throws(
    () => readTrainJob({ ...job, method: 'magic' }, '/w/.robustness/runs/r/run.json'),
    /^Error: \/w\/\.robustness\/runs\/r\/run\.json does not hold a valid training job \(config\.method: /,
  );
  assert.throws(
    () => readTrainJob({ ...job, shuffle: true }, '/w/train.json'),
    /\/w\/train\.json does not hold a valid training job \(config: .*shuffle/,
    'an unknown field is refused',
  );
  assert.throws(() => readTrainJob(undefined, '/w/run.json'), /\/w\/run\.json does not hold a valid training job/);
});

/** A RunHost that records what the run told the editor; `answer` is the button the user clicks. */
function fakeHost(answer?: string) {
  const events: string[] = [];
  const finished: RunFinishedParams[] = [];
  const host: RunHost = {
    log: {
      info: (m) => events.push(`info ${m}`),
      error: (m) => events.push(`error ${m}`),
      show: () => events.push('show log'),
    },
    refreshRuns: () => events.push('refresh'),
    runFinished: (params) => finished.push(params),
    showError: async (message, ...actions) => {
      events.push(`notify ${message} [${actions.join(', ')}]`);
      return answer;
    },
  };
  return { host, events, finished };
}

function outcome(events: string[]): RunOutcome<number> {
  return {
    done: (result) => `run done with ${result}`,
    failureMessage: (err) => `wrapped: ${err.message}`,
    cancelledLine: (id) => `${id} cancelled`,
    failedLine: (id, message) => `${id} failed: ${message}`,
    failureNotice: (message) => `Robustness Lab: ${message}`,
    ended: (end, message) => events.push(`ended ${end}${message ? ` ${message}` : ''}`),
    settled: () => events.push('settled'),
  };
}

/** The guard's placement for a run in `folder` (the only way to get one). */
function guarded(folder: string, file?: string): GuardedPlacement {
  const placement = placeRun({ trusted: true, folders: [folder], ...(file !== undefined ? { file } : {}) });
  assert.ok(isGuarded(placement), `the guard refused ${folder}`);
  return placement;
}

function freshStore(): { folder: string; store: RunStore } {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-run-controller-'));
  return { folder, store: new RunStore(folder) };
}

const record = (id: string) => ({
  id,
  kind: 'evaluation' as const,
  model: 'm/model.json',
  created: new Date().toISOString(),
});

test('a finished run: recorded as running, then its result stored, the server told, nothing shown', async () => {
  const { folder, store } = freshStore();
  const { host, events, finished } = fakeHost();
  const controller = RunController.start(host, guarded(folder), record('r-done'));
  assert.equal(store.read('r-done').status, 'running');
  const end = await controller.run(
    async () => {
      assert.equal(store.read('r-done').status, 'running');
      return 42;
    },
    {
      ...outcome(events),
      done: (result) => {
        store.update('r-done', { status: 'done' });
        return `run done with ${result}`;
      },
    },
  );
  assert.equal(end, 'done');
  assert.equal(store.read('r-done').status, 'done');
  assert.deepEqual(events, ['info run done with 42', 'settled', 'refresh']);
  assert.deepEqual(finished, [{ runId: 'r-done', folder, status: 'done' }]);
  fs.rmSync(folder, { recursive: true });
});

test('a cancelled run is recorded as cancelled, with no error and no notification', async () => {
  const { folder, store } = freshStore();
  const { host, events, finished } = fakeHost();
  const aborted = Object.assign(new Error('PGD aborted'), { name: 'AbortError' });
  const controller = RunController.start(host, guarded(folder), record('r-cancel'));
  const end = await controller.run(() => Promise.reject(aborted), outcome(events));
  assert.equal(end, 'cancelled');
  const stored = store.read('r-cancel');
  assert.equal(stored.status, 'cancelled');
  assert.equal(stored.error, undefined);
  assert.ok(stored.finished);
  assert.deepEqual(events, ['ended cancelled', 'info r-cancel cancelled', 'settled', 'refresh']);
  assert.deepEqual(finished, [{ runId: 'r-cancel', folder, status: 'cancelled' }]);
  fs.rmSync(folder, { recursive: true });
});

test('a cancel that kept its finished stages: report.json is written partial, the run cancelled after APGD-T', async () => {
  const { folder, store } = freshStore();
  const { host, events, finished } = fakeHost();
  const partial = {
    model: 'm/model.json',
    clean_accuracy: 0.84,
    robust_accuracy: 0.31,
    attacks: [
      { id: 'apgd', label: 'APGD-CE', robust_accuracy: 0.4 },
      { id: 'apgd-t', label: 'APGD-T (3 targets)', robust_accuracy: 0.31 },
    ],
    partial: { cancelled_after: 'APGD-T (3 targets)', stages_done: 2, stages_total: 5 },
  } as unknown as Report;
  const controller = RunController.start(host, guarded(folder), record('r-partial'));
  let shown: Report | undefined;
  const end = await controller.run<Report>(
    () => Promise.reject(new CancelledWithPartial(partial, 'APGD-T (3 targets)')),
    {
      done: () => 'never',
      failureMessage: (err) => err.message,
      cancelledLine: (id) => `${id} cancelled`,
      failedLine: (id, message) => `${id} failed: ${message}`,
      failureNotice: (message) => message,
      keepPartial: (report) => keepPartialReport(store, 'r-partial', report),
      ended: (end, _message, kept) => {
        events.push(`ended ${end}`);
        shown = kept;
      },
    },
  );
  assert.equal(end, 'cancelled');
  const stored = store.read('r-partial');
  assert.equal(stored.status, 'cancelled');
  assert.equal(stored.cancelledAfter, 'APGD-T (3 targets)');
  assert.equal(stored.error, undefined);
  const report = store.readReport('r-partial');
  assert.deepEqual(
    report.attacks.map((a) => [a.label, a.robust_accuracy]),
    [
      ['APGD-CE', 0.4],
      ['APGD-T (3 targets)', 0.31],
    ],
  );
  assert.deepEqual(report.partial, { cancelled_after: 'APGD-T (3 targets)', stages_done: 2, stages_total: 5 });
  assert.equal(shown, partial, 'the panel gets the partial report');
  assert.deepEqual(events, [
    'ended cancelled',
    'info r-partial cancelled (kept what finished: cancelled after APGD-T (3 targets))',
    'refresh',
  ]);
  assert.deepEqual(finished, [{ runId: 'r-partial', folder, status: 'cancelled' }]);
  fs.rmSync(folder, { recursive: true });
});

test('a running run ticks every interval (the elapsed time counts on), and stops ticking when it ends', async () => {
  const { folder } = freshStore();
  const { host, events } = fakeHost();
  let ticks = 0;
  const controller = RunController.start(host, guarded(folder), record('r-tick'));
  await controller.run(
    () => new Promise<number>((resolve) => setTimeout(() => resolve(1), 130)),
    { ...outcome(events), tick: () => ticks++ },
    20,
  );
  const atEnd = ticks;
  assert.ok(atEnd >= 3 && atEnd <= 7, `${atEnd} ticks in 130 ms at 20 ms`);
  await new Promise((resolve) => setTimeout(resolve, 80));
  assert.equal(ticks, atEnd, 'no tick after the run ended');
  fs.rmSync(folder, { recursive: true });
});

test('a failed run stores its error, offers "Show Log", and opens the log when it is clicked', async () => {
  const { folder, store } = freshStore();
  const { host, events, finished } = fakeHost('Show Log');
  const end = await RunController.start(host, guarded(folder), record('r-fail')).run(
    () => Promise.reject(new Error('model.json: no weights')),
    outcome(events),
  );
  assert.equal(end, 'failed');
  assert.equal(store.read('r-fail').status, 'failed');
  assert.equal(store.read('r-fail').error, 'wrapped: model.json: no weights');
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(events, [
    'ended failed wrapped: model.json: no weights',
    'error r-fail failed: wrapped: model.json: no weights',
    'notify Robustness Lab: wrapped: model.json: no weights [Show Log]',
    'settled',
    'refresh',
    'show log',
  ]);
  assert.deepEqual(finished, [{ runId: 'r-fail', folder, status: 'failed' }]);
  fs.rmSync(folder, { recursive: true });
});

test('a run whose record cannot be finished is a failure, and the language server hears "failed"', async () => {
  const { folder, store } = freshStore();
  const { host, events, finished } = fakeHost();
  const failingDone: RunOutcome<number> = {
    ...outcome(events),
    done: () => {
      throw new Error('ENOSPC: no space left on device');
    },
  };
  const end = await RunController.start(host, guarded(folder), record('r-disk')).run(async () => 1, failingDone);
  assert.equal(end, 'failed');
  assert.equal(store.read('r-disk').status, 'failed');
  assert.deepEqual(finished, [{ runId: 'r-disk', folder, status: 'failed' }]);
  fs.rmSync(folder, { recursive: true });
});

test('a resumed run is marked running again and ends like any other', async () => {
  const { folder, store } = freshStore();
  const { host, events } = fakeHost();
  store.create({ ...record('r-resume'), status: 'cancelled' });
  const controller = RunController.resume(host, guarded(folder), 'r-resume');
  assert.equal(store.read('r-resume').status, 'running');
  const stopped = Object.assign(new Error('stop'), { name: 'AbortError' });
  const end = await controller.run(() => Promise.reject(stopped), outcome(events));
  assert.equal(end, 'cancelled');
  assert.equal(store.read('r-resume').status, 'cancelled');
  fs.rmSync(folder, { recursive: true });
});
