/** The shapes training reports: one epoch's metrics (the protocol's schema) and the progress callback's argument. */
import type { EpochMetrics } from '../../protocol/epoch-metrics';

export type { EpochMetrics };

export interface TrainProgress {
  epoch: number;
  epochs: number;
  batch: number;
  batches: number;
  loss: number;
  /** 'evaluating' once an epoch's batches are done and its accuracy checks start. */
  phase?: 'training' | 'evaluating';
  /** Set once an epoch ends. */
  epochMetrics?: EpochMetrics;
}
