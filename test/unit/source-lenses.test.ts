/**
 * Source-file lenses and hints without a server: a model string resolves against the file's own
 * folder, then each workspace folder, and meets its run in whichever folder the workspace is
 * opened at (the repository, examples/, examples/fashion-mnist/, several roots, through a link);
 * a model-looking string that names no file gets a hint saying where it was looked for.
 */
import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  cellNotebookScheme,
  collectRuns,
  documentPath,
  modelReferences,
  resolveReference,
  sourceHints,
  sourceLenses,
  type Lens,
} from '../../src/server/lenses';
import { RunStore, type RunRecord } from '../../src/store/runs';
import { LspClient, type CodeLens } from './lsp-client';

const ROOT = path.join(__dirname, '..', '..');
const NOW = Date.parse('2026-12-01T12:00:00.000Z');
const ATTACK = '$(shield) Attack (no robustness result yet)';

let tmp: string;
let repo: string;
let exampleDir: string;
let modelFile: string;
let script: string;
const SCRIPT = 'import json\nmodel_path = "smallcnn/model.json"\nmissing = "missing/model.json"\n';

before(() => {
  tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'rl-source-lenses-')));
  repo = path.join(tmp, 'repo');
  exampleDir = path.join(repo, 'examples', 'fashion-mnist');
  modelFile = path.join(exampleDir, 'smallcnn', 'model.json');
  fs.mkdirSync(path.dirname(modelFile), { recursive: true });
  fs.copyFileSync(path.join(ROOT, 'examples', 'fashion-mnist', 'smallcnn', 'model.json'), modelFile);
  script = path.join(exampleDir, 'relative_model.py');
  fs.writeFileSync(script, SCRIPT);
});

after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A finished evaluation in `folder`'s run store, its model written as the store writes it (folder-relative). */
function recordRun(folder: string, id: string, model: string, robust: number): void {
  const record: RunRecord = {
    id,
    kind: 'evaluation',
    status: 'done',
    model: path.relative(folder, model).split(path.sep).join('/'),
    created: new Date(NOW - 200_000).toISOString(),
    finished: new Date(NOW - 120_000).toISOString(),
    summary: { cleanAccuracy: 0.902, robustAccuracy: robust, attack: 'PGD-20', norm: 'linf', eps: 0.1 },
  };
  new RunStore(folder).create(record);
}

const shown = (lenses: Lens[]) => lenses.map((l) => [l.command.title, l.command.command, l.command.arguments]);

describe('a source file names its model relative to its own folder', () => {
  const workspaces = [
    ['the repository', () => repo, 'examples/fashion-mnist/smallcnn/model.json'],
    ['examples/', () => path.join(repo, 'examples'), 'fashion-mnist/smallcnn/model.json'],
    ['examples/fashion-mnist/', () => exampleDir, 'smallcnn/model.json'],
  ] as const;
  for (const [name, folderOf, stored] of workspaces) {
    test(`workspace at ${name}: Attack with the absolute path, then the run's result`, () => {
      const folder = folderOf();
      const lensesBefore = sourceLenses(SCRIPT, script, [folder], collectRuns([folder]), NOW);
      assert.deepEqual(shown(lensesBefore), [[ATTACK, 'robustness.attackPath', [modelFile]]]);
      assert.deepEqual(
        [lensesBefore[0]!.start, lensesBefore[0]!.end],
        [SCRIPT.indexOf('"smallcnn'), SCRIPT.indexOf('"smallcnn') + '"smallcnn/model.json"'.length],
      );
      const id = `20261201-115600-00${workspaces.findIndex((w) => w[0] === name)}-eval`;
      recordRun(folder, id, modelFile, 0.25);
      const runs = collectRuns([folder]);
      assert.equal(runs[0]!.record.model, stored, 'the store keeps the path relative to its workspace folder');
      assert.deepEqual(shown(sourceLenses(SCRIPT, script, [folder], runs, NOW)), [
        ['robust 25.0% (PGD-20, ε=0.1) · clean 90.2% · 2 min ago', 'robustness.openRun', [id, folder]],
      ]);
      // The missing model is a hint, not a lens, wherever the workspace is.
      assert.equal(sourceHints(SCRIPT, script, [folder]).length, 1);
    });
  }

  test('the shipped example names its model relative to its own folder', () => {
    const text = fs.readFileSync(path.join(ROOT, 'examples', 'fashion-mnist', 'inspect_model.py'), 'utf8');
    assert.deepEqual(
      modelReferences(text).map((r) => r.text),
      ['smallcnn/model.json'],
    );
    const lenses = sourceLenses(text, script, [path.join(repo, 'examples')], [], NOW);
    assert.deepEqual(shown(lenses), [[ATTACK, 'robustness.attackPath', [modelFile]]]);
  });

  test("the file's folder comes before the workspace folders; a workspace-relative path still resolves", () => {
    const decoy = path.join(repo, 'smallcnn', 'model.json');
    fs.mkdirSync(path.dirname(decoy), { recursive: true });
    fs.writeFileSync(decoy, '{}');
    try {
      assert.equal(resolveReference('smallcnn/model.json', [repo], exampleDir), modelFile);
      assert.equal(resolveReference('examples/fashion-mnist/smallcnn/model.json', [repo], exampleDir), modelFile);
      assert.equal(resolveReference('nope/model.json', [repo], exampleDir), undefined);
    } finally {
      fs.rmSync(path.dirname(decoy), { recursive: true });
    }
  });

  test('multi-root: a path found in the second folder shows that folder’s run', () => {
    const first = path.join(tmp, 'scripts-root');
    const second = path.join(tmp, 'models-root');
    const model = path.join(second, 'models', 'cnn', 'model.json');
    fs.mkdirSync(path.dirname(model), { recursive: true });
    fs.copyFileSync(modelFile, model);
    const file = path.join(first, 'tools', 'use.py');
    const text = 'path = "models/cnn/model.json"\n';
    assert.deepEqual(shown(sourceLenses(text, file, [first, second], collectRuns([first, second]), NOW)), [
      [ATTACK, 'robustness.attackPath', [model]],
    ]);
    recordRun(second, '20261201-115700-000-eval', model, 0.5);
    assert.deepEqual(shown(sourceLenses(text, file, [first, second], collectRuns([first, second]), NOW)), [
      [
        'robust 50.0% (PGD-20, ε=0.1) · clean 90.2% · 2 min ago',
        'robustness.openRun',
        ['20261201-115700-000-eval', second],
      ],
    ]);
    assert.deepEqual(
      sourceHints('gone = "models/gone/model.json"\n', file, [first, second]).map((h) => h.message),
      [
        'no such model: models/gone/model.json (looked for scripts-root/tools/models/gone/model.json, ' +
          'scripts-root/models/gone/model.json, models-root/models/gone/model.json)',
      ],
    );
  });

  test('a workspace opened through a link meets the runs recorded under the real path', () => {
    const link = path.join(tmp, 'examples-link');
    fs.symlinkSync(path.join(repo, 'examples'), link, 'dir');
    const real = path.join(repo, 'examples');
    const viaLink = path.join(link, 'fashion-mnist', 'relative_model.py');
    // The run store holds the run recorded above with the workspace at examples/ (robust 25.0%).
    const lenses = sourceLenses(SCRIPT, viaLink, [real], collectRuns([real]), NOW);
    assert.deepEqual(
      lenses.map((l) => l.command.title),
      ['robust 25.0% (PGD-20, ε=0.1) · clean 90.2% · 2 min ago'],
    );
  });
});

describe('a model-looking string that names no file', () => {
  test('gets a hint on the path inside the quotes, saying where it was looked for', () => {
    const hints = sourceHints(SCRIPT, script, [repo]);
    const start = SCRIPT.indexOf('missing/model.json');
    assert.deepEqual(hints, [
      {
        start,
        end: start + 'missing/model.json'.length,
        message:
          'no such model: missing/model.json (looked for examples/fashion-mnist/missing/model.json, ' +
          'missing/model.json)',
      },
    ]);
  });

  test('interpolations, prose, URLs and bare file names are not paths to check; an existing file has no hint', () => {
    const text = [
      'a = f"{root}/model.json"',
      'b = `${dir}/model.json`',
      'c = "see the model.json"',
      "d = 'https://example.org/cnn/model.json'",
      'e = "smallcnn/model.json"',
      `f = "${modelFile}"`,
      "g = 'file://smallcnn/model.json'",
      "weights = os.path.join(out_dir, 'model.json')",
      '',
    ].join('\n');
    assert.deepEqual(sourceHints(text, script, [repo]), []);
    const absolute = `h = "${path.join(tmp, 'nowhere', 'model.json')}"\n`;
    assert.deepEqual(
      sourceHints(absolute, script, [repo]).map((h) => h.message),
      [
        `no such model: ${path.join(tmp, 'nowhere', 'model.json')} (looked for ${path.join(tmp, 'nowhere', 'model.json')})`,
      ],
    );
  });
});

describe('an ONNX model named by torch.onnx.export, in a Python file and in a notebook cell', () => {
  const EXPORT = 'import torch\n\ntorch.onnx.export(model, x, "models/cnn.onnx", opset_version=13)\n';
  let onnxRepo: string;
  let onnxModel: string;

  before(() => {
    onnxRepo = path.join(tmp, 'torch-project');
    onnxModel = path.join(onnxRepo, 'models', 'cnn.onnx');
    fs.mkdirSync(path.dirname(onnxModel), { recursive: true });
    fs.copyFileSync(path.join(ROOT, 'test', 'fixtures', 'onnx', 'cnn.onnx'), onnxModel);
  });

  test('the export line gets "Attack" on the quoted path, then the run of that model', () => {
    const file = path.join(onnxRepo, 'train.py');
    const lenses = sourceLenses(EXPORT, file, [onnxRepo], collectRuns([onnxRepo]), NOW);
    assert.deepEqual(shown(lenses), [[ATTACK, 'robustness.attackPath', [onnxModel]]]);
    const start = EXPORT.indexOf('"models/cnn.onnx"');
    assert.equal(start, 42);
    assert.deepEqual([lenses[0]!.start, lenses[0]!.end], [start, start + '"models/cnn.onnx"'.length]);
    recordRun(onnxRepo, '20261201-115800-000-eval', onnxModel, 0.216);
    assert.deepEqual(shown(sourceLenses(EXPORT, file, [onnxRepo], collectRuns([onnxRepo]), NOW)), [
      [
        'robust 21.6% (PGD-20, ε=0.1) · clean 90.2% · 2 min ago',
        'robustness.openRun',
        ['20261201-115800-000-eval', onnxRepo],
      ],
    ]);
    // The same line with the file missing is a hint naming where it was looked for, not a lens.
    const missing = EXPORT.replace('models/cnn.onnx', 'models/gone.onnx');
    assert.deepEqual(sourceLenses(missing, file, [onnxRepo], [], NOW), []);
    assert.deepEqual(
      sourceHints(missing, file, [onnxRepo]).map((h) => h.message),
      ['no such model: models/gone.onnx (looked for models/gone.onnx)'],
    );
  });

  test("a notebook cell's URI names the notebook: its folder is where the cell's paths resolve", () => {
    const notebook = path.join(onnxRepo, 'notebooks', 'my experiments.ipynb');
    const cell = `vscode-notebook-cell:${pathToFileURL(notebook).pathname}#W2sZmlsZQ%3D%3D`;
    assert.equal(documentPath(cell), notebook);
    assert.equal(documentPath(pathToFileURL(notebook).href), notebook);
    assert.equal(documentPath('untitled:Untitled-1'), 'untitled:Untitled-1');
    // A notebook opened through code-server or SSH: the cell carries the remote's name, which is no file server.
    const remote = `vscode-notebook-cell://127.0.0.1:18547${pathToFileURL(notebook).pathname}#W1sdnNjb2RlLXJlbW90ZQ`;
    assert.equal(cellNotebookScheme('#W1sdnNjb2RlLXJlbW90ZQ'), 'vscode-remote');
    assert.equal(cellNotebookScheme('#W1sZmlsZQ%3D%3D'), 'file');
    assert.equal(cellNotebookScheme('#Wab'), undefined);
    assert.equal(documentPath(remote), notebook);
    const text = 'torch.onnx.export(model, x, "../models/cnn.onnx")\n';
    const lenses = sourceLenses(text, documentPath(cell), [path.join(tmp, 'elsewhere')], [], NOW);
    assert.deepEqual(shown(lenses), [[ATTACK, 'robustness.attackPath', [onnxModel]]]);
    assert.deepEqual([lenses[0]!.start, lenses[0]!.end], [28, 28 + '"../models/cnn.onnx"'.length]);
  });

  describe('over LSP (dist/server.js): a Python cell of a notebook gets the lens, a markdown cell none', () => {
    let client: LspClient;
    let project: string;
    let model: string;
    before(async () => {
      project = path.join(tmp, 'notebook-project');
      model = path.join(project, 'models', 'cnn.onnx');
      fs.mkdirSync(path.dirname(model), { recursive: true });
      fs.copyFileSync(onnxModel, model);
      client = new LspClient();
      await client.initialize(project);
    });
    after(() => client.stop());

    const open = async (uri: string, languageId: string, text: string) => {
      await client.connection.sendNotification('textDocument/didOpen', {
        textDocument: { uri, languageId, version: 1, text },
      });
      return client.connection.sendRequest<CodeLens[]>('textDocument/codeLens', { textDocument: { uri } });
    };

    test('cell lenses resolve against the notebook folder and name the model by its absolute path', async () => {
      const notebook = path.join(project, 'notebooks', 'train.ipynb');
      const base = `vscode-notebook-cell:${pathToFileURL(notebook).pathname}`;
      const code = 'x = torch.zeros(1, 1, 28, 28)\ntorch.onnx.export(model, x, "../models/cnn.onnx")\n';
      const lenses = await open(`${base}#W1sZmlsZQ%3D%3D`, 'python', code);
      assert.deepEqual(
        lenses.map((l) => [l.range, l.command?.title, l.command?.command, l.command?.arguments]),
        [
          [
            { start: { line: 1, character: 28 }, end: { line: 1, character: 48 } },
            ATTACK,
            'robustness.attackPath',
            [model],
          ],
        ],
      );
      assert.deepEqual(await open(`${base}#W2sZmlsZQ%3D%3D`, 'markdown', 'See "../models/cnn.onnx".\n'), []);
      // The same text in a Python file at the workspace root names nothing (no models/ above the root).
      const py = path.join(project, 'export.py');
      assert.deepEqual(await open(pathToFileURL(py).href, 'python', code), []);
      assert.deepEqual(
        await open(pathToFileURL(py).href.replace('export.py', 'ok.py'), 'python', code.replace('../', '')),
        [
          {
            range: { start: { line: 1, character: 28 }, end: { line: 1, character: 45 } },
            command: { title: ATTACK, command: 'robustness.attackPath', arguments: [model] },
          },
        ],
      );
    });
  });
});
