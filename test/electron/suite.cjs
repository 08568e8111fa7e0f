// Runs inside VS Code's extension host (test-electron's extensionTestsPath): attack the example
// model through the command and check the run the extension stored; then the example spec through
// the language server (diagnostics, hover, lenses, Run).
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const vscode = require('vscode');

exports.run = async function run() {
  const folder = vscode.workspace.workspaceFolders[0].uri.fsPath;
  const model = vscode.Uri.file(path.join(folder, 'examples', 'fashion-mnist', 'smallcnn', 'model.json'));
  const extension = vscode.extensions.getExtension('robustness-lab.robustness-lab');
  assert.ok(extension, 'extension not found');
  await vscode.commands.executeCommand('robustness.attack', model);
  const runs = path.join(folder, '.robustness', 'runs');
  const ids = fs.readdirSync(runs);
  assert.equal(ids.length, 1);
  const run = JSON.parse(fs.readFileSync(path.join(runs, ids[0], 'run.json'), 'utf8'));
  assert.equal(run.status, 'done', run.error);
  const report = JSON.parse(fs.readFileSync(path.join(runs, ids[0], 'report.json'), 'utf8'));
  assert.ok(report.robust_accuracy < report.clean_accuracy);
  assert.ok(report.examples.length >= 16);
  assert.ok(report.curve.length >= 5);
  await specThroughTheLanguageServer(folder);
};

async function until(what, probe, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function specThroughTheLanguageServer(folder) {
  const uri = vscode.Uri.file(path.join(folder, 'examples', 'fashion-mnist', 'smallcnn.robustness.json'));
  const doc = await vscode.workspace.openTextDocument(uri);
  const editor = await vscode.window.showTextDocument(doc);
  const text = doc.getText();
  const lensTitles = async () =>
    ((await vscode.commands.executeCommand('vscode.executeCodeLensProvider', uri)) ?? []).map(
      (l) => l.command?.title ?? '',
    );
  await until('the Run lens', async () => (await lensTitles()).some((t) => t.includes('Run')));
  // A bad ε: exactly the server's error on the value.
  const at = text.indexOf('"eps": 0.1') + '"eps": '.length;
  await editor.edit((e) => e.insert(doc.positionAt(at), '-'));
  const diagnostic = await until('the ε diagnostic', () =>
    vscode.languages.getDiagnostics(uri).find((d) => d.source === 'robustness'),
  );
  assert.equal(diagnostic.message, 'threat.eps must be ≥ 0 (it is a radius); got -0.1');
  assert.equal(diagnostic.severity, vscode.DiagnosticSeverity.Error);
  assert.equal(doc.offsetAt(diagnostic.range.start), at);
  await vscode.commands.executeCommand('undo');
  await until(
    'the diagnostic to clear',
    () => !vscode.languages.getDiagnostics(uri).some((d) => d.source === 'robustness'),
  );
  // Hover on "pgd": the catalogue's doc.
  const hovers = await vscode.commands.executeCommand(
    'vscode.executeHoverProvider',
    uri,
    doc.positionAt(text.indexOf('"pgd"') + 2),
  );
  const hoverText = hovers.flatMap((h) => h.contents.map((c) => (typeof c === 'string' ? c : c.value))).join('\n');
  assert.match(hoverText, /Madry, Makelov, Schmidt, Tsipras & Vladu 2018/);
  // Run: the lens becomes a result.
  await vscode.commands.executeCommand('robustness.runSpec', uri);
  const titles = await until('the result lens', async () => {
    const t = await lensTitles();
    return t.some((x) => /^robust \d+\.\d% \(PGD-20, ε=0\.1\) · clean \d+\.\d%/.test(x)) && t;
  });
  assert.ok(titles.includes('$(play) Run'));
}
