/** The dependency rule (design.md §1): engine and protocol import no editor, no DOM, nothing of ours above them. */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';

const SRC = path.join(__dirname, '..', '..', 'src');

function files(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []);
}

function imports(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:from|import|require\()\s*['"]([^'"]+)['"]/g)].map((m) => m[1]!);
}

test('src/engine imports no vscode, no DOM globals, and of our code only engine, protocol and store', () => {
  const engine = files(path.join(SRC, 'engine'));
  assert.ok(engine.length > 10);
  for (const file of engine) {
    for (const spec of imports(file)) {
      assert.notEqual(spec, 'vscode', `${file} imports vscode`);
      if (spec.startsWith('.')) {
        const target = path.resolve(path.dirname(file), spec);
        const allowed = ['engine', 'protocol', 'store'].map((d) => path.join(SRC, d));
        assert.ok(allowed.some((d) => target.startsWith(d)), `${file} imports ${spec}`);
      }
    }
    assert.doesNotMatch(fs.readFileSync(file, 'utf8'), /\b(document|window)\./, `${file} touches the DOM`);
  }
});

test('src/protocol imports only zod (its message schemas) and itself: no node:, no tfjs, no editor', () => {
  for (const file of files(path.join(SRC, 'protocol'))) {
    for (const spec of imports(file)) assert.ok(spec.startsWith('./') || spec === 'zod', `${file} imports ${spec}`);
  }
});

test('src/store is plain Node: no tfjs, no vscode, nothing of ours but protocol types', () => {
  for (const file of files(path.join(SRC, 'store'))) {
    for (const spec of imports(file)) {
      assert.ok(spec.startsWith('node:') || spec.startsWith('./') || spec === '../protocol/report', `${file} imports ${spec}`);
    }
  }
});

test('src/extension and webview import the engine only as types (the extension bundle carries no tfjs)', () => {
  const dirs = [path.join(SRC, 'extension'), path.join(SRC, '..', 'webview')].filter((d) => fs.existsSync(d));
  for (const file of dirs.flatMap(files)) {
    const valueImports = fs.readFileSync(file, 'utf8').split('\n').filter((l) => /^import (?!type)/.test(l));
    for (const line of valueImports) {
      const spec = /from '([^']+)'/.exec(line)?.[1] ?? '';
      const target = spec.startsWith('.') ? path.resolve(path.dirname(file), spec) : spec;
      assert.ok(!target.startsWith(path.join(SRC, 'engine')) && !spec.startsWith('@tensorflow'), `${file}: ${line}`);
    }
  }
});

test('src/spec (spec checks) and src/server (the LSP binding) load no tfjs and no vscode; only the server speaks LSP', () => {
  for (const dir of ['spec', 'server']) {
    for (const file of files(path.join(SRC, dir))) {
      for (const spec of imports(file)) {
        assert.ok(!spec.startsWith('@tensorflow') && spec !== 'vscode', `${file} imports ${spec}`);
        if (spec.startsWith('.')) {
          const target = path.resolve(path.dirname(file), spec);
          assert.ok(['protocol', 'store', 'spec', 'server'].some((d) => target.startsWith(path.join(SRC, d))), `${file} imports ${spec}`);
        }
        if (dir === 'spec') assert.ok(!spec.startsWith('vscode-languageserver'), `${file} imports ${spec}`);
      }
    }
  }
});

test('the bundles resolve every module at build time (no relative require left, e.g. from a UMD build)', () => {
  // test:unit builds dist/ before the tests run.
  for (const name of ['extension.js', 'server.js', 'worker.js', 'cli.js']) {
    const text = fs.readFileSync(path.join(SRC, '..', 'dist', name), 'utf8');
    assert.deepEqual(text.match(/require\("\.\.?\/[^"]*"\)/g) ?? [], [], `dist/${name}`);
  }
});
