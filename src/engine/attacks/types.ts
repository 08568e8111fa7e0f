import type * as tf from '@tensorflow/tfjs-core';
import type { AttackInfo } from '../../protocol/attacks';
import type { Classifier } from '../models/classifier';
import type { LossId } from '../losses';
import type { Norm, ThreatModel } from '../threat';

export type KeepPolicy = 'last' | 'maxLoss' | 'firstSuccess';

export interface AttackOptions {
  steps?: number;
  /** Absolute step size, or relative to ε (α = relative·ε). */
  stepSize?: number | { relative: number };
  randomStart?: boolean;
  restarts?: number;
  loss?: LossId;
  /** Targeted attack toward these labels. */
  targeted?: false | { labels: tf.Tensor1D };
  seed?: number;
  /** Which iterate to return per sample. */
  keep?: KeepPolicy;
  signal?: AbortSignal;
  /** Called after every step with the steps done and the steps planned (over all restarts). */
  onStep?: (done: number, total: number) => void;
  /** Called after every scored step with each sample's loss there (PGD; the diagnostics' convergence probe). */
  onLosses?: (step: number, losses: Float32Array) => void;
  /** APGD-T: how many target classes, ranked by the clean logits (default 9, at most classes − 1). */
  targetClasses?: number;
  /** MI-FGSM: momentum decay μ (default 1). */
  decay?: number;
  /** Square: query budget per sample (default 1000). */
  queries?: number;
  /** Square: initial fraction of pixels a window covers (default 0.8). */
  pInit?: number;
  /** Transfer: the model the examples are crafted on. */
  surrogate?: Classifier;
}

export interface AttackResult {
  xAdv: tf.Tensor4D;
  /** Per sample: misclassified (untargeted) or classified as its target (targeted) at xAdv. */
  success: boolean[];
  /** Per sample loss at xAdv (the attack's loss, as maximised). */
  finalLoss: Float32Array;
  /** Images pushed through the network forward / backward (one image = one pass). */
  forwardPasses: number;
  backwardPasses: number;
}

export type Attack = (
  model: Classifier, x: tf.Tensor4D, y: tf.Tensor1D, threat: ThreatModel, opts?: AttackOptions,
) => Promise<AttackResult>;

/** The catalogue entry (plain data, shared with the language server) plus the code. */
export interface AttackEntry extends AttackInfo {
  /** Label for tables, e.g. "PGD-20". */
  label(opts: AttackOptions): string;
  run: Attack;
}
