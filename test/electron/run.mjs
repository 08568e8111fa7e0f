// The same extension in desktop VS Code through @vscode/test-electron, for machines where VS Code
// can be downloaded or is installed (VSCODE_EXECUTABLE=/path/to/code). These machines cannot
// download it; test/e2e/ (code-server + Chromium) is the real-editor suite that runs here and in CI.
import { runTests } from '@vscode/test-electron';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-electron-'));
const model = path.join(workspace, 'examples', 'fashion-mnist', 'smallcnn');
fs.mkdirSync(model, { recursive: true });
for (const f of ['model.json', 'weights.bin'])
  fs.copyFileSync(path.join(ROOT, 'examples', 'fashion-mnist', 'smallcnn', f), path.join(model, f));
fs.copyFileSync(
  path.join(ROOT, 'examples', 'fashion-mnist', 'smallcnn.robustness.json'),
  path.join(workspace, 'examples', 'fashion-mnist', 'smallcnn.robustness.json'),
);
fs.mkdirSync(path.join(workspace, '.vscode'));
fs.writeFileSync(path.join(workspace, '.vscode', 'settings.json'), JSON.stringify({ 'robustness.samples': 200 }));

try {
  await runTests({
    version: process.env.VSCODE_VERSION || '1.100.0',
    ...(process.env.VSCODE_EXECUTABLE ? { vscodeExecutablePath: process.env.VSCODE_EXECUTABLE } : {}),
    extensionDevelopmentPath: ROOT,
    extensionTestsPath: path.join(ROOT, 'test', 'electron', 'suite.cjs'),
    launchArgs: [workspace, '--disable-extensions', '--disable-workspace-trust'],
  });
  console.log('electron: 2 passed, 0 failed');
} catch (err) {
  console.error('electron: the run failed:', err);
  process.exit(1);
}
