/**
 * Training of a Layers model (or an imported ONNX graph, net.ts) on a Dataset, standard or
 * adversarial (methods.ts): Adam or SGD, learning-rate schedules, weight decay, seeded shuffling,
 * per-epoch validation (clean and PGD robust accuracy), checkpoints with exact resume, a progress
 * callback and an AbortSignal.
 *
 * Determinism: every epoch draws its shuffle and attack seeds from Rng(seed, epoch), and a
 * checkpoint holds the weights and the optimiser's state, so a run resumed from epoch k ends
 * with the same weights as one that never stopped.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { getAttack } from '../attacks/registry';
import { batchTensors, firstN, sliceSplit, type Dataset } from '../data/datasets';
import { InputError, throwIfAborted } from '../errors';
import { yieldToEventLoop } from '../scheduling';
import { accuracyOn } from '../eval/accuracy';
import { evaluateAttacks } from '../eval/evaluate';
import { makeClassifier, type Classifier, type Normalization } from '../models/classifier';
import { Rng } from '../rng';
import { loadCheckpoint, saveCheckpoint, type CheckpointExtras } from './checkpoint';
import { batchLoss, trainingInputs, type AdversarialOptions, type BatchContext } from './methods';
import { defaultTrainJob } from '../../protocol/jobs';
import {
  defaultLearningRate,
  isAdversarialMethod,
  TRAIN_METHOD_DEFAULTS,
  type KeptWeights,
  type RobustTrainingOptions,
} from '../../protocol/training';
import { layersNet, type NetSpec, type TrainableNet } from './net';
import {
  flattenInto,
  parameterCount,
  shareGradients,
  shareRows,
  TrainingWorkerError,
  type GradientPeers,
  type PeersFactory,
  type ShardOutcome,
} from './parallel';
import { MAX_TRAIN_WORKERS } from '../../protocol/jobs';
import { epsAt, learningRateAt } from './schedule';
import {
  awpPerturbation,
  DEFAULT_VALIDATION_IMAGES,
  perturbKernels,
  restoreKernels,
  trainingSplit,
  VALIDATION_PGD_STEPS,
  WeightAverage,
  withWeights,
} from './robust';
import type { EpochMetrics, TrainProgress } from './types';
import {
  OPTIMIZERS,
  SCHEDULES,
  TRAIN_METHODS,
  type OptimizerId,
  type ScheduleId,
  type TrainMethod,
} from '../../protocol/vocabulary';

export type { EpochMetrics, TrainProgress } from './types';

export interface TrainOptions extends RobustTrainingOptions {
  epochs: number;
  method?: TrainMethod;
  adversarial?: AdversarialOptions;
  batchSize?: number;
  optimizer?: OptimizerId;
  /** Peak learning rate. */
  learningRate?: number;
  schedule?: ScheduleId;
  /** SGD momentum (ignored by Adam). */
  momentum?: number;
  /** L2 penalty on kernels, added to the loss as ½·λ·‖W‖². */
  weightDecay?: number;
  seed?: number;
  /** Use only the first N training images. */
  trainLimit?: number;
  /** Evaluate clean accuracy on the first N test images after each epoch (default: all). */
  evalLimit?: number;
  /** PGD-10 robust accuracy on the last N test images after each epoch (0 = off; default: TRAIN_METHOD_DEFAULTS). */
  robustEvalLimit?: number;
  /** Folder for checkpoints/ and metrics.jsonl; with `resume`, training continues from its last checkpoint. */
  checkpointDir?: string;
  resume?: boolean;
  /** Distillation's student: the teacher whose soft labels it learns. */
  teacher?: Classifier;
  /** The model's preprocessing (scale, mean, std), applied inside it: ε and the data stay in pixel space. */
  normalization?: Normalization;
  phase?: 'teacher' | 'student';
  /** The teacher's network, for a student split across workers (each gets a replica). */
  teacherNet?: TrainableNet;
  signal?: AbortSignal;
  onProgress?: (progress: TrainProgress) => void;
  /**
   * Data-parallel training: each batch split across this many workers (default 1: this thread
   * alone), their gradients summed (parallel.ts). With more than one, `peers` starts workers 2…N.
   */
  workers?: number;
  peers?: PeersFactory;
}

export type { KeptWeights };

export interface TrainOutcome {
  history: EpochMetrics[];
  kept: KeptWeights;
}

export function validateTrainOptions(opts: TrainOptions): void {
  const check = (field: string, value: number | undefined, ok: (v: number) => boolean, need: string) => {
    if (value !== undefined && !(Number.isFinite(value) && ok(value)))
      throw new InputError('train options', field, `${value} is invalid; need ${need}`);
  };
  check('epochs', opts.epochs, (v) => Number.isInteger(v) && v >= 1, 'an integer ≥ 1');
  check('batchSize', opts.batchSize, (v) => Number.isInteger(v) && v >= 1, 'an integer ≥ 1');
  check('learningRate', opts.learningRate, (v) => v > 0, 'a number > 0');
  check('momentum', opts.momentum, (v) => v >= 0 && v < 1, 'a number in [0, 1)');
  check('weightDecay', opts.weightDecay, (v) => v >= 0, 'a number ≥ 0');
  check('ema', opts.ema, (v) => v > 0 && v < 1, 'a decay in (0, 1), e.g. 0.999');
  check('awp', opts.awp, (v) => v >= 0 && v <= 1, 'a relative weight perturbation γ in [0, 1], e.g. 0.005');
  check('awpWarmupEpochs', opts.awpWarmupEpochs, (v) => Number.isInteger(v) && v >= 0, 'an integer ≥ 0');
  check('validation', opts.validation, (v) => Number.isInteger(v) && v >= 0, 'an integer ≥ 0');
  check('patience', opts.patience, (v) => Number.isInteger(v) && v >= 1, 'an integer ≥ 1');
  check(
    'workers',
    opts.workers,
    (v) => Number.isInteger(v) && v >= 1 && v <= MAX_TRAIN_WORKERS,
    `an integer from 1 to ${MAX_TRAIN_WORKERS}`,
  );
  const method = opts.method ?? 'standard';
  if (!TRAIN_METHODS.includes(method)) {
    throw new InputError('train options', 'method', `"${method}" is unknown; use one of ${TRAIN_METHODS.join(', ')}`);
  }
  if (opts.optimizer && !OPTIMIZERS.includes(opts.optimizer)) {
    throw new InputError(
      'train options',
      'optimizer',
      `"${opts.optimizer}" is unknown; use one of ${OPTIMIZERS.join(', ')}`,
    );
  }
  if (opts.schedule && !SCHEDULES.includes(opts.schedule)) {
    throw new InputError(
      'train options',
      'schedule',
      `"${opts.schedule}" is unknown; use one of ${SCHEDULES.join(', ')}`,
    );
  }
  if (opts.awp && method !== 'pgd-at' && method !== 'trades') {
    throw new InputError(
      'train options',
      'awp',
      `AWP perturbs the weights against the adversarial loss of pgd-at or trades; method "${method}" has none`,
    );
  }
  if (opts.earlyStop && !isAdversarialMethod(method)) {
    throw new InputError(
      'train options',
      'earlyStop',
      `early stopping selects on robust validation accuracy, which method "${method}" (no adversary) does not train for`,
    );
  }
  if (opts.patience !== undefined && !opts.earlyStop) {
    throw new InputError(
      'train options',
      'patience',
      'applies only with earlyStop (it counts epochs since the best one)',
    );
  }
  if (opts.earlyStop && opts.validation === 0) {
    throw new InputError('train options', 'validation', '0 holds out no images, and early stopping needs some');
  }
  const adv = opts.adversarial;
  if (isAdversarialMethod(method)) {
    check('adversarial.eps', adv?.eps ?? Number.NaN, (v) => v > 0 && v <= 1, 'a number in (0, 1]');
  }
  check('adversarial.steps', adv?.steps, (v) => Number.isInteger(v) && v >= 1, 'an integer ≥ 1');
  check('adversarial.beta', adv?.beta, (v) => v >= 0, 'a number ≥ 0');
  check('adversarial.advFraction', adv?.advFraction, (v) => v > 0 && v <= 1, 'a fraction in (0, 1], e.g. 0.5');
  if (adv?.advFraction !== undefined && method !== 'pgd-at' && method !== 'fast-at') {
    throw new InputError(
      'train options',
      'adversarial.advFraction',
      `mixes clean and adversarial images in the batches of pgd-at or fast-at; method "${method}" ` +
        (method === 'trades' ? 'already weighs a clean term (use beta)' : 'trains on no adversarial images'),
    );
  }
  const temperature = TRAIN_METHOD_DEFAULTS[method].temperature;
  if (temperature !== undefined) {
    check(
      'adversarial.temperature',
      adv?.temperature ?? temperature,
      (v) => v > 1,
      'a number > 1 (T ≤ 1 is no distillation)',
    );
  }
}

/**
 * Catastrophic overfitting: robust accuracy falls by more than 20 points below the best epoch so
 * far (it collapses to near 0 within one epoch, Wong et al. 2020, Fig. 2). The previous epoch
 * must be the best one to restore, so the check compares with it.
 */
export function robustCollapsed(history: EpochMetrics[], robustAccuracy: number | undefined, drop = 0.2): boolean {
  const previous = history[history.length - 1]?.robustAccuracy;
  const best = Math.max(-1, ...history.map((h) => h.robustAccuracy ?? -1));
  return robustAccuracy !== undefined && previous !== undefined && best >= 0 && robustAccuracy < best - drop;
}

/** The peak learning rate: the option, else the default of the method and optimiser. */
function peakLearningRate(opts: TrainOptions): number {
  const method = opts.method ?? 'standard';
  return opts.learningRate ?? defaultLearningRate(method, opts.optimizer ?? defaultTrainJob(method).optimizer);
}

function makeOptimizer(opts: TrainOptions): tf.Optimizer {
  const rate = peakLearningRate(opts);
  if ((opts.optimizer ?? defaultTrainJob().optimizer) === 'sgd') return tf.train.momentum(rate, opts.momentum ?? 0.9);
  return tf.train.adam(rate);
}

/** tfjs optimisers read their rate on every update; schedules set it between batches. */
function setLearningRate(optimizer: tf.Optimizer, rate: number): void {
  // SGD and momentum multiply by a scalar made from the rate, which only their setter remakes.
  const settable = optimizer as unknown as { learningRate: number; setLearningRate?: (rate: number) => void };
  if (typeof settable.setLearningRate === 'function') settable.setLearningRate(rate);
  else settable.learningRate = rate;
}

/** Workers 2…N of a split run, each with a replica of `model` (and of the teacher, for a distilled student). */
async function startPeers(
  model: TrainableNet,
  opts: TrainOptions,
  run: {
    method: TrainMethod;
    adv: AdversarialOptions;
    classes: number;
    shape: [number, number, number];
    batchSize: number;
    workers: number;
  },
): Promise<GradientPeers> {
  if (!opts.peers) throw new Error(`training on ${run.workers} workers needs a way to start them (TrainOptions.peers)`);
  if (!model.spec) throw new Error('this network cannot be rebuilt in a training worker; train it with 1 worker');
  let teacher: { net: NetSpec; weights: Float32Array } | undefined;
  if (opts.teacher) {
    const net = opts.teacherNet;
    if (!net?.spec) throw new Error("a distilled student trains on several workers only with its teacher's network");
    const weights = new Float32Array(parameterCount(net.variables));
    flattenInto(net.variables, weights);
    teacher = { net: net.spec, weights };
  }
  return opts.peers(
    {
      net: model.spec,
      shape: run.shape,
      classes: run.classes,
      ...(opts.normalization ? { normalization: opts.normalization } : {}),
      method: run.method,
      adv: run.adv,
      ...(opts.phase ? { phase: opts.phase } : {}),
      ...(teacher ? { teacher } : {}),
      maxRows: run.batchSize,
    },
    run.workers - 1,
    parameterCount(model.variables),
  );
}

/**
 * One batch split across worker 1 (this thread) and its peers: the weights and each peer's rows
 * go out, every worker takes its share's weighted gradient, and the sum (in worker order) is
 * applied here. The loss is the batch's mean, as one worker would report it.
 */
async function parallelBatch(
  peers: GradientPeers,
  workers: number,
  ctx: BatchContext,
  variables: tf.Variable[],
  optimizer: tf.Optimizer,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  penalty: (() => tf.Scalar) | undefined,
  awp?: { gamma: number; kernels: tf.Variable[] },
): Promise<ShardOutcome> {
  const rows = x.shape[0];
  // N seeds per batch whatever its size: the epoch's stream stays the same for a given N.
  const seeds = Array.from({ length: workers }, () => ctx.rng.nextSeed());
  const shares = shareRows(rows, workers);
  flattenInto(variables, peers.weights);
  const pixels = x.dataSync() as Float32Array;
  const labels = y.dataSync() as Int32Array;
  const per = pixels.length / rows;
  shares.slice(1).forEach((share, k) => {
    const buffers = peers.buffers(k);
    buffers.x.set(pixels.subarray(share.start * per, (share.start + share.rows) * per));
    buffers.y.set(labels.subarray(share.start, share.start + share.rows));
  });
  // One round: every peer's step on its rows (already in its buffers), settled so that a peer
  // failing while worker 1 computes is no unhandled rejection.
  const send = (mode?: 'keep' | 'reuse') =>
    shares.slice(1).map((share, k) =>
      peers
        .step(k, {
          rows: share.rows,
          weight: share.rows / rows,
          seed: seeds[k + 1]!,
          eps: ctx.eps,
          ...(mode ? { awp: mode } : {}),
        })
        .then(
          (value) => ({ value }),
          (error: Error) => ({ error }),
        ),
    );
  const collect = async (pending: ReturnType<typeof send>): Promise<ShardOutcome[]> => {
    const settled = await Promise.all(pending);
    const failed = settled.find((s) => 'error' in s);
    if (failed && 'error' in failed) throw failed.error;
    return settled.map((s) => (s as { value: ShardOutcome }).value);
  };
  // The whole batch's gradient: worker 1's plus each peer's, in worker order. Caller disposes.
  const sum = (local: tf.Tensor[]): tf.Tensor[] => {
    let offset = 0;
    return variables.map((v, i) => {
      const start = offset;
      offset += v.size;
      return tf.tidy(() =>
        shares
          .slice(1)
          .reduce<tf.Tensor>(
            (g, _s, k) =>
              tf.add(g, tf.tensor(peers.buffers(k).gradients.slice(start, start + v.size), v.shape, 'float32')),
            local[i]!,
          ),
      );
    });
  };
  const first = shares[0]!;
  const x0 = tf.slice(x, [0, 0, 0, 0], [first.rows, -1, -1, -1]);
  const y0 = tf.slice(y, [0], [first.rows]);
  const penaltyValue = penalty ? tf.tidy(() => penalty().dataSync()[0]!) : 0;
  const ctx0 = { ...ctx, rng: new Rng(seeds[0]!) };
  const owned: tf.Tensor[] = [x0, y0];
  let saved: tf.Tensor[] | undefined;
  try {
    let local: Awaited<ReturnType<typeof shareGradients>>;
    let outcomes: ShardOutcome[];
    let summed: tf.Tensor[];
    if (!awp) {
      const pending = send();
      local = await shareGradients(ctx0, variables, x0, y0, first.rows / rows, penalty);
      owned.push(local.loss, local.correct, ...local.grads);
      outcomes = await collect(pending);
      summed = sum(local.grads);
    } else {
      // AWP across workers: round 1 finds each share's x' (kept by its worker) and the whole batch's
      // adversarial-loss gradient at w; the perturbation is taken from that sum, broadcast as w + v,
      // and round 2 takes the training gradient at w + v on the same x'. w comes back by assignment.
      const xTrain0 = await trainingInputs(ctx0, x0, y0);
      owned.push(xTrain0);
      const pending1 = send('keep');
      const probe = await shareGradients(ctx0, variables, x0, y0, first.rows / rows, undefined, xTrain0);
      owned.push(probe.loss, probe.correct, ...probe.grads);
      await collect(pending1);
      const g = sum(probe.grads);
      owned.push(...g);
      const v = awpPerturbation(
        awp.kernels,
        awp.kernels.map((k) => g[variables.indexOf(k)]!),
        awp.gamma,
      );
      saved = perturbKernels(awp.kernels, v);
      tf.dispose(v);
      flattenInto(variables, peers.weights);
      const pending2 = send('reuse');
      local = await shareGradients(ctx0, variables, x0, y0, first.rows / rows, undefined, xTrain0);
      owned.push(local.loss, local.correct, ...local.grads);
      outcomes = await collect(pending2);
      summed = sum(local.grads);
      restoreKernels(awp.kernels, saved);
      saved = undefined;
      if (penalty) {
        // Weight decay's gradient at w itself, not at w + v.
        const decay = tf.variableGrads(penalty, awp.kernels);
        decay.value.dispose();
        const added = summed.map((g, i) => {
          const d = decay.grads[variables[i]!.name];
          return d ? tf.add(g, d) : g;
        });
        tf.dispose(Object.values(decay.grads));
        tf.dispose(summed.filter((g, i) => added[i] !== g));
        summed = added;
      }
    }
    const named: tf.NamedTensorMap = {};
    variables.forEach((v, i) => (named[v.name] = summed[i]!));
    optimizer.applyGradients(named);
    tf.dispose(summed);
    let loss = (first.rows / rows) * (await local.loss.data())[0]! + penaltyValue;
    let correct = (await local.correct.data())[0]!;
    outcomes.forEach((o, k) => {
      loss += (shares[k + 1]!.rows / rows) * o.loss;
      correct += o.correct;
    });
    return { loss, correct };
  } finally {
    if (saved) restoreKernels(awp!.kernels, saved);
    tf.dispose(owned);
  }
}

/**
 * One AWP batch on this thread alone: x' at w, the adversarial loss's gradient at w for the
 * perturbation, the training gradient at w + v (weight decay's at w), w restored, the update applied.
 */
async function awpBatch(
  ctx: BatchContext,
  variables: tf.Variable[],
  kernels: tf.Variable[],
  gamma: number,
  optimizer: tf.Optimizer,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  penalty: (() => tf.Scalar) | undefined,
): Promise<ShardOutcome> {
  const xTrain = await trainingInputs(ctx, x, y);
  const owned: tf.Tensor[] = [xTrain];
  let saved: tf.Tensor[] | undefined;
  try {
    const probe = tf.variableGrads(() => batchLoss(ctx, x, xTrain, y).loss, kernels);
    owned.push(probe.value, ...Object.values(probe.grads));
    const v = awpPerturbation(
      kernels,
      kernels.map((k) => probe.grads[k.name]!),
      gamma,
    );
    saved = perturbKernels(kernels, v);
    tf.dispose(v);
    let loss: tf.Scalar | undefined;
    let correct: tf.Scalar | undefined;
    const result = tf.variableGrads(() => {
      const out = batchLoss(ctx, x, xTrain, y);
      loss = tf.keep(out.loss);
      correct = tf.keep(tf.sum(tf.cast(tf.equal(tf.argMax(out.logits, 1), y), 'int32'))) as tf.Scalar;
      return out.loss;
    }, variables);
    owned.push(result.value, loss!, correct!);
    restoreKernels(kernels, saved);
    saved = undefined;
    const grads = result.grads;
    let penaltyValue = 0;
    if (penalty) {
      const decay = tf.variableGrads(penalty, kernels);
      penaltyValue = (await decay.value.data())[0]!;
      decay.value.dispose();
      for (const k of kernels) {
        const sum = tf.add(grads[k.name]!, decay.grads[k.name]!);
        tf.dispose([grads[k.name]!, decay.grads[k.name]!]);
        grads[k.name] = sum;
      }
    }
    optimizer.applyGradients(grads);
    tf.dispose(Object.values(grads));
    return { loss: (await loss!.data())[0]! + penaltyValue, correct: (await correct!.data())[0]! };
  } finally {
    if (saved) restoreKernels(kernels, saved);
    tf.dispose(owned);
  }
}

export async function trainModel(
  target: tfl.LayersModel | TrainableNet,
  data: Dataset,
  opts: TrainOptions,
): Promise<EpochMetrics[]> {
  return (await trainModelOutcome(target, data, opts)).history;
}

/** The robust-validation score an epoch is selected on: the EMA's when the run averages. */
export function selectionScore(metrics: EpochMetrics, ema: boolean): number | undefined {
  const score = ema ? metrics.emaValRobustAccuracy : metrics.valRobustAccuracy;
  return score === undefined || Number.isNaN(score) ? undefined : score;
}

/**
 * trainModel, telling which weights it left in the model: the last epoch's raw weights, their
 * moving average (opts.ema), or, with early stopping, the weights (EMA's when averaging) of the
 * epoch with the best robust validation accuracy (ties: the earliest).
 */
export async function trainModelOutcome(
  target: tfl.LayersModel | TrainableNet,
  data: Dataset,
  opts: TrainOptions,
): Promise<TrainOutcome> {
  validateTrainOptions(opts);
  const model = 'saveTo' in target ? target : layersNet(target);
  const method = opts.method ?? 'standard';
  const traits = TRAIN_METHOD_DEFAULTS[method];
  const adv: AdversarialOptions = { eps: 0, ...opts.adversarial };
  const batchSize = opts.batchSize ?? defaultTrainJob(method).batchSize;
  const peak = peakLearningRate(opts);
  const schedule = opts.schedule ?? traits.schedule;
  const validationN = opts.validation ?? (opts.earlyStop ? DEFAULT_VALIDATION_IMAGES : 0);
  // Validation images are the training split's last ones, never trained on (robust.ts).
  const split = trainingSplit(data.train.count, opts.trainLimit, validationN);
  const train = sliceSplit(data.train, split.train.start, split.train.end - split.train.start);
  const validation =
    validationN > 0
      ? sliceSplit(data.train, split.validation.start, split.validation.end - split.validation.start)
      : undefined;
  const test = firstN(data.test, opts.evalLimit);
  const awpGamma = opts.awp ?? 0;
  const awpKernels = awpGamma > 0 ? model.kernels : [];
  if (awpGamma > 0 && awpKernels.length === 0)
    throw new InputError(
      'train options',
      'awp',
      'the network has no kernels (weights of 2 or more dimensions) to perturb',
    );
  // Made once every refusal above is past: an optimiser holds tensors from its construction.
  const optimizer = makeOptimizer(opts);
  const robustN = opts.robustEvalLimit ?? traits.robustEvalImages;
  const { variables, kernels } = model;
  const classes = data.classNames.length;
  const meta = {
    inputShape: data.shape,
    numClasses: classes,
    bounds: [0, 1] as [number, number],
    source: 'training',
    warnings: [],
    ...(opts.normalization ? { normalization: opts.normalization } : {}),
  };
  const classifier = makeClassifier((x) => model.apply(x, false), meta);
  const training = makeClassifier((x) => model.apply(x, true), meta);
  const batches = Math.ceil(train.count / batchSize);
  const history: EpochMetrics[] = [];
  let startEpoch = 1;
  const average = opts.ema !== undefined ? new WeightAverage(opts.ema, variables) : undefined;
  let best: { epoch: number; score: number; weights: tf.Tensor[] } | undefined;
  const flat = (tensors: readonly tf.Tensor[]) => {
    const out = new Float32Array(tensors.reduce((s, t) => s + t.size, 0));
    let offset = 0;
    for (const t of tensors) {
      out.set(t.dataSync() as Float32Array, offset);
      offset += t.size;
    }
    return out;
  };
  const unflat = (values: Float32Array) => {
    let offset = 0;
    return variables.map((v) => {
      const t = tf.tensor(values.slice(offset, offset + v.size), v.shape, 'float32');
      offset += v.size;
      return t;
    });
  };
  try {
    if (opts.resume && opts.checkpointDir) {
      const restored = await loadCheckpoint(opts.checkpointDir, model, optimizer);
      if (restored) {
        const where = `${opts.checkpointDir}/checkpoints`;
        if (average && restored.extras.ema?.decay !== average.decay) {
          throw new InputError(
            where,
            'state.json',
            restored.extras.ema
              ? `holds an EMA of decay ${restored.extras.ema.decay}, not ${average.decay}: resume with the run's own settings`
              : `holds no EMA: the run started without weight averaging, so it cannot resume with one`,
          );
        }
        if (average && restored.extras.ema) average.load(restored.extras.ema.values);
        if (restored.extras.best) {
          const { epoch, score, values } = restored.extras.best;
          best = { epoch, score, weights: unflat(values) };
        }
        history.push(...restored.history);
        startEpoch = restored.epoch + 1;
      }
    }
  } catch (err) {
    average?.dispose();
    optimizer.dispose();
    throw err;
  }
  const pgdEntry = getAttack('pgd');
  const workers = Math.min(opts.workers ?? 1, batchSize);
  // Weight decay: ½·λ·‖W‖² over the kernels, added once to the batch's loss (by worker 1 when split).
  const penalty = opts.weightDecay
    ? () => tf.mul(opts.weightDecay! / 2, tf.addN(kernels.map((k) => tf.sum(tf.square(k))))) as tf.Scalar
    : undefined;
  let peers: GradientPeers | undefined;
  let stoppedAfter: number | undefined;
  try {
    if (workers > 1)
      peers = await startPeers(model, opts, { method, adv, classes, shape: data.shape, batchSize, workers });
    for (let epoch = startEpoch; epoch <= opts.epochs; epoch++) {
      if (opts.patience !== undefined && best && epoch - 1 - best.epoch >= opts.patience) {
        stoppedAfter = epoch - 1;
        break;
      }
      const started = performance.now();
      const awpOn = awpGamma > 0 && epoch > (opts.awpWarmupEpochs ?? 0);
      const rng = new Rng((opts.seed ?? 0) * 1_000_003 + epoch);
      const order = rng.permutation(train.count);
      const previousWeights = traits.collapseGuard ? model.getWeights() : undefined;
      let lossSum = 0;
      let correct = 0;
      let rate = peak;
      let eps = 0;
      for (let b = 0; b < batches; b++) {
        throwIfAborted(opts.signal, 'training');
        rate = learningRateAt(schedule, peak, ((epoch - 1) * batches + b) / (opts.epochs * batches));
        setLearningRate(optimizer, rate);
        eps = traits.warmup ? epsAt(adv.eps, epoch, b / batches, adv.warmupEpochs ?? 0) : adv.eps;
        const { x, y } = batchTensors(train, data.shape, b * batchSize, batchSize, order);
        const ctx = {
          method,
          model: classifier,
          trainLogits: (input: tf.Tensor4D) => training.predictLogits(input),
          adv,
          eps,
          rng,
          classes,
          ...(opts.teacher ? { teacher: opts.teacher } : {}),
          ...(opts.phase ? { phase: opts.phase } : {}),
        };
        let lossValue: number;
        if (peers) {
          const awpArg = awpOn ? { gamma: awpGamma, kernels: awpKernels } : undefined;
          const outcome = await parallelBatch(peers, workers, ctx, variables, optimizer, x, y, penalty, awpArg)
            .finally(() => tf.dispose([x, y]))
            .catch((err: Error) => {
              if (!(err instanceof TrainingWorkerError)) throw err;
              const kept = opts.checkpointDir && history.length ? history[history.length - 1]!.epoch : undefined;
              throw new TrainingWorkerError(
                `${err.message} (epoch ${epoch}, batch ${b + 1} of ${batches}); ` +
                  (kept !== undefined
                    ? `the checkpoint of epoch ${kept} is kept: resume the run to continue from it`
                    : 'no epoch had finished, so there is no checkpoint to resume from'),
              );
            });
          lossValue = outcome.loss;
          correct += outcome.correct;
        } else if (awpOn) {
          const outcome = await awpBatch(ctx, variables, awpKernels, awpGamma, optimizer, x, y, penalty).finally(() =>
            tf.dispose([x, y]),
          );
          lossValue = outcome.loss;
          correct += outcome.correct;
        } else {
          const xTrain = await trainingInputs(ctx, x, y);
          let batchCorrect: tf.Tensor | undefined;
          const cost = optimizer.minimize(
            () => {
              const { loss, logits } = batchLoss(ctx, x, xTrain, y);
              batchCorrect = tf.keep(tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), y), 'int32')));
              return penalty ? (tf.add(loss, penalty()) as tf.Scalar) : loss;
            },
            true,
            variables,
          )!;
          lossValue = (await cost.data())[0]!;
          correct += (await batchCorrect!.data())[0]!;
          tf.dispose([x, y, xTrain, cost, batchCorrect!]);
        }
        average?.update(variables, (epoch - 1) * batches + b);
        lossSum += lossValue * x.shape[0];
        opts.onProgress?.({ epoch, epochs: opts.epochs, batch: b + 1, batches, loss: lossValue });
        if (opts.signal) await yieldToEventLoop();
      }
      opts.onProgress?.({
        epoch,
        epochs: opts.epochs,
        batch: batches,
        batches,
        loss: lossSum / train.count,
        phase: 'evaluating',
      });
      const metrics: EpochMetrics = {
        epoch,
        loss: lossSum / train.count,
        trainAccuracy: correct / train.count,
        testAccuracy: await accuracyOn(classifier, test, data.shape),
        learningRate: rate,
        eps,
        seconds: 0,
      };
      const threat = { norm: adv.norm ?? 'linf', eps: adv.eps, bounds: [0, 1] as [number, number] };
      const pgdOn = async (split: typeof test, steps: number) =>
        evaluateAttacks(classifier, split, data.shape, threat, [{ entry: pgdEntry, options: { steps, seed: epoch } }], {
          examples: 0,
        });
      // The last test images: disjoint from the first 1,000 that final evaluations use.
      const held =
        robustN > 0 && adv.eps > 0 ? sliceSplit(data.test, Math.max(0, data.test.count - robustN), robustN) : undefined;
      if (held) metrics.robustAccuracy = (await pgdOn(held, 10)).robustAccuracy;
      if (validation) {
        if (adv.eps > 0) {
          const v = await pgdOn(validation, VALIDATION_PGD_STEPS);
          metrics.valAccuracy = v.cleanAccuracy;
          metrics.valRobustAccuracy = v.robustAccuracy;
        } else metrics.valAccuracy = await accuracyOn(classifier, validation, data.shape);
      }
      if (average) {
        await withWeights(variables, average.weights, async () => {
          metrics.emaTestAccuracy = await accuracyOn(classifier, test, data.shape);
          if (held) metrics.emaRobustAccuracy = (await pgdOn(held, 10)).robustAccuracy;
          if (validation) {
            if (adv.eps > 0) {
              const v = await pgdOn(validation, VALIDATION_PGD_STEPS);
              metrics.emaValAccuracy = v.cleanAccuracy;
              metrics.emaValRobustAccuracy = v.robustAccuracy;
            } else metrics.emaValAccuracy = await accuracyOn(classifier, validation, data.shape);
          }
        });
      }
      // Fast-AT's catastrophic overfitting: PGD accuracy collapses within an epoch while FGSM
      // training accuracy soars. Restore the last good weights and stop (Wong et al. 2020, §5).
      const collapsed = Boolean(previousWeights) && robustCollapsed(history, metrics.robustAccuracy);
      if (collapsed) {
        model.setWeights(previousWeights!);
        metrics.event = 'catastrophic-overfitting';
        metrics.robustAccuracy = history[history.length - 1]!.robustAccuracy!;
      }
      tf.dispose(previousWeights ?? []);
      metrics.seconds = (performance.now() - started) / 1000;
      history.push(metrics);
      if (opts.earlyStop) {
        const score = selectionScore(metrics, Boolean(average));
        if (score !== undefined && (!best || score > best.score)) {
          tf.dispose(best?.weights ?? []);
          best = {
            epoch,
            score,
            weights: average ? average.weights.map((w) => tf.clone(w)) : variables.map((v) => tf.clone(v)),
          };
        }
      }
      if (opts.checkpointDir) {
        const extras: CheckpointExtras = {
          ...(average ? { ema: { decay: average.decay, values: average.flatten() } } : {}),
          ...(best ? { best: { epoch: best.epoch, score: best.score, values: flat(best.weights) } } : {}),
        };
        await saveCheckpoint(opts.checkpointDir, model, optimizer, epoch, history, extras);
      }
      opts.onProgress?.({
        epoch,
        epochs: opts.epochs,
        batch: batches,
        batches,
        loss: metrics.loss,
        epochMetrics: metrics,
      });
      if (collapsed) break;
    }
    // The weights the model ends with: early stopping's pick, else the average, else the raw ones.
    const last = history[history.length - 1]?.epoch ?? 0;
    let kept: KeptWeights = { weights: 'raw', epoch: last, reason: 'last' };
    if (opts.earlyStop && best) {
      variables.forEach((v, i) => v.assign(best!.weights[i]!));
      kept = { weights: average ? 'ema' : 'raw', epoch: best.epoch, reason: 'best-robust-validation' };
    } else if (average) {
      variables.forEach((v, i) => v.assign(average.weights[i]!));
      kept = { weights: 'ema', epoch: last, reason: 'last' };
    }
    if (stoppedAfter !== undefined) kept.stoppedAfter = stoppedAfter;
    return { history, kept };
  } finally {
    await peers?.dispose();
    average?.dispose();
    tf.dispose(best?.weights ?? []);
    optimizer.dispose();
    // tfjs's MomentumOptimizer.dispose leaves its base SGD's learning-rate scalar behind (a leaked tensor a run).
    // By class name: tfjs optimisers answer instanceof by duck typing, so every one is "a MomentumOptimizer".
    if (optimizer.getClassName() === 'Momentum') (optimizer as unknown as { c?: tf.Tensor }).c?.dispose();
  }
}
