/**
 * The model-format seam: both halves (cheap describe in src/formats, loaders in the engine) name
 * the same formats, package.json's patterns agree with MODEL_FILE_NAMES, and describe agrees with
 * what the loader finds.
 */
import { before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DATA_SOURCES } from '../../src/formats/data-sources';
import { FormatError } from '../../src/formats/errors';
import { describeModel, formatModelInfo, MODEL_FORMATS, modelFormatFor } from '../../src/formats/model-formats';
import {
  fitsPattern,
  isModelFile,
  MODEL_ACTIVATION_EVENT,
  MODEL_FILE_EXTENSIONS,
  MODEL_FILE_NAMES,
  MODEL_FORMAT_FILES,
  MODEL_GLOB,
  MODEL_WHEN_CLAUSE,
} from '../../src/protocol/model-files';
import { DATA_SOURCE_IDS, MODEL_FORMAT_IDS } from '../../src/protocol/vocabulary';
import { modelReferences } from '../../src/server/lenses';
import { DATA_LOADERS, InputError, loadClassifier, MODEL_LOADERS, withInputErrors } from '../../src/engine';
import { SourceError } from '../../src/common/errors';
import { engineTest, tempDir, useBackend } from './helpers';

const ROOT = path.join(__dirname, '..', '..');
const LAYERS = path.join(ROOT, 'examples', 'fashion-mnist', 'smallcnn', 'model.json');
const GRAPH = path.join(__dirname, '..', 'fixtures', 'graph-model', 'model.json');

before(() => useBackend('wasm'));

test('the cheap registries and the engine loaders name the vocabulary ids, in order', () => {
  assert.deepEqual(
    MODEL_FORMATS.map((f) => f.id),
    [...MODEL_FORMAT_IDS],
  );
  assert.deepEqual(
    MODEL_LOADERS.map((l) => l.id),
    [...MODEL_FORMAT_IDS],
  );
  assert.deepEqual(
    DATA_SOURCES.map((s) => s.id),
    [...DATA_SOURCE_IDS],
  );
  assert.deepEqual(
    DATA_LOADERS.map((l) => l.id),
    [...DATA_SOURCE_IDS],
  );
  for (const id of MODEL_FORMAT_IDS) {
    const files = MODEL_FORMAT_FILES[id];
    assert.ok(files.names.length + files.extensions.length > 0, `${id} names no model file`);
    for (const ext of files.extensions) {
      assert.match(ext, /^\.[a-z0-9]+$/, `${id}: extension "${ext}" needs a leading dot`);
    }
  }
});

test("package.json's activation event and model menus use MODEL_FILE_NAMES", () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
    activationEvents: string[];
    contributes: { menus: Record<string, Array<{ command: string; when?: string }>> };
  };
  assert.equal(MODEL_GLOB, '**/{model.json,*.onnx}');
  assert.ok(pkg.activationEvents.includes(MODEL_ACTIVATION_EVENT), `activationEvents lack ${MODEL_ACTIVATION_EVENT}`);
  const modelEvents = pkg.activationEvents.filter(
    (e) => e.startsWith('workspaceContains:') && !e.endsWith('.robustness.json'),
  );
  assert.deepEqual(modelEvents, [MODEL_ACTIVATION_EVENT], 'a workspaceContains event names a model pattern of its own');
  const clauses = Object.values(pkg.contributes.menus)
    .flat()
    .map((m) => m.when ?? '');
  const modelClauses = clauses.filter((w) => /resourceFilename ==|resourceExtname ==/.test(w));
  assert.ok(modelClauses.length >= 5, 'the model commands have no when clauses');
  for (const clause of modelClauses) {
    assert.equal(clause, MODEL_WHEN_CLAUSE, `a menu's "when": "${clause}" is not MODEL_WHEN_CLAUSE`);
  }
  const named = MODEL_WHEN_CLAUSE.split(' || ');
  for (const name of MODEL_FILE_NAMES) {
    assert.ok(named.includes(`resourceFilename == ${name}`), `no clause for ${name}`);
  }
  for (const ext of MODEL_FILE_EXTENSIONS) {
    assert.ok(named.includes(`resourceExtname == ${ext}`), `no clause for *${ext}`);
  }
  assert.equal(named.length, MODEL_FILE_NAMES.length + MODEL_FILE_EXTENSIONS.length);
});

test('isModelFile, the glob and the lens references follow MODEL_FILE_NAMES', () => {
  assert.ok(isModelFile('/w/models/cnn/model.json'));
  assert.ok(isModelFile('C:\\w\\model.json'));
  assert.ok(!isModelFile('/w/model.json.bak'));
  assert.ok(!isModelFile('/w/weights.bin'));
  // Extensions (the next formats): any name with the extension, not the bare extension.
  const onnx = { names: [], extensions: ['.onnx'] };
  assert.ok(fitsPattern(onnx, '/w/models/resnet.onnx'));
  assert.ok(!fitsPattern(onnx, '/w/.onnx') && !fitsPattern(onnx, '/w/x.onnx.txt'));
  const source = `load("models/cnn/model.json"); open('x/model.jsonl'); fetch(\`file://runs/a/model.json\`)`;
  const refs = modelReferences(source);
  assert.deepEqual(
    refs.map((r) => r.text),
    ['models/cnn/model.json', 'runs/a/model.json'],
  );
});

test('matches tells the two tfjs formats apart by content; describe reads the topology without tfjs', () => {
  assert.equal(modelFormatFor(LAYERS).id, 'tfjs-layers');
  assert.equal(modelFormatFor(GRAPH).id, 'tfjs-graph');
  assert.deepEqual(describeModel(GRAPH).format, 'tfjs-graph');
  assert.equal(formatModelInfo(describeModel(LAYERS)), '28×28×1 → 10');
  const layers = MODEL_FORMATS.find((f) => f.id === 'tfjs-layers')!;
  const graph = MODEL_FORMATS.find((f) => f.id === 'tfjs-graph')!;
  assert.ok(layers.matches(LAYERS) && !graph.matches(LAYERS));
  assert.ok(graph.matches(GRAPH) && !layers.matches(GRAPH));
});

test('describe and modelFormatFor name the file and the problem', () => {
  const dir = tempDir('formats');
  const broken = path.join(dir, 'model.json');
  fs.writeFileSync(broken, '{"modelTopology": ');
  // An unparseable model.json goes to the Layers format, whose reader says what is wrong.
  assert.equal(modelFormatFor(broken).id, 'tfjs-layers');
  assert.throws(
    () => describeModel(broken),
    (err: Error) => err instanceof FormatError && err.message.startsWith(`${broken}: is not valid JSON`),
  );
  fs.writeFileSync(broken, '{"format": "layers-model"}');
  assert.throws(() => describeModel(broken), {
    message: `${broken}: modelTopology: is missing; this is not a tfjs model.json`,
  });
  const weights = path.join(dir, 'weights.bin');
  fs.writeFileSync(weights, '');
  assert.throws(
    () => describeModel(weights),
    (err: Error) =>
      err instanceof FormatError &&
      err.message ===
        `${weights}: is not a model file Robustness Lab reads (Layers model, Graph model, ONNX model: model.json, *.onnx)`,
  );
  fs.rmSync(dir, { recursive: true });
});

test("a format's FormatError reaches the engine as an InputError in the same words, hint included", () => {
  const cause = new FormatError('m/model.json', 'modelTopology', 'is missing', 'this is not a tfjs model.json');
  assert.equal(cause.message, 'm/model.json: modelTopology: is missing; this is not a tfjs model.json');
  assert.throws(
    () =>
      withInputErrors(() => {
        throw cause;
      }),
    (err: Error) =>
      err instanceof InputError &&
      err instanceof SourceError &&
      err.name === 'InputError' &&
      err.message === cause.message &&
      err.detail === 'is missing; this is not a tfjs model.json',
  );
  assert.ok(cause instanceof SourceError && !(cause instanceof InputError));
  assert.equal(new InputError('--eps', '', 'is -1').message, '--eps: is -1');
  const other = new Error('not ours');
  assert.throws(
    () =>
      withInputErrors(() => {
        throw other;
      }),
    (err) => err === other,
  );
});

engineTest('the engine refuses a file no format reads, naming it', async () => {
  const dir = tempDir('formats');
  const file = path.join(dir, 'model.pt');
  fs.writeFileSync(file, 'onnx');
  await assert.rejects(
    loadClassifier(file),
    (err: Error) => err instanceof InputError && err.message.startsWith(`${file}: is not a model file`),
  );
  fs.rmSync(dir, { recursive: true });
});

engineTest('describe and the loader agree on input shape and classes (both tfjs formats), with gradients', async () => {
  for (const file of [LAYERS, GRAPH]) {
    const info = describeModel(file);
    const model = await loadClassifier(file);
    try {
      assert.deepEqual(info.inputShape, model.inputShape, file);
      if (info.classes !== undefined) assert.equal(info.classes, model.numClasses, file);
      assert.equal(model.gradients, true, file);
    } finally {
      model.dispose?.();
    }
  }
});
