/**
 * The closed-form test of closed-form.test.ts through the ONNX loader: PyTorch's export of a linear
 * classifier (test/fixtures/onnx/linear2.onnx and linear4.onnx, Flatten → Gemm, written by
 * scripts/onnx-fixtures.py) loaded as any user's model. For logits z = Wx + b the smallest
 * perturbation that changes the decision is min over t ≠ y of (z_y − z_t)/‖w_y − w_t‖_q (q = 1 for
 * L∞, 2 for L2); every attack must succeed on every sample at 1.01× that budget, never at 0.99×.
 * The weights are read back from the file, so the budgets are those of the graph the engine runs.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { onnx } from 'onnx-proto';
import { ATTACKS, getAttack, loadClassifier, type AttackEntry, type AttackOptions } from '../../src/engine';
import type { NormId } from '../../src/protocol/vocabulary';
import { engineTest, expectNoLeak, forEachBackend, seededFloats, useBackend } from './helpers';

before(() => useBackend('wasm'));

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'onnx');
const SHAPE: [number, number, number] = [4, 4, 1];
const D = 16;
/** The largest optimal budget a fixture sample may need, so that 1.01× of it stays inside the box. */
const MAX_BUDGET = 0.15;

/** The Gemm's weight [K, 16] (row-major) and bias [K] as stored in the file. */
function linearWeights(name: string): { W: Float32Array; b: Float32Array; K: number } {
  const model = onnx.ModelProto.decode(fs.readFileSync(path.join(FIXTURES, `${name}.onnx`)));
  const floats = (t: onnx.ITensorProto) => new Float32Array(new Uint8Array(t.rawData!).slice().buffer);
  const inits = model.graph!.initializer!;
  const weight = inits.find((t) => t.dims?.length === 2)!;
  const bias = inits.find((t) => t.dims?.length === 1)!;
  const K = Number(weight.dims![0]);
  assert.deepEqual(weight.dims!.map(Number), [K, D]);
  return { W: floats(weight), b: floats(bias), K };
}

/** The norm that bounds a linear function's change over the ball: ‖v‖₁ for L∞, ‖v‖₂ for L2. */
function dualNorm(values: number[], norm: NormId): number {
  return norm === 'linf'
    ? values.reduce((s, e) => s + Math.abs(e), 0)
    : Math.sqrt(values.reduce((s, e) => s + e * e, 0));
}

/**
 * Up to 24 of `candidates` seeded inputs near the centre of the box whose minimal adversarial
 * budget lies in [0.01, 0.15], with their labels (the model's decision) and budgets.
 */
function fixture(name: string, norm: NormId, candidates: number, seed: number) {
  const { W, b, K } = linearWeights(name);
  const raw = seededFloats(candidates * D, seed, 0.35, 0.65);
  const xs: number[] = [];
  const labels: number[] = [];
  const optimal: number[] = [];
  for (let i = 0; i < candidates && labels.length < 24; i++) {
    const x = raw.subarray(i * D, (i + 1) * D);
    const z = Array.from({ length: K }, (_, k) => x.reduce((s, v, j) => s + v * W[k * D + j]!, b[k]!));
    const y = z.indexOf(Math.max(...z));
    let budget = Infinity;
    for (let t = 0; t < K; t++) {
      if (t === y) continue;
      const diff = Array.from({ length: D }, (_, j) => W[y * D + j]! - W[t * D + j]!);
      budget = Math.min(budget, (z[y]! - z[t]!) / dualNorm(diff, norm));
    }
    if (budget < 0.01 || budget > MAX_BUDGET) continue;
    xs.push(...x);
    labels.push(y);
    optimal.push(budget);
  }
  return {
    x: tf.tensor4d(xs, [labels.length, ...SHAPE]),
    y: tf.tensor1d(labels, 'int32'),
    optimal: Float32Array.from(optimal),
  };
}

/** The options of `wanted` that the attack takes (its catalogue entry lists them). */
function taken(entry: AttackEntry, wanted: AttackOptions): AttackOptions {
  return Object.fromEntries(Object.entries(wanted).filter(([name]) => name in entry.options || name === 'seed'));
}

forEachBackend(() => {
  for (const name of ['linear2', 'linear4']) {
    engineTest(`${name}.onnx: logits equal onnxruntime's to 1e-4 relative`, async () => {
      const ref = JSON.parse(fs.readFileSync(path.join(FIXTURES, `${name}.json`), 'utf8')) as {
        inputShape: number[];
        input: number[];
        logitsShape: number[];
        logits: number[];
      };
      const model = await loadClassifier(path.join(FIXTURES, `${name}.onnx`));
      assert.deepEqual(model.inputShape, SHAPE);
      // [N, 1, 4, 4] NCHW and [N, 4, 4, 1] NHWC hold the same numbers in the same order.
      const x = tf.tensor4d(ref.input, [ref.inputShape[0]!, ...SHAPE]);
      const logits = model.predictLogits(x);
      assert.deepEqual(logits.shape, ref.logitsShape);
      const data = logits.dataSync();
      const error = Math.max(...ref.logits.map((e, i) => Math.abs(data[i]! - e) / Math.max(Math.abs(e), 1e-2)));
      assert.ok(error < 1e-4, `relative error ${error}`);
      tf.dispose([x, logits]);
      model.dispose?.();
    });
  }

  for (const entry of ATTACKS.filter((a) => a.id !== 'apgd-t')) {
    for (const norm of entry.norms) {
      // As in closed-form.test.ts: Square's L2 windows cannot line up with w, so 3000 queries and 1.5×.
      const factor = entry.id === 'square' && norm === 'l2' ? 1.5 : 1.01;
      engineTest(
        `linear2.onnx, ${entry.id} ${norm}: succeeds on every sample at ${factor}× the optimal budget, never at 0.99×`,
        async () => {
          const model = await loadClassifier(path.join(FIXTURES, 'linear2.onnx'));
          const { x, y, optimal } = fixture('linear2', norm, 64, 12);
          assert.ok(optimal.length >= 12, `fixture has ${optimal.length} samples`);
          const extra: AttackOptions =
            entry.id === 'square'
              ? { queries: norm === 'linf' ? 1000 : 3000 }
              : entry.id === 'transfer'
                ? { surrogate: model }
                : {};
          const opts = { ...taken(entry, { steps: 50, seed: 3, randomStart: norm === 'linf' }), ...extra };
          for (const [f, expectSuccess] of [
            [factor, true],
            [0.99, false],
          ] as const) {
            const eps = optimal.map((e) => e * f);
            const result = await expectNoLeak(async () => {
              const r = await entry.run(model, x, y, { norm, eps, bounds: [0, 1] }, opts);
              r.xAdv.dispose();
              return r;
            });
            const hits = result.success.filter(Boolean).length;
            assert.equal(hits, expectSuccess ? optimal.length : 0, `${f}× budget: ${hits}/${optimal.length} succeeded`);
          }
          tf.dispose([x, y]);
          model.dispose?.();
        },
      );
    }
  }

  for (const norm of ['linf', 'l2'] as const) {
    engineTest(
      `linear4.onnx, apgd-t ${norm} (3 targets): succeeds on every sample at 1.01× the optimal budget, never at 0.99×`,
      async () => {
        const model = await loadClassifier(path.join(FIXTURES, 'linear4.onnx'));
        const { x, y, optimal } = fixture('linear4', norm, 4000, 23);
        assert.ok(optimal.length >= 12, `fixture has ${optimal.length} samples`);
        for (const [f, expectSuccess] of [
          [1.01, true],
          [0.99, false],
        ] as const) {
          const result = await expectNoLeak(async () => {
            const r = await getAttack('apgd-t').run(
              model,
              x,
              y,
              { norm, eps: optimal.map((e) => e * f), bounds: [0, 1] },
              { steps: 50, seed: 3, targetClasses: 3, randomStart: norm === 'linf' },
            );
            r.xAdv.dispose();
            return r;
          });
          const hits = result.success.filter(Boolean).length;
          assert.equal(hits, expectSuccess ? optimal.length : 0, `${f}× budget: ${hits}/${optimal.length} succeeded`);
        }
        tf.dispose([x, y]);
        model.dispose?.();
      },
    );
  }
});
