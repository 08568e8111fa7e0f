import type * as tf from '@tensorflow/tfjs-core';
import type { AttackInfo, AttackOptionName, ATTACK_OPTIONS, OptionKind } from '../../protocol/attacks';
import type { KeepPolicy, LossId } from '../../protocol/vocabulary';
import type { Classifier } from '../models/classifier';
import type { ThreatModel } from '../threat';

export type { KeepPolicy };

/** The TypeScript type of each option kind of the catalogue. */
interface KindValue {
  integer: number;
  number: number;
  boolean: boolean;
  loss: LossId;
  keep: KeepPolicy;
  /** Absolute step size, or relative to ε (α = relative·ε). */
  stepSize: number | { relative: number };
  model: Classifier;
}

type KindOf<K extends AttackOptionName> = (typeof ATTACK_OPTIONS)[K]['kind'] & OptionKind;

/** The value of option K (derived from the catalogue: a new option needs no new type here). */
export type OptionValue<K extends AttackOptionName> = KindValue[KindOf<K>];

/** Every catalogue option, each optional: what a caller may pass (the runner rejects those an attack does not take). */
export type CatalogueOptions = { [K in AttackOptionName]?: OptionValue<K> };

/** What the runner, not the attack, handles: seeds, targets, abort and progress. */
export interface RunControls {
  /** Targeted attack toward these labels. */
  targeted?: false | { labels: tf.Tensor1D };
  seed?: number;
  signal?: AbortSignal;
  /** Called after every step with the steps done and the steps planned (over all restarts). */
  onStep?: (done: number, total: number) => void;
  /** Called after every scored step with each sample's loss there (PGD; the diagnostics' convergence probe). */
  onLosses?: (step: number, losses: Float32Array) => void;
}

export type AttackOptions = CatalogueOptions & RunControls;

export interface AttackResult {
  xAdv: tf.Tensor4D;
  /** Per sample: misclassified (untargeted) or classified as its target (targeted) at xAdv, re-scored by the runner. */
  success: boolean[];
  /** Per sample loss at xAdv (the attack's loss, as maximised; APGD-T: untargeted dlr), re-scored by the runner. */
  finalLoss: Float32Array;
  /** Images pushed through the attacked network forward / backward (one image = one pass). */
  forwardPasses: number;
  backwardPasses: number;
  /** Transfer: the surrogate's passes, counted apart from the target's. */
  surrogatePasses?: { forward: number; backward: number };
}

export type Attack = (
  model: Classifier,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  threat: ThreatModel,
  opts?: AttackOptions,
) => Promise<AttackResult>;

/** The catalogue entry (plain data, shared with the language server) plus the code. */
export interface AttackEntry extends AttackInfo {
  /** Label for tables, e.g. "PGD-20". */
  label(opts: AttackOptions): string;
  run: Attack;
}
