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
import { loadCheckpoint, saveCheckpoint } from './checkpoint';
import { batchLoss, trainingInputs, type AdversarialOptions, type BatchContext } from './methods';
import { defaultTrainJob } from '../../protocol/jobs';
import { defaultLearningRate, isAdversarialMethod, TRAIN_METHOD_DEFAULTS } from '../../protocol/training';
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

export interface TrainOptions {
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
  const adv = opts.adversarial;
  if (isAdversarialMethod(method)) {
    check('adversarial.eps', adv?.eps ?? Number.NaN, (v) => v > 0 && v <= 1, 'a number in (0, 1]');
  }
  check('adversarial.steps', adv?.steps, (v) => Number.isInteger(v) && v >= 1, 'an integer ≥ 1');
  check('adversarial.beta', adv?.beta, (v) => v >= 0, 'a number ≥ 0');
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
): Promise<ShardOutcome> {
  const rows = x.shape[0];
  // N seeds per batch whatever its size: the epoch's stream stays the same for a given N.
  const seeds = Array.from({ length: workers }, () => ctx.rng.nextSeed());
  const shares = shareRows(rows, workers);
  flattenInto(variables, peers.weights);
  const pixels = x.dataSync() as Float32Array;
  const labels = y.dataSync() as Int32Array;
  const per = pixels.length / rows;
  const pending = shares.slice(1).map((share, k) => {
    const buffers = peers.buffers(k);
    buffers.x.set(pixels.subarray(share.start * per, (share.start + share.rows) * per));
    buffers.y.set(labels.subarray(share.start, share.start + share.rows));
    const step = peers.step(k, { rows: share.rows, weight: share.rows / rows, seed: seeds[k + 1]!, eps: ctx.eps });
    // Settled here so that a peer failing while worker 1 computes is no unhandled rejection.
    return step.then(
      (value) => ({ value }),
      (error: Error) => ({ error }),
    );
  });
  const first = shares[0]!;
  const x0 = tf.slice(x, [0, 0, 0, 0], [first.rows, -1, -1, -1]);
  const y0 = tf.slice(y, [0], [first.rows]);
  const penaltyValue = penalty ? tf.tidy(() => penalty().dataSync()[0]!) : 0;
  let local: Awaited<ReturnType<typeof shareGradients>> | undefined;
  try {
    local = await shareGradients({ ...ctx, rng: new Rng(seeds[0]!) }, variables, x0, y0, first.rows / rows, penalty);
    const settled = await Promise.all(pending);
    const failed = settled.find((s) => 'error' in s);
    if (failed && 'error' in failed) throw failed.error;
    const outcomes = settled.map((s) => (s as { value: ShardOutcome }).value);
    const summed: tf.NamedTensorMap = {};
    let offset = 0;
    variables.forEach((v, i) => {
      summed[v.name] = tf.tidy(() =>
        outcomes.reduce<tf.Tensor>(
          (g, _o, k) =>
            tf.add(g, tf.tensor(peers.buffers(k).gradients.slice(offset, offset + v.size), v.shape, 'float32')),
          local!.grads[i]!,
        ),
      );
      offset += v.size;
    });
    optimizer.applyGradients(summed);
    tf.dispose(Object.values(summed));
    let loss = (first.rows / rows) * (await local.loss.data())[0]! + penaltyValue;
    let correct = (await local.correct.data())[0]!;
    outcomes.forEach((o, k) => {
      loss += (shares[k + 1]!.rows / rows) * o.loss;
      correct += o.correct;
    });
    return { loss, correct };
  } finally {
    tf.dispose([x0, y0, ...(local ? [local.loss, local.correct, ...local.grads] : [])]);
  }
}

export async function trainModel(
  target: tfl.LayersModel | TrainableNet,
  data: Dataset,
  opts: TrainOptions,
): Promise<EpochMetrics[]> {
  validateTrainOptions(opts);
  const model = 'saveTo' in target ? target : layersNet(target);
  const method = opts.method ?? 'standard';
  const traits = TRAIN_METHOD_DEFAULTS[method];
  const adv: AdversarialOptions = { eps: 0, ...opts.adversarial };
  const batchSize = opts.batchSize ?? defaultTrainJob(method).batchSize;
  const peak = peakLearningRate(opts);
  const schedule = opts.schedule ?? traits.schedule;
  const optimizer = makeOptimizer(opts);
  const train = firstN(data.train, opts.trainLimit);
  const test = firstN(data.test, opts.evalLimit);
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
  if (opts.resume && opts.checkpointDir) {
    const restored = await loadCheckpoint(opts.checkpointDir, model, optimizer);
    if (restored) {
      history.push(...restored.history);
      startEpoch = restored.epoch + 1;
    }
  }
  const pgdEntry = getAttack('pgd');
  const workers = Math.min(opts.workers ?? 1, batchSize);
  // Weight decay: ½·λ·‖W‖² over the kernels, added once to the batch's loss (by worker 1 when split).
  const penalty = opts.weightDecay
    ? () => tf.mul(opts.weightDecay! / 2, tf.addN(kernels.map((k) => tf.sum(tf.square(k))))) as tf.Scalar
    : undefined;
  let peers: GradientPeers | undefined;
  try {
    if (workers > 1)
      peers = await startPeers(model, opts, { method, adv, classes, shape: data.shape, batchSize, workers });
    for (let epoch = startEpoch; epoch <= opts.epochs; epoch++) {
      const started = performance.now();
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
          const outcome = await parallelBatch(peers, workers, ctx, variables, optimizer, x, y, penalty)
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
      if (robustN > 0 && adv.eps > 0) {
        // The last test images: disjoint from the first 1,000 that final evaluations use.
        const held = sliceSplit(data.test, Math.max(0, data.test.count - robustN), robustN);
        const evaluation = await evaluateAttacks(
          classifier,
          held,
          data.shape,
          { norm: adv.norm ?? 'linf', eps: adv.eps, bounds: [0, 1] },
          [{ entry: pgdEntry, options: { steps: 10, seed: epoch } }],
          { examples: 0 },
        );
        metrics.robustAccuracy = evaluation.robustAccuracy;
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
      if (opts.checkpointDir) await saveCheckpoint(opts.checkpointDir, model, optimizer, epoch, history);
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
  } finally {
    await peers?.dispose();
    optimizer.dispose();
    // tfjs's MomentumOptimizer.dispose leaves its base SGD's learning-rate scalar behind (a leaked tensor a run).
    // By class name: tfjs optimisers answer instanceof by duck typing, so every one is "a MomentumOptimizer".
    if (optimizer.getClassName() === 'Momentum') (optimizer as unknown as { c?: tf.Tensor }).c?.dispose();
  }
  return history;
}
