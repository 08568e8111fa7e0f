/**
 * Where the time of one step goes, on the wasm backend with our kernels:
 *   - pgd:      one PGD step of the attack on the robust example (batch 250, L∞ ε = 0.1):
 *               loss + input gradient, the losses read back, the sign step and the projection;
 *   - train:    one standard training step (batch 128, Adam, the tape over the weights);
 *   - apgd:     one step of APGD (batch 250, L∞, with momentum), the strong suite's main attack;
 *   - pgd-at:   one step of PGD-AT's inner attack (batch 128, the same body as pgd).
 * For each it prints the median wall time, the time per kernel (self time, measured by
 * wrapping every registered wasm kernel; a kernel that runs others, like our conv gradients
 * running a MatMul, is charged only its own part), and the top self-time JS functions from the
 * V8 CPU profiler (the same data as `node --cpu-prof`, taken in-process through node:inspector).
 * When the kernels module has a native/JS switch (`setNativeKernels`), the medians are also
 * taken interleaved A/B: JS kernels, then native, step by step.
 *
 *   node --import tsx scripts/profile-step.ts [--reps 12] [--only pgd,apgd,train,pgd-at] [--shapes] [--ab-only]
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { Session } from 'node:inspector/promises';
import * as path from 'node:path';
import { batchTensors, initBackend, loadClassifier, loadTrainingData, type Classifier } from '../src/engine';
import { fileHandler } from '../src/engine/models/io';
import * as kernels from '../src/engine/kernels';
import { stepPoint } from '../src/engine/attacks/common';
import type { ThreatModel } from '../src/engine/threat';

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : fallback;
};
const REPS = Number(option('reps', '12'));
const ONLY = option('only', 'pgd,apgd,train,pgd-at').split(',');
/** Per kernel and input shapes rather than per kernel. */
const SHAPES = args.includes('--shapes');
/** Only the medians and the interleaved A/B, no tables (more reps in the same time). */
const AB_ONLY = args.includes('--ab-only');
const MODEL = path.resolve('examples/fashion-mnist/smallcnn-robust/model.json');

type Workload = { name: string; step: () => Promise<void>; dispose: () => void };

const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const fmt = (ms: number) => ms.toFixed(2).padStart(8);

/** One PGD step as src/engine/attacks/pgd.ts takes it: score + gradient, read back, move, project. */
function pgdWorkload(name: string, model: Classifier, x: tf.Tensor4D, y: tf.Tensor1D): Workload {
  const threat: ThreatModel = { norm: 'linf', eps: 0.1, bounds: [0, 1] };
  const alpha = tf.scalar(0.025);
  let current = tf.clone(x);
  return {
    name,
    step: async () => {
      const point = stepPoint(model, current, y, 'ce', undefined, false);
      const next = kernels.linfStep(threat, x, current, point.grad!, alpha);
      point.grad!.dispose();
      current.dispose();
      current = next;
    },
    dispose: () => tf.dispose([alpha, current]),
  };
}

/** One L∞ APGD step as src/engine/attacks/apgd.ts takes it after its first: with momentum. */
function apgdWorkload(model: Classifier, x: tf.Tensor4D, y: tf.Tensor1D): Workload {
  const threat: ThreatModel = { norm: 'linf', eps: 0.1, bounds: [0, 1] };
  const eta = tf.fill([x.shape[0], 1, 1, 1], 0.2);
  let previous = tf.clone(x);
  let current = tf.clone(x);
  return {
    name: 'apgd step (batch 250)',
    step: async () => {
      const point = stepPoint(model, current, y, 'ce', undefined, false);
      const next = tf.tidy(() =>
        kernels.apgdLinfStep(threat, x, current, previous, point.grad!, tf.mul(eta, 0.1), 0.75, false),
      );
      point.grad!.dispose();
      previous.dispose();
      previous = current;
      current = next;
    },
    dispose: () => tf.dispose([eta, current, previous]),
  };
}

/** One step of standard training as src/engine/training/train-loop.ts takes it. */
function trainWorkload(model: tfl.LayersModel, x: tf.Tensor4D, y: tf.Tensor1D): Workload {
  const optimizer = tf.train.adam(1e-3);
  const variables = model.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val);
  const yHot = tf.oneHot(y, 10);
  return {
    name: 'train (batch 128, Adam)',
    step: async () => {
      const xTrain = tf.clone(x);
      let batchCorrect: tf.Tensor | undefined;
      const cost = optimizer.minimize(
        () => {
          const logits = model.apply(xTrain, { training: true }) as tf.Tensor2D;
          batchCorrect = tf.keep(tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), y), 'int32')));
          return tf.losses.softmaxCrossEntropy(yHot, logits) as tf.Scalar;
        },
        true,
        variables,
      )!;
      await cost.data();
      await batchCorrect!.data();
      tf.dispose([xTrain, cost, batchCorrect!]);
    },
    dispose: () => {
      optimizer.dispose();
      yHot.dispose();
    },
  };
}

/** Wraps every wasm kernel to time it; returns the per-kernel self times and an unwrap function. */
function wrapKernels(): { table: Map<string, { ms: number; calls: number }>; unwrap: () => void } {
  const table = new Map<string, { ms: number; calls: number }>();
  const originals = tf.getKernelsForBackend('wasm');
  const stack: number[] = [];
  for (const config of originals) {
    const inner = config.kernelFunc;
    const kernelFunc: tf.KernelFunc = (a) => {
      stack.push(0);
      const t0 = performance.now();
      const out = inner(a);
      const elapsed = performance.now() - t0;
      const children = stack.pop()!;
      if (stack.length) stack[stack.length - 1]! += elapsed;
      const shapes = Object.values(a.inputs)
        .map((t) => (t ? `[${(t as tf.TensorInfo).shape.join(',')}]` : ''))
        .join(' ');
      const key = SHAPES ? `${config.kernelName} ${shapes}` : config.kernelName;
      const row = table.get(key) ?? { ms: 0, calls: 0 };
      row.ms += elapsed - children;
      row.calls++;
      table.set(key, row);
      return out;
    };
    tf.unregisterKernel(config.kernelName, 'wasm');
    tf.registerKernel({ ...config, kernelFunc });
  }
  return {
    table,
    unwrap: () => {
      for (const config of originals) {
        tf.unregisterKernel(config.kernelName, 'wasm');
        tf.registerKernel(config);
      }
    },
  };
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

/** Self time per function from a V8 CPU profile, top `n`. */
function topSelf(profile: { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] }, n: number) {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i]!)!;
    // The inspector's own dispatch (Profiler.stop serialising the profile) is not the step's.
    if (node.callFrame.functionName === 'dispatch' && !node.callFrame.url) continue;
    const dt = (profile.timeDeltas[i] ?? 0) / 1000;
    total += dt;
    const { functionName, url, lineNumber } = node.callFrame;
    // tfjs-backend-wasm's binary has no names (its functions show as wasm-function[i]); ours has.
    const where = url.startsWith('wasm://')
      ? functionName.startsWith('wasm-function')
        ? '(tfjs-backend-wasm)'
        : '(native/kernels.wasm)'
      : url
        ? `${path.basename(url.split('?')[0]!)}:${lineNumber + 1}`
        : '';
    const key = `${functionName || '(anonymous)'} ${where}`.trim();
    self.set(key, (self.get(key) ?? 0) + dt);
  }
  return { total, rows: [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, n) };
}

async function measure(w: Workload, reps: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await w.step();
    times.push(performance.now() - t0);
  }
  return times;
}

async function main(): Promise<void> {
  const info = await initBackend('wasm');
  if (info.name !== 'wasm') throw new Error('the profile needs the wasm backend');
  const classifier = await loadClassifier(MODEL);
  const layers = await tfl.loadLayersModel(fileHandler(MODEL));
  const data = await loadTrainingData('embedded');
  const big = batchTensors(data.test, data.shape, 0, 250);
  const small = batchTensors(data.test, data.shape, 0, 128);
  const switchable = 'setNativeKernels' in kernels;
  const setNative = (on: boolean) =>
    (kernels as unknown as { setNativeKernels(on: boolean): void }).setNativeKernels(on);

  const all: Workload[] = [];
  if (ONLY.includes('pgd')) all.push(pgdWorkload('pgd step (batch 250)', classifier, big.x, big.y));
  if (ONLY.includes('apgd')) all.push(apgdWorkload(classifier, big.x, big.y));
  if (ONLY.includes('train')) all.push(trainWorkload(layers, small.x, small.y));
  if (ONLY.includes('pgd-at')) all.push(pgdWorkload('pgd-at inner step (batch 128)', classifier, small.x, small.y));
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 100 });
  console.log(`node ${process.version}, tfjs ${tf.version_core}, backend ${tf.getBackend()}, ${REPS} reps`);

  for (const w of all) {
    const before = tf.memory().numTensors;
    await measure(w, 3);
    const times = await measure(w, REPS);
    console.log(
      `\n## ${w.name}: median ${median(times).toFixed(2)} ms (min ${Math.min(...times).toFixed(2)}, max ${Math.max(...times).toFixed(2)})`,
    );
    if (switchable) {
      const js: number[] = [];
      const native: number[] = [];
      for (let i = 0; i < REPS; i++) {
        setNative(false);
        js.push(...(await measure(w, 1)));
        setNative(true);
        native.push(...(await measure(w, 1)));
      }
      const ratios = js.map((t, i) => native[i]! / t);
      console.log(
        `A/B interleaved: JS kernels median ${median(js).toFixed(2)} ms, native ${median(native).toFixed(2)} ms; ` +
          `median of the pairwise ratios native/JS ${median(ratios).toFixed(3)}`,
      );
    }

    // With the switch: the tables once as the kernels were (native off), then as they are.
    for (const native of AB_ONLY ? [] : switchable ? [false, true] : [undefined]) {
      if (native !== undefined) {
        setNative(native);
        console.log(
          `\n### ${native ? 'native kernels (after)' : 'JS kernels, copying Identity, composed steps (before)'}`,
        );
      }
      const { table, unwrap } = wrapKernels();
      const profiled = 5;
      const t0 = performance.now();
      for (let i = 0; i < profiled; i++) await w.step();
      const wall = (performance.now() - t0) / profiled;
      unwrap();
      const rows = [...table.entries()].sort((a, b) => b[1].ms - a[1].ms);
      const inKernels = rows.reduce((s, [, r]) => s + r.ms, 0) / profiled;
      console.log(
        `\nper kernel (self ms per step, mean of ${profiled}; wall ${wall.toFixed(2)} ms, kernels ${inKernels.toFixed(2)} ms, outside kernels ${(wall - inKernels).toFixed(2)} ms)`,
      );
      console.log(`  ${'kernel'.padEnd(SHAPES ? 56 : 26)}  calls      ms     %`);
      for (const [name, r] of rows.slice(0, 18)) {
        console.log(
          `  ${name.padEnd(SHAPES ? 56 : 26)} ${String(r.calls / profiled).padStart(6)} ${fmt(r.ms / profiled)} ${((100 * r.ms) / profiled / wall).toFixed(1).padStart(5)}`,
        );
      }

      await session.post('Profiler.start');
      for (let i = 0; i < 10; i++) await w.step();
      const { profile } = await session.post('Profiler.stop');
      const top = topSelf(profile as never, 15);
      console.log(`\nJS self time (CPU profile over 10 steps: ${(top.total / 10).toFixed(2)} ms per step)`);
      for (const [name, ms] of top.rows) {
        console.log(`  ${fmt(ms / 10)} ms ${((100 * ms) / top.total).toFixed(1).padStart(5)}%  ${name.slice(0, 90)}`);
      }
    }
    if (tf.memory().numTensors !== before)
      console.log(`  (tensors: ${before} → ${tf.memory().numTensors}: the iterate or the optimizer's state)`);
  }
  for (const w of all) w.dispose();
  tf.dispose([big.x, big.y, small.x, small.y]);
  session.disconnect();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
