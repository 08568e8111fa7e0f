/**
 * Experiment specs below the server: one attack catalogue for the engine, the schema and the
 * server; spec → job translation (per-attack parameters reach the engine's plans); the cheap
 * model/data readers the server checks with.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { ATTACKS } from '../../src/engine/attacks/registry';
import { planFor } from '../../src/engine/run-job';
import { ATTACK_INFO } from '../../src/protocol/attacks';
import { attackJobSchema } from '../../src/protocol/jobs';
import schema from '../../src/protocol/experiment-spec-schema.json';
import { specAttackJob, specTrainJob, type RobustnessSpec } from '../../src/protocol/experiment-spec';
import { analyzeSpec, didYouMean } from '../../src/experiment/analysis';
import { WorkspaceIndex } from '../../src/experiment/workspace';
import { describeData } from '../../src/formats/data-sources';
import { describeModel } from '../../src/formats/model-formats';

const ROOT = path.join(__dirname, '..', '..');

test('the engine registry, the catalogue and the spec schema list the same attacks, with the same docs', () => {
  const ids = ATTACK_INFO.map((a) => a.id);
  assert.deepEqual(
    ATTACKS.map((a) => a.id),
    ids,
  );
  for (const entry of ATTACKS)
    assert.equal(entry.doc, ATTACK_INFO.find((a) => a.id === entry.id)!.doc, `${entry.id} doc is the catalogue's`);
  assert.deepEqual(schema.definitions.attackId.enum, ids);
  const pattern = new RegExp(schema.definitions.attackRef.pattern);
  for (const id of ids) assert.match(`${id}:margin`, pattern);
  assert.doesNotMatch('pgd:hinge', pattern);
});

test('did-you-mean picks the nearest id within a third of its length', () => {
  assert.equal(didYouMean('pgdd', ['fgsm', 'pgd', 'apgd']), 'pgd');
  assert.equal(didYouMean('APGD-T', ['apgd', 'apgd-t']), 'apgd-t');
  assert.equal(didYouMean('deepfool', ['fgsm', 'pgd']), undefined);
});

/** RobustnessSpec's keys as data; each list must name every key of its type (checked at compile time). */
const SPEC_KEYS = [
  '$schema',
  'name',
  'model',
  'data',
  'threat',
  'attacks',
  'suite',
  'surrogate',
  'curve',
  'seed',
  'batchSize',
  'training',
  'output',
  'preprocess',
  'modelOutput',
  'cluster',
] as const satisfies readonly (keyof RobustnessSpec)[];
type Training = NonNullable<RobustnessSpec['training']>;
const TRAINING_KEYS = [
  'method',
  'epochs',
  'eps',
  'steps',
  'beta',
  'advFraction',
  'temperature',
  'learningRate',
  'batchSize',
  'optimizer',
  'schedule',
  'warmupEpochs',
  'trainImages',
  'fromModel',
  'ema',
  'awp',
  'awpWarmupEpochs',
  'validation',
  'earlyStop',
  'patience',
] as const satisfies readonly (keyof Training)[];
const THREAT_KEYS = ['norm', 'eps', 'bounds'] as const satisfies readonly (keyof RobustnessSpec['threat'])[];
const OUTPUT_KEYS = ['examples', 'report'] as const satisfies readonly (keyof NonNullable<RobustnessSpec['output']>)[];
/** Compiles only when the list names every key of T (the `satisfies` above checks it names no other). */
type Covers<T, List extends readonly PropertyKey[]> = [keyof T] extends [List[number]] ? true : false;
type _KeyListsAreComplete = [
  Covers<RobustnessSpec, typeof SPEC_KEYS>,
  Covers<Training, typeof TRAINING_KEYS>,
  Covers<RobustnessSpec['threat'], typeof THREAT_KEYS>,
  Covers<NonNullable<RobustnessSpec['output']>, typeof OUTPUT_KEYS>,
] extends true[]
  ? true
  : never;
const _keyListsAreComplete: _KeyListsAreComplete = true;

test('RobustnessSpec and experiment-spec-schema.json have the same properties, top level and nested', () => {
  const keys = (node: { properties: object }) => Object.keys(node.properties).sort();
  assert.deepEqual(keys(schema), [...SPEC_KEYS].sort());
  assert.deepEqual(keys(schema.properties.training), [...TRAINING_KEYS].sort());
  assert.deepEqual(keys(schema.properties.threat), [...THREAT_KEYS].sort());
  assert.deepEqual(keys(schema.properties.output), [...OUTPUT_KEYS].sort());
});

const SPEC: RobustnessSpec = {
  model: 'smallcnn/model.json',
  data: { id: 'embedded', n: 300, offset: 100 },
  threat: { norm: 'linf', eps: 0.05 },
  attacks: [
    'fgsm',
    'pgd:margin',
    { id: 'pgd', steps: 40, stepSize: 0.005, restarts: 3, randomStart: false },
    { id: 'square', queries: 200 },
  ],
  curve: [0.1, 0, 0.05],
  seed: 7,
};

test('a spec becomes an attack job whose per-attack parameters reach the engine plans', () => {
  const job = specAttackJob(SPEC, (rel) => path.join('/ws/examples', rel));
  assert.deepEqual(attackJobSchema.parse(job), job);
  assert.equal(job.model, '/ws/examples/smallcnn/model.json');
  assert.deepEqual([job.data, job.n, job.offset, job.seed, job.bounds], ['embedded', 300, 100, 7, [0, 1]]);
  assert.deepEqual(job.curve, [0, 0.05, 0.1]);
  assert.deepEqual(job.attacks, ['fgsm', 'pgd', 'pgd', 'square']);
  const plans = job.attacks.map((id, i) => planFor(id, job, undefined, job.params?.[i]));
  assert.deepEqual(
    plans.map((p) => p.entry.label(p.options)),
    ['FGSM', 'PGD-10 (margin)', 'PGD-40×3', 'Square-200'],
  );
  assert.deepEqual(plans[2]!.options, {
    steps: 40,
    restarts: 3,
    loss: 'ce',
    randomStart: false,
    seed: 7,
    stepSize: 0.005,
  });
  assert.equal(plans[1]!.options.loss, 'margin');
  const { attacks: _attackList, ...suiteSpec } = SPEC;
  const suite = specAttackJob({ ...suiteSpec, suite: 'strong' }, (rel) => rel);
  assert.deepEqual([suite.suite, suite.attacks, suite.params], ['strong', undefined, undefined]);
  assert.deepEqual(attackJobSchema.parse(suite), suite);
  assert.throws(
    () => specAttackJob({ ...SPEC, suite: 'quick' }, (rel) => rel),
    /^Error: the spec gives both "attacks" and "suite" \("quick"\); give one/,
  );
});

test('a training block becomes a train job: defaults, ε from the threat model, init from an existing model', () => {
  const spec: RobustnessSpec = { ...SPEC, training: { method: 'trades', epochs: 3, beta: 6, trainImages: 5000 } };
  const job = specTrainJob(spec, (rel) => `/ws/${rel}`, true)!;
  assert.deepEqual(job, {
    method: 'trades',
    data: 'embedded',
    epochs: 3,
    batchSize: 128,
    optimizer: 'adam',
    learningRate: 1e-3,
    seed: 7,
    robustEvalLimit: 300,
    eps: 0.05,
    beta: 6,
    trainLimit: 5000,
    init: '/ws/smallcnn/model.json',
  });
  const fresh = specTrainJob(
    { ...spec, training: { method: 'distill', epochs: 2, temperature: 50 } },
    (rel) => rel,
    false,
  )!;
  assert.deepEqual([fresh.learningRate, fresh.temperature, fresh.eps, fresh.init], [1e-2, 50, undefined, undefined]);
  assert.equal(
    specTrainJob(SPEC, (rel) => rel, true),
    undefined,
  );
});

test('a spec with both "attacks" and "suite" is an error on the "attacks" key, naming the suite\'s attacks', () => {
  const text =
    '{\n  "model": "m/model.json",\n  "data": "embedded",\n  "threat": { "norm": "linf", "eps": 0.1 },\n' +
    '  "attacks": ["pgd"],\n  "suite": "quick"\n}\n';
  const facts = {
    model: () => ({ info: { format: 'layers-model', inputShape: [28, 28, 1], classes: 10 } as never }),
    data: () => ({ shape: [28, 28, 1], count: 1000 }) as never,
  };
  const { problems } = analyzeSpec(text, facts);
  const start = text.indexOf('"attacks"');
  assert.deepEqual(problems, [
    {
      start,
      end: start + '"attacks"'.length,
      severity: 'error',
      code: 'suite-and-attacks',
      message:
        'give "attacks" or "suite", not both: the quick suite runs its own attacks (FGSM → PGD-20); ' +
        'remove "attacks" to run the suite, or "suite" to run your list',
    },
  ]);
  assert.deepEqual(analyzeSpec(text.replace('  "attacks": ["pgd"],\n', ''), facts).problems, []);
});

test('the shipped example specs check clean against the example models', () => {
  const dir = path.join(ROOT, 'examples', 'fashion-mnist');
  const index = new WorkspaceIndex([ROOT]);
  for (const name of ['smallcnn.robustness.json', 'pgd-at.robustness.json']) {
    const file = path.join(dir, name);
    const { problems, spec } = analyzeSpec(fs.readFileSync(file, 'utf8'), index.factsFor(file));
    assert.deepEqual(problems, [], name);
    assert.equal(spec?.model, 'smallcnn/model.json', name);
  }
});

test('model summaries: output activation of layers and graph models; data shapes from an IDX header', () => {
  const example = path.join(ROOT, 'examples', 'fashion-mnist', 'smallcnn', 'model.json');
  assert.deepEqual(describeModel(example), {
    format: 'tfjs-layers',
    inputShape: [28, 28, 1],
    classes: 10,
    outputActivation: 'linear',
  });
  const models = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-models-'));
  const graph = path.join(models, 'model.json');
  fs.writeFileSync(
    graph,
    JSON.stringify({
      modelTopology: {
        node: [
          {
            op: 'Placeholder',
            attr: { shape: { shape: { dim: [{ size: '-1' }, { size: '28' }, { size: '28' }, { size: '1' }] } } },
          },
          { op: 'MatMul' },
          { op: 'Softmax' },
          { op: 'Identity' },
        ],
      },
    }),
  );
  assert.deepEqual(describeModel(graph), {
    format: 'tfjs-graph',
    inputShape: [28, 28, 1],
    outputActivation: 'softmax',
  });
  fs.writeFileSync(graph, JSON.stringify({ modelTopology: { model_config: { config: { layers: [] } } } }));
  assert.throws(() => describeModel(graph), /model\.json: modelTopology: has no layers/);
  fs.rmSync(models, { recursive: true, force: true });

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-idx-'));
  assert.throws(
    () => describeData(dir),
    /holds no data Robustness Lab reads \(IDX files \(MNIST layout\): t10k-images-idx3-ubyte\*; NumPy arrays .*; image folders \(test\/<class>\/\*\.png, \.jpg or \.jpeg\)\)/,
  );
  fs.writeFileSync(
    path.join(dir, 't10k-images-idx3-ubyte'),
    Buffer.from([0, 0, 8, 3, 0, 0, 0, 7, 0, 0, 0, 12, 0, 0, 0, 9]),
  );
  assert.deepEqual(describeData(dir), { count: 7, counts: { test: 7 }, shape: [12, 9, 1], source: 'idx', kind: 'IDX' });
  fs.rmSync(path.join(dir, 't10k-images-idx3-ubyte'));
  fs.writeFileSync(path.join(dir, 't10k-images-idx3-ubyte.gz'), zlib.gzipSync(Buffer.from('not an idx file at all')));
  assert.throws(
    () => describeData(dir),
    /t10k-images-idx3-ubyte\.gz: magic number: starts with 0x6e6f7420; IDX files start with 0x0000/,
  );
  assert.deepEqual(describeData(path.join(ROOT, 'media', 'data', 'fashion-mnist-sample')), {
    count: 2000,
    counts: { train: 10000, test: 2000 },
    shape: [28, 28, 1],
    source: 'idx',
    kind: 'IDX',
  });
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a negative ε carries its fixes: |ε| only when it fits the box (L2: its diameter), the default unless the same', () => {
  const dir = path.join(ROOT, 'examples', 'fashion-mnist');
  const facts = new WorkspaceIndex([ROOT]).factsFor(path.join(dir, 'case.robustness.json'));
  const fixesFor = (threat: string) => {
    const text = `{"model": "smallcnn/model.json", "data": "embedded", "threat": ${threat}, "attacks": ["pgd"]}`;
    const problem = analyzeSpec(text, facts).problems.find((p) => p.code === 'eps-negative')!;
    assert.equal(text.slice(problem.start, problem.end), /-[\d.]+/.exec(threat)![0]);
    return problem.fixes;
  };
  // L2 on 28×28×1 inputs in [0, 1]: the box's diameter is 28.
  assert.deepEqual(fixesFor('{"norm": "l2", "eps": -1.5}'), [
    { title: 'Use ε = 1.5', replacement: '1.5' },
    { title: 'Use the default ε = 0.1', replacement: '0.1' },
  ]);
  assert.deepEqual(fixesFor('{"norm": "l2", "eps": -30}'), [{ title: 'Use the default ε = 0.1', replacement: '0.1' }]);
  // Bounds [0, 255]: ε = 8 fits L∞.
  assert.deepEqual(fixesFor('{"norm": "linf", "eps": -8, "bounds": [0, 255]}'), [
    { title: 'Use ε = 8', replacement: '8' },
    { title: 'Use the default ε = 0.1', replacement: '0.1' },
  ]);
  assert.deepEqual(fixesFor('{"norm": "linf", "eps": -0.1}'), [{ title: 'Use ε = 0.1', replacement: '0.1' }]);
});
