/**
 * Standard (non-adversarial) training of a Layers model on a Dataset: Adam or SGD,
 * seeded shuffling, a progress callback per batch and per epoch, and an AbortSignal.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { InputError, throwIfAborted, yieldToEventLoop } from '../errors';
import { batchTensors, firstN, type Dataset } from '../data/datasets';
import { accuracyOn } from '../eval/accuracy';
import { makeClassifier } from '../models/classifier';
import { Rng } from '../rng';

export type OptimizerId = 'adam' | 'sgd';

export interface TrainOptions {
  epochs: number;
  batchSize?: number;
  optimizer?: OptimizerId;
  learningRate?: number;
  /** SGD momentum (ignored by Adam). */
  momentum?: number;
  seed?: number;
  /** Use only the first N training images. */
  trainLimit?: number;
  /** Evaluate on the first N test images after each epoch (default: all). */
  evalLimit?: number;
  signal?: AbortSignal;
  onProgress?: (progress: TrainProgress) => void;
}

export interface EpochMetrics {
  epoch: number;
  loss: number;
  trainAccuracy: number;
  testAccuracy: number;
  seconds: number;
}

export interface TrainProgress {
  epoch: number;
  epochs: number;
  batch: number;
  batches: number;
  loss: number;
  /** Set once an epoch ends. */
  epochMetrics?: EpochMetrics;
}

export function validateTrainOptions(opts: TrainOptions): void {
  const check = (field: string, value: number | undefined, ok: (v: number) => boolean, need: string) => {
    if (value !== undefined && !(Number.isFinite(value) && ok(value))) throw new InputError('train options', field, `${value} is invalid; need ${need}`);
  };
  check('epochs', opts.epochs, (v) => Number.isInteger(v) && v >= 1, 'an integer ≥ 1');
  check('batchSize', opts.batchSize, (v) => Number.isInteger(v) && v >= 1, 'an integer ≥ 1');
  check('learningRate', opts.learningRate, (v) => v > 0, 'a number > 0');
  check('momentum', opts.momentum, (v) => v >= 0 && v < 1, 'a number in [0, 1)');
  if (opts.optimizer && !['adam', 'sgd'].includes(opts.optimizer)) {
    throw new InputError('train options', 'optimizer', `"${opts.optimizer}" is unknown; use adam or sgd`);
  }
}

function makeOptimizer(opts: TrainOptions): tf.Optimizer {
  if ((opts.optimizer ?? 'adam') === 'sgd') return tf.train.momentum(opts.learningRate ?? 0.05, opts.momentum ?? 0.9);
  return tf.train.adam(opts.learningRate ?? 1e-3);
}

export async function trainStandard(model: tfl.LayersModel, data: Dataset, opts: TrainOptions): Promise<EpochMetrics[]> {
  validateTrainOptions(opts);
  const batchSize = opts.batchSize ?? 128;
  const rng = new Rng(opts.seed ?? 0);
  const optimizer = makeOptimizer(opts);
  const train = firstN(data.train, opts.trainLimit);
  const test = firstN(data.test, opts.evalLimit);
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const classes = data.classNames.length;
  const classifier = makeClassifier((x) => model.apply(x, { training: false }) as tf.Tensor2D, {
    inputShape: data.shape, numClasses: classes, bounds: [0, 1], source: 'training', warnings: [],
  });
  const batches = Math.ceil(train.count / batchSize);
  const history: EpochMetrics[] = [];
  try {
    for (let epoch = 1; epoch <= opts.epochs; epoch++) {
      const started = performance.now();
      const order = rng.permutation(train.count);
      let lossSum = 0;
      let correct = 0;
      for (let b = 0; b < batches; b++) {
        throwIfAborted(opts.signal, 'training');
        const { x, y } = batchTensors(train, data.shape, b * batchSize, batchSize, order);
        let batchCorrect: tf.Tensor | undefined;
        const cost = optimizer.minimize(() => {
          const logits = model.apply(x, { training: true }) as tf.Tensor2D;
          batchCorrect = tf.keep(tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), y), 'int32')));
          return tf.losses.softmaxCrossEntropy(tf.oneHot(y, classes), logits) as tf.Scalar;
        }, true, variables)!;
        const lossValue = (await cost.data())[0]!;
        lossSum += lossValue * x.shape[0];
        correct += (await batchCorrect!.data())[0]!;
        tf.dispose([x, y, cost, batchCorrect!]);
        opts.onProgress?.({ epoch, epochs: opts.epochs, batch: b + 1, batches, loss: lossValue });
        if (opts.signal) await yieldToEventLoop();
      }
      const testAccuracy = await accuracyOn(classifier, test, data.shape);
      const metrics: EpochMetrics = {
        epoch, loss: lossSum / train.count, trainAccuracy: correct / train.count, testAccuracy,
        seconds: (performance.now() - started) / 1000,
      };
      history.push(metrics);
      opts.onProgress?.({ epoch, epochs: opts.epochs, batch: batches, batches, loss: metrics.loss, epochMetrics: metrics });
    }
  } finally {
    optimizer.dispose();
  }
  return history;
}
