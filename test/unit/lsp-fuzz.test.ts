/**
 * Fuzz of the spec analysis and the language server (issue 14): 300 random documents built from the
 * spec's JSON schema with hostile values (overflowing and NaN-ish numbers, deep nesting, duplicate
 * and unknown keys, wrong types, paths with .. or absolute, a FIFO, a symlink to a system file, an
 * oversized model.json, byte-order marks, truncated text), fixed seed. The analysis must never throw;
 * the server (dist/server.js over stdio) must publish diagnostics for every version and answer every
 * hover, completion and lens request without an error, each within 1 s; shutdown is answered.
 */
import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { analyzeSpec } from '../../src/experiment/analysis';
import { WorkspaceIndex } from '../../src/experiment/workspace';
import schema from '../../src/protocol/experiment-spec-schema.json';
import { LspClient } from './lsp-client';

const ROOT = path.join(__dirname, '..', '..');
const DOCUMENTS = 300;
const ANSWER_LIMIT_MS = 1000;

let workspace: string;
let client: LspClient;

let seed = 14_2026;
const random = () => {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return seed / 2 ** 31;
};
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
const chance = (p: number) => random() < p;

/** JSON text emitted by hand, so duplicate keys and literals such as 1e309 survive. */
type Raw = { raw: string };
const raw = (text: string): Raw => ({ raw: text });

const HOSTILE_NUMBERS = [
  '1e309',
  '-1e309',
  '1e308',
  '-0',
  '5e-324',
  '0',
  '-1',
  '1e21',
  '123456789012345678901234567890',
];
const HOSTILE_STRINGS = [
  'NaN',
  'Infinity',
  '-Infinity',
  '1e309',
  '',
  ' ',
  '\u0000',
  '"quoted"',
  'é日本🙂',
  'x'.repeat(5000),
];
const HOSTILE_PATHS = [
  '../../outside/model.json',
  '/etc/passwd',
  '/etc/shadow',
  '/dev/zero',
  'pipe/model.json',
  'leak/model.json',
  'big/model.json',
  'cnn/../../x/model.json',
  'cnn/model.json',
  'missing/model.json',
  '.',
  '..',
  'C:\\Windows\\model.json',
  'cnn/model.json\u0000.onnx',
];

interface SchemaNode {
  type?: string | string[];
  enum?: unknown[];
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  $ref?: string;
  if?: unknown;
  then?: SchemaNode;
  else?: SchemaNode;
  oneOf?: SchemaNode[];
  anyOf?: SchemaNode[];
}

const definitions = (schema as { definitions: Record<string, SchemaNode> }).definitions;

function deref(node: SchemaNode): SchemaNode {
  return node.$ref ? definitions[node.$ref.replace('#/definitions/', '')]! : node;
}

/** A hostile value of any kind, nested up to `depth`. */
function hostile(depth: number): unknown {
  const kind = Math.floor(random() * 8);
  if (kind === 0) return raw(pick(HOSTILE_NUMBERS));
  if (kind === 1) return pick(HOSTILE_STRINGS);
  if (kind === 2) return pick(HOSTILE_PATHS);
  if (kind === 3) return pick([null, true, false, {}, []]);
  if (kind === 4 && depth > 0) return [hostile(depth - 1), hostile(depth - 1)];
  if (kind === 5 && depth > 0)
    return { [pick(['id', 'loss', 'eps', '__proto__', 'constructor', 'x'])]: hostile(depth - 1) };
  if (kind === 6) return raw(`${'['.repeat(20 + Math.floor(random() * 200))}1${']'.repeat(0)}`);
  return raw(String(random() * 10 ** Math.floor(random() * 12)));
}

/** A value for a schema node: mostly valid-looking, sometimes hostile. */
function valueFor(node: SchemaNode, depth: number): unknown {
  node = deref(node);
  if (chance(0.2) || depth > 5) return hostile(2);
  if (node.enum) return pick(node.enum);
  const branches = node.oneOf ?? node.anyOf;
  if (branches) return valueFor(pick(branches), depth + 1);
  if (node.then && node.else) return valueFor(pick([node.then, node.else]), depth + 1);
  const type = Array.isArray(node.type) ? pick(node.type) : node.type;
  switch (type) {
    case 'object': {
      const out: Array<[string, unknown]> = [];
      for (const [key, child] of Object.entries(node.properties ?? {}))
        if (chance(0.6)) out.push([key, valueFor(child, depth + 1)]);
      return out;
    }
    case 'array':
      return Array.from({ length: Math.floor(random() * 4) }, () =>
        node.items ? valueFor(node.items, depth + 1) : hostile(1),
      );
    case 'number':
    case 'integer':
      return chance(0.5) ? raw(pick(HOSTILE_NUMBERS)) : Math.round(random() * 1000) / (chance(0.5) ? 1000 : 1);
    case 'string':
      return chance(0.5) ? pick(HOSTILE_PATHS) : pick(HOSTILE_STRINGS);
    case 'boolean':
      return chance(0.5);
    default:
      return hostile(1);
  }
}

/** Emits a value; object entries are [key, value] lists, so keys can repeat. */
function emit(value: unknown): string {
  if (value && typeof value === 'object' && 'raw' in value) return (value as Raw).raw;
  if (Array.isArray(value) && value.every((e) => Array.isArray(e) && e.length === 2 && typeof e[0] === 'string')) {
    return `{${value.map(([k, v]) => `${JSON.stringify(k)}: ${emit(v)}`).join(', ')}}`;
  }
  if (Array.isArray(value)) return `[${value.map(emit).join(', ')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.entries(value)
      .map(([k, v]) => `${JSON.stringify(k)}: ${emit(v)}`)
      .join(', ')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

function randomDocument(): string {
  const entries = valueFor(schema as SchemaNode, 0);
  const list: Array<[string, unknown]> = Array.isArray(entries) ? [...(entries as Array<[string, unknown]>)] : [];
  if (chance(0.4)) list.push([pick(['model', 'threat', 'data', 'attacks']), valueFor(schema as SchemaNode, 1)]); // duplicate or new
  if (chance(0.3)) {
    for (let i = 0, n = 1 + Math.floor(random() * 300); i < n; i++)
      list.push([`unknown${i}${pick(['', 'é', '🙂'])}`, i]);
  }
  if (chance(0.2)) list.push(['model', pick(HOSTILE_PATHS)]);
  if (chance(0.15)) list.push(['output', [['report', pick(HOSTILE_PATHS)]]]);
  let text = emit(list);
  if (chance(0.1)) text = `\uFEFF${text}`;
  if (chance(0.1)) text = `// a comment\n${text.replace(/, /g, ',\n  ')}`;
  if (chance(0.1)) text = text.slice(0, Math.floor(random() * text.length));
  if (chance(0.05)) text = `${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`;
  return text;
}

before(async () => {
  workspace = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'rl-lsp-fuzz-')));
  fs.mkdirSync(path.join(workspace, 'cnn'));
  for (const f of ['model.json', 'weights.bin'])
    fs.copyFileSync(path.join(ROOT, 'examples', 'fashion-mnist', 'smallcnn', f), path.join(workspace, 'cnn', f));
  fs.mkdirSync(path.join(workspace, 'pipe'));
  spawnSync('mkfifo', [path.join(workspace, 'pipe', 'model.json')]);
  fs.mkdirSync(path.join(workspace, 'leak'));
  fs.symlinkSync('/etc/passwd', path.join(workspace, 'leak', 'model.json'));
  fs.mkdirSync(path.join(workspace, 'big'));
  fs.writeFileSync(path.join(workspace, 'big', 'model.json'), '');
  fs.truncateSync(path.join(workspace, 'big', 'model.json'), 64 * 1024 * 1024);
  client = new LspClient();
  await client.initialize(workspace);
});

after(async () => {
  await client.stop();
  fs.rmSync(workspace, { recursive: true, force: true });
});

test(`${DOCUMENTS} random hostile documents: the analysis never throws, the server answers each within 1 s`, async (t) => {
  const documents = Array.from({ length: DOCUMENTS }, randomDocument);
  const file = path.join(workspace, 'fuzz.robustness.json');
  const facts = new WorkspaceIndex([workspace]).factsFor(file);
  let analysisMax = 0;
  for (const text of documents) {
    const started = performance.now();
    const { problems } = analyzeSpec(text, facts);
    analysisMax = Math.max(analysisMax, performance.now() - started);
    for (const p of problems) {
      assert.ok(p.start >= 0 && p.end >= p.start && p.start <= text.length + 1, `range of ${p.code}`);
      assert.doesNotMatch(p.message, /root:x:0:0/, 'a message quotes /etc/passwd');
    }
  }

  const errors: string[] = [];
  let answerMax = 0;
  let answers = 0;
  const timed = async <T>(what: string, request: () => Promise<T>): Promise<T | undefined> => {
    const started = performance.now();
    try {
      const result = await request();
      answers++;
      answerMax = Math.max(answerMax, performance.now() - started);
      return result;
    } catch (err) {
      errors.push(`${what}: ${(err as Error).message}`);
      return undefined;
    }
  };
  await timed('open', async () => (await client.open(file, '{}'))!);
  let withDiagnostics = 0;
  const codes = new Set<string>();
  for (const text of documents) {
    const diagnostics = await timed('diagnostics', () => client.change(file, text));
    if (diagnostics && diagnostics.length > 0) withDiagnostics++;
    for (const d of diagnostics ?? []) {
      if (/root:x:0:0/.test(d.message)) errors.push(`leak: ${d.message}`);
      if (d.code === 'analysis-failed') errors.push(`analysis failed: ${d.message}`);
      codes.add(String(d.code));
    }
    const lines = text.split('\n');
    const line = Math.floor(random() * lines.length);
    const character = Math.floor(random() * ((lines[line]?.length ?? 0) + 1));
    await timed('hover', () => client.hover(file, line, character));
    await timed('completion', () => client.completion(file, line, character));
    await timed('codeLens', () => client.codeLens(file));
  }
  const shutdownStarted = performance.now();
  await timed('shutdown', () => client.connection.sendRequest('shutdown'));
  const shutdownMs = performance.now() - shutdownStarted;
  t.diagnostic(
    `documents ${DOCUMENTS}, analysis max ${analysisMax.toFixed(1)} ms; server answers ${answers}, ` +
      `max ${answerMax.toFixed(1)} ms, request errors ${errors.length}, documents with diagnostics ${withDiagnostics}, ` +
      `shutdown ${shutdownMs.toFixed(1)} ms; codes ${[...codes].sort().join(' ')}`,
  );
  // The hostile values reach the checks they aim at.
  for (const code of [
    'duplicate-key',
    'not-finite',
    'too-deep',
    'syntax',
    'schema',
    'not-a-model',
    'outside-workspace',
  ])
    assert.ok(codes.has(code), `no document produced ${code}`);
  assert.deepEqual(errors, []);
  assert.equal(answers, 1 + DOCUMENTS * 4 + 1);
  // Every hostile document gets at least one diagnostic (none of them is a valid spec).
  assert.ok(withDiagnostics >= DOCUMENTS * 0.95, `${withDiagnostics} of ${DOCUMENTS} documents had diagnostics`);
  assert.ok(analysisMax < ANSWER_LIMIT_MS, `analysis took ${analysisMax} ms`);
  assert.ok(answerMax < ANSWER_LIMIT_MS, `an answer took ${answerMax} ms`);
});
