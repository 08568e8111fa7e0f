/**
 * Issue 14, inputs half: each class of careless or hostile input gets one clear refusal, on
 * fixtures built here in a temporary folder. CLI cases run the built CLI (dist/cli.js) in that
 * folder and assert the exit code, the message (file and field named) and that nothing was written
 * or changed in the folder; engine cases call the engine directly.
 */
import { before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { onnx } from 'onnx-proto';
import { encodeIdx, folderSaveHandler, InputError, loadClassifier, smallCnn } from '../../src/engine';
import { loadData } from '../../src/engine/data/datasets';
import { predictSplit } from '../../src/engine/eval/accuracy';
import { fitPlanToModel, planFor } from '../../src/engine/run-job';
import { attackWorkers, checkOutDir, MIN_IMAGES_PER_WORKER } from '../../src/cli/main';
import { defaultAttackJob, type AttackJob } from '../../src/protocol/jobs';
import { expectNoLeak, refusedCli, tempDir, type CliRun, useBackend } from './helpers';

const ROOT = path.join(__dirname, '..', '..');
const CLI = path.join(ROOT, 'dist', 'cli.js');
const CNN_ONNX = path.join(ROOT, 'test', 'fixtures', 'onnx', 'cnn.onnx');

let work: string;
let model: string;

/** A refused CLI run: exit 2, one error line matching `pattern`, no stack, `work` left as it was. */
const refused = (args: string[], pattern: RegExp): CliRun => refusedCli(work, args, pattern);

/** An IDX data folder: `n` images of hw×hw per split and the labels `label(i)`, classes.json if `classes`. */
function idxFolder(
  name: string,
  splits: Partial<Record<'train' | 'test', { n: number; hw: number; label: (i: number) => number }>>,
  classes?: number,
): string {
  const dir = path.join(work, name);
  fs.mkdirSync(dir, { recursive: true });
  for (const [split, { n, hw, label }] of Object.entries(splits)) {
    const prefix = split === 'train' ? 'train' : 't10k';
    const pixels = Uint8Array.from({ length: n * hw * hw }, (_, i) => (i * 37) % 256);
    fs.writeFileSync(path.join(dir, `${prefix}-images-idx3-ubyte`), encodeIdx([n, hw, hw], pixels, false));
    const labels = Uint8Array.from({ length: n }, (_, i) => label(i));
    fs.writeFileSync(path.join(dir, `${prefix}-labels-idx1-ubyte`), encodeIdx([n], labels, false));
  }
  if (classes) {
    fs.writeFileSync(
      path.join(dir, 'classes.json'),
      JSON.stringify(Array.from({ length: classes }, (_, i) => `c${i}`)),
    );
  }
  return dir;
}

async function saveLayers(net: tfl.LayersModel, name: string): Promise<string> {
  await net.save(folderSaveHandler(path.join(work, name)));
  net.dispose();
  return path.join(work, name, 'model.json');
}

/** cnn.onnx changed by `edit`, written to work/<name>. */
function onnxVariant(name: string, edit: (m: onnx.ModelProto) => void): string {
  const m = onnx.ModelProto.decode(fs.readFileSync(CNN_ONNX));
  edit(m);
  const file = path.join(work, name);
  fs.writeFileSync(file, onnx.ModelProto.encode(m).finish());
  return file;
}

before(async () => {
  assert.ok(fs.existsSync(CLI), `${CLI} is missing; build it with node esbuild.mjs`);
  await useBackend('cpu');
  work = tempDir('hardening-inputs');
  model = await saveLayers(smallCnn([28, 28, 1], 10, 1), 'model');
});

describe('class 3: silently wrong numbers', () => {
  test('NaN weights are refused at load; logits that overflow are refused on the clean pass, naming the first layer (Layers)', async () => {
    const net = smallCnn([28, 28, 1], 10, 1);
    const conv1Size = net.layers[0]!.countParams();
    net.dispose();
    const variant = (name: string, edit: (floats: Float32Array) => void) => {
      const dir = path.join(work, name);
      fs.cpSync(path.dirname(model), dir, { recursive: true });
      const weights = fs.readFileSync(path.join(dir, 'weights.bin'));
      const floats = new Float32Array(weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.length));
      edit(floats);
      fs.writeFileSync(path.join(dir, 'weights.bin'), Buffer.from(floats.buffer));
      return path.join(dir, 'model.json');
    };
    // A few NaN in conv2's kernel: a max pool can hide them from the logits, so the load refuses them.
    const nan = variant('nan-layers', (f) => f.fill(NaN, conv1Size, conv1Size + 5));
    refused(
      ['attack', '--model', nan, '--n', '20', '--steps', '2', '--workers', '1'],
      /nan-layers\/model\.json: weights "conv2\/kernel": hold NaN or ±∞ values/,
    );
    // Finite weights whose products overflow float32: conv1's output is the first that is not finite.
    // On cpu here; hardening-rest.test.ts runs the same model on wasm (whose fused relu now keeps NaN).
    const huge = variant('overflow-layers', (f) => f.fill(3e38, 0, conv1Size));
    const r = refused(
      ['attack', '--model', huge, '--n', '20', '--steps', '2', '--workers', '1', '--backend', 'cpu'],
      /overflow-layers\/model\.json: logits: are not finite \(NaN or ±∞\) for test image 0 on the clean pass; the first non-finite output is layer "conv1" \(Conv2D\)/,
    );
    assert.doesNotMatch(r.stdout, /clean\s+\d/, 'no accuracy table');
  });

  test('NaN weights in an ONNX graph or a tfjs graph model: the first non-finite node is named', async () => {
    const onnxFile = onnxVariant('nan.onnx', (m) => {
      const w = m.graph!.initializer!.find((t) => t.name === 'conv2.weight')!;
      const raw = Buffer.from(w.rawData!);
      raw.writeFloatLE(NaN, 0);
      w.rawData = raw;
    });
    const graphDir = path.join(work, 'nan-graph');
    fs.cpSync(path.join(ROOT, 'test', 'fixtures', 'graph-model'), graphDir, { recursive: true });
    const bin = fs.readFileSync(path.join(graphDir, 'weights.bin'));
    bin.writeFloatLE(NaN, 8); // after flat_shape (int32 [2]): w[0, 0]
    fs.writeFileSync(path.join(graphDir, 'weights.bin'), bin);
    const cases: Array<[string, RegExp]> = [
      [onnxFile, /nan\.onnx: logits: are not finite .* first non-finite output is node "\/conv2\/Conv" \(Conv\)/],
      [
        path.join(graphDir, 'model.json'),
        /nan-graph\/model\.json: logits: are not finite .* first non-finite output is node "logits" \(MatMul\)/,
      ],
    ];
    for (const [file, pattern] of cases) {
      const classifier = await loadClassifier(file);
      try {
        const [h, w, c] = classifier.inputShape;
        const split = { images: new Uint8Array(4 * h * w * c).fill(128), labels: new Uint8Array(4), count: 4 };
        await expectNoLeak(() =>
          assert.rejects(
            () => predictSplit(classifier, split, classifier.inputShape, 2, { finite: true }),
            (err: Error) => {
              assert.ok(err instanceof InputError, err.message);
              assert.match(err.message, pattern);
              return true;
            },
          ),
        );
      } finally {
        classifier.dispose?.();
      }
    }
  });

  test('classes.json naming 3 classes for a 10-output model is refused, naming the file and both counts', () => {
    // Every loaded label is below 3, so the labels alone would pass: the count is the rule.
    const data = idxFolder(
      'three-names',
      { train: { n: 20, hw: 28, label: (i) => i % 3 }, test: { n: 20, hw: 28, label: (i) => i % 3 } },
      3,
    );
    refused(
      ['attack', '--model', model, '--data', data, '--n', '10', '--steps', '2', '--workers', '1'],
      /three-names\/classes\.json: names 3 classes, but .*model\.json has 10 outputs; name one class per output/,
    );
  });

  test('a test label 200 with classes.json, and a training label 200 after image 1,000, are refused as read', async () => {
    const data = idxFolder(
      'label200',
      {
        train: { n: 50, hw: 28, label: (i) => i % 10 },
        test: { n: 50, hw: 28, label: (i) => (i === 3 ? 200 : i % 10) },
      },
      10,
    );
    refused(
      ['attack', '--model', model, '--data', data, '--n', '20', '--steps', '2', '--workers', '1'],
      /label200\/t10k-labels-idx1-ubyte: \[3\]: is 200, but the data names 10 classes \(labels 0 to 9\)/,
    );
    const late = idxFolder(
      'train200',
      {
        train: { n: 1500, hw: 28, label: (i) => (i === 1200 ? 200 : i % 10) },
        test: { n: 50, hw: 28, label: (i) => i % 10 },
      },
      10,
    );
    refused(
      ['train', '--data', late, '--epochs', '1', '--workers', '1', '--out', path.join(work, 'never')],
      /train200\/train-labels-idx1-ubyte: \[1200\]: is 200, but the data names 10 classes/,
    );
    assert.ok(!fs.existsSync(path.join(work, 'never')));
    // Without classes.json the labels name the classes (0 to 200): a 10-class starting model is refused.
    const unnamed = idxFolder('train200-unnamed', {
      train: { n: 1500, hw: 28, label: (i) => (i === 1200 ? 200 : i % 10) },
      test: { n: 50, hw: 28, label: (i) => i % 10 },
    });
    refused(
      [
        'train',
        '--data',
        unnamed,
        '--init',
        model,
        '--epochs',
        '1',
        '--workers',
        '1',
        '--out',
        path.join(work, 'never'),
      ],
      /model\/model\.json: output: has 10 classes, but the labels of .*train200-unnamed run from 0 to 200/,
    );
    assert.ok(!fs.existsSync(path.join(work, 'never')));
  });

  test('a mixed-batch fraction outside (0, 1], or on TRADES, is refused before any training', () => {
    const out = path.join(work, 'never-mixed');
    const train = (...extra: string[]) => ['train', '--epochs', '1', '--workers', '1', '--out', out, ...extra];
    refused(
      train('--method', 'pgd-at', '--adv-fraction', '1.5'),
      /--adv-fraction: 1\.5 is invalid; need a fraction in \(0, 1\], e\.g\. 0\.5/,
    );
    refused(
      train('--method', 'trades', '--adv-fraction', '0.5'),
      /adversarial\.advFraction: mixes clean and adversarial images in the batches of pgd-at or fast-at; method "trades" already weighs a clean term \(use beta\)/,
    );
    assert.ok(!fs.existsSync(path.join(out, 'model.json')));
  });

  test('32×32 test images beside 28×28 training images are refused, naming the test file', () => {
    const data = idxFolder('mixed', {
      train: { n: 20, hw: 28, label: (i) => i % 10 },
      test: { n: 20, hw: 32, label: (i) => i % 10 },
    });
    refused(
      ['attack', '--model', model, '--data', data, '--n', '10', '--workers', '1'],
      /mixed\/t10k-images-idx3-ubyte: images are 32×32×1 \(IDX\) but the model takes 28×28×1/,
    );
    refused(
      ['train', '--data', data, '--epochs', '1', '--workers', '1', '--out', path.join(work, 'never')],
      /mixed\/t10k-images-idx3-ubyte: shape: test images are 32×32×1 but the training images \(train-images-idx3-ubyte\) are 28×28×1/,
    );
  });
});

describe('class 4: a data-sized array is never spread into a call', () => {
  test('200,000 labels load (no "Maximum call stack size exceeded"), and a label out of range is still found', async () => {
    const n = 200_000;
    const big = idxFolder('big', { test: { n, hw: 2, label: (i) => i % 10 } });
    const loaded = await loadData(big, 'test');
    assert.equal(loaded.samples.count, n);
    assert.equal(loaded.classNames.length, 10);
    const named = idxFolder('big-named', { test: { n, hw: 2, label: (i) => (i === n - 1 ? 12 : i % 10) } }, 10);
    await assert.rejects(
      () => loadData(named, 'test'),
      /t10k-labels-idx1-ubyte: \[199999\]: is 12, but the data names 10 classes/,
    );
    // No spread of a data-sized array anywhere in src: a call's arguments never take `...` of data.
    const offenders: string[] = [];
    const walk = (d: string) => {
      for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
        const full = path.join(d, entry.name);
        if (entry.isDirectory()) walk(full);
        else if (full.endsWith('.ts')) {
          fs.readFileSync(full, 'utf8')
            .split('\n')
            .forEach((line, i) => {
              if (/(Math\.(max|min)|\.push|\.unshift|fromCharCode)\(\s*\.\.\./.test(line)) {
                offenders.push(`${path.relative(ROOT, full)}:${i + 1}: ${line.trim()}`);
              }
            });
        }
      }
    };
    walk(path.join(ROOT, 'src', 'engine'));
    walk(path.join(ROOT, 'src', 'cli'));
    walk(path.join(ROOT, 'src', 'formats'));
    // Lists bounded by the model (weight groups, a conv's filters) or by epochs are not data-sized.
    const bounded = /models\/io\.ts|onnx\/interpreter\.ts|training\/train-loop\.ts/;
    assert.deepEqual(
      offenders.filter((o) => !bounded.test(o)),
      [],
    );
  });
});

describe('class 5: an attack runs its own defaults unless the user set the option', () => {
  const job = (attacks: string[], extra: Partial<AttackJob> = {}): AttackJob =>
    ({ ...defaultAttackJob(), model: 'm.json', attacks, ...extra }) as AttackJob;

  test('apgd-t runs dlr unless --loss is given; the targets shown are the ones used', () => {
    const own = planFor('apgd-t', job(['apgd-t']));
    assert.equal(own.options.loss, 'dlr');
    assert.equal(planFor('apgd-t', job(['apgd-t'], { loss: 'ce' })).options.loss, 'ce');
    const five = fitPlanToModel(own, 5, 'm.json');
    assert.equal((five.options as { targetClasses?: number }).targetClasses, 4);
    assert.equal(five.entry.label(five.options), 'APGD-T-10 (4 targets)');
    assert.equal(fitPlanToModel(own, 10, 'm.json'), own, 'a 10-class model runs the 9 targets asked');
  });

  test('a 2-class model: apgd-t and pgd:dlr are refused at planning time, naming the model and the fix', async () => {
    const two = await saveLayers(smallCnn([28, 28, 1], 2, 3), 'two-class');
    const data = idxFolder('two', { test: { n: 20, hw: 28, label: (i) => i % 2 } });
    refused(
      ['attack', '--model', two, '--data', data, '--attack', 'apgd-t', '--n', '10', '--workers', '1'],
      /two-class\/model\.json: output: has 2 classes, too few for APGD-T \(9 targets\): its dlr loss \(targeted\) needs at least 4 classes; choose an attack without targets/,
    );
    refused(
      ['attack', '--model', two, '--data', data, '--attack', 'pgd:dlr', '--n', '10', '--workers', '1'],
      /two-class\/model\.json: output: has 2 classes, too few for PGD-10 \(dlr\): its dlr loss needs at least 3 classes; choose another loss \(e\.g\. pgd:ce or --loss ce\)/,
    );
  });
});

describe('weak items', () => {
  test('option errors exit 2 with one line naming the option and the problem', () => {
    const cases: Array<[string[], RegExp]> = [
      [['--n', '0'], /'--n <n>' argument '0' is invalid\. --n must be an integer ≥ 1/],
      [['--n', '-5'], /--n must be an integer ≥ 1, got "-5"/],
      [['--n', 'abc'], /--n must be an integer ≥ 1, got "abc"/],
      [['--n', '2.5'], /--n must be an integer ≥ 1, got "2\.5"/],
      [['--eps', 'NaN'], /--eps must be a finite number, got "NaN"/],
      [['--eps', '1e309'], /--eps must be a finite number, got "1e309"/],
      [['--steps', '0'], /--steps must be an integer ≥ 1/],
      [['--restarts', '0'], /--restarts must be an integer ≥ 1/],
      [['--workers', '0'], /--workers must be an integer ≥ 1/],
      [['--bounds', '1,0', '--n', '5'], /^robustness-lab: --bounds: 1,0 is not a range: lo must be below hi/],
      [['--attack', 'pgd:ce:margin', '--n', '5'], /--attack: pgd:ce:margin: is not an attack: .*one loss at most/],
    ];
    for (const [args, pattern] of cases) refused(['attack', '--model', model, ...args], pattern);
    refused(
      ['curve', '--model', model, '--eps', '0.1,abc'],
      /'--eps <grid>' argument '0\.1,abc' is invalid\. --eps must be a finite number, got "abc"/,
    );
  });

  test('a model with 2 outputs, one with 3 inputs, and a huge declared input get clear messages', async () => {
    const input = tfl.input({ shape: [28, 28, 1], name: 'image' });
    const flat = tfl.layers.flatten().apply(input) as tfl.SymbolicTensor;
    const a = tfl.layers.dense({ units: 10, name: 'a' }).apply(flat) as tfl.SymbolicTensor;
    const b = tfl.layers.dense({ units: 10, name: 'b' }).apply(flat) as tfl.SymbolicTensor;
    const twoOut = await saveLayers(tfl.model({ inputs: input, outputs: [a, b] }), 'two-outputs');
    refused(
      ['attack', '--model', twoOut, '--n', '5', '--workers', '1'],
      /two-outputs\/model\.json: output: model has 2 outputs: a, b; choose one with --output/,
    );
    const chosen = await loadClassifier(twoOut, { output: 'b' });
    try {
      const logits = chosen.predictLogits(tf.zeros([1, 28, 28, 1]));
      assert.deepEqual(logits.shape, [1, 10]);
      logits.dispose();
    } finally {
      chosen.dispose?.();
    }
    const inputs = ['x1', 'x2', 'x3'].map((name) => tfl.input({ shape: [28, 28, 1], name }));
    const joined = tfl.layers.concatenate().apply(inputs) as tfl.SymbolicTensor;
    const out = tfl.layers.dense({ units: 10 }).apply(tfl.layers.flatten().apply(joined)) as tfl.SymbolicTensor;
    const threeIn = await saveLayers(tfl.model({ inputs, outputs: out }), 'three-inputs');
    refused(
      ['attack', '--model', threeIn, '--n', '5', '--workers', '1'],
      /three-inputs\/model\.json: inputs: model has 3 inputs: x1, x2, x3; Robustness Lab attacks a model with one image input/,
    );
    const huge = onnxVariant('huge.onnx', (m) => {
      const dims = m.graph!.input![0]!.type!.tensorType!.shape!.dim!;
      dims[2]!.dimValue = 100_000;
      dims[3]!.dimValue = 100_000;
    });
    refused(
      ['attack', '--model', huge, '--n', '5', '--workers', '1'],
      /huge\.onnx: graph\.input: declares 100000×100000×1 = 10,000,000,000 values an image; at most 16,777,216/,
    );
  });

  test('0 test images is an error, not "clean 0.0%"', () => {
    const empty = idxFolder('empty', {
      train: { n: 5, hw: 28, label: (i) => i % 10 },
      test: { n: 0, hw: 28, label: () => 0 },
    });
    const r = refused(
      ['attack', '--model', model, '--data', empty, '--n', '5', '--workers', '1'],
      /empty\/t10k-images-idx3-ubyte: test: holds no test images; an evaluation needs at least one/,
    );
    assert.doesNotMatch(r.stdout + r.stderr, /0\.0%/);
  });

  test('--out that is a file, lies under a file, or is not writable is refused before the attack runs', () => {
    const file = path.join(work, 'a-file');
    fs.writeFileSync(file, 'x');
    const args = ['attack', '--model', model, '--n', '5', '--steps', '1000000', '--workers', '1', '--out'];
    // --steps 1000000 would take minutes: a refusal within the timeout shows the check comes first.
    const r = refused([...args, file], /^robustness-lab: --out: .*a-file is a file, not a folder/);
    assert.doesNotMatch(r.stderr, /clean: /, 'refused before the clean pass');
    refused([...args, path.join(file, 'report')], /--out: .*a-file\/report lies under .*a-file, which is a file/);
    if (process.getuid?.() !== 0) {
      const locked = path.join(work, 'locked');
      fs.mkdirSync(locked);
      fs.chmodSync(locked, 0o500);
      try {
        refused([...args, path.join(locked, 'out')], /--out: .*locked is not writable/);
      } finally {
        fs.chmodSync(locked, 0o700);
      }
    }
    // The same check, directly: a missing folder under a writable one is fine.
    checkOutDir(path.join(work, 'new', 'deeper'));
    assert.throws(() => checkOutDir(file), /a-file is a file, not a folder/);
  });

  test('--steps 1e9 reports the step it is on during the attack stage', async () => {
    const child = spawn(
      process.execPath,
      [CLI, 'attack', '--model', model, '--attack', 'pgd', '--n', '5', '--steps', '1000000000', '--workers', '1'],
      { cwd: work, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    const seen = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 40_000);
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        if (/PGD-1000000000 · step \d+ of 1000000000/.test(stderr)) {
          clearTimeout(timer);
          resolve(true);
        }
      });
      child.on('exit', () => {
        clearTimeout(timer);
        resolve(false);
      });
    });
    child.kill('SIGKILL');
    assert.ok(seen, `no step progress within 40 s:\n${stderr}`);
  });

  test('--workers 64 --n 200 is capped at what helps, and says so', () => {
    assert.deepEqual(attackWorkers(64, 200, 16, 'auto'), {
      workers: 2,
      note: `--workers 64 capped at 2: 16 cores, 200 images (at least ${MIN_IMAGES_PER_WORKER} a worker)`,
    });
    assert.deepEqual(attackWorkers(64, 10_000, 4, 'auto'), { workers: 4, note: '--workers 64 capped at 4: 4 cores' });
    assert.deepEqual(attackWorkers(2, 150, 8, 'auto').workers, 1);
    assert.deepEqual(attackWorkers(4, 1000, 8, 'wasm-stock'), { workers: 1 });
    assert.deepEqual(attackWorkers(2, 1000, 8, 'auto'), { workers: 2 });
    assert.ok(os.availableParallelism() >= 1);
  });
});
