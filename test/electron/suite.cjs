// Runs inside VS Code's extension host (test-electron's extensionTestsPath): attack the example
// model through the command and check the run the extension stored.
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
};
