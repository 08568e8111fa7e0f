/**
 * Data-parallel training: one batch split across N workers, each with its own wasm instance and
 * a replica of the network. The coordinator (worker 1, the thread that runs trainModel) keeps
 * the model, the optimiser and the checkpoints; before each batch it writes the weights and each
 * peer's rows into shared memory, every worker (the coordinator included) runs the method's
 * inner attack on its own rows and takes the gradient of its share of the loss, and the
 * coordinator sums the gradients in worker order and applies the one update. The next batch's
 * weights reach the peers through the same shared buffer (coordinator applies and broadcasts).
 *
 * Exactness: a mean-reduced loss over the batch is Σᵢ (nᵢ/n)·Lᵢ over the shares, so each share's
 * gradient is weighted by its size; sums differ from one batch's only in summation order.
 * Determinism for a given N: share i's attack seeds come from a seed the epoch's Rng draws for
 * it, N seeds per batch whatever the batch's size.
 *
 * Only the engine's side is here (pure tfjs); the threads and their messages are src/worker/.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { Normalization } from '../models/classifier';
import { makeClassifier } from '../models/classifier';
import { Rng } from '../rng';
import { batchLoss, trainingInputs, type AdversarialOptions, type BatchContext } from './methods';
import { layersNet, loadOnnxNet, type NetSpec, type TrainableNet } from './net';

export type { NetSpec };
import type { TrainMethod } from '../../protocol/vocabulary';

/** Everything a peer needs to compute its share's gradient, sent once when it starts. */
export interface ShardSpec {
  net: NetSpec;
  shape: [number, number, number];
  classes: number;
  normalization?: Normalization;
  method: TrainMethod;
  adv: AdversarialOptions;
  phase?: 'teacher' | 'student';
  /** Distillation's student: the teacher's network and its (fixed) weights. */
  teacher?: { net: NetSpec; weights: Float32Array };
  /** The most rows a share holds (the batch size). */
  maxRows: number;
}

/** One batch's work for one peer: its rows (already in its input buffer), their weight nᵢ/n, its seed, ε. */
export interface ShardStep {
  rows: number;
  weight: number;
  seed: number;
  eps: number;
  /**
   * AWP's two rounds (train-loop.ts): 'keep' finds x' and keeps it after the gradient at w;
   * 'reuse' takes the kept x' for the gradient at the perturbed weights now in the buffer, then drops it.
   */
  awp?: 'keep' | 'reuse';
}

/** A share's mean loss (unweighted) and how many of its rows the model classified right. */
export interface ShardOutcome {
  loss: number;
  correct: number;
}

/** The memory a peer shares with the coordinator: all peers read one weights buffer. */
export interface ShardBuffers {
  weights: Float32Array;
  x: Float32Array;
  y: Int32Array;
  gradients: Float32Array;
}

/** The coordinator's view of its peers (workers 2…N); src/worker/train-pool.ts runs them on threads. */
export interface GradientPeers {
  readonly count: number;
  /** The weights every peer reads at its next step, in TrainableNet.variables order, flattened. */
  readonly weights: Float32Array;
  buffers(peer: number): ShardBuffers;
  /** Resolves once the peer's gradient (already multiplied by step.weight) is in its gradients buffer. */
  step(peer: number, step: ShardStep): Promise<ShardOutcome>;
  dispose(): Promise<void>;
}

/** Starts `count` peers for a run; the number of parameters sizes their buffers. */
export type PeersFactory = (spec: ShardSpec, count: number, parameters: number) => Promise<GradientPeers>;

/** Error of a peer that died or failed during a step; its message names the worker. */
export class TrainingWorkerError extends Error {
  override readonly name = 'TrainingWorkerError';
}

/** The rows of worker i in a batch of `rows`: consecutive, balanced, none empty (fewer workers for tiny batches). */
export function shareRows(rows: number, workers: number): Array<{ start: number; rows: number }> {
  const count = Math.max(1, Math.min(workers, rows));
  return Array.from({ length: count }, (_, i) => {
    const start = Math.floor((i * rows) / count);
    return { start, rows: Math.floor(((i + 1) * rows) / count) - start };
  });
}

export function parameterCount(variables: tf.Variable[]): number {
  return variables.reduce((s, v) => s + v.size, 0);
}

/** Copies the variables' values into `into`, in order. */
export function flattenInto(variables: tf.Variable[], into: Float32Array): void {
  let offset = 0;
  for (const v of variables) {
    into.set(v.dataSync() as Float32Array, offset);
    offset += v.size;
  }
}

/** Sets the variables from a flat copy (the coordinator's broadcast). */
export function assignFrom(variables: tf.Variable[], from: Float32Array): void {
  let offset = 0;
  tf.tidy(() => {
    for (const v of variables) {
      v.assign(tf.tensor(from.slice(offset, offset + v.size), v.shape, 'float32'));
      offset += v.size;
    }
  });
}

async function buildNet(
  spec: NetSpec,
  shape: [number, number, number],
): Promise<{ net: TrainableNet; dispose(): void }> {
  if (spec.kind === 'onnx') {
    const net = loadOnnxNet(spec.file, shape);
    return { net, dispose: () => net.dispose() };
  }
  const model = await tfl.models.modelFromJSON({ modelTopology: spec.topology as tf.io.ModelJSON['modelTopology'] });
  return { net: layersNet(model), dispose: () => model.dispose() };
}

/** A peer's replica: it computes one share's weighted gradient per step. */
export interface ShardRunner {
  parameters: number;
  step(step: ShardStep): Promise<ShardOutcome>;
  dispose(): void;
}

/**
 * Builds a peer's replica from `spec` over its buffers; the weights buffer must hold exactly the
 * replica's parameters (a mismatch is a coordinator and peer that disagree on the network).
 */
export async function openShard(spec: ShardSpec, buffers: ShardBuffers): Promise<ShardRunner> {
  const built = await buildNet(spec.net, spec.shape);
  const teacherBuilt = spec.teacher ? await buildNet(spec.teacher.net, spec.shape) : undefined;
  const { net } = built;
  const parameters = parameterCount(net.variables);
  const dispose = () => {
    built.dispose();
    teacherBuilt?.dispose();
  };
  if (parameters !== buffers.weights.length || parameters !== buffers.gradients.length) {
    dispose();
    throw new Error(`the worker's network has ${parameters} parameters, the coordinator's ${buffers.weights.length}`);
  }
  if (teacherBuilt) assignFrom(teacherBuilt.net.variables, spec.teacher!.weights);
  const meta = {
    inputShape: spec.shape,
    numClasses: spec.classes,
    bounds: [0, 1] as [number, number],
    source: 'training worker',
    warnings: [],
    ...(spec.normalization ? { normalization: spec.normalization } : {}),
  };
  const classifier = makeClassifier((x) => net.apply(x, false), meta);
  const training = makeClassifier((x) => net.apply(x, true), meta);
  const teacher = teacherBuilt
    ? makeClassifier((x) => teacherBuilt.net.apply(x, false), { ...meta, source: 'teacher' })
    : undefined;
  const per = spec.shape[0] * spec.shape[1] * spec.shape[2];
  // AWP's x', kept from its 'keep' round to its 'reuse' round.
  let kept: tf.Tensor4D | undefined;
  const dropKept = () => {
    kept?.dispose();
    kept = undefined;
  };
  return {
    parameters,
    step: async ({ rows, weight, seed, eps, awp }) => {
      if (awp === 'reuse' && kept?.shape[0] !== rows) {
        dropKept();
        throw new Error(`an AWP 'reuse' step of ${rows} rows found no x' of that size kept by a 'keep' step`);
      }
      assignFrom(net.variables, buffers.weights);
      const x = tf.tensor4d(buffers.x.slice(0, rows * per), [rows, ...spec.shape]);
      const y = tf.tensor1d(buffers.y.slice(0, rows), 'int32');
      const ctx: BatchContext = {
        method: spec.method,
        model: classifier,
        trainLogits: (input) => training.predictLogits(input),
        adv: spec.adv,
        eps,
        rng: new Rng(seed),
        classes: spec.classes,
        ...(teacher ? { teacher } : {}),
        ...(spec.phase ? { phase: spec.phase } : {}),
      };
      let xTrain: tf.Tensor4D | undefined;
      let shareGrads: Awaited<ReturnType<typeof shareGradients>>;
      try {
        xTrain = awp === 'reuse' ? kept! : await trainingInputs(ctx, x, y);
        if (awp !== 'reuse') dropKept();
        shareGrads = await shareGradients(ctx, net.variables, x, y, weight, undefined, xTrain);
      } catch (err) {
        tf.dispose([x, y]);
        if (xTrain !== kept) xTrain?.dispose();
        dropKept();
        throw err;
      }
      if (awp === 'keep') kept = xTrain;
      else {
        if (xTrain !== kept) xTrain.dispose();
        dropKept();
      }
      try {
        let offset = 0;
        shareGrads.grads.forEach((g) => {
          buffers.gradients.set(g.dataSync() as Float32Array, offset);
          offset += g.size;
        });
        return { loss: (await shareGrads.loss.data())[0]!, correct: (await shareGrads.correct.data())[0]! };
      } finally {
        tf.dispose([x, y, shareGrads.loss, shareGrads.correct, ...shareGrads.grads]);
      }
    },
    dispose: () => {
      dropKept();
      dispose();
    },
  };
}

/**
 * One share's gradient: the method's inputs (its inner attack) on x, then ∇ of weight·loss (+ `extra`,
 * the weight-decay term the coordinator adds once). `inputs`: x' already found (AWP's second round),
 * left to the caller. Caller disposes the tensors returned.
 */
export async function shareGradients(
  ctx: BatchContext,
  variables: tf.Variable[],
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  weight: number,
  extra?: () => tf.Scalar,
  inputs?: tf.Tensor4D,
): Promise<{ grads: tf.Tensor[]; loss: tf.Scalar; correct: tf.Scalar }> {
  const xTrain = inputs ?? (await trainingInputs(ctx, x, y));
  let loss: tf.Scalar | undefined;
  let correct: tf.Scalar | undefined;
  try {
    const result = tf.variableGrads(() => {
      const out = batchLoss(ctx, x, xTrain, y);
      loss = tf.keep(out.loss);
      correct = tf.keep(tf.sum(tf.cast(tf.equal(tf.argMax(out.logits, 1), y), 'int32'))) as tf.Scalar;
      const weighted = tf.mul(out.loss, weight) as tf.Scalar;
      return extra ? (tf.add(weighted, extra()) as tf.Scalar) : weighted;
    }, variables);
    result.value.dispose();
    return { grads: variables.map((v) => result.grads[v.name]!), loss: loss!, correct: correct! };
  } catch (err) {
    tf.dispose([loss, correct].filter((t): t is tf.Scalar => t !== undefined));
    throw err;
  } finally {
    if (!inputs) xTrain.dispose();
  }
}
