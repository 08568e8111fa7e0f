/** The shapes training reports: one epoch's metrics and the progress callback's argument. */

export interface EpochMetrics {
  epoch: number;
  loss: number;
  trainAccuracy: number;
  testAccuracy: number;
  /** PGD-10 accuracy at the training ε on the held-out images, when measured. */
  robustAccuracy?: number;
  learningRate: number;
  eps: number;
  seconds: number;
  /** Set when Fast-AT's robust accuracy collapsed and the previous epoch's weights were restored. */
  event?: 'catastrophic-overfitting';
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
