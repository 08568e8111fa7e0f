/**
 * How each training method turns a clean batch into the loss it minimises. The adversarial
 * examples are found outside the optimiser's gradient tape (they depend on the weights only
 * through the attack), then the loss is taken on them.
 *
 * - standard: CE(f(x), y)
 * - pgd-at (Madry et al. 2018): CE(f(x'), y), x' = PGD-k(x) with random start, last iterate
 * - mixed batches (pgd-at and fast-at with advFraction < 1; Goodfellow et al. 2015, and the
 *   published PGD-AT models of Croce et al. 2019 with 0.5): only the batch's first
 *   round(advFraction·n) images are attacked, the rest are trained on as they are
 * - fast-at (Wong, Rice & Kolter 2020): CE(f(x'), y), x' = one FGSM step of α = 1.25ε from a
 *   uniform random start in the ball
 * - trades (Zhang et al. 2019): CE(f(x), y) + β·KL(softmax f(x) ‖ softmax f(x')), x' maximising
 *   the KL term by PGD from x + 0.001·N(0, 1)
 * - distillation (Papernot et al. 2016): the teacher minimises CE(softmax(f(x)/T), y); the student
 *   minimises CE(softmax(f_s(x)/T), softmax(f_t(x)/T)) and is deployed at T = 1 (raw logits)
 */
import * as tf from '@tensorflow/tfjs-core';
import { pgd } from '../attacks/pgd';
import type { Classifier } from '../models/classifier';
import type { Rng } from '../rng';
import { ascentDirection, project, randomInit, type ThreatModel } from '../threat';

import { TRAIN_METHOD_DEFAULTS } from '../../protocol/training';
import type { NormId, TrainMethod } from '../../protocol/vocabulary';

export interface AdversarialOptions {
  /** Training radius (the final one, after warm-up). */
  eps: number;
  norm?: NormId;
  /** PGD-AT / TRADES inner steps (default: TRAIN_METHOD_DEFAULTS) and step size relative to ε (default 2.5/steps). */
  steps?: number;
  stepRelative?: number;
  /** Epochs over which ε ramps linearly from 0 to eps (PGD-AT, TRADES). */
  warmupEpochs?: number;
  /** TRADES weight of the KL term (default: TRAIN_METHOD_DEFAULTS). */
  beta?: number;
  /** pgd-at, fast-at: the fraction of each batch trained on adversarial points, the rest clean (default 1). */
  advFraction?: number;
  /** Distillation temperature (default: TRAIN_METHOD_DEFAULTS). */
  temperature?: number;
}

export interface BatchContext {
  method: TrainMethod;
  model: Classifier;
  /** Logits with training-mode layers, for the loss (inside the optimiser's tape). */
  trainLogits: (x: tf.Tensor4D) => tf.Tensor2D;
  adv: AdversarialOptions;
  /** ε for this batch (after warm-up). */
  eps: number;
  rng: Rng;
  classes: number;
  /** Soft labels for distillation's student: the teacher's logits. */
  teacher?: Classifier;
  /** Distillation phase: the teacher trains at T, then the student. */
  phase?: 'teacher' | 'student';
}

/** The inputs the loss is taken on: x itself, or adversarial points. Caller disposes. */
export async function trainingInputs(ctx: BatchContext, x: tf.Tensor4D, y: tf.Tensor1D): Promise<tf.Tensor4D> {
  const threat: ThreatModel = { norm: ctx.adv.norm ?? 'linf', eps: ctx.eps, bounds: ctx.model.bounds };
  if (ctx.eps <= 0) return tf.clone(x);
  switch (ctx.method) {
    case 'pgd-at': {
      const steps = ctx.adv.steps ?? TRAIN_METHOD_DEFAULTS['pgd-at'].steps!;
      return mixedBatch(ctx, x, y, threat, steps, ctx.adv.stepRelative ?? 2.5 / steps);
    }
    case 'fast-at':
      return mixedBatch(ctx, x, y, threat, 1, 1.25);
    case 'trades':
      return tradesInner(ctx, x, threat);
    default:
      return tf.clone(x);
  }
}

/** How many of a batch's n images are attacked under this fraction (all without one). */
function attackedRows(advFraction: number | undefined, n: number): number {
  return advFraction === undefined ? n : Math.round(advFraction * n);
}

/**
 * PGD from a random start (the last iterate) on the batch's first attackedRows(advFraction, n)
 * images; the others are returned as they are. Caller disposes.
 */
async function mixedBatch(
  ctx: BatchContext,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  threat: ThreatModel,
  steps: number,
  stepRelative: number,
): Promise<tf.Tensor4D> {
  const n = x.shape[0];
  const attacked = attackedRows(ctx.adv.advFraction, n);
  // Drawn even when nothing is attacked, so the run's random stream does not depend on the shard size.
  const seed = ctx.rng.nextSeed();
  if (attacked === 0) return tf.clone(x);
  const attack = (xa: tf.Tensor4D, ya: tf.Tensor1D) =>
    pgd(ctx.model, xa, ya, threat, {
      steps,
      stepSize: { relative: stepRelative },
      randomStart: true,
      keep: 'last',
      seed,
    });
  if (attacked === n) return (await attack(x, y)).xAdv;
  const [xa, xc] = tf.split(x, [attacked, n - attacked]) as [tf.Tensor4D, tf.Tensor4D];
  const ya = tf.slice(y, 0, attacked);
  const { xAdv } = await attack(xa, ya);
  const mixed = tf.concat([xAdv, xc]);
  tf.dispose([xa, xc, ya, xAdv]);
  return mixed;
}

/** Mean over the batch of KL(softmax(clean) ‖ softmax(adv)). */
export function klPerBatch(cleanLogits: tf.Tensor2D, advLogits: tf.Tensor2D): tf.Scalar {
  const p = tf.softmax(cleanLogits);
  return tf.mean(tf.sum(tf.mul(p, tf.sub(tf.logSoftmax(cleanLogits), tf.logSoftmax(advLogits))), 1)) as tf.Scalar;
}

/** TRADES' inner maximisation of KL(f(x) ‖ f(x')) over the ball during training. */
function tradesInner(ctx: BatchContext, x: tf.Tensor4D, threat: ThreatModel): tf.Tensor4D {
  const steps = ctx.adv.steps ?? TRAIN_METHOD_DEFAULTS.trades.steps!;
  return klAdversary(ctx.model, x, threat, {
    steps,
    stepSize: (ctx.adv.stepRelative ?? 2.5 / steps) * ctx.eps,
    rng: ctx.rng,
  });
}

/**
 * The KL adversary: sign (L∞) or normalised (L2) ascent on KL(f(x) ‖ f(x')), projected onto the
 * ball and the box after each step. It starts at x + 0.001·N(0, 1) as published (the KL and its
 * gradient vanish at x' = x) or at a uniform point of the ball. Caller disposes the result.
 */
export function klAdversary(
  model: Classifier,
  x: tf.Tensor4D,
  threat: ThreatModel,
  opts: { steps: number; stepSize: number; rng: Rng; start?: 'near' | 'uniform' },
): tf.Tensor4D {
  const clean = tf.tidy(() => model.predictLogits(x));
  let current =
    opts.start === 'uniform'
      ? randomInit(threat, x, opts.rng)
      : tf.tidy(() => project(threat, x, tf.add(x, tf.mul(opts.rng.normal(x.shape), 0.001)) as tf.Tensor4D));
  const grad = tf.grad((xa: tf.Tensor) => klPerBatch(clean, model.predictLogits(xa as tf.Tensor4D)));
  for (let s = 0; s < opts.steps; s++) {
    const next = tf.tidy(() =>
      project(
        threat,
        x,
        tf.add(
          current,
          tf.mul(opts.stepSize, ascentDirection(threat.norm, grad(current) as tf.Tensor4D)),
        ) as tf.Tensor4D,
      ),
    );
    current.dispose();
    current = next;
  }
  clean.dispose();
  return current;
}

/** The loss the optimiser minimises on one batch (inside its tape). */
export function batchLoss(
  ctx: BatchContext,
  x: tf.Tensor4D,
  xTrain: tf.Tensor4D,
  y: tf.Tensor1D,
): { loss: tf.Scalar; logits: tf.Tensor2D } {
  const yHot = tf.oneHot(y, ctx.classes);
  switch (ctx.method) {
    case 'trades': {
      const clean = ctx.trainLogits(x);
      const adv = ctx.trainLogits(xTrain);
      const beta = ctx.adv.beta ?? TRAIN_METHOD_DEFAULTS.trades.beta!;
      const loss = tf.add(tf.losses.softmaxCrossEntropy(yHot, clean), tf.mul(beta, klPerBatch(clean, adv)));
      return { loss: loss as tf.Scalar, logits: clean };
    }
    case 'distill': {
      const t = ctx.adv.temperature ?? TRAIN_METHOD_DEFAULTS.distill.temperature!;
      const logits = ctx.trainLogits(x);
      const target =
        ctx.phase === 'student' && ctx.teacher ? tf.softmax(tf.div(ctx.teacher.predictLogits(x), t)) : yHot;
      return { loss: tf.losses.softmaxCrossEntropy(target, tf.div(logits, t)) as tf.Scalar, logits };
    }
    default: {
      const logits = ctx.trainLogits(xTrain);
      return { loss: tf.losses.softmaxCrossEntropy(yHot, logits) as tf.Scalar, logits };
    }
  }
}
