/**
 * Job descriptors: what the CLI and the worker ask the engine to do. Plain JSON, no tensors.
 */
import { z } from 'zod';
import type { LossName } from './attacks';
import type { NormId } from './report';

/** Per-attack overrides of the job-wide parameters (a spec's attack objects). */
export interface AttackParams {
  steps?: number;
  stepSize?: number;
  restarts?: number;
  loss?: LossName;
  randomStart?: boolean;
  queries?: number;
}

export type DataSpec = 'embedded' | 'fashion-mnist' | string;

export interface AttackJob {
  model: string;
  data: DataSpec;
  /** Attack ids from the registry, run in this order. */
  attacks: string[];
  /** Overrides for attacks[i], aligned with `attacks` (absent or shorter: the job-wide values). */
  params?: AttackParams[];
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
  /**
   * A fixed ensemble run AutoAttack-style instead of `attacks`: each attack only on the points
   * still robust, accuracy after every stage, then the gradient-masking probes.
   */
  suite?: SuiteId;
  /** Square's query budget (default 1000). */
  queries?: number;
  /** The surrogate model.json of the transfer attack. */
  surrogate?: string;
  /** Run the gradient-masking probes (always on with a suite). */
  diagnostics?: boolean;
  /** The hidden layer of the representation constant C (default: the last hidden layer). */
  layer?: string;
}

export type SuiteId = 'strong' | 'quick';
export const SUITE_IDS: readonly SuiteId[] = ['strong', 'quick'];

export type TrainMethod = 'standard' | 'pgd-at' | 'fast-at' | 'trades' | 'distill';

export interface TrainJob {
  method: TrainMethod;
  data: DataSpec;
  epochs: number;
  batchSize: number;
  optimizer: 'adam' | 'sgd';
  learningRate: number;
  schedule?: 'constant' | 'cosine' | 'step' | 'cyclic';
  weightDecay?: number;
  seed: number;
  /** Use only the first N training images; omitted → all. */
  trainLimit?: number;
  /** Training radius (L∞) of the adversarial methods. */
  eps?: number;
  /** Inner PGD steps (pgd-at, trades). */
  steps?: number;
  /** Epochs of linear ε warm-up (pgd-at, trades). */
  warmupEpochs?: number;
  /** TRADES' KL weight. */
  beta?: number;
  /** Distillation temperature. */
  temperature?: number;
  /** PGD-10 validation on the last N test images after each epoch. */
  robustEvalLimit?: number;
  /** Start from this Layers model's weights (same architecture as the example network) instead of a fresh one. */
  init?: string;
  /** Run folder: the final model (model.json + weights.bin), train.json, metrics.jsonl, checkpoints/. */
  out: string;
}

export interface JobProgress {
  label: string;
  done: number;
  total: number;
}

// ---------------------------------------------------------------------------------------------
// Schemas: every job crossing a process boundary is parsed with these.
// ---------------------------------------------------------------------------------------------
const finite = z.number().finite();

export const attackJobSchema = z.object({
  model: z.string().min(1),
  data: z.string().min(1),
  attacks: z.array(z.string().min(1)).min(1),
  params: z.array(z.object({
    steps: z.number().int().min(1).optional(),
    stepSize: finite.positive().optional(),
    restarts: z.number().int().min(1).optional(),
    loss: z.enum(['ce', 'margin', 'dlr']).optional(),
    randomStart: z.boolean().optional(),
    queries: z.number().int().min(1).optional(),
  })).optional(),
  norm: z.enum(['linf', 'l2']),
  eps: finite.min(0),
  steps: z.number().int().min(1),
  stepSize: finite.positive().optional(),
  restarts: z.number().int().min(1),
  loss: z.enum(['ce', 'margin', 'dlr']),
  randomStart: z.boolean(),
  n: z.number().int().min(1),
  offset: z.number().int().min(0).optional(),
  batchSize: z.number().int().min(1),
  seed: z.number().int().min(0),
  curve: z.array(finite.min(0)),
  examples: z.number().int().min(0),
  bounds: z.tuple([finite, finite]),
  suite: z.enum(['strong', 'quick']).optional(),
  queries: z.number().int().min(1).optional(),
  surrogate: z.string().min(1).optional(),
  diagnostics: z.boolean().optional(),
  layer: z.string().min(1).optional(),
}) satisfies z.ZodType<AttackJob>;

export const trainJobSchema = z.object({
  method: z.enum(['standard', 'pgd-at', 'fast-at', 'trades', 'distill']),
  data: z.string().min(1),
  epochs: z.number().int().min(1),
  batchSize: z.number().int().min(1),
  optimizer: z.enum(['adam', 'sgd']),
  learningRate: finite.positive(),
  schedule: z.enum(['constant', 'cosine', 'step', 'cyclic']).optional(),
  weightDecay: finite.min(0).optional(),
  seed: z.number().int().min(0),
  trainLimit: z.number().int().min(1).optional(),
  eps: finite.positive().max(1).optional(),
  steps: z.number().int().min(1).optional(),
  warmupEpochs: z.number().int().min(0).optional(),
  beta: finite.min(0).optional(),
  temperature: finite.gt(1).optional(),
  robustEvalLimit: z.number().int().min(0).optional(),
  init: z.string().min(1).optional(),
  out: z.string().min(1),
}) satisfies z.ZodType<TrainJob>;

export const backendPreferenceSchema = z.enum(['auto', 'wasm', 'cpu', 'tensorflow']);
export type BackendPreference = z.infer<typeof backendPreferenceSchema>;

