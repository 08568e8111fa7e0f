// One build context per entry point; `node esbuild.mjs --watch` rebuilds on change.
import * as esbuild from 'esbuild';
import * as fs from 'node:fs';
import * as path from 'node:path';

const watch = process.argv.includes('--watch');
const production = process.argv.includes('--production');
const { version } = JSON.parse(fs.readFileSync('package.json', 'utf8'));
// The version is written once, in package.json; src/protocol/report.ts reads it from this define.
const common = {
  bundle: true,
  sourcemap: !production,
  minify: production,
  logLevel: 'warning',
  define: { ROBUSTNESS_LAB_VERSION: JSON.stringify(version) },
};

/** A Node bundle (CommonJS; ESM entry points of dependencies first). */
const node = (entry, outfile, extra = {}) => ({
  ...common,
  entryPoints: [entry],
  outfile,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  // ESM entry points first: jsonc-parser's UMD build requires './impl/…' at run time,
  // which a bundle cannot resolve.
  mainFields: ['module', 'main'],
  ...extra,
});

/** A webview bundle: one minified script per page. */
const browser = (entry, outfile) => ({
  ...common,
  entryPoints: [entry],
  outfile,
  platform: 'browser',
  target: 'es2022',
  format: 'iife',
  sourcemap: false,
  minify: true,
});

const contexts = [
  // The CLI: engine + commander. tfjs-node stays external: it is optional and resolved at run time.
  node('src/cli/main.ts', 'dist/cli.js', {
    external: ['@tensorflow/tfjs-node'],
    banner: { js: '#!/usr/bin/env node' },
  }),
  // The engine worker thread (used by the CLI's --workers and by the extension host).
  node('src/worker/engine-worker.ts', 'dist/worker.js', { external: ['@tensorflow/tfjs-node'] }),
  // The extension host: vscode is provided by the editor; the engine runs in dist/worker.js.
  node('src/extension/extension.ts', 'dist/extension.js', { external: ['vscode'] }),
  // The language server (a separate Node process started by vscode-languageclient; no tfjs).
  node('src/server/server.ts', 'dist/server.js'),
  // The language server's describe worker: reads model files and data folders off the server's thread.
  node('src/server/describe-worker.ts', 'dist/describe-worker.js'),
  // The attack panel's front end (vscode-elements, Chart.js and the report renderer).
  browser('webview/attack-panel/main.ts', 'dist/webview/attack-panel.js'),
  // The training panel's front end.
  browser('webview/training/main.ts', 'dist/webview/training.js'),
  // The report renderer, shared by report.html and the editor's panels.
  browser('webview/report/standalone.ts', 'dist/webview/report.js'),
];

function copyAssets() {
  // The wasm backend loads its binaries from next to the bundle (initBackend calls setWasmPaths there).
  const wasmDir = path.join('node_modules', '@tensorflow', 'tfjs-backend-wasm', 'dist');
  for (const file of fs.readdirSync(wasmDir).filter((f) => f.endsWith('.wasm'))) {
    fs.copyFileSync(path.join(wasmDir, file), path.join('dist', file));
  }
  // Our native kernels (native/kernels.c, built by scripts/build-kernels.sh), found next to the
  // bundle by src/engine/kernels/native.ts: the CLI, the worker and the extension's worker.
  fs.copyFileSync('native/kernels.wasm', 'dist/robustness-kernels.wasm');
  fs.mkdirSync('dist/webview', { recursive: true });
  fs.copyFileSync('webview/report/report.css', 'dist/webview/report.css');
  // Contributed through jsonValidation, so the editor's JSON support knows the spec format too.
  fs.copyFileSync('src/protocol/experiment-spec-schema.json', 'dist/robustness-spec.schema.json');
  fs.copyFileSync('src/protocol/preprocess-schema.json', 'dist/preprocess.schema.json');
}

fs.mkdirSync('dist', { recursive: true });
const built = await Promise.all(contexts.map((options) => esbuild.context(options)));
if (watch) {
  copyAssets();
  await Promise.all(built.map((ctx) => ctx.watch()));
} else {
  await Promise.all(built.map((ctx) => ctx.rebuild()));
  await Promise.all(built.map((ctx) => ctx.dispose()));
  copyAssets();
  fs.chmodSync('dist/cli.js', 0o755);
}
