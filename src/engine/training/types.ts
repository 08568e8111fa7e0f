/** The shapes training reports: one epoch's metrics (the protocol's schema) and the progress callback's argument. */
import type { EpochMetrics } from '../../protocol/epoch-metrics';

export type { EpochMetrics };

export interface TrainProgress {
  epoch: number;
  epochs: number;
  batch: number;
  batches: number;
  loss: number;
  /** Set once an epoch ends. */
  epochMetrics?: EpochMetrics;
}
