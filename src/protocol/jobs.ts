/**
 * Job descriptors: what the CLI and the worker ask the engine to do. Plain JSON, no tensors.
 */
import type { NormId } from './report';

export type DataSpec = 'embedded' | 'fashion-mnist' | string;

export interface AttackJob {
  model: string;
  data: DataSpec;
  /** Attack ids from the registry, run in this order. */
  attacks: string[];
  norm: NormId;
  eps: number;
  steps: number;
  /** Absolute α; omitted → 2.5·ε/steps. */
  stepSize?: number;
  restarts: number;
  loss: 'ce' | 'margin' | 'dlr';
  randomStart: boolean;
  /** N test images in file order, starting at `offset` (default 0). */
  n: number;
  offset?: number;
  batchSize: number;
  seed: number;
  /** ε grid for the accuracy curve; empty → no curve. */
  curve: number[];
  /** Images kept for the grid. */
  examples: number;
  bounds: [number, number];
}

export interface TrainJob {
  method: 'standard';
  data: DataSpec;
  epochs: number;
  batchSize: number;
  optimizer: 'adam' | 'sgd';
  learningRate: number;
  seed: number;
  /** Use only the first N training images; omitted → all. */
  trainLimit?: number;
  /** Model folder to write (model.json + weights.bin). */
  out: string;
}

export interface JobProgress {
  label: string;
  done: number;
  total: number;
}
