/** The dependency rule (design.md §1): engine and protocol import no editor, no DOM, nothing of ours above them. */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import ts from 'typescript';

const SRC = path.join(__dirname, '..', '..', 'src');

function files(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) =>
      e.isDirectory() ? files(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : [],
    );
}

/**
 * Every module a file names: static imports (multi-line ones included), `export … from`,
 * dynamic imports and requires.
 */
function imports(file: string): string[] {
  const info = ts.preProcessFile(fs.readFileSync(file, 'utf8'), true, true);
  return info.importedFiles.map((f) => f.fileName);
}

/** Imports that bring values at run time (not `import type` / `export type`). */
function valueImports(file: string): string[] {
  const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, false);
  const specs: string[] = [];
  for (const node of source.statements) {
    if (ts.isImportDeclaration(node) && !node.importClause?.isTypeOnly && ts.isStringLiteral(node.moduleSpecifier)) {
      const bindings = node.importClause?.namedBindings;
      const onlyTypes =
        !node.importClause?.name &&
        bindings &&
        ts.isNamedImports(bindings) &&
        bindings.elements.length > 0 &&
        bindings.elements.every((e) => e.isTypeOnly);
      if (!onlyTypes) specs.push(node.moduleSpecifier.text);
    }
    if (
      ts.isExportDeclaration(node) &&
      !node.isTypeOnly &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      specs.push(node.moduleSpecifier.text);
    }
  }
  return specs;
}

test('the import parser sees multi-line imports, export-from and dynamic imports', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'layers-'));
  const file = path.join(dir, 'probe.ts');
  fs.writeFileSync(
    file,
    "import {\n  a,\n  b,\n} from './multi';\nexport { c } from './reexport';\n" +
      "import type { T } from './typeonly';\nconst m = import('./dynamic');\n",
  );
  assert.deepEqual(imports(file).sort(), ['./dynamic', './multi', './reexport', './typeonly']);
  assert.deepEqual(valueImports(file).sort(), ['./multi', './reexport']);
  fs.rmSync(dir, { recursive: true });
});

/** The file a relative specifier names: `x.ts`, `x/index.ts` or `x` itself (a .json); undefined when none exists. */
function resolveSpecifier(from: string, spec: string): string | undefined {
  const base = path.resolve(path.dirname(from), spec);
  return [`${base}.ts`, path.join(base, 'index.ts'), base].find((f) => fs.existsSync(f) && fs.statSync(f).isFile());
}

/**
 * Every import cycle among `roots` and what they import (type-only imports included),
 * as paths a → b → … → a.
 */
function importCycles(roots: string[]): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (file: string): void => {
    state.set(file, 'open');
    stack.push(file);
    const targets = imports(file)
      .filter((s) => s.startsWith('.'))
      .map((s) => resolveSpecifier(file, s));
    for (const target of targets) {
      if (!target?.endsWith('.ts')) continue;
      if (state.get(target) === 'open') cycles.push([...stack.slice(stack.indexOf(target)), target]);
      else if (!state.has(target)) visit(target);
    }
    stack.pop();
    state.set(file, 'done');
  };
  for (const file of roots) if (!state.has(file)) visit(file);
  return cycles;
}

test('the cycle finder reports a cycle through type-only imports and index files, as its path', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cycles-'));
  fs.mkdirSync(path.join(dir, 'sub'));
  fs.writeFileSync(path.join(dir, 'a.ts'), "import { b } from './sub';\nexport const a = b;\n");
  fs.writeFileSync(path.join(dir, 'sub', 'index.ts'), "export { b } from './b';\n");
  fs.writeFileSync(path.join(dir, 'sub', 'b.ts'), "import type { A } from '../c';\nexport const b = 1;\n");
  fs.writeFileSync(path.join(dir, 'c.ts'), "import { a } from './a';\nexport type A = typeof a;\n");
  fs.writeFileSync(path.join(dir, 'd.ts'), "import { a } from './a';\nimport data from './d.json';\n");
  fs.writeFileSync(path.join(dir, 'd.json'), '{}');
  const cycles = importCycles(files(dir).sort()).map((c) => c.map((f) => path.relative(dir, f)));
  assert.deepEqual(cycles, [['a.ts', path.join('sub', 'index.ts'), path.join('sub', 'b.ts'), 'c.ts', 'a.ts']]);
  fs.writeFileSync(path.join(dir, 'c.ts'), 'export type A = number;\n');
  assert.deepEqual(importCycles(files(dir)), []);
  fs.rmSync(dir, { recursive: true });
});

test('src has no import cycle, type-only imports included', () => {
  const cycles = importCycles(files(SRC)).map((c) => c.map((f) => path.relative(SRC, f)).join(' → '));
  assert.deepEqual(cycles, [], `import cycles:\n${cycles.join('\n')}`);
});

test('src/engine imports no vscode, no DOM globals, and of our code only engine, formats, protocol and common', () => {
  const engine = files(path.join(SRC, 'engine'));
  assert.ok(engine.length > 10);
  for (const file of engine) {
    for (const spec of imports(file)) {
      assert.notEqual(spec, 'vscode', `${file} imports vscode`);
      if (spec.startsWith('.')) {
        const target = path.resolve(path.dirname(file), spec);
        const allowed = ['engine', 'formats', 'protocol', 'common'].map((d) => path.join(SRC, d));
        assert.ok(
          allowed.some((d) => target.startsWith(d)),
          `${file} imports ${spec}`,
        );
      }
    }
    assert.doesNotMatch(fs.readFileSync(file, 'utf8'), /\b(document|window)\./, `${file} touches the DOM`);
  }
});

test('src/protocol imports only zod (its message schemas) and itself: no node:, no tfjs, no editor', () => {
  for (const file of files(path.join(SRC, 'protocol'))) {
    for (const spec of imports(file)) {
      // src/protocol/messages/* may import their siblings one level up, never out of src/protocol.
      const target = path.resolve(path.dirname(file), spec);
      const inProtocol = spec.startsWith('.') && target.startsWith(path.join(SRC, 'protocol') + path.sep);
      assert.ok(inProtocol || spec === 'zod', `${file} imports ${spec}`);
    }
  }
});

test('src/store is plain Node: no tfjs, no vscode, nothing of ours but formats, protocol and common', () => {
  for (const file of files(path.join(SRC, 'store'))) {
    for (const spec of imports(file)) {
      const ours =
        spec.startsWith('./') || ['../formats/', '../protocol/', '../common/'].some((d) => spec.startsWith(d));
      assert.ok(spec.startsWith('node:') || ours, `${file} imports ${spec}`);
    }
  }
});

/** Small pure-JS file parsers the cheap half may use: no tfjs, no native code, nothing that runs on load. */
const FORMAT_PARSERS = ['fflate', 'onnx-proto'];

test('src/formats (the cheap half of the model-format and data-source registries) is plain Node and small parsers', () => {
  const formats = files(path.join(SRC, 'formats'));
  assert.ok(formats.length >= 3);
  for (const file of formats) {
    for (const spec of imports(file)) {
      const allowed =
        spec.startsWith('node:') ||
        spec.startsWith('./') ||
        spec.startsWith('../protocol/') ||
        spec.startsWith('../common/') ||
        FORMAT_PARSERS.includes(spec);
      assert.ok(allowed, `${file} imports ${spec}`);
    }
  }
});

test('src/common is plain Node: nothing but node: modules and itself', () => {
  for (const file of files(path.join(SRC, 'common'))) {
    for (const spec of imports(file))
      assert.ok(spec.startsWith('node:') || spec.startsWith('./'), `${file} imports ${spec}`);
  }
});

test('src/extension and webview import the engine only as types (the extension bundle carries no tfjs)', () => {
  const dirs = [path.join(SRC, 'extension'), path.join(SRC, '..', 'webview')].filter((d) => fs.existsSync(d));
  for (const file of dirs.flatMap(files)) {
    for (const spec of valueImports(file)) {
      const target = spec.startsWith('.') ? path.resolve(path.dirname(file), spec) : spec;
      assert.ok(
        !target.startsWith(path.join(SRC, 'engine')) && !spec.startsWith('@tensorflow'),
        `${file} imports ${spec}`,
      );
    }
  }
});

test('src/experiment (spec checks) and src/server (the LSP binding) load no tfjs and no vscode; only the server speaks LSP', () => {
  for (const dir of ['experiment', 'server']) {
    for (const file of files(path.join(SRC, dir))) {
      for (const spec of imports(file)) {
        assert.ok(!spec.startsWith('@tensorflow') && spec !== 'vscode', `${file} imports ${spec}`);
        if (spec.startsWith('.')) {
          const target = path.resolve(path.dirname(file), spec);
          const allowed = ['formats', 'protocol', 'store', 'common', 'experiment', 'server'];
          assert.ok(
            allowed.some((d) => target.startsWith(path.join(SRC, d))),
            `${file} imports ${spec}`,
          );
        }
        if (dir === 'experiment') assert.ok(!spec.startsWith('vscode-languageserver'), `${file} imports ${spec}`);
      }
    }
  }
});

/**
 * The src/cluster modules the extension host may load (the status bar's poll, the check before a
 * run): Redis and BullMQ only, no engine, so the extension bundle still carries no tfjs. The
 * editor's cluster runs are coordinated in its engine worker thread (src/worker/engine-worker.ts).
 */
const CLUSTER_FOR_EDITOR = ['status.ts', 'redis.ts'];

test('src/cluster (the BullMQ cluster, beside src/worker) loads no vscode; the CLI, the engine worker and (status, redis) the editor import it', () => {
  const cluster = files(path.join(SRC, 'cluster'));
  assert.ok(cluster.length >= 3);
  for (const file of cluster) {
    for (const spec of imports(file)) {
      assert.notEqual(spec, 'vscode', `${file} imports vscode`);
      if (spec.startsWith('.')) {
        const target = path.resolve(path.dirname(file), spec);
        const allowed = ['engine', 'formats', 'protocol', 'common', 'store', 'worker', 'cluster'].map((d) =>
          path.join(SRC, d),
        );
        assert.ok(
          allowed.some((d) => target.startsWith(d + path.sep) || target === d),
          `${file} imports ${spec}`,
        );
      }
    }
  }
  for (const file of files(SRC).filter((f) => !f.startsWith(path.join(SRC, 'cluster') + path.sep))) {
    for (const spec of imports(file)) {
      const target = spec.startsWith('.') ? path.resolve(path.dirname(file), spec) : spec;
      const intoCluster = target.startsWith(path.join(SRC, 'cluster') + path.sep) || spec === 'bullmq';
      if (!intoCluster) continue;
      const fromEditor =
        file.startsWith(path.join(SRC, 'extension') + path.sep) &&
        CLUSTER_FOR_EDITOR.some((name) => resolveSpecifier(file, spec) === path.join(SRC, 'cluster', name));
      assert.ok(
        file.startsWith(path.join(SRC, 'cli') + path.sep) ||
          file === path.join(SRC, 'worker', 'engine-worker.ts') ||
          fromEditor,
        `${file} imports ${spec}`,
      );
    }
  }
});

test('the cluster modules the editor loads reach no engine module, even through each other', () => {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const spec of valueImports(file)) {
      if (!spec.startsWith('.')) continue;
      const target = resolveSpecifier(file, spec);
      assert.ok(target, `${file} imports ${spec}, which does not exist`);
      assert.ok(!target.startsWith(path.join(SRC, 'engine') + path.sep), `${file} imports ${spec}`);
      visit(target);
    }
  };
  for (const name of CLUSTER_FOR_EDITOR) visit(path.join(SRC, 'cluster', name));
  assert.ok(seen.size >= 3, [...seen].join(', '));
});

test('the bundles resolve every module at build time (no relative require left, e.g. from a UMD build)', () => {
  // test:unit builds dist/ before the tests run.
  for (const name of ['extension.js', 'server.js', 'worker.js', 'cli.js']) {
    const text = fs.readFileSync(path.join(SRC, '..', 'dist', name), 'utf8');
    assert.deepEqual(text.match(/require\("\.\.?\/[^"]*"\)/g) ?? [], [], `dist/${name}`);
  }
});
