/**
 * Our wasm kernels against the cpu backend's reference over random shapes: strides 1 and 2,
 * kernels 3–5, same and valid padding, 1–32 channels. Relative error ≤ 1e-4.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { fgsm, initBackend, ourKernelsActive } from '../../src/engine';
import { engineTest, linearClassifier, seededFloats } from './helpers';

interface Case {
  batch: number;
  size: number;
  inC: number;
  outC: number;
  k: number;
  stride: 1 | 2;
  pad: 'same' | 'valid';
}

function cases(count: number): Case[] {
  const r = seededFloats(count * 7, 42);
  const pick = (i: number, options: number[]) => options[Math.floor(r[i]! * options.length)]!;
  const list: Case[] = [];
  for (let c = 0; c < count; c++) {
    const o = c * 7;
    list.push({
      batch: pick(o, [1, 2, 3, 5]),
      size: pick(o + 1, [6, 7, 9, 12, 14]),
      inC: pick(o + 2, [1, 2, 3, 8, 16, 32]),
      outC: pick(o + 3, [1, 4, 16, 32]),
      k: pick(o + 4, [3, 4, 5]),
      stride: c % 2 === 0 ? 1 : 2,
      pad: Math.floor(c / 2) % 2 === 0 ? 'same' : 'valid',
    });
  }
  return list;
}

function relError(actual: Float32Array, expected: Float32Array): number {
  let diff = 0;
  let scale = 1e-6;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i]! - expected[i]!));
    scale = Math.max(scale, Math.abs(expected[i]!));
  }
  return diff / scale;
}

async function onBackend(name: 'cpu' | 'wasm', f: () => tf.Tensor): Promise<Float32Array> {
  await initBackend(name);
  const t = f();
  const values = (await t.data()) as Float32Array;
  t.dispose();
  return values;
}

const CASES = cases(32);

test('Conv2DBackpropFilter and Conv2DBackpropInput on wasm match cpu (32 random shapes)', async () => {
  for (const [i, c] of CASES.entries()) {
    const xShape: [number, number, number, number] = [c.batch, c.size, c.size, c.inC];
    const wShape: [number, number, number, number] = [c.k, c.k, c.inC, c.outC];
    const out = c.pad === 'same' ? Math.ceil(c.size / c.stride) : Math.floor((c.size - c.k) / c.stride) + 1;
    const dyShape: [number, number, number, number] = [c.batch, out, out, c.outC];
    const xs = seededFloats(
      xShape.reduce((a, b) => a * b),
      100 + i,
      -1,
      1,
    );
    const ws = seededFloats(
      wShape.reduce((a, b) => a * b),
      200 + i,
      -1,
      1,
    );
    const dys = seededFloats(
      dyShape.reduce((a, b) => a * b),
      300 + i,
      -1,
      1,
    );
    const filterGrad = () =>
      tf
        .engine()
        .runKernel(
          'Conv2DBackpropFilter',
          { x: tf.tensor4d(xs, xShape), dy: tf.tensor4d(dys, dyShape) },
          { strides: c.stride, pad: c.pad, dataFormat: 'NHWC', filterShape: wShape },
        ) as tf.Tensor;
    const inputGrad = () =>
      tf.conv2dTranspose(tf.tensor4d(dys, dyShape), tf.tensor4d(ws, wShape), xShape, c.stride, c.pad);
    const label = JSON.stringify(c);
    const expectedFilter = await onBackend('cpu', () => tf.tidy(filterGrad));
    const expectedInput = await onBackend('cpu', () => tf.tidy(inputGrad));
    const before = tf.memory().numTensors;
    const actualFilter = await onBackend('wasm', () => tf.tidy(filterGrad));
    const actualInput = await onBackend('wasm', () => tf.tidy(inputGrad));
    assert.ok(ourKernelsActive());
    assert.equal(tf.memory().numTensors, before, `leak in ${label}`);
    assert.equal(actualFilter.length, expectedFilter.length);
    assert.ok(
      relError(actualFilter, expectedFilter) <= 1e-4,
      `filter grad ${label}: rel error ${relError(actualFilter, expectedFilter)}`,
    );
    assert.ok(
      relError(actualInput, expectedInput) <= 1e-4,
      `input grad ${label}: rel error ${relError(actualInput, expectedInput)}`,
    );
  }
});

engineTest('the whole conv gradient through tf.grad matches cpu: stride 2 on the example layer', async () => {
  const x = seededFloats(4 * 14 * 14 * 16, 7, -1, 1);
  const w = seededFloats(4 * 4 * 16 * 32, 8, -1, 1);
  const loss = () =>
    tf.tidy(() => {
      const [dx, dw] = tf.grads((xi: tf.Tensor, wi: tf.Tensor) =>
        tf.sum(tf.square(tf.conv2d(xi as tf.Tensor4D, wi as tf.Tensor4D, 2, 'same'))),
      )([tf.tensor4d(x, [4, 14, 14, 16]), tf.tensor4d(w, [4, 4, 16, 32])]);
      return tf.concat([tf.reshape(dx!, [-1]), tf.reshape(dw!, [-1])]);
    });
  const expected = await onBackend('cpu', loss);
  const actual = await onBackend('wasm', loss);
  assert.ok(relError(actual, expected) <= 1e-4, `rel error ${relError(actual, expected)}`);
});

engineTest('BatchMatMul with transpose flags on wasm matches cpu', async () => {
  for (const [transposeA, transposeB] of [
    [true, false],
    [false, true],
    [true, true],
  ] as const) {
    const a = seededFloats(2 * 7 * 5, 1, -1, 1);
    const b = seededFloats(2 * 5 * 3, 2, -1, 1);
    const f = () =>
      tf.tidy(() =>
        tf.matMul(
          tf.tensor3d(a, transposeA ? [2, 5, 7] : [2, 7, 5]),
          tf.tensor3d(b, transposeB ? [2, 3, 5] : [2, 5, 3]),
          transposeA,
          transposeB,
        ),
      );
    const expected = await onBackend('cpu', f);
    const actual = await onBackend('wasm', f);
    assert.ok(relError(actual, expected) <= 1e-5, `transposeA=${transposeA} transposeB=${transposeB}`);
  }
});

engineTest('stock wasm lacks Conv2DBackpropFilter, which is why we register ours', async () => {
  await initBackend('wasm-stock');
  assert.equal(ourKernelsActive(), false);
  assert.equal(tf.getKernel('Conv2DBackpropFilter', 'wasm'), undefined);
  await initBackend('wasm');
  assert.ok(tf.getKernel('Conv2DBackpropFilter', 'wasm'));
});

engineTest('Sign on wasm is exact for tiny values; stock tfjs-wasm zeroes every |x| ≤ 1.19e-7', async () => {
  const values = [1e-3, 1.2e-7, 1.1e-7, -1.1e-7, 1e-20, -1e-30, 0, Number.NaN];
  const f = () => tf.tidy(() => tf.sign(tf.tensor1d(values)));
  const expected = await onBackend('cpu', f);
  const actual = await onBackend('wasm', f);
  assert.deepEqual(Array.from(actual), Array.from(expected));
  assert.deepEqual(Array.from(actual), [1, 1, 1, -1, 1, -1, 0, 0]);
  // The reason for our kernel: when this starts failing, tfjs-wasm has fixed its Sign.
  await initBackend('wasm-stock');
  const stock = tf.tidy(() => f().dataSync());
  assert.deepEqual(Array.from(stock).slice(0, 7), [1, 1, 0, 0, 0, 0, 0]);
  await initBackend('wasm');
});

engineTest('FGSM moves every pixel by ε even where the loss gradient is below 1e-7', async () => {
  await initBackend('wasm');
  // A linear model with weights ~1e-9: CE gradients ≈ 5e-10, all lost to the stock Sign.
  const model = linearClassifier(seededFloats(16, 5, 1e-9, 2e-9), 0, [4, 4, 1]);
  const x = tf.tensor4d(seededFloats(32, 6, 0.3, 0.7), [2, 4, 4, 1]);
  const y = tf.tensor1d([0, 0], 'int32');
  const result = await fgsm(model, x, y, { norm: 'linf', eps: 0.05, bounds: [0, 1] });
  const delta = tf.tidy(() => tf.sub(result.xAdv, x).dataSync());
  for (const d of delta)
    assert.ok(
      Math.abs(d + 0.05) < 1e-6,
      `pixel moved by ${d}, expected −0.05 (descending w·x lowers the true ` + 'class)',
    );
  tf.dispose([x, y, result.xAdv]);
  model.dispose?.();
});
