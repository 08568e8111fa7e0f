/**
 * One vocabulary: package.json's settings, the spec schema and the CLI's choices agree with the
 * const arrays of src/protocol/vocabulary.ts; the job schemas are strict and are the job types;
 * one set of defaults; one suite table; one wording for percentages, times and run titles.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { z } from 'zod';
import {
  BACKEND_CHOICES,
  BACKEND_PREFERENCES,
  DATA_LABEL_SETS,
  IMAGE_CHANNELS,
  BUILTIN_DATA,
  DATASET_SETTINGS,
  LOSSES,
  NORMS,
  OPTIMIZERS,
  SCHEDULES,
  SEVERITIES,
  EXAMPLE_OUTCOMES,
  SUITES,
  TENSOR_BACKENDS,
  TRAIN_METHODS,
} from '../../src/protocol/vocabulary';
import {
  defaultLearningRate,
  isAdversarialMethod,
  TRAIN_METHOD_DEFAULTS,
  TRAIN_METHOD_INFO,
} from '../../src/protocol/training';
import {
  attackJobSchema,
  defaultAttackJob,
  defaultTrainJob,
  trainJobSchema,
  type AttackJob,
  type TrainJob,
} from '../../src/protocol/jobs';
import { ATTACK_INFO, SPEC_PARAMS } from '../../src/protocol/attacks';
import { maskingAdvice, SUITE_TABLE, suiteAttackIds, type SuiteStage } from '../../src/protocol/suites';
import {
  clipError,
  duration,
  eta,
  pct,
  pctN,
  relativeTime,
  runTitle,
  trainingRunTitle,
} from '../../src/protocol/format';
import { suitePlans } from '../../src/engine/eval/suites';
import { buildProgram } from '../../src/cli/main';

const ROOT = path.join(__dirname, '..', '..');
const readJson = (relative: string) => JSON.parse(fs.readFileSync(path.join(ROOT, relative), 'utf8'));
const PACKAGE = readJson('package.json');
const SPEC_SCHEMA = readJson('src/protocol/experiment-spec-schema.json');
const REPORT_SCHEMA = readJson('src/protocol/report-schema.json');
const ATTACK_IDS = ATTACK_INFO.map((a) => a.id);

test('package.json: every setting with an enum lists exactly its vocabulary array, in order', () => {
  const expected: Record<string, readonly unknown[]> = {
    'robustness.backend': BACKEND_PREFERENCES,
    'robustness.threatModel.norm': NORMS,
    'robustness.dataset': DATASET_SETTINGS,
    'robustness.dataLabels': DATA_LABEL_SETS,
    'robustness.dataChannels': [null, ...IMAGE_CHANNELS],
  };
  const settings = PACKAGE.contributes.configuration.properties as Record<string, { enum?: string[] }>;
  const withEnums = Object.keys(settings)
    .filter((key) => settings[key]!.enum !== undefined)
    .sort();
  assert.deepEqual(withEnums, Object.keys(expected).sort(), 'a new enum setting needs its array in this table');
  for (const [key, array] of Object.entries(expected)) assert.deepEqual(settings[key]!.enum, [...array], key);
  assert.deepEqual(
    DATASET_SETTINGS.slice(0, BUILTIN_DATA.length),
    [...BUILTIN_DATA],
    'every built-in data id is a choice',
  );
  for (const key of Object.keys(expected)) {
    const described = (settings[key] as { enumDescriptions?: string[] }).enumDescriptions;
    assert.equal(described?.length, expected[key]!.length, `${key}: one enumDescription per value`);
  }
});

/** Every `enum` in the schema, by its JSON path. */
function schemaEnums(node: unknown, at: string, found: Map<string, unknown[]>): Map<string, unknown[]> {
  if (Array.isArray(node)) node.forEach((item, i) => schemaEnums(item, `${at}/${i}`, found));
  else if (node && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === 'enum') found.set(at, value as unknown[]);
      else schemaEnums(value, `${at}/${key}`, found);
    }
  }
  return found;
}

test('experiment-spec-schema.json: every enum and the attack-reference pattern agree with the arrays', () => {
  const expected: Record<string, readonly unknown[]> = {
    '/properties/threat/properties/norm': NORMS,
    '/properties/suite': SUITES,
    '/properties/training/properties/method': TRAIN_METHODS,
    '/properties/training/properties/optimizer': OPTIMIZERS,
    '/properties/training/properties/schedule': SCHEDULES,
    '/definitions/attackId': ATTACK_IDS,
    '/definitions/attack/properties/loss': LOSSES,
    '/properties/data/else/properties/labels': DATA_LABEL_SETS,
    '/properties/data/else/properties/channels': IMAGE_CHANNELS,
  };
  const found = schemaEnums(SPEC_SCHEMA, '', new Map());
  assert.deepEqual(
    [...found.keys()].sort(),
    Object.keys(expected).sort(),
    'a new enum in the schema needs its array in this table',
  );
  for (const [at, array] of Object.entries(expected)) assert.deepEqual(found.get(at), [...array], at);
  assert.equal(SPEC_SCHEMA.definitions.attackRef.pattern, `^(${ATTACK_IDS.join('|')})(:(${LOSSES.join('|')}))?$`);
  assert.deepEqual(SPEC_SCHEMA.definitions.dataId.examples, [...BUILTIN_DATA]);
  // A spec's attack object takes its id and exactly the catalogue's spec parameters.
  assert.deepEqual(Object.keys(SPEC_SCHEMA.definitions.attack.properties).sort(), ['id', ...SPEC_PARAMS].sort());
  const suites = SUITES.map((id) => `${id} = ${SUITE_TABLE[id].summary}`).join('; ');
  assert.ok(
    SPEC_SCHEMA.properties.suite.description.endsWith(`: ${suites}.`),
    'the hover describes the suite table as it is',
  );
});

test('report-schema.json: every enum agrees with the arrays', () => {
  const found = schemaEnums(REPORT_SCHEMA, '', new Map());
  const expected: Record<string, readonly string[]> = {};
  for (const at of found.keys()) {
    if (at.endsWith('/norm')) expected[at] = NORMS;
    else if (at.endsWith('/severity')) expected[at] = SEVERITIES;
    else if (at.endsWith('/outcome')) expected[at] = EXAMPLE_OUTCOMES;
  }
  assert.deepEqual(
    [...found.keys()].sort(),
    Object.keys(expected).sort(),
    'a new enum in the report schema needs its array in this test',
  );
  assert.ok(Object.values(expected).includes(NORMS) && Object.values(expected).includes(SEVERITIES));
  for (const [at, array] of Object.entries(expected)) assert.deepEqual(found.get(at), [...array], at);
});

test('the backend lists derive from TENSOR_BACKENDS and keep their orders', () => {
  assert.deepEqual(TENSOR_BACKENDS, ['tensorflow', 'wasm', 'cpu']);
  assert.deepEqual(BACKEND_PREFERENCES, ['auto', 'wasm', 'cpu', 'tensorflow']);
  assert.deepEqual(BACKEND_CHOICES, ['auto', 'tensorflow', 'wasm', 'wasm-stock', 'cpu']);
});

test("the CLI's choices are the arrays; its defaults are defaultAttackJob's and defaultTrainJob's", () => {
  const program = buildProgram();
  const option = (command: string, flag: string) => {
    const found = program.commands.find((c) => c.name() === command)?.options.find((o) => o.long === flag);
    assert.ok(found, `${command} ${flag}`);
    return found as typeof found & { argChoices?: string[] };
  };
  const attack = defaultAttackJob();
  for (const command of ['attack', 'evaluate', 'curve']) {
    assert.deepEqual(option(command, '--norm').argChoices, [...NORMS]);
    assert.deepEqual(option(command, '--loss').argChoices, [...LOSSES]);
    assert.deepEqual(option(command, '--backend').argChoices, [...BACKEND_CHOICES]);
    assert.deepEqual(
      ['--norm', '--loss', '--steps', '--restarts', '--batch-size', '--seed', '--examples', '--data', '--bounds'].map(
        (flag) => option(command, flag).defaultValue,
      ),
      [
        attack.norm,
        attack.loss,
        attack.steps,
        attack.restarts,
        attack.batchSize,
        attack.seed,
        attack.examples,
        attack.data,
        attack.bounds,
      ],
      command,
    );
  }
  assert.equal(option('attack', '--eps').defaultValue, attack.eps);
  assert.deepEqual(
    [
      option('attack', '--attack').defaultValue,
      option('curve', '--attack').defaultValue,
      option('evaluate', '--suite').defaultValue,
    ],
    ['fgsm,pgd', 'pgd', 'strong'],
  );
  for (const command of ['attack', 'train']) {
    assert.equal(
      option(command, '--data').description,
      'embedded | fashion-mnist | a data folder (IDX, NumPy, CIFAR binary, image folder)',
    );
  }
  assert.equal(option('attack', '--model').flags, '--model <model.json>');
  assert.deepEqual(option('evaluate', '--suite').argChoices, [...SUITES]);
  const train = defaultTrainJob();
  assert.deepEqual(option('train', '--method').argChoices, [...TRAIN_METHODS]);
  assert.deepEqual(option('train', '--optimizer').argChoices, [...OPTIMIZERS]);
  assert.deepEqual(option('train', '--schedule').argChoices, [...SCHEDULES]);
  assert.deepEqual(
    ['--method', '--epochs', '--batch-size', '--optimizer', '--seed', '--data'].map(
      (flag) => option('train', flag).defaultValue,
    ),
    [train.method, train.epochs, train.batchSize, train.optimizer, train.seed, train.data],
  );
});

test("package.json's setting defaults equal defaultAttackJob where they overlap", () => {
  const settings = PACKAGE.contributes.configuration.properties as Record<string, { default?: unknown }>;
  const defaults = defaultAttackJob();
  assert.deepEqual(
    [
      'robustness.threatModel.epsilon',
      'robustness.attack.steps',
      'robustness.samples',
      'robustness.threatModel.norm',
      'robustness.dataset',
      'robustness.attack.restarts',
      'robustness.report.examples',
    ].map((key) => settings[key]?.default),
    [defaults.eps, defaults.steps, defaults.n, defaults.norm, defaults.data, defaults.restarts, defaults.examples],
  );
  assert.equal(settings['robustness.backend']?.default, BACKEND_PREFERENCES[0]);
  assert.deepEqual(defaultTrainJob('distill').learningRate, 1e-2);
  assert.deepEqual(defaultTrainJob('pgd-at').learningRate, 1e-3);
});

test('one training table: defaults and a picker entry per method; the learning rate follows the optimiser', () => {
  assert.deepEqual(Object.keys(TRAIN_METHOD_DEFAULTS).sort(), [...TRAIN_METHODS].sort());
  assert.deepEqual(Object.keys(TRAIN_METHOD_INFO), ['pgd-at', 'trades', 'fast-at', 'distill', 'standard']);
  assert.deepEqual(TRAIN_METHODS.filter(isAdversarialMethod), ['pgd-at', 'fast-at', 'trades']);
  assert.deepEqual(
    TRAIN_METHODS.map((m) => defaultLearningRate(m)),
    [1e-3, 1e-3, 1e-3, 1e-3, 1e-2],
  );
  assert.deepEqual(
    TRAIN_METHODS.map((m) => defaultLearningRate(m, 'sgd')),
    [0.05, 0.05, 0.05, 0.05, 0.05],
  );
  assert.deepEqual(
    TRAIN_METHODS.map((m) => TRAIN_METHOD_DEFAULTS[m].robustEvalImages),
    [0, 500, 500, 500, 0],
  );
  assert.deepEqual(
    TRAIN_METHODS.map((m) => TRAIN_METHOD_DEFAULTS[m].schedule),
    ['constant', 'constant', 'cyclic', 'constant', 'constant'],
  );
  assert.equal(
    TRAIN_METHOD_INFO['pgd-at'].description,
    'Madry et al. 2018: train on PGD-7 examples (robust, ~8× the cost)',
  );
  assert.equal(
    TRAIN_METHOD_INFO.distill.description,
    'Papernot et al. 2016, T = 100: masks gradients; shown to fall to a proper attack',
  );
  const program = buildProgram();
  const train = program.commands.find((c) => c.name() === 'train')!;
  const flag = (long: string) => train.options.find((o) => o.long === long)!;
  assert.deepEqual(
    ['--eps', '--beta', '--temperature'].map((f) => flag(f).defaultValue),
    [0.1, 6, 100],
  );
  assert.equal(flag('--steps').description, 'inner PGD steps of pgd-at (7) and trades (10)');
  assert.match(
    flag('--lr').description,
    /\(default 0\.001; 0\.01 for distill, whose logits must grow T-fold; 0\.05 with sgd\)$/,
  );
});

const issues = (result: { error?: z.ZodError }) => result.error?.issues.map((i) => [i.path.join('.'), i.message]);

/** True only when A and B are the same type (each assignable to the other, checked invariantly). */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

test('the job types are the schemas (z.infer) and the schemas refuse unknown fields', () => {
  // Compile-time: a hand-written job type that drifts from its schema does not type-check.
  const _attackJobIsInferred: Equal<AttackJob, z.output<typeof attackJobSchema>> = true;
  const _trainJobIsInferred: Equal<TrainJob, z.output<typeof trainJobSchema>> = true;

  // Run time: a field the schema does not know is refused at the worker boundary, never stripped.
  const job: AttackJob = { ...defaultAttackJob(), model: '/w/model.json', attacks: ['pgd'] };
  assert.deepEqual(attackJobSchema.parse(job), job);
  const extra = attackJobSchema.safeParse({ ...job, momentum: 0.9 });
  assert.equal(extra.success, false);
  assert.deepEqual(issues(extra), [['', 'Unrecognized key: "momentum"']]);
  const extraParams = attackJobSchema.safeParse({ ...job, params: [{ steps: 5, decay: 1 }] });
  assert.deepEqual(issues(extraParams), [['params.0', 'Unrecognized key: "decay"']]);
  const train = { ...defaultTrainJob('trades'), out: '/w/run' };
  assert.deepEqual(trainJobSchema.parse(train), train);
  const extraTrain = trainJobSchema.safeParse({ ...train, momentum: 0.9 });
  assert.deepEqual(issues(extraTrain), [['', 'Unrecognized key: "momentum"']]);
});

test('an attack job names its attacks or a suite; both, neither or an unknown suite is refused clearly', () => {
  const settings = { ...defaultAttackJob(), model: '/w/model.json' };
  const problems = (value: unknown) => issues(attackJobSchema.safeParse(value));
  const neither = `an attack job needs "attacks" (a list of attack ids) or "suite" (one of ${SUITES.join(', ')})`;
  assert.equal(problems({ ...settings, suite: 'quick' }), undefined);
  assert.deepEqual(problems({ ...settings, suite: 'strong', attacks: ['apgd', 'apgd-t', 'square'] }), [
    [
      'attacks',
      'an attack job gives either "attacks" or "suite", not both: a suite fixes its own attacks and their order ' +
        '(src/protocol/suites.ts)',
    ],
  ]);
  assert.deepEqual(problems({ ...settings, suite: 'quick', params: [] }), [
    ['params', 'an attack job with a "suite" takes no per-attack "params": the suite table fixes them'],
  ]);
  assert.deepEqual(problems(settings), [['attacks', neither]]);
  assert.deepEqual(problems({ ...settings, attacks: [] }), [['attacks', neither]]);
  assert.deepEqual(problems({ ...settings, suite: 'autoattack' }), [
    ['suite', `suite: "autoattack" is not a suite; use one of ${SUITES.join(', ')}`],
  ]);
});

/** Compile-time: a stage names a catalogue attack and only options that attack takes. */
const _stages: SuiteStage[] = [
  { attack: 'apgd-t', params: { steps: 100, targetClasses: 3 } },
  // @ts-expect-error FGSM takes no steps.
  { attack: 'fgsm', params: { steps: 3 } },
  // @ts-expect-error Square takes no loss.
  { attack: 'square', params: { loss: 'ce' } },
  // @ts-expect-error not an attack of the catalogue.
  { attack: 'deepfool', params: {} },
];

test('the suite table: rows of known attacks; quick is not the strong list; the engine runs the rows', () => {
  assert.deepEqual(Object.keys(SUITE_TABLE), [...SUITES]);
  for (const suite of SUITES) {
    for (const id of suiteAttackIds(suite, true)) assert.ok(ATTACK_IDS.includes(id), `${suite}: unknown attack ${id}`);
  }
  assert.deepEqual(suiteAttackIds('strong', false), ['apgd', 'apgd-t', 'square']);
  assert.deepEqual(suiteAttackIds('strong', true), ['apgd', 'apgd-t', 'square', 'transfer']);
  assert.deepEqual(suiteAttackIds('quick', true), ['fgsm', 'pgd']);
  const label = (plans: ReturnType<typeof suitePlans>) => plans.map((p) => p.entry.label(p.options));
  assert.deepEqual(label(suitePlans('quick', { seed: 3 })), ['FGSM', 'PGD-20']);
  assert.deepEqual(label(suitePlans('strong', { seed: 3 })), ['APGD-CE', 'APGD-T (3 targets)', 'Square-1000']);
  const strong = suitePlans('strong', { seed: 3, queries: 50 });
  assert.deepEqual(
    strong.map((p) => p.options),
    [
      { seed: 3, steps: 100, loss: 'ce' },
      { seed: 3, steps: 100, loss: 'dlr', targetClasses: 3 },
      { seed: 3, queries: 50 },
    ],
  );
});

test("the rand suite is AutoAttack's rand version: APGD-CE, APGD-DLR, 100 steps, 1 restart, EOT over 20 passes", () => {
  assert.deepEqual(SUITE_TABLE.rand.stages, [
    { attack: 'apgd', params: { steps: 100, loss: 'ce', eot: 20 } },
    { attack: 'apgd', params: { steps: 100, loss: 'dlr', eot: 20 } },
  ]);
  assert.equal(SUITE_TABLE.rand.surrogateStage, undefined);
  const plans = suitePlans('rand', { seed: 3, queries: 50 });
  // APGD's catalogue default is one restart (AutoAttack's rand version sets n_restarts = 1).
  assert.deepEqual(
    plans.map((p) => p.entry.label(p.options)),
    ['APGD-CE EOT-20', 'APGD-DLR EOT-20'],
  );
  assert.equal(ATTACK_INFO.find((a) => a.id === 'apgd')!.options.restarts, 1);
  assert.deepEqual(
    plans.map((p) => p.options),
    [
      { seed: 3, steps: 100, loss: 'ce', eot: 20 },
      { seed: 3, steps: 100, loss: 'dlr', eot: 20 },
    ],
  );
});

test('masking advice: a randomised model is sent to the rand suite, unless it just ran', () => {
  const random = [{ id: 'random-outputs' }, { id: 'zero-gradients' }];
  for (const suite of [null, 'quick', 'strong']) {
    const advice = maskingAdvice(suite, random);
    assert.match(advice, /run the rand suite, APGD-CE and APGD-DLR with EOT over 20 passes/);
    assert.match(advice, /evaluate --suite rand/);
  }
  assert.match(maskingAdvice('rand', random), /^This evaluation ran the rand suite .*: its worst case is the number/);
  // Without the randomness finding the advice is the strong suite's, as before.
  assert.match(maskingAdvice(null, [{ id: 'zero-gradients' }]), /strong suite/);
  assert.doesNotMatch(maskingAdvice('strong', [{ id: 'zero-gradients' }]), /rand/);
});

test('format: percentages, relative times and run titles read the same everywhere', () => {
  assert.equal(pct(0.7125), '71.3%');
  assert.equal(pct(1), '100.0%');
  assert.equal(pct(0), '0.0%');
  const now = Date.parse('2026-12-01T12:00:00.000Z');
  const ago = (seconds: number) => relativeTime(new Date(now - seconds * 1000).toISOString(), now);
  assert.deepEqual([0, 44, 45, 150, 89 * 60, 90 * 60, 35 * 3600, 36 * 3600, 3 * 86400, -120].map(ago), [
    'just now',
    'just now',
    '1 min ago',
    '3 min ago',
    '89 min ago',
    '2 h ago',
    '35 h ago',
    '2 days ago',
    '3 days ago',
    'just now',
  ]);
  assert.equal(relativeTime(now - 3 * 86400 * 1000, now), '3 days ago', 'a timestamp reads like an ISO date');
  assert.equal(relativeTime(undefined, now), '');
  assert.equal(relativeTime('not a date', now), '');
  const summary = { robustAccuracy: 0.7125, cleanAccuracy: 0.84, attack: 'PGD-20', norm: 'linf' as const, eps: 0.1 };
  assert.equal(runTitle(summary), 'robust 71.3% (PGD-20, ε=0.1) · clean 84.0%');
  assert.equal(
    runTitle({ ...summary, norm: 'l2', eps: 1.5, attack: 'strong suite' }),
    'robust 71.3% (strong suite, L2 ε=1.5) · clean 84.0%',
  );
  // With n the accuracies carry their 95% Wilson interval; fewer images, a wider one.
  assert.equal(runTitle({ ...summary, n: 1000 }), 'robust 71.3% ± 2.9 (PGD-20, ε=0.1) · clean 84.0% ± 2.5');
  assert.equal(runTitle({ ...summary, n: 80 }), 'robust 71.3% ± 10.8 (PGD-20, ε=0.1) · clean 84.0% ± 9.9');
  assert.equal(pctN(0.84, undefined), '84.0%');
});

test('format: durations, ETAs, clipped errors and training-run titles', () => {
  assert.deepEqual(
    [duration(12.345), duration(0.1234, 2), duration(3, 0), duration(0)],
    ['12.3 s', '0.12 s', '3 s', '0.0 s'],
  );
  assert.deepEqual([0, 45, 89, 89.6, 90, 150, 3600].map(eta), [
    '0 s',
    '45 s',
    '89 s',
    '90 s',
    '2 min',
    '3 min',
    '60 min',
  ]);
  assert.equal(clipError('x'.repeat(100)), 'x'.repeat(80));
  assert.equal(clipError('short'), 'short');
  const progress = { epoch: 3, epochs: 5, clean: 0.8, robust: 0.415, etaSeconds: 120 };
  assert.equal(
    trainingRunTitle({ method: 'pgd-at', status: 'running', progress }),
    'pgd-at · epoch 3/5 · ETA 2 min · clean 80.0% · robust 41.5%',
  );
  assert.equal(
    trainingRunTitle({ method: 'pgd-at', status: 'done', progress: { ...progress, epoch: 5 } }),
    'pgd-at · epoch 5/5 · clean 80.0% · robust 41.5%',
  );
  assert.equal(trainingRunTitle({ method: 'standard', status: 'running' }), 'standard · starting');
  assert.equal(trainingRunTitle({ method: 'standard', status: 'failed' }), 'standard');
});
