/**
 * Issue 14, the path and file half: one test per class on fixtures built here, each asserting the
 * exit code or the refusal, the message (file and field named) and that nothing was written outside
 * the run's folder. Class 1, paths that escape (realpath before containment: weight files, a spec's
 * model, data and output.report); class 2, special and huge files (stat first, regular files only,
 * bounded reads); class 6, linear spec analysis with size and depth limits; and the weak items of
 * this half (duplicate keys, a byte-order mark, ε = 1e309 in check as in run, `"loss": {}`, a manifest
 * path of ".", classes.json, report.html's CSP, checkpoint temporaries). Plus a property test of path
 * containment on random paths (fixed seed).
 */
import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { analyzeSpec, MAX_SPEC_DEPTH } from '../../src/experiment/analysis';
import { WorkspaceIndex } from '../../src/experiment/workspace';
import { containedPath, isInside, realPathOf } from '../../src/common/containment';
import { firstJsonError, parseJsonText, readFileBounded, READ_LIMITS } from '../../src/formats/file-read';
import { FormatError } from '../../src/formats/errors';
import { readClassNames } from '../../src/formats/data-sources';
import { fileHandler } from '../../src/engine/models/io';
import { readSidecar } from '../../src/engine/preprocess';
import { sidecarFile } from '../../src/protocol/preprocess';
import { removeStaleCheckpointTemporaries } from '../../src/engine/training/checkpoint';

const ROOT = path.join(__dirname, '..', '..');
const CLI = path.join(ROOT, 'dist', 'cli.js');
const SMALLCNN = path.join(ROOT, 'examples', 'fashion-mnist', 'smallcnn');

let top: string;
let workspace: string;
let outside: string;

function cli(cwd: string, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Every file under `dir` with its size and modification time: what "nothing changed" compares. */
function snapshot(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else {
        const s = fs.lstatSync(p);
        files.set(p, `${s.size}:${s.mtimeMs}`);
      }
    }
  };
  walk(dir);
  return files;
}

const spec = (fields: Record<string, unknown>) =>
  JSON.stringify({ data: 'embedded', threat: { norm: 'linf', eps: 0.1 }, attacks: ['fgsm'], ...fields }, null, 2);

/** A copy of the example model in the workspace (model.json and weights.bin). */
function copyModel(name: string): string {
  const dir = path.join(workspace, name);
  fs.mkdirSync(dir, { recursive: true });
  for (const f of ['model.json', 'weights.bin']) fs.copyFileSync(path.join(SMALLCNN, f), path.join(dir, f));
  return path.join(dir, 'model.json');
}

before(() => {
  top = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'rl-harden-paths-')));
  workspace = path.join(top, 'ws');
  outside = path.join(top, 'outside');
  fs.mkdirSync(workspace);
  fs.mkdirSync(outside);
  fs.writeFileSync(path.join(outside, 'secret.txt'), 'root:*:19000:0:99999:7:::\n');
});

after(() => fs.rmSync(top, { recursive: true, force: true }));

describe('class 1: paths that escape (realpath before any containment check)', () => {
  test('a weights.bin symlinked to a file outside the model folder is refused, naming the manifest field', async () => {
    const model = copyModel('linked');
    fs.copyFileSync(path.join(SMALLCNN, 'weights.bin'), path.join(outside, 'weights.bin'));
    fs.rmSync(path.join(workspace, 'linked', 'weights.bin'));
    fs.symlinkSync(path.join(outside, 'weights.bin'), path.join(workspace, 'linked', 'weights.bin'));
    await assert.rejects(fileHandler(model).load!(), (err: Error) => {
      assert.equal(
        err.message,
        `${model}: weightsManifest[0].paths[0]: path "weights.bin" leaves the model folder (symlinks resolved); ` +
          'weight files must sit beside the model',
      );
      return true;
    });
  });

  test('a preprocessing sidecar symlinked out of the model folder is refused, its content unread', () => {
    const model = copyModel('sidecar');
    const file = sidecarFile(model);
    fs.symlinkSync(path.join(outside, 'secret.txt'), file);
    assert.throws(
      () => readSidecar(model),
      (err: Error) =>
        err.message === `${file}: leaves the model folder (a symlink out of it); a sidecar must sit beside the model`,
    );
  });

  test('a manifest path of "." is refused with a message, not a stack trace', async () => {
    const model = copyModel('dot');
    const json = JSON.parse(fs.readFileSync(model, 'utf8'));
    json.weightsManifest[0].paths = ['.'];
    fs.writeFileSync(model, JSON.stringify(json));
    await assert.rejects(fileHandler(model).load!(), (err: Error) => {
      assert.match(err.message, /weightsManifest\[0\]\.paths\[0\]: path "\." leaves the model folder/);
      return true;
    });
  });

  test('output.report outside the workspace: check exits 1 naming the field, run exits 2 and writes nothing', () => {
    copyModel('cnn');
    const before = snapshot(top);
    for (const report of ['../../escaped', path.join(outside, 'abs'), 'link-out/x']) {
      if (report.startsWith('link-out')) fs.symlinkSync(outside, path.join(workspace, 'link-out'));
      const file = path.join(workspace, 'out.robustness.json');
      fs.writeFileSync(file, spec({ model: 'cnn/model.json', output: { report } }));
      const checked = cli(workspace, 'check', file);
      assert.equal(checked.status, 1, checked.stderr);
      assert.match(
        checked.stderr,
        new RegExp(
          `out\\.robustness\\.json:\\d+:\\d+: error: output\\.report "${report.replace(/[./]/g, '\\$&')}" is outside`,
        ),
      );
      const ran = cli(workspace, 'run', file, '--workers', '1');
      assert.equal(ran.status, 2, ran.stderr);
      assert.match(ran.stderr, /out\.robustness\.json: has errors \(listed above\); nothing was run/);
    }
    assert.equal(fs.existsSync(path.join(top, 'escaped')), false);
    assert.equal(fs.existsSync(path.join(outside, 'abs')), false);
    assert.deepEqual([...fs.readdirSync(outside)].sort(), ['secret.txt', 'weights.bin']);
    // Nothing written anywhere under the fixture but the spec file and the link.
    const changed = [...snapshot(top)].filter(([p, stamp]) => before.get(p) !== stamp).map(([p]) => path.basename(p));
    assert.deepEqual(changed.sort(), ['link-out', 'out.robustness.json']);
    fs.rmSync(path.join(workspace, 'link-out'));
  });

  test('a model outside the workspace (absolute, ../, or a symlink) is not read, and no message quotes a file', () => {
    fs.symlinkSync(path.join(outside, 'secret.txt'), path.join(workspace, 'model.json'));
    const facts = new WorkspaceIndex([workspace]).factsFor(path.join(workspace, 'm.robustness.json'));
    for (const model of [path.join(outside, 'secret.txt'), '../outside/secret.txt', 'model.json']) {
      const { problems } = analyzeSpec(spec({ model }), facts);
      const problem = problems.find((p) => p.code === 'not-a-model');
      assert.ok(problem, `${model}: ${JSON.stringify(problems)}`);
      assert.match(problem.message, /is outside the spec's workspace folder .*symlinks resolved; a spec reads models/);
      for (const p of problems) assert.doesNotMatch(p.message, /root|19000/);
    }
    fs.rmSync(path.join(workspace, 'model.json'));
    // Inside the workspace, a file that is not JSON: the message gives the place, never the text.
    fs.writeFileSync(path.join(workspace, 'shadow.json'), 'root:*:19000:0:99999:7:::\n');
    fs.mkdirSync(path.join(workspace, 'fake'), { recursive: true });
    fs.copyFileSync(path.join(workspace, 'shadow.json'), path.join(workspace, 'fake', 'model.json'));
    const { problems } = analyzeSpec(spec({ model: 'fake/model.json' }), facts);
    const problem = problems.find((p) => p.code === 'not-a-model')!;
    assert.equal(
      problem.message,
      'fake/model.json is not a tfjs model: is not valid JSON (unexpected character at line 1, column 1)',
    );
  });

  test('data outside the workspace only through --data-root (the CLI) or the settings (the server)', () => {
    const file = path.join(workspace, 'data.robustness.json');
    fs.mkdirSync(path.join(outside, 'data'), { recursive: true });
    fs.writeFileSync(file, spec({ model: 'cnn/model.json', data: '../outside/data' }));
    const refused = cli(workspace, 'check', file);
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /error: data "\.\.\/outside\/data" is outside the spec's workspace folder/);
    assert.match(refused.stderr, /--data-root/);
    const allowed = cli(workspace, 'check', file, '--data-root', path.join(outside, 'data'));
    // Allowed through: what remains is that the empty folder is no data (a different problem).
    assert.doesNotMatch(allowed.stderr, /is outside the spec's workspace folder/);
    const facts = new WorkspaceIndex([workspace], [path.join(outside, 'data')]).factsFor(file);
    const result = facts.data('../outside/data');
    assert.ok('problem' in result);
    assert.doesNotMatch(result.problem, /is outside the spec's workspace folder/);
    assert.match(result.problem, /data/);
  });
});

describe('class 2: special and huge files (stat first, regular files only, bounded reads)', () => {
  test('a FIFO, /dev/zero and a folder are refused at once, naming the file; nothing is opened', () => {
    const fifo = path.join(workspace, 'pipe', 'model.json');
    fs.mkdirSync(path.dirname(fifo), { recursive: true });
    const made = spawnSync('mkfifo', [fifo]);
    const facts = new WorkspaceIndex([workspace]).factsFor(path.join(workspace, 's.robustness.json'));
    if (made.status === 0) {
      const started = Date.now();
      const { problems } = analyzeSpec(spec({ model: 'pipe/model.json' }), facts);
      assert.ok(Date.now() - started < 5000);
      assert.match(problems.find((p) => p.code === 'not-a-model')!.message, /pipe\/model\.json is not a regular file/);
      assert.throws(
        () => readFileBounded(fifo, 1024),
        (err: Error) =>
          err instanceof FormatError &&
          err.message === `${fifo}: is a FIFO (named pipe), not a regular file; it is not read`,
      );
    }
    fs.mkdirSync(path.join(workspace, 'zero'), { recursive: true });
    fs.symlinkSync('/dev/zero', path.join(workspace, 'zero', 'model.json'));
    // Inside the workspace by its name, but the symlink leads outside: refused before any read.
    const { problems } = analyzeSpec(spec({ model: 'zero/model.json' }), facts);
    assert.match(problems.find((p) => p.code === 'not-a-model')!.message, /is outside the spec's workspace folder/);
    assert.throws(
      () => readFileBounded('/dev/zero', 1024),
      /\/dev\/zero: is a device, not a regular file; it is not read/,
    );
    assert.throws(() => readFileBounded(workspace, 1024), /: is a folder, not a regular file; it is not read/);
  });

  test('a file over its limit is refused without its size; a spec over 1 MiB is refused by check', () => {
    const big = path.join(workspace, 'big', 'model.json');
    fs.mkdirSync(path.dirname(big), { recursive: true });
    fs.writeFileSync(big, '');
    fs.truncateSync(big, READ_LIMITS.modelJson + 12_345);
    const facts = new WorkspaceIndex([workspace]).factsFor(path.join(workspace, 's.robustness.json'));
    const { problems } = analyzeSpec(spec({ model: 'big/model.json' }), facts);
    const message = problems.find((p) => p.code === 'not-a-model')!.message;
    assert.equal(
      message,
      'big/model.json is not a tfjs model: is larger than the 32 MiB limit for a model.json; it is not read',
    );
    assert.doesNotMatch(message, /12345|12,345|33566777/);
    const hugeSpec = path.join(workspace, 'huge.robustness.json');
    fs.writeFileSync(hugeSpec, spec({ model: 'cnn/model.json', name: 'x'.repeat(READ_LIMITS.spec) }));
    const checked = cli(workspace, 'check', hugeSpec);
    assert.equal(checked.status, 2);
    assert.match(
      checked.stderr,
      /huge\.robustness\.json: is larger than the 1 MiB limit for an experiment spec; it is not read/,
    );
  });

  test('a read that reports 0 bytes but streams more still stops at the limit', () => {
    if (!fs.existsSync('/proc/self/status')) return;
    assert.throws(
      () => readFileBounded('/proc/self/status', 16),
      /is larger than the 16 KiB limit|larger than the 0 KiB/,
    );
  });
});

describe('class 6: spec analysis is linear, with size and depth limits', () => {
  const facts = new WorkspaceIndex([]).factsFor(path.join(os.tmpdir(), 'x.robustness.json'));
  test('20,000 unknown keys: at most 200 listed and one count of the rest; a 20 MB text is refused', () => {
    const keys = Array.from({ length: 20_000 }, (_, i) => `"k${i}": ${i}`).join(',\n');
    const text = `{"model": "m.json", "data": "embedded", "threat": {"norm": "linf", "eps": 0.1}, "attacks": ["fgsm"],\n${keys}}`;
    const started = Date.now();
    const { problems } = analyzeSpec(text, facts);
    const elapsed = Date.now() - started;
    const unknown = problems.filter((p) => /^unknown property "k\d+" in the spec/.test(p.message));
    assert.equal(unknown.length, 200);
    assert.ok(problems.some((p) => p.message === '19800 more schema problems not listed (at most 200 are)'));
    // Generous: the quadratic path took over 60 s here; a limit on a loaded machine, not a speed claim.
    assert.ok(elapsed < 10_000, `${elapsed} ms`);
    const huge = `{"name": "${'y'.repeat(20_000_000)}"}`;
    const refused = analyzeSpec(huge, facts).problems;
    assert.deepEqual(
      refused.map((p) => p.code),
      ['too-large'],
    );
  });

  test(`nesting deeper than ${MAX_SPEC_DEPTH} is one clear problem, not a stack overflow`, () => {
    const text = `{"model": ${'['.repeat(10_000)}${']'.repeat(10_000)}}`;
    const { problems } = analyzeSpec(text, facts);
    assert.equal(problems.length, 1);
    assert.equal(problems[0]!.code, 'too-deep');
    assert.equal(problems[0]!.start, 1 + text.indexOf('[') + MAX_SPEC_DEPTH - 2);
    assert.match(problems[0]!.message, /nests arrays and objects more than 64 deep here; it is not analysed/);
  });
});

describe('weak items of the spec analysis', () => {
  const facts = new WorkspaceIndex([]).factsFor(path.join(os.tmpdir(), 'x.robustness.json'));
  test('a duplicate key is flagged on its second occurrence, and later checks land there too', () => {
    const text =
      '{"model": "m.json", "data": "embedded", "threat": {"norm": "linf", "eps": 0.1, "eps": -0.5}, "attacks": ["fgsm"]}';
    const { problems } = analyzeSpec(text, facts);
    const dup = problems.find((p) => p.code === 'duplicate-key')!;
    assert.equal(dup.start, text.lastIndexOf('"eps"'));
    assert.match(dup.message, /^duplicate key "eps" in threat: it is also at line 1; JSON keeps only this last one/);
    const negative = problems.find((p) => p.code === 'eps-negative')!;
    assert.equal(text.slice(negative.start, negative.end), '-0.5');
  });

  test('a byte-order mark is accepted (offsets unchanged); 1e309 is refused as not finite; "loss": {} is a diagnostic', () => {
    const good = '{"model": "m.json", "data": "embedded", "threat": {"norm": "linf", "eps": 0.1}, "attacks": ["fgsm"]}';
    const withBom = analyzeSpec(`\uFEFF${good}`, facts).problems;
    assert.deepEqual(
      withBom.map((p) => [p.code, p.start - 1]),
      analyzeSpec(good, facts).problems.map((p) => [p.code, p.start]),
    );
    assert.equal(
      withBom.some((p) => p.code === 'syntax'),
      false,
    );
    const inf = good.replace('0.1', '1e309');
    const notFinite = analyzeSpec(inf, facts).problems.find((p) => p.code === 'not-finite')!;
    assert.equal(notFinite.message, 'threat.eps: 1e309 is not a finite number (it overflows a double)');
    assert.equal(inf.slice(notFinite.start, notFinite.end), '1e309');
    const loss = good.replace('["fgsm"]', '[{"id": "pgd", "loss": {}}]');
    const problems = analyzeSpec(loss, facts).problems;
    assert.ok(
      problems.some(
        (p) =>
          p.code === 'unknown-loss' &&
          loss.slice(p.start, p.end) === '{}' &&
          p.message === 'attacks[0].loss must be a loss name, one of ce, margin, dlr; got an object',
      ),
      JSON.stringify(problems),
    );
  });

  test('check refuses ε = 1e309 as run does (one rule), exit 1 naming threat.eps', () => {
    copyModel('cnn');
    const file = path.join(workspace, 'inf.robustness.json');
    fs.writeFileSync(file, spec({ model: 'cnn/model.json' }).replace('0.1', '1e309'));
    const checked = cli(workspace, 'check', file);
    assert.equal(checked.status, 1);
    assert.match(checked.stderr, /inf\.robustness\.json:\d+:\d+: error: threat\.eps: 1e309 is not a finite number/);
  });

  test('classes.json: not JSON, an object, or a non-string name is refused naming the file', () => {
    const dir = path.join(workspace, 'classes');
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'classes.json');
    for (const [text, expected] of [
      ['{"cat": 0}', `${file}: must be a non-empty JSON array of class names`],
      ['["cat", 3]', `${file}: [1]: must be a non-empty string (a class name)`],
      ['root:x', `${file}: is not valid JSON (unexpected character at line 1, column 1)`],
    ] as const) {
      fs.writeFileSync(file, text);
      assert.throws(
        () => readClassNames(dir),
        (err: Error) => err.message === expected,
      );
    }
    fs.writeFileSync(file, '\uFEFF["cat", "dog"]');
    assert.deepEqual(readClassNames(dir), ['cat', 'dog']);
  });

  test('firstJsonError finds an error exactly when JSON.parse does (random texts, fixed seed)', () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const pieces = [
      '{',
      '}',
      '[',
      ']',
      ',',
      ':',
      '"a"',
      '"\\u00e9"',
      '"\\x"',
      '1',
      '-0.5e3',
      '01',
      'true',
      'nul',
      ' ',
      '\n',
      '"',
    ];
    let valid = 0;
    for (let n = 0; n < 3000; n++) {
      const text = Array.from(
        { length: 1 + Math.floor(random() * 8) },
        () => pieces[Math.floor(random() * pieces.length)],
      ).join('');
      let parses = true;
      try {
        JSON.parse(text);
      } catch {
        parses = false;
      }
      assert.equal(firstJsonError(text) === undefined, parses, text);
      if (parses) valid++;
    }
    assert.ok(valid > 50, `${valid} valid texts`);
  });

  test("JSON errors give the place and never the file's text", () => {
    assert.throws(
      () => parseJsonText('root:*:19000:0:99999:7:::', '/x/model.json'),
      (err: Error) => err.message === '/x/model.json: is not valid JSON (unexpected character at line 1, column 1)',
    );
    assert.throws(
      () => parseJsonText('{\n  "a": 1,\n  "b"', 'f'),
      /is not valid JSON \(unexpected end at line 3, column 6\)/,
    );
  });
});

describe('report.html and checkpoints', () => {
  test("run writes only in its report folder, and report.html's only script runs by its SHA-256 hash", () => {
    copyModel('cnn');
    const file = path.join(workspace, 'ok.robustness.json');
    fs.writeFileSync(
      file,
      spec({ model: 'cnn/model.json', data: { id: 'embedded', n: 4 }, output: { report: 'runs/ok', examples: 0 } }),
    );
    const before = snapshot(top);
    const ran = cli(workspace, 'run', file, '--workers', '1');
    assert.equal(ran.status, 0, ran.stderr);
    const changed = [...snapshot(top)].filter(([p, stamp]) => before.get(p) !== stamp).map(([p]) => p);
    assert.deepEqual(changed.sort(), [
      path.join(workspace, 'runs', 'ok', 'report.html'),
      path.join(workspace, 'runs', 'ok', 'report.json'),
    ]);
    const html = fs.readFileSync(path.join(workspace, 'runs', 'ok', 'report.html'), 'utf8');
    const csp = /content="([^"]+)"/.exec(html)![1]!;
    const script = /<script>([\s\S]*)<\/script>\n<\/body>/.exec(html)![1]!;
    const hash = crypto.createHash('sha256').update(script, 'utf8').digest('base64');
    assert.ok(csp.includes(`script-src 'sha256-${hash}'`), csp);
    assert.doesNotMatch(csp, /script-src[^;]*unsafe-inline/);
  });

  test("a killed run's checkpoints/last.tmp-<pid> folders are removed; a live process's stay", () => {
    const dir = path.join(workspace, 'train');
    const live = process.ppid;
    for (const name of ['last.tmp-999999999', `last.tmp-${live}`, 'last', 'other'])
      fs.mkdirSync(path.join(dir, 'checkpoints', name), { recursive: true });
    assert.deepEqual(removeStaleCheckpointTemporaries(dir), ['last.tmp-999999999']);
    assert.deepEqual(fs.readdirSync(path.join(dir, 'checkpoints')).sort(), ['last', `last.tmp-${live}`, 'other']);
  });
});

describe('property: path containment on random paths (fixed seed)', () => {
  test('containedPath agrees with an independent resolver on 2,000 random paths', () => {
    // base/ holds: in/ (a folder), é/ and 日本/ (Unicode folders), link-in → base/in, link-out → outside.
    const base = path.join(top, 'prop', 'root');
    const away = path.join(top, 'prop', 'away');
    for (const d of ['in', 'é', '日本']) fs.mkdirSync(path.join(base, d), { recursive: true });
    fs.mkdirSync(away, { recursive: true });
    const links = new Map([
      [path.join(base, 'link-in'), path.join(base, 'in')],
      [path.join(base, 'link-out'), away],
      [path.join(base, 'in', 'up'), path.join(top, 'prop')],
    ]);
    for (const [link, target] of links) fs.symlinkSync(target, link);
    // The resolver the test trusts: the path made absolute (".." as text, as every reader opens it),
    // then each prefix that is one of our links replaced by its target.
    const oracle = (relative: string): boolean => {
      let p = path.resolve(base, relative);
      for (let changed = true; changed;) {
        changed = false;
        for (const [link, target] of links) {
          if (p === link || p.startsWith(link + path.sep)) {
            p = target + p.slice(link.length);
            changed = true;
          }
        }
      }
      return p === base || p.startsWith(base + path.sep);
    };
    let seed = 20261201;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const parts = ['..', '.', 'in', 'é', '日本', 'link-in', 'link-out', 'up', 'x', 'ﬁle.json', 'model.json', ''];
    let inside = 0;
    for (let i = 0; i < 2000; i++) {
      const n = 1 + Math.floor(random() * 6);
      const segments = Array.from({ length: n }, () => parts[Math.floor(random() * parts.length)]!);
      let relative = segments.join('/');
      if (random() < 0.15) relative = path.join(random() < 0.5 ? base : away, relative);
      const expected = oracle(relative);
      const got = containedPath(base, relative, [base]) !== undefined;
      assert.equal(got, expected, `${relative}: containedPath says ${got}`);
      assert.equal(isInside(path.resolve(base, relative), base), expected);
      if (expected) inside++;
    }
    // Both outcomes are exercised, each many times.
    assert.ok(inside > 200 && inside < 1800, `${inside} of 2000 inside`);
    assert.equal(realPathOf(path.join(base, 'link-in', 'not-yet', 'file')), path.join(base, 'in', 'not-yet', 'file'));
  });
});
