/**
 * One epoch of a training run, written once: the engine's training loop produces it, the
 * worker's epoch notification and train result carry it, metrics.jsonl stores it, and the
 * training panel plots it.
 */
import { z } from 'zod';
import { DISTILL_PARTS, TRAIN_PHASES } from './vocabulary';

const finite = z.number().finite();
/** A measured loss or accuracy: NaN when training diverged (the run still ends, and says so). */
const measured = z.union([finite, z.nan()]);

/** Events an epoch can report; Fast-AT's collapse guard is the only one today. */
export const EPOCH_EVENTS = ['catastrophic-overfitting'] as const;

export const epochMetricsSchema = z.object({
  epoch: z.number().int().min(1),
  loss: measured,
  trainAccuracy: measured,
  testAccuracy: measured,
  /** PGD-10 accuracy at the training ε on the held-out images, when measured. */
  robustAccuracy: measured.optional(),
  /** The weight average's (EMA) test and robust accuracy on the same images, when the run averages. */
  emaTestAccuracy: measured.optional(),
  emaRobustAccuracy: measured.optional(),
  /**
   * Robust validation on images held out of the training split (early stopping, Rice et al. 2020):
   * clean and PGD-10 accuracy of the raw weights and, when the run averages, of the EMA.
   */
  valAccuracy: measured.optional(),
  valRobustAccuracy: measured.optional(),
  emaValAccuracy: measured.optional(),
  emaValRobustAccuracy: measured.optional(),
  learningRate: finite,
  eps: finite,
  seconds: finite,
  /** Set when Fast-AT's robust accuracy collapsed and the previous epoch's weights were restored. */
  event: z.enum(EPOCH_EVENTS).optional(),
});
export type EpochMetrics = z.infer<typeof epochMetricsSchema>;

/** An epoch of a run of `epochs` epochs in all: what the train result and the training panel carry. */
export const runEpochSchema = epochMetricsSchema.extend({ epochs: z.number().int().min(1) });
export type RunEpoch = z.infer<typeof runEpochSchema>;

/**
 * Where a training run is between epochs (its phase, epoch and batch): the worker thread's
 * trainProgress and a cluster training job's progress both carry it.
 */
export const trainPositionSchema = z.strictObject({
  phase: z.enum(TRAIN_PHASES),
  epochs: z.number().int().min(1),
  epoch: z.number().int().min(1).optional(),
  batch: z.number().int().min(0).optional(),
  batches: z.number().int().min(1).optional(),
  part: z.enum(DISTILL_PARTS).optional(),
});
