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
import { batchLoss, trainingInputs, type AdversarialOptions } from './methods';
import { defaultTrainJob } from '../../protocol/jobs';
import { defaultLearningRate, isAdversarialMethod, TRAIN_METHOD_DEFAULTS } from '../../protocol/training';
import { layersNet, type TrainableNet } from './net';
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
  signal?: AbortSignal;
  onProgress?: (progress: TrainProgress) => void;
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
  try {
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
        const xTrain = await trainingInputs(ctx, x, y);
        let batchCorrect: tf.Tensor | undefined;
        const cost = optimizer.minimize(
          () => {
            const { loss, logits } = batchLoss(ctx, x, xTrain, y);
            batchCorrect = tf.keep(tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), y), 'int32')));
            if (!opts.weightDecay) return loss;
            return tf.add(
              loss,
              tf.mul(opts.weightDecay / 2, tf.addN(kernels.map((k) => tf.sum(tf.square(k))))),
            ) as tf.Scalar;
          },
          true,
          variables,
        )!;
        const lossValue = (await cost.data())[0]!;
        lossSum += lossValue * x.shape[0];
        correct += (await batchCorrect!.data())[0]!;
        tf.dispose([x, y, xTrain, cost, batchCorrect!]);
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
    optimizer.dispose();
    // tfjs's MomentumOptimizer.dispose leaves its base SGD's learning-rate scalar behind (a leaked tensor a run).
    // By class name: tfjs optimisers answer instanceof by duck typing, so every one is "a MomentumOptimizer".
    if (optimizer.getClassName() === 'Momentum') (optimizer as unknown as { c?: tf.Tensor }).c?.dispose();
  }
  return history;
}
