/**
 * The language server over a real LSP connection (stdio, dist/server.js), no editor: exact
 * diagnostics (message, range, severity) for good and bad specs, hover, completion, and the
 * spec and source lenses before and after a run finishes.
 */
import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { LspClient, positionOf, uriOf, type Diagnostic } from './lsp-client';
import { resultTitle } from '../../src/server/lenses';
import { ATTACK_INFO } from '../../src/protocol/attacks';

/** Every attack id, in the catalogue's order (what completion offers and errors list). */
const ATTACK_IDS = ATTACK_INFO.map((a) => a.id);

const ROOT = path.join(__dirname, '..', '..');
const ERROR = 1;
const WARNING = 2;

let workspace: string;
let client: LspClient;
let counter = 0;

function writeModel(
  name: string,
  edit: (layers: Array<{ class_name: string; config: Record<string, unknown> }>) => void = () => undefined,
): void {
  const json = JSON.parse(
    fs.readFileSync(path.join(ROOT, 'examples', 'fashion-mnist', 'smallcnn', 'model.json'), 'utf8'),
  );
  edit(json.modelTopology.model_config?.config.layers ?? json.modelTopology.config.layers);
  fs.mkdirSync(path.join(workspace, name), { recursive: true });
  fs.writeFileSync(path.join(workspace, name, 'model.json'), JSON.stringify(json));
}

const GOOD = {
  model: 'cnn/model.json',
  data: { id: 'embedded', n: 200 },
  threat: { norm: 'linf', eps: 0.1, bounds: [0, 1] },
  attacks: ['fgsm', { id: 'pgd', steps: 20, stepSize: 0.01 }],
};

/** Opens a fresh spec file with this text and returns its diagnostics. */
async function diagnose(text: string): Promise<{ file: string; text: string; diagnostics: Diagnostic[] }> {
  const file = path.join(workspace, `case-${++counter}.robustness.json`);
  fs.writeFileSync(file, text);
  const diagnostics = (await client.open(file, text))!;
  return { file, text, diagnostics };
}

const specText = (value: unknown) => `// a spec\n${JSON.stringify(value, null, 2)}\n`;

function rangeOf(text: string, needle: string) {
  const start = positionOf(text, needle);
  return { start, end: { line: start.line, character: start.character + needle.length } };
}

/** Exactly one diagnostic, on `needle` (or on `length` characters `delta` into it). */
async function expectOne(
  value: unknown,
  needle: string,
  severity: number,
  message: string,
  code: string,
  at?: { delta: number; length: number },
) {
  const { text, diagnostics } = await diagnose(typeof value === 'string' ? value : specText(value));
  assert.equal(
    diagnostics.length,
    1,
    `one diagnostic expected, got ${JSON.stringify(diagnostics.map((d) => d.message))}`,
  );
  const [d] = diagnostics;
  assert.equal(d!.message, message);
  assert.equal(d!.severity, severity);
  assert.equal(d!.code, code);
  assert.equal(d!.source, 'robustness');
  if (!at) return assert.deepEqual(d!.range, rangeOf(text, needle));
  const start = positionOf(text, needle, at.delta);
  assert.deepEqual(d!.range, { start, end: { line: start.line, character: start.character + at.length } });
}

before(async () => {
  workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-lsp-'));
  writeModel('cnn');
  writeModel('softmax-cnn', (layers) => {
    layers.at(-1)!.config.activation = 'softmax';
  });
  writeModel('binary', (layers) => {
    layers.at(-1)!.config.units = 2;
  });
  writeModel('color', (layers) => {
    layers[0]!.config.batch_input_shape = [null, 32, 32, 3];
  });
  fs.mkdirSync(path.join(workspace, 'notmodel'));
  fs.writeFileSync(path.join(workspace, 'notmodel', 'model.json'), '{"format": "something else"}');
  // A folder of IDX data, 5 colour images of 32×32 (header only is read).
  fs.mkdirSync(path.join(workspace, 'cifar-like'));
  const header = Buffer.alloc(20);
  header.writeUInt32BE(0x0804, 0);
  [5, 32, 32, 3].forEach((v, i) => header.writeUInt32BE(v, 4 + 4 * i));
  fs.writeFileSync(
    path.join(workspace, 'cifar-like', 't10k-images-idx3-ubyte.gz'),
    zlib.gzipSync(Buffer.concat([header, Buffer.alloc(5 * 32 * 32 * 3)])),
  );
  client = new LspClient();
  const init = (await client.initialize(workspace)) as { capabilities: Record<string, unknown> };
  assert.ok(
    init.capabilities.hoverProvider && init.capabilities.codeLensProvider && init.capabilities.completionProvider,
  );
});

after(async () => {
  await client.stop();
  fs.rmSync(workspace, { recursive: true, force: true });
});

describe('diagnostics', () => {
  test('a good spec (and the shipped example) has none', async () => {
    assert.deepEqual((await diagnose(specText(GOOD))).diagnostics, []);
    const example = fs.readFileSync(path.join(ROOT, 'examples', 'fashion-mnist', 'smallcnn.robustness.json'), 'utf8');
    const dir = path.join(workspace, 'example');
    fs.mkdirSync(path.join(dir, 'smallcnn'), { recursive: true });
    fs.copyFileSync(path.join(workspace, 'cnn', 'model.json'), path.join(dir, 'smallcnn', 'model.json'));
    fs.writeFileSync(path.join(dir, 'smallcnn.robustness.json'), example);
    assert.deepEqual(await client.open(path.join(dir, 'smallcnn.robustness.json'), example), []);
  });

  test('ε < 0', () =>
    expectOne(
      { ...GOOD, threat: { norm: 'linf', eps: -0.1 } },
      '-0.1',
      ERROR,
      'threat.eps must be ≥ 0 (it is a radius); got -0.1',
      'eps-negative',
    ));

  test('ε beyond the input box (L∞ and L2)', async () => {
    await expectOne(
      { ...GOOD, threat: { norm: 'linf', eps: 1.5, bounds: [0, 1] } },
      '1.5',
      ERROR,
      'threat.eps = 1.5 exceeds the width of the input box [0, 1] (1): every input is reachable, ' +
        'so robust accuracy means nothing',
      'eps-too-large',
    );
    await expectOne(
      { ...GOOD, attacks: ['fgsm'], threat: { norm: 'l2', eps: 30 } },
      '30',
      ERROR,
      'threat.eps = 30 (L2) exceeds the diameter of the input box, 28 = 1·√784: every input is reachable, ' +
        'so robust accuracy means nothing',
      'eps-too-large',
    );
  });

  test('an unknown attack, with "did you mean"', () =>
    expectOne(
      { ...GOOD, attacks: ['fgsm', 'pgdd'] },
      '"pgdd"',
      ERROR,
      'unknown attack "pgdd"; did you mean "pgd"?',
      'unknown-attack',
    ));

  test('an unknown attack in an object, far from any id', () =>
    expectOne(
      { ...GOOD, attacks: [{ id: 'deepfool' }] },
      '"deepfool"',
      ERROR,
      `unknown attack "deepfool"; available: ${ATTACK_IDS.join(', ')}`,
      'unknown-attack',
    ));

  test('a PGD step size larger than ε', () =>
    expectOne(
      { ...GOOD, attacks: [{ id: 'pgd', stepSize: 0.25 }] },
      '0.25',
      WARNING,
      'step size α = 0.25 is larger than ε = 0.1: every step leaves the ball and is projected back, ' +
        'so PGD degenerates to a few sign flips; use α ≤ ε (default 2.5·ε/steps)',
      'step-size',
    ));

  test('fewer than 1 step (and no second, schema message on the same value)', () =>
    expectOne(
      { ...GOOD, attacks: [{ id: 'pgd', steps: 0 }] },
      '"steps": 0',
      ERROR,
      'steps must be at least 1; got 0',
      'steps',
      { delta: 9, length: 1 },
    ));

  test('dlr with fewer than 3 classes; APGD-T with fewer than 4', async () => {
    await expectOne(
      { ...GOOD, model: 'binary/model.json', attacks: [{ id: 'pgd', loss: 'dlr' }] },
      '"dlr"',
      ERROR,
      'the dlr loss needs at least 3 classes (it divides by z_π1 − z_π3); binary/model.json has 2',
      'dlr-classes',
    );
    await expectOne(
      { ...GOOD, model: 'binary/model.json', attacks: ['apgd-t'] },
      '"apgd-t"',
      ERROR,
      'APGD-T needs at least 4 classes (its targeted dlr loss uses the 4th-largest logit); binary/model.json has 2',
      'dlr-classes',
    );
  });

  test('a model path that does not exist, or is not a model', async () => {
    await expectOne(
      { ...GOOD, model: 'cnnn/model.json' },
      '"cnnn/model.json"',
      ERROR,
      `cnnn/model.json does not exist (${path.join(workspace, 'cnnn', 'model.json')}); did you mean "cnn/model.json"?`,
      'model-missing',
    );
    await expectOne(
      { ...GOOD, model: 'notmodel/model.json' },
      '"notmodel/model.json"',
      ERROR,
      'notmodel/model.json is not a tfjs model: modelTopology is missing',
      'not-a-model',
    );
  });

  test('data whose shape does not match the model', async () => {
    await expectOne(
      { ...GOOD, model: 'color/model.json' },
      '"embedded"',
      ERROR,
      'the embedded images are 28×28×1 but color/model.json takes 32×32×3; add "resize": true (--resize) to ' +
        'resize them bilinearly, and add "channels": 3 (--channels 3) to convert them',
      'data-shape',
    );
    await expectOne(
      { ...GOOD, data: { id: 'cifar-like', n: 5 } },
      '"cifar-like"',
      ERROR,
      'the cifar-like images are 32×32×3 (IDX) but cnn/model.json takes 28×28×1; add "resize": true (--resize) ' +
        'to resize them bilinearly, and add "channels": 1 (--channels 1) to convert them',
      'data-shape',
    );
  });

  test('a softmax output is a warning', () =>
    expectOne(
      { ...GOOD, model: 'softmax-cnn/model.json' },
      '"softmax-cnn/model.json"',
      WARNING,
      'softmax-cnn/model.json ends in a softmax: attacks on probabilities saturate and mask gradients ' +
        '(cross-entropy of a confident point is flat). Export the logits (the layer before the softmax) ' +
        'for a trustworthy evaluation.',
      'softmax-output',
    ));

  test('distillation with T ≤ 1', () =>
    expectOne(
      { ...GOOD, training: { method: 'distill', epochs: 2, temperature: 1 } },
      '"temperature": 1',
      ERROR,
      'distillation needs a temperature T > 1 (Papernot et al. use 100); T = 1 is plain training on soft labels',
      'temperature',
      { delta: 15, length: 1 },
    ));

  test('schema errors: an unknown key with a suggestion, a missing key, a wrong type, a bad enum', async () => {
    await expectOne(
      { ...GOOD, threat: { norm: 'linf', eps: 0.1, epz: 2 } },
      '"epz"',
      ERROR,
      'unknown property "epz" in threat; did you mean "eps"?',
      'schema',
    );
    const missing = await diagnose(specText({ model: GOOD.model, data: GOOD.data, attacks: GOOD.attacks }));
    assert.deepEqual(
      missing.diagnostics.map((d) => [d.message, d.range.start]),
      [['the spec is missing "threat"', { line: 1, character: 0 }]],
    );
    await expectOne(
      { ...GOOD, data: { id: 'embedded', n: 'many' } },
      '"many"',
      ERROR,
      'data.n must be integer',
      'schema',
    );
    await expectOne(
      { ...GOOD, threat: { norm: 'linfinity', eps: 0.1 } },
      '"linfinity"',
      ERROR,
      'threat.norm: "linfinity" is not one of linf, l2',
      'schema',
    );
  });

  test('a syntax error names the problem at its offset', async () => {
    const text =
      '{\n  "model": "cnn/model.json",\n  "data": "embedded"\n' +
      '  "threat": {"norm": "linf", "eps": 0.1}, "attacks": ["fgsm"]\n}\n';
    const { diagnostics } = await diagnose(text);
    assert.deepEqual(
      diagnostics.map((d) => [d.code, d.message, d.range.start]),
      [['syntax', 'JSON syntax: comma expected', { line: 3, character: 2 }]],
    );
  });

  test('"did you mean" comes with a quick fix that replaces exactly the bad text', async () => {
    const { file, text, diagnostics } = await diagnose(
      specText({
        ...GOOD,
        model: 'cnnn/model.json',
        threat: { norm: 'linf', epz: 0.1, eps: 0.1 },
        attacks: ['pgdd:margin'],
      }),
    );
    assert.deepEqual(
      diagnostics.map((d) => d.code),
      ['model-missing', 'schema', 'unknown-attack'],
    );
    const actions = (await client.connection.sendRequest('textDocument/codeAction', {
      textDocument: { uri: uriOf(file) },
      range: diagnostics[0]!.range,
      context: { diagnostics },
    })) as Array<{
      title: string;
      kind: string;
      edit: { changes: Record<string, Array<{ range: Diagnostic['range']; newText: string }>> };
    }>;
    assert.deepEqual(
      actions.map((a) => [a.title, a.kind]),
      [
        ['Change to "cnn/model.json"', 'quickfix'],
        ['Change to "eps"', 'quickfix'],
        ['Change to "pgd:margin"', 'quickfix'],
      ],
    );
    const edits = actions.map((a) => a.edit.changes[uriOf(file)]![0]!);
    assert.deepEqual(
      edits.map((e) => e.range),
      [rangeOf(text, '"cnnn/model.json"'), rangeOf(text, '"epz"'), rangeOf(text, '"pgdd:margin"')],
    );
  });

  test('an edit re-checks the document (new version, new diagnostics)', async () => {
    const { file, text } = await diagnose(specText(GOOD));
    const edited = await client.change(file, text.replace('"eps": 0.1', '"eps": -1'));
    assert.deepEqual(
      edited.map((d) => d.code),
      ['eps-negative'],
    );
    assert.deepEqual(await client.change(file, text), []);
  });
});

describe('hover and completion', () => {
  test('hover on an attack shows its paper, update rule and defaults from the catalogue', async () => {
    const { file, text } = await diagnose(specText(GOOD));
    const hover = await client.hover(file, positionOf(text, '"pgd"', 2).line, positionOf(text, '"pgd"', 2).character);
    assert.ok(hover);
    assert.match(hover.contents.value, /^\*\*PGD\*\* \(`pgd`\) · white-box · L∞, L2/);
    assert.match(hover.contents.value, /Madry, Makelov, Schmidt, Tsipras & Vladu 2018/);
    assert.match(hover.contents.value, /x_\{t\+1\} = Π_\{B\(x,ε\)∩\[lo,hi\]\}/);
    assert.match(hover.contents.value, /Defaults: steps 10; α = 2\.5·ε\/steps/);
    assert.deepEqual(hover.range, rangeOf(text, '"pgd"'));
  });

  test('hover on ε gives pixel levels; on a key, its description', async () => {
    const { file, text } = await diagnose(specText(GOOD));
    const eps = positionOf(text, '"eps": 0.1', 8);
    assert.equal(
      (await client.hover(file, eps.line, eps.character))!.contents.value,
      '**ε = 0.1 = 25.5/255** pixel levels (L∞ on [0, 1]): every value may move by up to 25.5/255 of its range.',
    );
    const step = positionOf(text, '"stepSize": 0.01', 13);
    assert.match(
      (await client.hover(file, step.line, step.character))!.contents.value,
      /^\*\*α = 0\.01 = 2\.55\/255\*\*/,
    );
    const key = positionOf(text, '"norm"', 2);
    assert.equal((await client.hover(file, key.line, key.character))!.contents.value, '`norm`: linf (L∞) or l2.');
  });

  test('completion: attack ids, norms, data ids, keys and workspace model paths', async () => {
    const text = '{\n  "model": "",\n  "data": "",\n  "threat": { "norm": "", "eps": 0.1 },\n  "attacks": [""]\n}\n';
    const file = path.join(workspace, 'complete.robustness.json');
    await client.open(file, text);
    const labels = async (needle: string, delta: number) => {
      const p = positionOf(text, needle, delta);
      return (await client.completion(file, p.line, p.character)).map((c) => c.label);
    };
    assert.deepEqual(await labels('[""]', 2), ATTACK_IDS);
    assert.deepEqual(await labels('"norm": ""', 9), ['linf', 'l2']);
    assert.deepEqual(await labels('"data": ""', 9), ['embedded', 'fashion-mnist', 'cifar-like']);
    const models = await labels('"model": ""', 10);
    for (const m of ['cnn/model.json', 'binary/model.json', 'color/model.json'])
      assert.ok(models.includes(m), `${m} in ${models.join(', ')}`);
    // Keys of the threat object not yet present.
    const keyText = '{\n  "threat": { "norm": "linf",  }\n}\n';
    const keyFile = path.join(workspace, 'keys.robustness.json');
    await client.open(keyFile, keyText);
    const p = positionOf(keyText, '"linf", ', 8);
    assert.deepEqual(
      (await client.completion(keyFile, p.line, p.character)).map((c) => [c.label, c.textEdit?.newText]),
      [
        ['eps', '"eps": '],
        ['bounds', '"bounds": '],
      ],
    );
  });
});

describe('lenses', () => {
  test('a spec shows Run, then its last result once a run finishes (refresh without polling)', async () => {
    const file = path.join(workspace, 'lens.robustness.json');
    const text = specText({ ...GOOD, training: { method: 'pgd-at', epochs: 1 } });
    fs.writeFileSync(file, text);
    await client.open(file, text);
    const before = await client.codeLens(file);
    assert.deepEqual(
      before.map((l) => [l.command?.title, l.command?.command, l.range.start]),
      [
        ['$(play) Run', 'robustness.runSpec', { line: 1, character: 0 }],
        ['$(mortar-board) Train', 'robustness.trainSpec', { line: 1, character: 0 }],
      ],
    );
    assert.deepEqual(before[0]!.command!.arguments, [uriOf(file)]);

    const id = '20261125-120000-000-eval';
    const dir = path.join(workspace, '.robustness', 'runs', id);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(
      path.join(dir, 'run.json'),
      JSON.stringify({
        id,
        kind: 'evaluation',
        status: 'done',
        model: 'cnn/model.json',
        spec: 'lens.robustness.json',
        created: new Date(Date.now() - 200_000).toISOString(),
        finished: new Date(Date.now() - 120_000).toISOString(),
        summary: { cleanAccuracy: 0.84, robustAccuracy: 0.713, attack: 'PGD-20', norm: 'linf', eps: 0.1 },
      }),
    );
    const refreshes = client.lensRefreshes;
    await client.connection.sendNotification('robustness/runFinished', {
      runId: id,
      folder: workspace,
      status: 'done',
    });
    const deadline = Date.now() + 3000;
    while (client.lensRefreshes === refreshes && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(client.lensRefreshes, refreshes + 1, 'the server asked the client to refresh its lenses');
    const afterRun = await client.codeLens(file);
    assert.deepEqual(
      afterRun.map((l) => l.command?.title),
      ['$(play) Run', '$(mortar-board) Train', 'robust 71.3% (PGD-20, ε=0.1) · clean 84.0% · 2 min ago'],
    );
    assert.deepEqual(afterRun[2]!.command!.arguments, [id, workspace]);
    assert.equal(afterRun[2]!.command!.command, 'robustness.openRun');
    // Hovering the model path: its summary and that last result.
    const at = positionOf(text, '"cnn/model.json"', 3);
    assert.equal(
      (await client.hover(file, at.line, at.character))!.contents.value,
      '**cnn/model.json** · Layers model · 28×28×1 → 10 classes · linear output\n\n' +
        'Last result: robust 71.3% (PGD-20, ε=0.1) · clean 84.0% · 2 min ago',
    );

    // A source file naming that model shows the same result; one naming a model without runs, "Attack".
    const py = path.join(workspace, 'train.py');
    const source =
      'import json\nmodel_path = "cnn/model.json"\nother = \'file://binary/model.json\'\nmissing = "nope/model.json"\n';
    await client.open(py, source, 'python');
    const lenses = await client.codeLens(py);
    assert.deepEqual(
      lenses.map((l) => [l.range.start.line, l.command?.title, l.command?.command]),
      [
        [1, 'robust 71.3% (PGD-20, ε=0.1) · clean 84.0% · 2 min ago', 'robustness.openRun'],
        [2, '$(shield) Attack (no robustness result yet)', 'robustness.attackPath'],
      ],
    );
    assert.deepEqual(lenses[1]!.command!.arguments, [path.join(workspace, 'binary', 'model.json')]);
    assert.deepEqual(lenses[0]!.range, rangeOf(source, '"cnn/model.json"'));
  });

  test('a broken run folder never breaks the lenses', async () => {
    const dir = path.join(workspace, '.robustness', 'runs', '20261125-130000-000-eval');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'run.json'), '{"id": "20261125-13');
    await client.connection.sendNotification('robustness/runFinished', {
      runId: '20261125-130000-000-eval',
      folder: workspace,
      status: 'failed',
    });
    await new Promise((r) => setTimeout(r, 150));
    const lenses = await client.codeLens(path.join(workspace, 'train.py'));
    assert.equal(lenses.length, 2);
  });
});

type Action = {
  title: string;
  kind: string;
  isPreferred?: boolean;
  edit: { changes: Record<string, Array<{ range: Diagnostic['range']; newText: string }>> };
};

async function codeActions(file: string, diagnostics: Diagnostic[]): Promise<Action[]> {
  return (await client.connection.sendRequest('textDocument/codeAction', {
    textDocument: { uri: uriOf(file) },
    range: diagnostics[0]!.range,
    context: { diagnostics },
  })) as Action[];
}

describe('issue 16: quick fixes, commas, source paths', () => {
  test('a negative ε offers its absolute value and the default, each replacing exactly the number', async () => {
    const { file, text, diagnostics } = await diagnose(specText({ ...GOOD, threat: { norm: 'linf', eps: -0.25 } }));
    assert.deepEqual(
      diagnostics.map((d) => d.code),
      ['eps-negative'],
    );
    const actions = await codeActions(file, diagnostics);
    assert.deepEqual(
      actions.map((a) => [a.title, a.kind, a.isPreferred]),
      [
        ['Use ε = 0.25', 'quickfix', true],
        ['Use the default ε = 0.1', 'quickfix', false],
      ],
    );
    for (const [action, newText] of [
      [actions[0]!, '0.25'],
      [actions[1]!, '0.1'],
    ] as const)
      assert.deepEqual(action.edit.changes[uriOf(file)], [{ range: rangeOf(text, '-0.25'), newText }]);
    // Applying the first fix clears the diagnostic.
    assert.deepEqual(await client.change(file, text.replace('-0.25', '0.25')), []);
  });

  test('ε fixes that would not pass are not offered; -0.1 offers one; training falls back to the threat ε', async () => {
    const titles = async (value: unknown) => {
      const { file, diagnostics } = await diagnose(specText(value));
      const negative = diagnostics.filter((d) => d.code === 'eps-negative');
      return (await codeActions(file, negative)).map((a) => [a.title, a.edit.changes[uriOf(file)]![0]!.newText]);
    };
    assert.deepEqual(await titles({ ...GOOD, threat: { norm: 'linf', eps: -0.1 } }), [['Use ε = 0.1', '0.1']]);
    // |ε| = 2 exceeds the [0, 1] box: only the default.
    assert.deepEqual(await titles({ ...GOOD, threat: { norm: 'linf', eps: -2 } }), [
      ['Use the default ε = 0.1', '0.1'],
    ]);
    assert.deepEqual(
      await titles({
        ...GOOD,
        threat: { norm: 'linf', eps: 0.05 },
        training: { method: 'pgd-at', epochs: 1, eps: -0.3 },
      }),
      [
        ['Use ε = 0.3', '0.3'],
        ["Use the threat's ε = 0.05", '0.05'],
      ],
    );
  });

  test('completing an attack id adds the comma the JSON needs, and never a second one', async () => {
    const complete = async (marked: string) => {
      const text = marked.replace('|', '');
      const file = path.join(workspace, `comma-${++counter}.robustness.json`);
      await client.open(file, text);
      const at = positionOf(marked, '|');
      const item = (await client.completion(file, at.line, at.character)).find((c) => c.label === 'fgsm')!;
      assert.ok(item, `fgsm is offered in ${marked}`);
      return [item.textEdit!.newText, item.additionalTextEdits ?? []];
    };
    const at = (line: number, character: number) => ({
      start: { line, character },
      end: { line, character },
    });
    // Before another item: the comma after the inserted id.
    assert.deepEqual(await complete('{\n  "attacks": [| "pgd"]\n}\n'), ['"fgsm",', []]);
    // Last, after an item without a comma: one after that item.
    assert.deepEqual(await complete('{\n  "attacks": ["pgd" |]\n}\n'), [
      '"fgsm"',
      [{ range: at(1, 19), newText: ',' }],
    ]);
    // On its own line after a commented item.
    assert.deepEqual(await complete('{\n  "attacks": [\n    "pgd" // strongest\n    |\n  ]\n}\n'), [
      '"fgsm"',
      [{ range: at(2, 9), newText: ',' }],
    ]);
    // Commas already present on both sides: none added.
    assert.deepEqual(await complete('{\n  "attacks": ["pgd", |, "apgd"]\n}\n'), ['"fgsm"', []]);
    assert.deepEqual(await complete('{\n  "attacks": ["pgd", |]\n}\n'), ['"fgsm"', []]);
    // In the middle, replacing a partly typed id that another follows.
    assert.deepEqual(await complete('{\n  "attacks": ["pgd", "fg|" "apgd"]\n}\n'), ['"fgsm",', []]);
    // An object's id with more properties after it.
    assert.deepEqual(await complete('{\n  "attacks": [{ "id": | "steps": 5 }]\n}\n'), ['"fgsm",', []]);
  });

  test('a Python file in a subfolder: its model path resolves against its folder; a missing one is a Hint', async () => {
    const dir = path.join(workspace, 'examples', 'fashion-mnist');
    fs.mkdirSync(path.join(dir, 'smallcnn'), { recursive: true });
    fs.copyFileSync(path.join(workspace, 'cnn', 'model.json'), path.join(dir, 'smallcnn', 'model.json'));
    const py = path.join(dir, 'relative_model.py');
    const source = 'model_path = "smallcnn/model.json"\nother = "missing/model.json"\n';
    const diagnostics = (await client.open(py, source, 'python'))!;
    assert.deepEqual(diagnostics, [
      {
        range: rangeOf(source, 'missing/model.json'),
        severity: 4,
        message:
          'no such model: missing/model.json (looked for examples/fashion-mnist/missing/model.json, ' +
          'missing/model.json)',
        code: 'model-missing',
        source: 'robustness',
      },
    ]);
    const lenses = await client.codeLens(py);
    assert.deepEqual(
      lenses.map((l) => [l.range, l.command?.title, l.command?.arguments]),
      [
        [
          rangeOf(source, '"smallcnn/model.json"'),
          '$(shield) Attack (no robustness result yet)',
          [path.join(dir, 'smallcnn', 'model.json')],
        ],
      ],
    );
    // Creating the model turns the hint into a lens (the watcher's event re-checks open files).
    fs.mkdirSync(path.join(dir, 'missing'));
    fs.copyFileSync(path.join(workspace, 'cnn', 'model.json'), path.join(dir, 'missing', 'model.json'));
    const cleared = new Promise<Diagnostic[]>((resolve) => {
      const poll = () => {
        const now = client.diagnostics.get(uriOf(py));
        if (now?.length === 0) resolve(now);
        else setTimeout(poll, 10);
      };
      poll();
    });
    await client.connection.sendNotification('workspace/didChangeWatchedFiles', {
      changes: [{ uri: uriOf(path.join(dir, 'missing', 'model.json')), type: 1 }],
    });
    assert.deepEqual(await cleared, []);
    assert.equal((await client.codeLens(py)).length, 2);
    await client.close(py);
  });

  test('multi-root: a folder added later brings its models and its run store', async () => {
    const first = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-lsp-a-'));
    const second = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-lsp-b-'));
    const multi = new LspClient();
    try {
      await multi.initialize([first]);
      const model = path.join(second, 'models', 'cnn', 'model.json');
      fs.mkdirSync(path.dirname(model), { recursive: true });
      fs.copyFileSync(path.join(workspace, 'cnn', 'model.json'), model);
      const id = '20261201-110000-000-eval';
      fs.mkdirSync(path.join(second, '.robustness', 'runs', id), { recursive: true });
      fs.writeFileSync(
        path.join(second, '.robustness', 'runs', id, 'run.json'),
        JSON.stringify({
          id,
          kind: 'evaluation',
          status: 'done',
          model: 'models/cnn/model.json',
          created: new Date(Date.now() - 200_000).toISOString(),
          finished: new Date(Date.now() - 120_000).toISOString(),
          summary: { cleanAccuracy: 0.9, robustAccuracy: 0.4, attack: 'PGD-20', norm: 'linf', eps: 0.1 },
        }),
      );
      const py = path.join(first, 'use.py');
      const source = 'path = "models/cnn/model.json"\n';
      const hint = (await multi.open(py, source, 'python'))!;
      assert.deepEqual(
        hint.map((d) => d.severity),
        [4],
      );
      assert.deepEqual(await multi.codeLens(py), []);
      await multi.connection.sendNotification('workspace/didChangeWorkspaceFolders', {
        event: { added: [{ uri: uriOf(second), name: 'b' }], removed: [] },
      });
      const deadline = Date.now() + 3000;
      while (multi.diagnostics.get(uriOf(py))?.length !== 0 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(multi.diagnostics.get(uriOf(py)), []);
      const lenses = await multi.codeLens(py);
      assert.deepEqual(
        lenses.map((l) => [l.command?.title, l.command?.arguments]),
        [['robust 40.0% (PGD-20, ε=0.1) · clean 90.0% · 2 min ago', [id, second]]],
      );
    } finally {
      await multi.stop();
      fs.rmSync(first, { recursive: true, force: true });
      fs.rmSync(second, { recursive: true, force: true });
    }
  });
});

test('lens titles: a training run reads as in the Runs view; errors are clipped to one line', () => {
  const now = Date.parse('2026-12-01T12:00:00.000Z');
  const base = {
    id: 'r',
    kind: 'training' as const,
    model: 'm/model.json',
    created: '2026-12-01T11:58:00.000Z',
    config: { method: 'pgd-at' },
  };
  const progress = { epoch: 2, epochs: 4, clean: 0.8, robust: 0.4, etaSeconds: 30 };
  assert.equal(
    resultTitle({ ...base, status: 'running', progress }, now),
    '$(sync~spin) pgd-at · epoch 2/4 · ETA 30 s · clean 80.0% · robust 40.0%',
  );
  assert.equal(
    resultTitle({ ...base, status: 'done', progress: { ...progress, epoch: 4 } }, now),
    'pgd-at · epoch 4/4 · clean 80.0% · robust 40.0% · 2 min ago',
  );
  const error = `out of memory ${'x'.repeat(100)}`;
  assert.equal(
    resultTitle({ ...base, status: 'failed', error }, now),
    `pgd-at · failed: ${error.slice(0, 80)} · 2 min ago`,
  );
  assert.equal(
    resultTitle({ ...base, kind: 'evaluation', status: 'failed', error }, now),
    `last run failed: ${error.slice(0, 80)} · 2 min ago`,
  );
});
