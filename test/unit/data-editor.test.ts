/**
 * The editor's view of every data kind: the workspace index lists IDX, NumPy folders,
 * .npz files, CIFAR-10/100 and image folders for completion (not a folder of screenshots), and the
 * spec analysis checks each one's image shape against the model's input, after the spec's
 * "resize" and "channels", naming the fix; "labels": "coarse" is CIFAR-100's only.
 */
import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { zipSync } from 'fflate';
import { PNG } from 'pngjs';
import { analyzeSpec } from '../../src/experiment/analysis';
import { WorkspaceIndex } from '../../src/experiment/workspace';
import { tempDir } from './helpers';

const ROOT = path.join(__dirname, '..', '..');
let workspace = '';

function npy(descr: string, shape: number[], bytes: number): Buffer {
  let dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  dict += ' '.repeat(63 - ((10 + dict.length) % 64)) + '\n';
  const head = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, 0, 0]);
  head.writeUInt16LE(dict.length, 8);
  return Buffer.concat([head, Buffer.from(dict, 'latin1'), Buffer.alloc(bytes)]);
}

function png(h: number, w: number, colorType: 0 | 2): Buffer {
  return PNG.sync.write(new PNG({ width: w, height: h }), { colorType });
}

function write(relative: string, bytes: Buffer | string): void {
  const file = path.join(workspace, relative);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, bytes);
}

before(() => {
  workspace = tempDir('data-editor');
  // The example model: 28×28×1 → 10.
  write('cnn/model.json', fs.readFileSync(path.join(ROOT, 'examples', 'fashion-mnist', 'smallcnn', 'model.json')));
  const idxHeader = Buffer.alloc(16);
  idxHeader.writeUInt32BE(0x0803, 0);
  [4, 28, 28].forEach((v, i) => idxHeader.writeUInt32BE(v, 4 + 4 * i));
  write('data/idx/t10k-images-idx3-ubyte.gz', zlib.gzipSync(Buffer.concat([idxHeader, Buffer.alloc(4 * 784)])));
  write('data/numpy/x_test.npy', npy('|u1', [3, 32, 32, 3], 3 * 3072));
  write('data/numpy/y_test.npy', npy('|u1', [3], 3));
  write(
    'data/arrays.npz',
    Buffer.from(zipSync({ 'x_test.npy': npy('<f4', [2, 1, 28, 28], 2 * 784 * 4), 'y_test.npy': npy('|u1', [2], 2) })),
  );
  write('data/cifar10/test_batch.bin', Buffer.alloc(2 * 3073));
  write('data/cifar100/test.bin', Buffer.alloc(2 * 3074));
  write('data/cifar100/fine_label_names.txt', Array.from({ length: 100 }, (_, i) => `f${i}`).join('\n'));
  for (const c of ['cat', 'dog']) write(`data/pets/test/${c}/0.png`, png(20, 24, 2));
  // Screenshots next to source folders: images, but not a dataset.
  write('docs/shot.png', png(4, 4, 2));
  write('src/main.ts', 'export {};\n');
});

after(() => fs.rmSync(workspace, { recursive: true, force: true }));

/** The analysis of a spec in the workspace root with this data value, as error codes and messages. */
function check(data: unknown): { code: string; message: string; fixes?: string[] }[] {
  const index = new WorkspaceIndex([workspace]);
  const spec = { model: 'cnn/model.json', data, threat: { norm: 'linf', eps: 0.1 }, attacks: ['fgsm'] };
  const text = JSON.stringify(spec, null, 2);
  const { problems } = analyzeSpec(text, index.factsFor(path.join(workspace, 'x.robustness.json')));
  // Few images in these fixtures: the count warning is beside the point here.
  return problems
    .filter((p) => p.code !== 'data-count')
    .map((p) => ({
      code: p.code,
      message: p.message,
      ...(p.fixes ? { fixes: p.fixes.map((f) => f.replacement) } : {}),
    }));
}

test('completion lists every data kind: IDX, NumPy folder and .npz, CIFAR-10/100, image folders; not screenshots', () => {
  const facts = new WorkspaceIndex([workspace]).factsFor(path.join(workspace, 'x.robustness.json'));
  assert.deepEqual(facts.dataFolders!(), [
    'data/arrays.npz',
    'data/cifar10',
    'data/cifar100',
    'data/idx',
    'data/numpy',
    'data/pets',
  ]);
});

test('each data kind is checked against the model input, naming its kind and the conversion that fits', () => {
  const fixes = (resize: boolean, channels: boolean) =>
    [
      resize && 'add "resize": true (--resize) to resize them bilinearly',
      channels && 'add "channels": 1 (--channels 1) to convert them',
    ]
      .filter(Boolean)
      .join(', and ');
  assert.deepEqual(check('data/idx'), []);
  assert.deepEqual(check('data/arrays.npz'), []);
  const cases: [string, number, number, string][] = [
    ['data/numpy', 32, 32, 'NumPy'],
    ['data/cifar10', 32, 32, 'CIFAR-10'],
    ['data/cifar100', 32, 32, 'CIFAR-100'],
    ['data/pets', 20, 24, 'image folder'],
  ];
  for (const [id, h, w, kind] of cases) {
    const [problem, ...rest] = check(id);
    assert.equal(rest.length, 0, JSON.stringify(rest));
    assert.deepEqual(problem, {
      code: 'data-shape',
      message: `the ${id} images are ${h}×${w}×3 (${kind}) but cnn/model.json takes 28×28×1; ${fixes(true, true)}`,
      fixes: [`{"id":"${id}", "resize":true, "channels":1}`],
    });
    // Asked for, the conversion fits; half of it names the other half.
    assert.deepEqual(check({ id, resize: true, channels: 1 }), []);
    assert.deepEqual(
      check({ id, channels: 1 }).map((p) => p.message),
      [
        `the ${id} images are ${h}×${w}×3 (${kind}), ${h}×${w}×1 once converted, but cnn/model.json takes ` +
          `28×28×1; ${fixes(true, false)}`,
      ],
    );
    assert.deepEqual(
      check({ id, resize: true }).map((p) => p.message),
      [
        `the ${id} images are ${h}×${w}×3 (${kind}), 28×28×3 once converted, but cnn/model.json takes ` +
          `28×28×1; ${fixes(false, true)}`,
      ],
    );
  }
});

test('"labels": "coarse" is CIFAR-100\'s; an unknown label set or channel count is a schema error', () => {
  assert.deepEqual(check({ id: 'data/cifar100', labels: 'coarse', resize: true, channels: 1 }), []);
  assert.deepEqual(check({ id: 'data/idx', labels: 'coarse' }), [
    {
      code: 'data-labels',
      message: '"coarse" labels are CIFAR-100\'s; data/idx is IDX with one label set (leave "labels" out)',
    },
  ]);
  const codes = check({ id: 'data/idx', labels: 'medium', channels: 2 }).map((p) => p.code);
  assert.equal(codes.length, 2, codes.join(', '));
});
