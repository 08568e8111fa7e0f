/**
 * Issue 14, the rest: the gaps the first round left, each one rule in one place. Fixtures are built
 * here in a temporary folder; CLI cases run the built CLI (dist/cli.js) and assert the exit code,
 * the message (the file named) and that nothing was written in the folder.
 */
import { before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { PNG } from 'pngjs';
import { encodeIdx, folderSaveHandler, smallCnn } from '../../src/engine';
import { loadData } from '../../src/engine/data/datasets';
import { decodeImage } from '../../src/engine/data/image-folder';
import { insideDataFolder, statRegularFile } from '../../src/formats/file-read';
import { ownDefaults } from '../../src/cli/main';
import { analyzeSpec } from '../../src/experiment/analysis';
import { dataRootsOption, LISTING_LIMITS, settingDataRoots, WorkspaceIndex } from '../../src/experiment/workspace';
import { LspClient, positionOf, uriOf } from './lsp-client';
import { defaultAttackJob } from '../../src/protocol/jobs';
import { refusedCli, runCli, tempDir, useBackend, type CliRun } from './helpers';

const ROOT = path.join(__dirname, '..', '..');
const CLI = path.join(ROOT, 'dist', 'cli.js');

let work: string;
let outside: string;
let model: string;

/** The CLI in `work`. */
const cli = (...args: string[]): CliRun => runCli(work, args, 60_000);
/** A refused CLI run: exit 2, one error line matching `pattern`, no stack, `work` left as it was. */
const refused = (args: string[], pattern: RegExp): CliRun => refusedCli(work, args, pattern);

/** An IDX data folder under `parent` with `n` 28×28 test images (labels i % 10). */
function idxFolder(parent: string, name: string, n = 20): string {
  const dir = path.join(parent, name);
  fs.mkdirSync(dir, { recursive: true });
  const pixels = Uint8Array.from({ length: n * 28 * 28 }, (_, i) => (i * 37) % 256);
  fs.writeFileSync(path.join(dir, 't10k-images-idx3-ubyte'), encodeIdx([n, 28, 28], pixels, false));
  const labels = Uint8Array.from({ length: n }, (_, i) => i % 10);
  fs.writeFileSync(path.join(dir, 't10k-labels-idx1-ubyte'), encodeIdx([n], labels, false));
  return dir;
}

/** A folder beside `work`'s: what a symlink in a data folder must not reach. */
function outsideFile(name: string, bytes: Uint8Array): string {
  const file = path.join(outside, name);
  fs.writeFileSync(file, bytes);
  return file;
}

before(async () => {
  assert.ok(fs.existsSync(CLI), `${CLI} is missing; build it with node esbuild.mjs`);
  await useBackend('cpu');
  work = tempDir('hardening-rest');
  outside = tempDir('hardening-rest-outside');
  const net = smallCnn([28, 28, 1], 10, 1);
  await net.save(folderSaveHandler(path.join(work, 'model')));
  net.dispose();
  model = path.join(work, 'model', 'model.json');
});

describe('gap 1: the engine data readers open regular files inside the data folder only', () => {
  test('a FIFO as the test images is refused at once, naming it (no hang)', () => {
    const dir = idxFolder(work, 'fifo-data');
    const images = path.join(dir, 't10k-images-idx3-ubyte');
    fs.rmSync(images);
    const made = spawnSync('mkfifo', [images]);
    assert.equal(made.status, 0, 'mkfifo');
    const r = refused(
      ['attack', '--model', model, '--data', dir, '--n', '10', '--steps', '2', '--workers', '1'],
      /fifo-data\/t10k-images-idx3-ubyte: is a FIFO \(named pipe\), not a regular file/,
    );
    assert.ok(r.ms < 30_000, `refused after ${r.ms} ms`);
  });

  test('a symlink in a data folder to a file outside it is refused before its size is looked at (CLI)', () => {
    const dir = idxFolder(work, 'escape-data');
    // An IDX file elsewhere, cut short: reading it would report its size in a truncation message.
    const other = encodeIdx([5000, 28, 28], new Uint8Array(1000), false);
    const target = outsideFile('t10k-images-idx3-ubyte', other);
    fs.rmSync(path.join(dir, 't10k-images-idx3-ubyte'));
    fs.symlinkSync(target, path.join(dir, 't10k-images-idx3-ubyte'));
    const r = refused(
      ['attack', '--model', model, '--data', dir, '--n', '10', '--steps', '2', '--workers', '1'],
      /escape-data\/t10k-images-idx3-ubyte: lies outside the data folder .*escape-data once symlinks are resolved/,
    );
    assert.doesNotMatch(r.stderr, /truncated|bytes|1016/, 'nothing about the outside file is said');
  });

  test('a symlink to /dev/zero is refused; a device named directly is refused as a device', async () => {
    const dir = idxFolder(work, 'zero-data');
    fs.rmSync(path.join(dir, 't10k-labels-idx1-ubyte'));
    fs.symlinkSync('/dev/zero', path.join(dir, 't10k-labels-idx1-ubyte'));
    await assert.rejects(loadData(dir, 'test', 10), /t10k-labels-idx1-ubyte: lies outside the data folder/);
    assert.throws(() => statRegularFile('/dev/zero'), /\/dev\/zero: is a device, not a regular file/);
    // The rule holds inside insideDataFolder only: the same device inside its own folder is still refused as a device.
    assert.throws(() => insideDataFolder('/dev', () => statRegularFile('/dev/zero')), /is a device/);
  });

  test('CIFAR, NumPy and image folders: an escaping symlink is refused by the same rule, no size said', async () => {
    // CIFAR-10: a test batch elsewhere that is not whole records (its size would be quoted).
    const cifar = path.join(work, 'cifar-escape');
    fs.mkdirSync(cifar);
    fs.symlinkSync(outsideFile('test_batch.bin', new Uint8Array(3075)), path.join(cifar, 'test_batch.bin'));
    await assert.rejects(loadData(cifar, 'test', 1), (err: Error) => {
      assert.match(err.message, /cifar-escape\/test_batch\.bin: lies outside the data folder/);
      assert.doesNotMatch(err.message, /3075|bytes/);
      return true;
    });
    // NumPy: x_test.npy elsewhere.
    const numpy = path.join(work, 'numpy-escape');
    fs.mkdirSync(numpy);
    fs.symlinkSync(outsideFile('x_test.npy', new Uint8Array(200)), path.join(numpy, 'x_test.npy'));
    fs.symlinkSync(outsideFile('y_test.npy', new Uint8Array(200)), path.join(numpy, 'y_test.npy'));
    await assert.rejects(loadData(numpy, 'test', 1), /numpy-escape\/x_test\.npy: lies outside the data folder/);
    // An image folder: the first image is inside, the second leads out.
    const images = path.join(work, 'images-escape');
    fs.mkdirSync(path.join(images, 'test', 'cat'), { recursive: true });
    const png = new PNG({ width: 4, height: 4 });
    png.data.fill(200);
    const bytes = PNG.sync.write(png);
    fs.writeFileSync(path.join(images, 'test', 'cat', 'a.png'), bytes);
    fs.symlinkSync(outsideFile('b.png', bytes), path.join(images, 'test', 'cat', 'b.png'));
    // The folder's lister counts the link as an image of the split, and reading it is refused by name
    // (not left out of the split unsaid) ...
    await assert.rejects(loadData(images, 'test', 2), /images-escape\/test\/cat\/b\.png: lies outside the data folder/);
    // ... as the engine's image reader, handed it alone, refuses it by the same rule.
    assert.throws(
      () => insideDataFolder(images, () => decodeImage(path.join(images, 'test', 'cat', 'b.png'))),
      /images-escape\/test\/cat\/b\.png: lies outside the data folder/,
    );
    // The same folder with the image inside loads: the rule refuses only what leaves.
    fs.rmSync(path.join(images, 'test', 'cat', 'b.png'));
    fs.writeFileSync(path.join(images, 'test', 'cat', 'b.png'), bytes);
    const loaded = await loadData(images, 'test', 2);
    assert.equal(loaded.samples.count, 2);
  });

  test('the spec analysis describes a data folder by the same rule (an escaping symlink is a problem, no size said)', () => {
    const dir = path.join(work, 'escape-data');
    const problem = new WorkspaceIndex([work]).data(dir, work) as { problem?: string };
    assert.match(problem.problem ?? '', /escape-data\/t10k-images-idx3-ubyte: lies outside the data folder/);
    assert.doesNotMatch(problem.problem!, /5000|bytes/);
  });

  test('a data folder that is itself a symlink, with files inside it, loads', async () => {
    const real = idxFolder(outside, 'real-data', 12);
    const link = path.join(work, 'linked-data');
    fs.symlinkSync(real, link);
    const loaded = await loadData(link, 'test', 12);
    assert.equal(loaded.samples.count, 12);
    assert.deepEqual(loaded.shape, [28, 28, 1]);
  });
});

describe("gap 5: an attack's own defaults win unless the user set the option", () => {
  test('ownDefaults: a defaulted --steps gives APGD, FAB and the transfer attack their own; a given one is kept', () => {
    const settings = { ...defaultAttackJob(), model: '/m/model.json' };
    const defaulted = ['steps', 'restarts', 'randomStart'] as const;
    assert.deepEqual(ownDefaults(['fab', 'apgd-t', 'pgd', 'transfer', 'mi-fgsm'], settings, [...defaulted]), [
      { steps: 100 },
      { steps: 100 },
      {},
      { steps: 20 },
      {},
    ]);
    // pgd and fgsm take the CLI's defaults as their own: no params, the job runs as before.
    assert.equal(ownDefaults(['fgsm', 'pgd', 'pgd:margin'], settings, [...defaulted]), undefined);
    // --steps typed (even 10): it applies to every attack.
    assert.equal(ownDefaults(['fab', 'apgd'], settings, ['restarts', 'randomStart']), undefined);
  });

  test('the CLI runs FAB and APGD with 100 steps and PGD with 10 unless --steps is given (report params)', () => {
    const run = () =>
      cli('attack', '--model', model, '--attack', 'fab,apgd,pgd', '--n', '2', '--json', '--workers', '1');
    const params = (r: CliRun) => {
      assert.equal(r.status, 0, r.stderr);
      return (JSON.parse(r.stdout) as { attacks: { label: string; params: { steps: number } }[] }).attacks.map((a) => [
        a.label,
        a.params.steps,
      ]);
    };
    assert.deepEqual(params(run()), [
      ['FAB', 100],
      ['APGD-CE', 100],
      ['PGD-10', 10],
    ]);
    const given = cli(
      'attack',
      ...['--model', model, '--attack', 'fab,apgd,pgd', '--steps', '10', '--n', '2', '--json', '--workers', '1'],
    );
    assert.deepEqual(params(given), [
      ['FAB-10', 10],
      ['APGD-CE-10', 10],
      ['PGD-10', 10],
    ]);
  });
});

describe('gap 4: the wasm kernels keep NaN through relu and relu6, as the cpu backend does', () => {
  test('fused relu/relu6 products, Relu6 and ClipByValue give NaN for NaN on wasm and cpu alike', async () => {
    const results: Record<string, number[][]> = {};
    for (const backend of ['cpu', 'wasm'] as const) {
      await useBackend(backend);
      results[backend] = tf.tidy(() => {
        const v = tf.tensor2d([NaN, 1, -1, 1], [1, 4]);
        const w = tf.ones([4, 2]);
        const x = tf.tensor4d([NaN, 1, 2, NaN, 0, -1, 3, 4], [1, 2, 2, 2]);
        const k = tf.ones([1, 1, 2, 2]) as tf.Tensor4D;
        const bias = tf.tensor1d([0.5, 0.5]);
        return [
          tf.fused.matMul({ a: v, b: w, bias, activation: 'relu' }),
          tf.fused.matMul({ a: v, b: w, bias, activation: 'relu6' }),
          tf.fused.conv2d({ x, filter: k, strides: 1, pad: 'valid', bias, activation: 'relu6' }),
          tf.fused.conv2d({ x, filter: k, strides: 1, pad: 'valid', bias, activation: 'relu' }),
          tf.relu6(x),
          tf.clipByValue(v, -0.5, 0.5),
        ].map((t) => Array.from(t.dataSync()));
      });
    }
    await useBackend('cpu');
    assert.deepEqual(results.wasm, results.cpu);
    assert.deepEqual(results.cpu![0], [NaN, NaN]);
    assert.deepEqual(results.cpu![2], [NaN, NaN, NaN, NaN, 0, 0, 6, 6]);
    assert.deepEqual(results.cpu![5], [NaN, 0.5, -0.5, 0.5]);
  });

  test('a Layers model whose activations overflow is refused on wasm too, naming conv1', () => {
    const net = smallCnn([28, 28, 1], 10, 1);
    const conv1Size = net.layers[0]!.countParams();
    net.dispose();
    const dir = path.join(work, 'overflow-layers');
    fs.cpSync(path.dirname(model), dir, { recursive: true });
    const weights = fs.readFileSync(path.join(dir, 'weights.bin'));
    const floats = new Float32Array(weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.length));
    floats.fill(3e38, 0, conv1Size);
    fs.writeFileSync(path.join(dir, 'weights.bin'), Buffer.from(floats.buffer));
    const huge = path.join(dir, 'model.json');
    for (const backend of ['wasm', 'cpu']) {
      const r = refused(
        ['attack', '--model', huge, '--n', '20', '--steps', '2', '--workers', '1', '--backend', backend],
        /overflow-layers\/model\.json: logits: are not finite \(NaN or ±∞\) for test image 0 on the clean pass; the first non-finite output is layer "conv1" \(Conv2D\)/,
      );
      assert.doesNotMatch(r.stdout, /clean\s+\d/, 'no accuracy table');
    }
  });
});

describe("gap 2: the language server's workspace listing is walked asynchronously and bounded", () => {
  /** 5,000 files in 200 folders (20 × 10), one model.json in each, and an IDX data folder. */
  function bigWorkspace(): string {
    const ws = path.join(work, 'big-workspace');
    for (let a = 0; a < 20; a++) {
      for (let b = 0; b < 10; b++) {
        const dir = path.join(ws, `group${a}`, `m${b}`);
        fs.mkdirSync(dir, { recursive: true });
        fs.writeFileSync(path.join(dir, 'model.json'), '{}');
        for (let f = 1; f < 25; f++) fs.writeFileSync(path.join(dir, `note${f}.txt`), '');
      }
    }
    idxFolder(ws, 'data', 4);
    // Deeper than LISTING_LIMITS.depth: not listed.
    const deep = path.join(ws, ...Array.from({ length: LISTING_LIMITS.depth + 2 }, (_, i) => `d${i}`));
    fs.mkdirSync(deep, { recursive: true });
    fs.writeFileSync(path.join(deep, 'model.json'), '{}');
    return ws;
  }
  let ws: string;
  before(() => {
    ws = bigWorkspace();
  });

  test('the first call answers at once with no listing; the walk yields to the event loop and then lists it all', async (t) => {
    const index = new WorkspaceIndex([ws]);
    let listedCalls = 0;
    index.onListed = () => listedCalls++;
    assert.deepEqual(index.models(), [], 'answered without walking');
    let last = performance.now();
    let maxGap = 0;
    const timer = setInterval(() => {
      const now = performance.now();
      maxGap = Math.max(maxGap, now - last);
      last = now;
    }, 1);
    await index.listed();
    clearInterval(timer);
    assert.equal(listedCalls, 1);
    t.diagnostic(`longest event-loop wait during the walk: ${maxGap.toFixed(1)} ms`);
    assert.ok(maxGap < 1000, `the event loop waited ${maxGap.toFixed(0)} ms during the walk`);
    const models = index.models();
    assert.equal(models.length, 200, 'every model within the depth bound, none deeper');
    assert.deepEqual(index.dataFolders(), [path.join(ws, 'data')]);
    // The CLI's synchronous walk follows the same rule: the same listing.
    const sync = new WorkspaceIndex([ws]);
    assert.deepEqual(sync.models(), models);
    assert.deepEqual(sync.dataFolders(), index.dataFolders());
  });

  test('a change while a walk runs starts it again; the last listing answers meanwhile', async () => {
    const index = new WorkspaceIndex([ws]);
    index.onListed = () => undefined;
    index.models();
    await index.listed();
    const added = path.join(ws, 'group0', 'added');
    fs.mkdirSync(added);
    fs.writeFileSync(path.join(added, 'model.json'), '{}');
    index.invalidateModels();
    assert.equal(index.models().length, 200, 'the previous listing while the new walk runs');
    index.invalidateModels(); // a second change mid-walk
    await index.listed();
    assert.equal(index.models().length, 201);
    assert.ok(index.models().includes(path.join(added, 'model.json')));
    fs.rmSync(added, { recursive: true });
  });

  test('the server answers a hover and publishes diagnostics within 1 s while it walks the big workspace', async () => {
    const client = new LspClient();
    try {
      await client.initialize(ws);
      const spec = path.join(ws, 'exp.robustness.json');
      const text = JSON.stringify({ model: 'group0/m1/modle.json', data: 'embedded', attacks: ['pgd'] }, null, 2);
      fs.writeFileSync(spec, text);
      const start = performance.now();
      const diagnostics = await client.open(spec, text);
      const opened = performance.now() - start;
      const { line, character } = positionOf(text, '"pgd"', 2);
      const hoverStart = performance.now();
      const hover = await client.hover(spec, line, character);
      const hovered = performance.now() - hoverStart;
      assert.ok(opened < 1000, `diagnostics after ${opened.toFixed(0)} ms`);
      assert.ok(hovered < 1000, `hover after ${hovered.toFixed(0)} ms`);
      assert.match(hover!.contents.value, /PGD/);
      assert.ok(diagnostics!.some((d) => /modle\.json/.test(d.message)));
      // Once the walk completes, the spec is analysed again and its suggestion names the model.
      const deadline = Date.now() + 20_000;
      const suggests = () =>
        client.diagnostics.get(uriOf(spec))?.some((d) => /did you mean "group0\/m1\/model\.json"/.test(d.message));
      while (!suggests() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.ok(suggests(), JSON.stringify(client.diagnostics.get(uriOf(spec))));
    } finally {
      await client.stop();
    }
  });
});

describe('gap 3: robustness.dataFolder is a data root for the Run lenses and the server, and a change reaches the server', () => {
  test('settingDataRoots: unset gives none, an absolute folder itself, a relative one under each workspace folder', () => {
    assert.deepEqual(settingDataRoots('', ['/w']), []);
    assert.deepEqual(settingDataRoots('  ', ['/w']), []);
    assert.deepEqual(settingDataRoots(undefined, ['/w']), []);
    assert.deepEqual(settingDataRoots('/data/mnist/', ['/w']), ['/data/mnist']);
    assert.deepEqual(settingDataRoots('../shared', ['/a/w1', '/b/w2']), ['/a/shared', '/b/shared']);
    assert.deepEqual(dataRootsOption({ dataRoots: ['/x', 'relative', 3, null] }), ['/x']);
    assert.deepEqual(dataRootsOption(undefined), []);
  });

  test('a spec naming data outside its workspace: refused by the analysis unless the data root is given', () => {
    const ws = path.join(work, 'roots-ws');
    fs.mkdirSync(ws, { recursive: true });
    const data = idxFolder(outside, 'root-data', 4);
    const spec = path.join(ws, 'exp.robustness.json');
    const text = JSON.stringify({ model: 'm/model.json', data, attacks: ['pgd'] });
    const refusal =
      /is outside .*name data elsewhere through the robustness\.dataFolder setting or the CLI's --data-root/;
    const messages = (roots: string[]) =>
      analyzeSpec(text, new WorkspaceIndex([ws], roots).factsFor(spec)).problems.map((p) => p.message);
    assert.ok(messages([]).some((m) => refusal.test(m)));
    assert.ok(!messages(settingDataRoots(data, [ws])).some((m) => refusal.test(m)));
  });

  test('the server takes the data roots at initialization and again on didChangeConfiguration, without a restart', async () => {
    const ws = path.join(work, 'roots-ws');
    const data = path.join(outside, 'root-data');
    const spec = path.join(ws, 'exp.robustness.json');
    const text = JSON.stringify({ model: 'm/model.json', data, attacks: ['pgd'] });
    fs.writeFileSync(spec, text);
    const client = new LspClient();
    const outsideError = () =>
      (client.diagnostics.get(uriOf(spec)) ?? []).some((d) => /robustness\.dataFolder setting/.test(d.message));
    const until = async (condition: () => boolean) => {
      const deadline = Date.now() + 10_000;
      while (!condition() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      return condition();
    };
    try {
      await client.connection.sendRequest('initialize', {
        processId: process.pid,
        rootUri: uriOf(ws),
        workspaceFolders: [{ uri: uriOf(ws), name: 'roots-ws' }],
        capabilities: {},
        initializationOptions: { dataRoots: [] },
      });
      await client.connection.sendNotification('initialized', {});
      await client.open(spec, text);
      assert.ok(outsideError(), 'refused without a data root');
      await client.connection.sendNotification('workspace/didChangeConfiguration', { settings: { dataRoots: [data] } });
      assert.ok(await until(() => !outsideError()), 'accepted once the setting names its folder');
      await client.connection.sendNotification('workspace/didChangeConfiguration', { settings: { dataRoots: [] } });
      assert.ok(await until(outsideError), 'refused again once the setting is cleared');
    } finally {
      await client.stop();
    }
  });
});
