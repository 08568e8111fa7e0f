/**
 * Nothing grows with the number of steps: 1,000 PGD steps and 1,000 training steps on a tiny
 * network (wasm backend, our kernels) leave tf.memory() where it started, and the memory between
 * step 100 and step 1,000 stays flat: tensors and tensor bytes exactly; the wasm heap, the V8 heap
 * and the process's RSS (each after a full GC) within small bounds.
 */
import * as assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { makeClassifier, pgd, trainModel, type Dataset } from '../../src/engine';
import { seededFloats, useBackend } from './helpers';

const SHAPE: [number, number, number] = [8, 8, 1];
const CLASSES = 10;
const BATCH = 4;
const STEPS = 1000;
/** The wasm heap never shrinks; it may grow once more for allocator slack, never by a batch per step. */
const HEAP_SLACK = 1 << 20;
/** RSS after a full GC moves by a few MB either way between snapshots; 24 MB over 900 steps is a leak of 27 KB a step. */
const RSS_SLACK = 24 << 20;
/** The V8 heap after a full GC rises by about 0.4 MB per 1,000 PGD steps here, levelling off; 4 MB over 900 steps is 4.7 KB a step. */
const JS_HEAP_SLACK = 4 << 20;

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

interface Snapshot {
  numTensors: number;
  numBytes: number;
  heap: number;
  rss: number;
  jsHeap: number;
}

function snapshot(): Snapshot {
  gc();
  const { numTensors, numBytes } = tf.memory();
  const backend = tf.backend() as unknown as { wasm?: { HEAPU8: Uint8Array } };
  const { rss, heapUsed } = process.memoryUsage();
  return { numTensors, numBytes, heap: backend.wasm?.HEAPU8.buffer.byteLength ?? 0, rss, jsHeap: heapUsed };
}

function assertFlat(early: Snapshot, late: Snapshot, what: string): void {
  assert.equal(late.numTensors, early.numTensors, `${what}: tensors at step ${STEPS} vs step 100`);
  assert.equal(late.numBytes, early.numBytes, `${what}: tensor bytes at step ${STEPS} vs step 100`);
  assert.ok(
    late.heap - early.heap <= HEAP_SLACK,
    `${what}: the wasm heap grew by ${late.heap - early.heap} bytes between step 100 and step ${STEPS}`,
  );
  assert.ok(
    late.jsHeap - early.jsHeap <= JS_HEAP_SLACK,
    `${what}: the JS heap grew by ${((late.jsHeap - early.jsHeap) / 2 ** 20).toFixed(2)} MB between step 100 and step ${STEPS}`,
  );
  assert.ok(
    late.rss - early.rss <= RSS_SLACK,
    `${what}: RSS grew by ${((late.rss - early.rss) / 2 ** 20).toFixed(1)} MB between step 100 and step ${STEPS}`,
  );
}

/** conv4 3×3/2 → flatten → fc10: the example network's layer kinds at a size that makes 1,000 steps cheap. */
function tinyNet(): tfl.LayersModel {
  return tfl.sequential({
    layers: [
      tfl.layers.conv2d({
        inputShape: SHAPE,
        filters: 4,
        kernelSize: 3,
        strides: 2,
        padding: 'same',
        activation: 'relu',
        kernelInitializer: tfl.initializers.heNormal({ seed: 1 }),
      }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: CLASSES, kernelInitializer: tfl.initializers.heNormal({ seed: 2 }) }),
    ],
  });
}

function synthetic(count: number, seed: number) {
  const pixels = seededFloats(count * SHAPE[0] * SHAPE[1], seed, 0, 255);
  return {
    images: Uint8Array.from(pixels, (v) => Math.floor(v)),
    labels: Uint8Array.from({ length: count }, (_, i) => i % CLASSES),
    count,
  };
}

describe('no growth over 1,000 steps (wasm)', () => {
  before(() => useBackend('wasm'));

  test('1,000 PGD steps: tf.memory() back to the start, flat from step 100 to 1,000', async () => {
    const net = tinyNet();
    const model = makeClassifier((x) => net.apply(x) as tf.Tensor2D, {
      inputShape: SHAPE,
      numClasses: CLASSES,
      bounds: [0, 1],
      source: 'leak test',
      warnings: [],
    });
    const x = tf.tensor4d(seededFloats(BATCH * 64, 7), [BATCH, ...SHAPE]);
    const y = tf.tensor1d([0, 1, 2, 3], 'int32');
    const start = tf.memory();
    const runs = STEPS / 10;
    let early: Snapshot | undefined;
    let moved = 0;
    for (let r = 1; r <= runs; r++) {
      const result = await pgd(
        model,
        x,
        y,
        { norm: 'linf', eps: 0.1, bounds: [0, 1] },
        { steps: 10, keep: 'last', seed: r },
      );
      assert.deepEqual(result.xAdv.shape, [BATCH, ...SHAPE]);
      if (r === runs) moved = tf.tidy(() => tf.max(tf.abs(tf.sub(result.xAdv, x))).dataSync()[0]!);
      result.xAdv.dispose();
      if (r === 10) early = snapshot();
    }
    const late = snapshot();
    assertFlat(early!, late, 'PGD');
    // The attack did move the points, within the ball.
    assert.ok(moved > 0.05 && moved <= 0.1 + 1e-6, `PGD moved the points by ${moved}`);
    assert.equal(tf.memory().numTensors, start.numTensors, 'tensors after 1,000 PGD steps');
    assert.equal(tf.memory().numBytes, start.numBytes, 'tensor bytes after 1,000 PGD steps');
    tf.dispose([x, y]);
    net.dispose();
  });

  test('1,000 training steps: tf.memory() back to the start, flat from step 100 to 1,000', async () => {
    const net = tinyNet();
    const data: Dataset = {
      id: 'synthetic',
      location: 'leak test',
      shape: SHAPE,
      classNames: Array.from({ length: CLASSES }, (_, i) => `class ${i}`),
      train: synthetic(STEPS * BATCH, 11),
      test: synthetic(8, 12),
    };
    const start = tf.memory();
    const seen: Record<number, Snapshot> = {};
    const losses: number[] = [];
    const history = await trainModel(net, data, {
      epochs: 1,
      batchSize: BATCH,
      evalLimit: 8,
      seed: 0,
      onProgress: (p) => {
        if (p.phase || p.epochMetrics) return;
        losses.push(p.loss);
        if (p.batch === 100 || p.batch === STEPS) seen[p.batch] = snapshot();
      },
    });
    assert.equal(losses.length, STEPS, 'training steps taken');
    assert.ok(history[0]!.loss > 0 && Number.isFinite(history[0]!.loss), `mean loss ${history[0]!.loss}`);
    assertFlat(seen[100]!, seen[STEPS]!, 'training');
    assert.equal(tf.memory().numTensors, start.numTensors, 'tensors after 1,000 training steps');
    assert.equal(tf.memory().numBytes, start.numBytes, 'tensor bytes after 1,000 training steps');
    net.dispose();
  });
});
