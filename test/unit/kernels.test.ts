/**
 * Our wasm kernels against the cpu backend's reference over random shapes: strides 1 and 2,
 * kernels 3–5, same and valid padding, 1–32 channels. Relative error ≤ 1e-4 through the GEMMs;
 * the native kernels (native/kernels.c) ≤ 1e-5 against cpu and bit-equal to their JS loops.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { fgsm, initBackend, makeClassifier, ourKernelsActive, pgd, type ThreatModel } from '../../src/engine';
import { apgdLinfStep, linfStep, nativeKernelsAvailable, setNativeKernels } from '../../src/engine/kernels';
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

/** Runs `f` on wasm with the native kernels on, then off (the JS loops); restores them on. */
async function nativeAndJs(f: () => tf.Tensor): Promise<[Float32Array, Float32Array]> {
  const native = await onBackend('wasm', f);
  setNativeKernels(false);
  try {
    return [native, await onBackend('wasm', f)];
  } finally {
    setNativeKernels(true);
  }
}

test('the native kernels load from native/kernels.wasm on the wasm backend', async () => {
  await initBackend('wasm');
  assert.ok(nativeKernelsAvailable(), 'native/kernels.wasm was not found or did not instantiate');
  setNativeKernels(false);
  assert.equal(nativeKernelsAvailable(), false);
  setNativeKernels(true);
});

test('native col2im and im2col: conv gradients match cpu to 1e-5 and the JS loops exactly (24 random shapes)', async () => {
  const r = seededFloats(24 * 6, 77);
  const pick = (i: number, options: number[]) => options[Math.floor(r[i]! * options.length)]!;
  for (let c = 0; c < 24; c++) {
    const o = c * 6;
    const batch = pick(o, [1, 2, 3]);
    const size = pick(o + 1, [5, 8, 11]);
    const inC = pick(o + 2, [1, 2, 3, 5, 8, 16]);
    const outC = pick(o + 3, [1, 3, 8]);
    const k = pick(o + 4, [1, 2, 3, 4]);
    // tfjs refuses gradients of dilated convolutions, so our kernels never see a dilation.
    const stride = c % 3 === 1 ? 2 : 1;
    const pad = c % 2 === 0 ? 'same' : 'valid';
    const out = pad === 'same' ? Math.ceil(size / stride) : Math.floor((size - k) / stride) + 1;
    const xShape: [number, number, number, number] = [batch, size, size, inC];
    const wShape: [number, number, number, number] = [k, k, inC, outC];
    const dyShape: [number, number, number, number] = [batch, out, out, outC];
    const xs = seededFloats(batch * size * size * inC, 400 + c, -1, 1);
    const ws = seededFloats(k * k * inC * outC, 500 + c, -1, 1);
    const dys = seededFloats(batch * out * out * outC, 600 + c, -1, 1);
    const label = JSON.stringify({ batch, size, inC, outC, k, stride, pad });
    const filterGrad = () =>
      tf.tidy(
        () =>
          tf
            .engine()
            .runKernel(
              'Conv2DBackpropFilter',
              { x: tf.tensor4d(xs, xShape), dy: tf.tensor4d(dys, dyShape) },
              { strides: stride, pad, dataFormat: 'NHWC', filterShape: wShape },
            ) as tf.Tensor,
      );
    const expectedFilter = await onBackend('cpu', filterGrad);
    const before = tf.memory().numTensors;
    const [nativeFilter, jsFilter] = await nativeAndJs(filterGrad);
    assert.equal(tf.memory().numTensors, before, `leak in ${label}`);
    assert.ok(
      relError(nativeFilter, expectedFilter) <= 1e-5,
      `filter ${label}: ${relError(nativeFilter, expectedFilter)}`,
    );
    assert.deepEqual(nativeFilter, jsFilter, `filter ${label}: native differs from the JS loop`);
    const inputGrad = () =>
      tf.tidy(() => tf.conv2dTranspose(tf.tensor4d(dys, dyShape), tf.tensor4d(ws, wShape), xShape, stride, pad));
    const expectedInput = await onBackend('cpu', inputGrad);
    const [nativeInput, jsInput] = await nativeAndJs(inputGrad);
    assert.equal(tf.memory().numTensors, before, `leak in ${label}`);
    assert.ok(relError(nativeInput, expectedInput) <= 1e-5, `input ${label}: ${relError(nativeInput, expectedInput)}`);
    assert.deepEqual(nativeInput, jsInput, `input ${label}: native differs from the JS loop`);
  }
});

test('native Sign matches cpu on 1,003 values (the SIMD body and its tail), zeros and NaN included', async () => {
  const values = seededFloats(1003, 11, -1e-6, 1e-6);
  values[0] = 0;
  values[5] = Number.NaN;
  values[1002] = -0;
  values[1001] = Number.NaN;
  const f = () => tf.tidy(() => tf.sign(tf.tensor1d(values)));
  const expected = await onBackend('cpu', f);
  const [native, js] = await nativeAndJs(f);
  assert.deepEqual(Array.from(native), Array.from(expected));
  assert.deepEqual(native, js);
  assert.equal(native[5], 0);
});

/** One L∞ step composed from tfjs ops: what linfStep fuses. */
function composedStep(threat: ThreatModel, x: tf.Tensor4D, cur: tf.Tensor4D, g: tf.Tensor4D, a: tf.Tensor) {
  return tf.tidy(() => {
    const eps = typeof threat.eps === 'number' ? tf.scalar(threat.eps) : tf.tensor4d(threat.eps, [x.shape[0], 1, 1, 1]);
    const moved = tf.add(cur, tf.mul(a, tf.sign(g)));
    const delta = tf.minimum(tf.maximum(tf.sub(moved, x), tf.neg(eps)), eps);
    return tf.clipByValue(tf.add(x, delta), threat.bounds[0], threat.bounds[1]) as tf.Tensor4D;
  });
}

test('fused L∞ step matches the composed ops on cpu to 1e-5 and exactly on wasm (scalar and per-sample ε, α)', async () => {
  const shapes: Array<[number, number, number, number]> = [
    [1, 1, 1, 1],
    [3, 5, 7, 1],
    [4, 6, 6, 3],
    [2, 28, 28, 1],
    [5, 3, 3, 2],
  ];
  for (const [i, shape] of shapes.entries()) {
    const n = shape[0];
    const size = shape.reduce((a, b) => a * b);
    const xs = seededFloats(size, 700 + i, 0, 1);
    const cur = seededFloats(size, 800 + i, -0.2, 1.2);
    const grads = seededFloats(size, 900 + i, -1, 1).map((v, j) => (j % 7 === 0 ? 0 : j % 11 === 0 ? v * 1e-9 : v));
    for (const perSample of [false, true]) {
      const eps = perSample ? seededFloats(n, 1000 + i, 0.01, 0.3) : 0.1;
      const alphas = perSample ? seededFloats(n, 1100 + i, 0.005, 0.1) : undefined;
      const threat: ThreatModel = { norm: 'linf', eps, bounds: [0.05, 0.95] };
      const run = (fused: boolean) => () =>
        tf.tidy(() => {
          const x = tf.tensor4d(xs, shape);
          const c = tf.tensor4d(cur, shape);
          const g = tf.tensor4d(grads, shape);
          const a = alphas ? tf.tensor4d(alphas, [n, 1, 1, 1]) : tf.scalar(0.03);
          return fused ? linfStep(threat, x, c, g, a) : composedStep(threat, x, c, g, a);
        });
      const label = `${shape.join('×')} perSample=${perSample}`;
      const expected = await onBackend('cpu', run(false));
      const before = tf.memory().numTensors;
      const fused = await onBackend('wasm', run(true));
      assert.equal(tf.memory().numTensors, before, `leak in ${label}`);
      const composed = await onBackend('wasm', run(false));
      assert.ok(relError(fused, expected) <= 1e-5, `${label}: ${relError(fused, expected)}`);
      assert.deepEqual(fused, composed, `${label}: fused differs from the composed wasm ops`);
      // Inside the box, and inside the ball unless the box's edge is farther (x near the edge).
      const [lo, hi] = [Math.fround(0.05), Math.fround(0.95)];
      for (let j = 0; j < size; j++) {
        const e = typeof eps === 'number' ? eps : eps[Math.floor(j / (size / n))]!;
        assert.ok(fused[j]! >= lo && fused[j]! <= hi, `${label}: ${fused[j]} outside the box`);
        const inBall = Math.abs(fused[j]! - xs[j]!) <= e + 1e-6;
        assert.ok(inBall || fused[j] === lo || fused[j] === hi, `${label}: ${fused[j]} outside the ball of ${xs[j]}`);
      }
    }
  }
});

engineTest('PGD on wasm: the native kernels give the same iterate as the JS loops and composed ops', async () => {
  await initBackend('wasm');
  const kernel = tf.keep(tf.tensor4d(seededFloats(3 * 3 * 1 * 4, 21, -1, 1), [3, 3, 1, 4]));
  const dense = tf.keep(tf.tensor2d(seededFloats(4 * 4 * 4 * 3, 22, -1, 1), [64, 3]));
  const model = makeClassifier(
    (x) =>
      tf.tidy(() => {
        const h = tf.relu(tf.conv2d(x, kernel, 2, 'same'));
        return tf.matMul(tf.reshape(h, [x.shape[0], -1]), dense) as tf.Tensor2D;
      }),
    { inputShape: [8, 8, 1], numClasses: 3, bounds: [0, 1], source: 'conv', warnings: [] },
  );
  const x = tf.tensor4d(seededFloats(6 * 64, 23), [6, 8, 8, 1]);
  const y = tf.tensor1d([0, 1, 2, 0, 1, 2], 'int32');
  const threat: ThreatModel = {
    norm: 'linf',
    eps: Float32Array.from([0.05, 0.1, 0.2, 0.05, 0.1, 0.3]),
    bounds: [0, 1],
  };
  const attack = async () => {
    const result = await pgd(model, x, y, threat, { steps: 5, keep: 'last', randomStart: true, seed: 3 });
    const values = result.xAdv.dataSync().slice() as Float32Array;
    result.xAdv.dispose();
    return values;
  };
  const native = await attack();
  setNativeKernels(false);
  const js = await attack().finally(() => setNativeKernels(true));
  assert.deepEqual(native, js);
  tf.dispose([x, y, kernel, dense]);
});

test('Identity on wasm shares the buffer: a clone outlives its source and adds no data buffer', async () => {
  await initBackend('wasm');
  const before = tf.memory();
  const a = tf.tensor2d(seededFloats(64 * 64, 31), [64, 64]);
  const buffers = tf.memory().numDataBuffers;
  const b = tf.clone(a);
  assert.equal(tf.memory().numDataBuffers, buffers, 'the clone copied the data');
  assert.equal(b.dataId, a.dataId);
  const expected = a.dataSync().slice();
  a.dispose();
  assert.deepEqual(b.dataSync(), expected);
  // The gradient tape saves its inputs through Identity; a gradient still matches cpu.
  const f = () => tf.tidy(() => tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.relu(x), x)))(tf.tensor1d([-1, 2, 3])));
  const g = f();
  assert.deepEqual(Array.from(g.dataSync()), [0, 4, 6]);
  tf.dispose([g, b]);
  assert.equal(tf.memory().numTensors, before.numTensors);
  assert.equal(tf.memory().numBytes, before.numBytes);
});

test('fused APGD L∞ step (with and without momentum) matches cpu to 1e-5 and the composed wasm ops exactly', async () => {
  const shapes: Array<[number, number, number, number]> = [
    [1, 1, 1, 3],
    [3, 5, 7, 1],
    [2, 28, 28, 1],
    [4, 4, 4, 3],
  ];
  for (const [i, shape] of shapes.entries()) {
    const n = shape[0];
    const size = shape.reduce((a, b) => a * b);
    const xs = seededFloats(size, 1200 + i);
    const cur = seededFloats(size, 1300 + i, -0.1, 1.1);
    const prev = seededFloats(size, 1400 + i, -0.1, 1.1);
    const grads = seededFloats(size, 1500 + i, -1, 1).map((v, j) => (j % 5 === 0 ? 0 : v));
    for (const [perSample, first] of [
      [false, true],
      [false, false],
      [true, false],
    ] as const) {
      const threat: ThreatModel = {
        norm: 'linf',
        eps: perSample ? seededFloats(n, 1600 + i, 0.02, 0.2) : 0.08,
        bounds: [0, 1],
      };
      const etas = seededFloats(n, 1700 + i, 0.01, 0.2);
      const run = () =>
        tf.tidy(() =>
          apgdLinfStep(
            threat,
            tf.tensor4d(xs, shape),
            tf.tensor4d(cur, shape),
            tf.tensor4d(prev, shape),
            tf.tensor4d(grads, shape),
            tf.tensor4d(etas, [n, 1, 1, 1]),
            0.75,
            first,
          ),
        );
      const label = `${shape.join('×')} perSample=${perSample} first=${first}`;
      const expected = await onBackend('cpu', run);
      const before = tf.memory().numTensors;
      const [fused, composed] = await nativeAndJs(run);
      assert.equal(tf.memory().numTensors, before, `leak in ${label}`);
      assert.ok(relError(fused, expected) <= 1e-5, `${label}: ${relError(fused, expected)}`);
      assert.deepEqual(fused, composed, `${label}: fused differs from the composed wasm ops`);
      assert.ok(
        fused.every((v) => v >= 0 && v <= 1),
        `${label}: outside the box`,
      );
    }
  }
});

engineTest('the fused steps refuse operands that do not match x, naming them', async () => {
  await initBackend('wasm');
  const threat: ThreatModel = { norm: 'linf', eps: 0.1, bounds: [0, 1] };
  const x = tf.zeros([2, 3, 3, 1]) as tf.Tensor4D;
  const short = tf.zeros([1, 3, 3, 1]) as tf.Tensor4D;
  const alpha = tf.tensor4d([0.1, 0.2, 0.3], [3, 1, 1, 1]);
  const step = tf.scalar(0.1);
  assert.throws(() => linfStep(threat, x, short, x, step), /operand of shape \[1, 3, 3, 1\] for x of \[2, 3, 3, 1\]/);
  assert.throws(() => linfStep(threat, x, x, x, alpha), /alpha has 3 values for a batch of 2/);
  assert.throws(() => apgdLinfStep(threat, x, x, short, x, step, 0.75, false), /operand of shape/);
  tf.dispose([x, short, alpha, step]);
});

test('Sum over leading axes (bias gradients) matches cpu to 1e-5 and stock tfjs-wasm exactly', async () => {
  const cases: Array<{ shape: number[]; axis: number | number[]; keepDims?: boolean }> = [
    { shape: [128, 14, 14, 16], axis: [0, 1, 2] },
    { shape: [250, 7, 7, 32], axis: [0, 1, 2], keepDims: true },
    { shape: [20, 7, 7, 32], axis: [2, 0, 1] }, // another adding order: the stock kernel
    { shape: [37, 23], axis: 0 },
    { shape: [5, 3, 19], axis: [-3, -2] },
    { shape: [9, 100], axis: [0] },
    { shape: [4, 6, 5], axis: [1, 2] }, // trailing axes: the stock kernel
    { shape: [4, 6, 5], axis: [0, 2] }, // not a prefix: the stock kernel
    { shape: [3, 4], axis: [0, 1] }, // every axis: the stock kernel
  ];
  for (const [i, c] of cases.entries()) {
    const size = c.shape.reduce((a, b) => a * b);
    const values = seededFloats(size, 1800 + i, -1, 1);
    const f = () => tf.tidy(() => tf.sum(tf.tensor(values, c.shape), c.axis, c.keepDims ?? false));
    const label = JSON.stringify(c);
    const expected = await onBackend('cpu', f);
    const before = tf.memory().numTensors;
    const [ours, stock] = await nativeAndJs(f);
    assert.equal(tf.memory().numTensors, before, `leak in ${label}`);
    assert.equal(ours.length, expected.length, label);
    assert.ok(relError(ours, expected) <= 1e-5, `${label}: ${relError(ours, expected)}`);
    assert.deepEqual(ours, stock, `${label}: differs from stock tfjs-wasm`);
  }
  await initBackend('wasm');
  const shaped = tf.tidy(() => tf.sum(tf.ones([2, 3, 4]), [0, 1], true));
  assert.deepEqual(shaped.shape, [1, 1, 4]);
  assert.deepEqual(Array.from(shaped.dataSync()), [6, 6, 6, 6]);
  shaped.dispose();
});
