import * as assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { onnx } from 'onnx-proto';
import {
  initBackend,
  makeClassifier,
  type AttackEntry,
  type AttackOptions,
  type AttackResult,
  type BackendChoice,
  type Classifier,
} from '../../src/engine';
import type { NormId, TensorBackend } from '../../src/protocol/vocabulary';

export async function useBackend(choice: BackendChoice = 'wasm'): Promise<void> {
  const info = await initBackend(choice);
  assert.equal(info.name, choice === 'wasm-stock' ? 'wasm' : choice);
}

export type EngineBackend = TensorBackend;

function resolves(pkg: string): boolean {
  try {
    createRequire(path.join(process.cwd(), 'index.js')).resolve(pkg);
    return true;
  } catch {
    return false;
  }
}

/**
 * The backends engine suites run on: cpu (the reference), wasm (our kernels), and tensorflow
 * when tfjs-node resolves. RL_TEST_BACKENDS=wasm (a comma list) narrows them while working.
 */
export const ENGINE_BACKENDS: readonly EngineBackend[] = (() => {
  const all: EngineBackend[] = ['cpu', 'wasm', ...(resolves('@tensorflow/tfjs-node') ? ['tensorflow' as const] : [])];
  const wanted = process.env.RL_TEST_BACKENDS?.split(',').map((b) => b.trim());
  return wanted ? all.filter((b) => wanted.includes(b)) : all;
})();

/**
 * Runs a suite once per backend, as tfjs's describeWithFlags does: each run is a describe block
 * "on <backend>" whose before hook switches the backend, so a kernel bug on one backend (the wasm
 * Sign bug) fails there. `body` registers the tests (and may create its fixtures in a before hook).
 */
export function forEachBackend(
  body: (backend: EngineBackend) => void,
  backends: readonly EngineBackend[] = ENGINE_BACKENDS,
): void {
  for (const backend of backends) {
    describe(`on ${backend}`, () => {
      before(() => useBackend(backend));
      body(backend);
    });
  }
}

/**
 * Runs fn and asserts it leaves tf.memory().numTensors where it found it (tfjs's
 * expectNoLeakedTensors).
 */
export async function expectNoLeak<T>(fn: () => Promise<T> | T): Promise<T> {
  const before = tf.memory().numTensors;
  const result = await fn();
  assert.equal(tf.memory().numTensors, before, 'tf.memory().numTensors changed');
  return result;
}

/** A test that also asserts it leaves no tensor behind: every engine test is one. */
export function engineTest(name: string, fn: () => Promise<unknown> | unknown): void {
  test(name, async () => {
    await expectNoLeak(fn);
  });
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `rl-${prefix}-`));
}

/** A linear classifier on [h, w, 1] inputs with logits [w·x + b, 0]; dispose() frees w. */
export function linearClassifier(weights: Float32Array, bias: number, shape: [number, number, number]): Classifier {
  const w = tf.keep(tf.tensor2d(weights, [weights.length, 1]));
  return makeClassifier(
    (x) =>
      tf.tidy(() => {
        const f = tf.add(tf.matMul(tf.reshape(x, [x.shape[0], -1]), w), bias);
        return tf.concat([f, tf.zerosLike(f)], 1) as tf.Tensor2D;
      }),
    { inputShape: shape, numClasses: 2, bounds: [0, 1], source: 'linear', warnings: [], dispose: () => w.dispose() },
  );
}

/** Deterministic pseudo-random floats for fixtures. */
export function seededFloats(n: number, seed: number, lo = 0, hi = 1): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return lo + ((s >>> 8) / 16777216) * (hi - lo);
  });
}

/** The norm that bounds a linear function's change over the ball: ‖v‖₁ for L∞, ‖v‖₂ for L2. */
export function dualNorm(v: ArrayLike<number>, norm: NormId): number {
  const values = Array.from(v);
  return norm === 'linf'
    ? values.reduce((s, e) => s + Math.abs(e), 0)
    : Math.sqrt(values.reduce((s, e) => s + e * e, 0));
}

/**
 * For a linear classifier with logits z_k = Σ_j weight(k, j)·x_j + bias[k]: its decision y at x and the
 * smallest perturbation that changes it, min over t ≠ y of (z_y − z_t)/‖w_y − w_t‖_q (q = 1 for L∞,
 * 2 for L2): at that radius the nearest rival ties with y, and below it every rival stays behind.
 */
export function linearDecision(
  x: Float32Array,
  weight: (k: number, j: number) => number,
  bias: ArrayLike<number>,
  norm: NormId,
): { label: number; budget: number } {
  const K = bias.length;
  const z = Array.from({ length: K }, (_, k) => x.reduce((s, v, j) => s + v * weight(k, j), bias[k]!));
  const label = z.indexOf(Math.max(...z));
  let budget = Infinity;
  for (let t = 0; t < K; t++) {
    if (t === label) continue;
    const diff = Array.from({ length: x.length }, (_, j) => weight(label, j) - weight(t, j));
    budget = Math.min(budget, (z[label]! - z[t]!) / dualNorm(diff, norm));
  }
  return { label, budget };
}

/** The largest optimal budget a closed-form sample may need, so that 1.01× of it stays inside the box. */
const MAX_BUDGET = 0.15;

/**
 * Up to 24 of `candidates` seeded inputs of `shape` near the centre of the box (so a budget of ≤ 0.15
 * never reaches its edges) whose minimal adversarial budget, as `solve` gives it, lies in [0.01, 0.15],
 * with their labels and budgets.
 */
export function pointsWithinBudget(
  shape: [number, number, number],
  candidates: number,
  seed: number,
  solve: (x: Float32Array) => { label: number; budget: number },
) {
  const d = shape[0] * shape[1] * shape[2];
  const raw = seededFloats(candidates * d, seed, 0.35, 0.65);
  const xs: number[] = [];
  const labels: number[] = [];
  const optimal: number[] = [];
  for (let i = 0; i < candidates && labels.length < 24; i++) {
    const x = raw.subarray(i * d, (i + 1) * d);
    const { label, budget } = solve(x);
    if (budget < 0.01 || budget > MAX_BUDGET) continue;
    xs.push(...x);
    labels.push(label);
    optimal.push(budget);
  }
  return {
    x: tf.tensor4d(xs, [labels.length, ...shape]),
    y: tf.tensor1d(labels, 'int32'),
    optimal: Float32Array.from(optimal),
  };
}

/**
 * The closed-form test's options for an attack: `shared` as far as the attack takes them (its catalogue
 * entry lists them), what it needs beyond them, and the budget factor it must succeed at. Square is a
 * random search: in L∞ 1000 queries find the optimal corner within 1%; in L2 its centred-square windows
 * cannot line up with w exactly, so it gets 3000 queries and 1.5×. Transfer attacks through `model`.
 */
export function closedFormSettings(
  entry: AttackEntry,
  norm: NormId,
  shared: AttackOptions,
  model?: Classifier,
): { opts: AttackOptions; factor: number } {
  const taken = Object.fromEntries(
    Object.entries(shared).filter(([name]) => name in entry.options || name === 'seed'),
  ) as AttackOptions;
  if (entry.id === 'square')
    return { opts: { ...taken, queries: norm === 'linf' ? 1000 : 3000 }, factor: norm === 'linf' ? 1.01 : 1.5 };
  if (entry.id === 'transfer') return { opts: { ...taken, ...(model ? { surrogate: model } : {}) }, factor: 1.01 };
  return { opts: taken, factor: 1.01 };
}

/**
 * Runs `attack` at `factor`× and at 0.99× each sample's optimal budget and asserts that it succeeds on
 * every sample at the first and on none at the second, leaving no tensor behind.
 */
export async function assertTightBudget(
  optimal: Float32Array,
  factor: number,
  attack: (eps: Float32Array) => Promise<AttackResult>,
): Promise<void> {
  assert.ok(optimal.length >= 12, `fixture has ${optimal.length} samples`);
  for (const [f, expectSuccess] of [
    [factor, true],
    [0.99, false],
  ] as const) {
    const result = await expectNoLeak(async () => {
      const r = await attack(optimal.map((e) => e * f));
      r.xAdv.dispose();
      return r;
    });
    const hits = result.success.filter(Boolean).length;
    assert.equal(hits, expectSuccess ? optimal.length : 0, `${f}× budget: ${hits}/${optimal.length} succeeded`);
  }
}

/**
 * test/fixtures/onnx/cnn.onnx with its first ReLU's feature map [batch, 4, 26, 26] listed as a graph
 * output before the logits, written to a new temporary folder; returns the file.
 */
export function cnnWithTwoOutputs(): string {
  const model = onnx.ModelProto.decode(fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'onnx', 'cnn.onnx')));
  model.graph!.output!.unshift(
    onnx.ValueInfoProto.create({
      name: '/Relu_output_0',
      type: {
        tensorType: {
          elemType: 1,
          shape: { dim: [{ dimParam: 'batch' }, { dimValue: 4 }, { dimValue: 26 }, { dimValue: 26 }] },
        },
      },
    }),
  );
  const file = path.join(tempDir('onnx'), 'two-outputs.onnx');
  fs.writeFileSync(file, onnx.ModelProto.encode(model).finish());
  return file;
}

/** Third-party models beside the clone (../shared/models, see its README); RL_SHARED_DIR overrides. */
export const SHARED_MODELS = path.join(
  process.env.RL_SHARED_DIR ?? path.join(__dirname, '..', '..', '..', 'shared'),
  'models',
);
/** A test's skip reason when SHARED_MODELS is absent; false when it is there. */
export const sharedAbsent = !fs.existsSync(SHARED_MODELS) && `no ${SHARED_MODELS} (RL_SHARED_DIR names it)`;

/** A CLI run's exit status, output and wall time. */
export interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** The built CLI (dist/cli.js) run in `cwd`. */
export function runCli(cwd: string, args: string[], timeout = 120_000): CliRun {
  const start = Date.now();
  const r = spawnSync(process.execPath, [path.join(__dirname, '..', '..', 'dist', 'cli.js'), ...args], {
    cwd,
    encoding: 'utf8',
    timeout,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - start };
}

/** Every file under dir with its size and mtime: what a refused run must leave as it was. */
export function treeSnapshot(dir: string): string {
  const rows: string[] = [];
  const walk = (d: string) => {
    for (const entry of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const full = path.join(d, entry.name);
      const stat = fs.lstatSync(full);
      rows.push(`${path.relative(dir, full)} ${stat.size} ${stat.mtimeMs}`);
      if (entry.isDirectory()) walk(full);
    }
  };
  walk(dir);
  return rows.join('\n');
}

/** A refused CLI run in `cwd`: exit 2, one error line matching `pattern`, no help or stack, `cwd` left as it was. */
export function refusedCli(cwd: string, args: string[], pattern: RegExp): CliRun {
  const before = treeSnapshot(cwd);
  const r = runCli(cwd, args);
  assert.equal(r.status, 2, `${args.join(' ')}\n${r.stderr}`);
  const errors = r.stderr.split('\n').filter((l) => /^(robustness-lab: |error: )/.test(l));
  assert.equal(errors.length, 1, `one error line expected:\n${r.stderr}`);
  assert.match(errors[0]!, pattern);
  assert.doesNotMatch(r.stderr, /Usage:|\n\s+at /, 'no help dump, no stack trace');
  assert.equal(treeSnapshot(cwd), before, 'the refused run changed files in its folder');
  return r;
}
