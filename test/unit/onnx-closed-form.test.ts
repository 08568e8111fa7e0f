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
import { ATTACKS, getAttack, loadClassifier } from '../../src/engine';
import type { NormId } from '../../src/protocol/vocabulary';
import {
  assertTightBudget,
  closedFormSettings,
  engineTest,
  forEachBackend,
  linearDecision,
  pointsWithinBudget,
  useBackend,
} from './helpers';

before(() => useBackend('wasm'));

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'onnx');
const SHAPE: [number, number, number] = [4, 4, 1];
const D = 16;

/** The Gemm's weight [K, 16] (row-major) and bias [K] as stored in the file. */
function linearWeights(name: string): { W: Float32Array; b: Float32Array } {
  const model = onnx.ModelProto.decode(fs.readFileSync(path.join(FIXTURES, `${name}.onnx`)));
  const floats = (t: onnx.ITensorProto) => new Float32Array(new Uint8Array(t.rawData!).slice().buffer);
  const inits = model.graph!.initializer!;
  const weight = inits.find((t) => t.dims?.length === 2)!;
  const bias = inits.find((t) => t.dims?.length === 1)!;
  const K = Number(weight.dims![0]);
  assert.deepEqual(weight.dims!.map(Number), [K, D]);
  return { W: floats(weight), b: floats(bias) };
}

/** Up to 24 of `candidates` seeded inputs whose minimal adversarial budget lies in [0.01, 0.15]. */
function fixture(name: string, norm: NormId, candidates: number, seed: number) {
  const { W, b } = linearWeights(name);
  return pointsWithinBudget(SHAPE, candidates, seed, (x) => linearDecision(x, (k, j) => W[k * D + j]!, b, norm));
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
      const { factor } = closedFormSettings(entry, norm, {});
      engineTest(
        `linear2.onnx, ${entry.id} ${norm}: succeeds on every sample at ${factor}× the optimal budget, never at 0.99×`,
        async () => {
          const model = await loadClassifier(path.join(FIXTURES, 'linear2.onnx'));
          const { x, y, optimal } = fixture('linear2', norm, 64, 12);
          const { opts } = closedFormSettings(entry, norm, { steps: 50, seed: 3, randomStart: norm === 'linf' }, model);
          await assertTightBudget(optimal, factor, (eps) =>
            entry.run(model, x, y, { norm, eps, bounds: [0, 1] }, opts),
          );
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
        await assertTightBudget(optimal, 1.01, (eps) =>
          getAttack('apgd-t').run(
            model,
            x,
            y,
            { norm, eps, bounds: [0, 1] },
            { steps: 50, seed: 3, targetClasses: 3, randomStart: norm === 'linf' },
          ),
        );
        tf.dispose([x, y]);
        model.dispose?.();
      },
    );
  }
});
