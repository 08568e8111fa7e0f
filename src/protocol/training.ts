/**
 * Each training method's defaults and traits, written once: the CLI's flags and help, the spec's
 * translation, the editor's method picker and the engine's training loop all read this table.
 */
import type { OptimizerId, ScheduleId, TrainMethod } from './vocabulary';

/** Training radius (L∞) when nobody gives one; also the radius of the per-epoch PGD-10 check. */
export const DEFAULT_TRAIN_EPS = 0.1;

/** Adam's peak learning rate for every method but distillation. */
const ADAM_LEARNING_RATE = 1e-3;
/** SGD with momentum needs a larger step than Adam's default (any method). */
export const SGD_LEARNING_RATE = 0.05;

/**
 * The per-epoch PGD-10 check's held-out images when a job does not say (the engine's and the CLI's
 * default): the last 500 test images for the adversarial methods, none for the others.
 */
export const ROBUST_EVAL_IMAGES = 500;
/**
 * The editor's runs (its quick pick and a spec's Train lens) check fewer images, on every method:
 * the check runs after each epoch while the user watches the panel, so it is kept short.
 */
export const EDITOR_ROBUST_EVAL_IMAGES = 300;

export interface TrainMethodDefaults {
  /** Trains on adversarial examples, so takes a training radius ε. */
  adversarial: boolean;
  /** Peak learning rate under Adam. */
  learningRate: number;
  /** Inner attack steps (pgd-at, trades; fast-at takes one FGSM step). */
  steps?: number;
  /** TRADES' KL weight β. */
  beta?: number;
  /** Distillation temperature T. */
  temperature?: number;
  /** Learning-rate schedule when the job names none. */
  schedule: ScheduleId;
  /** Restore the previous epoch's weights and stop when robust accuracy collapses (catastrophic overfitting). */
  collapseGuard: boolean;
  /** ε follows the job's linear warm-up (`warmupEpochs`); false: the full ε from the first batch. */
  warmup: boolean;
  /** Held-out images of the per-epoch PGD-10 check when the job does not say. */
  robustEvalImages: number;
}

export const TRAIN_METHOD_DEFAULTS: Readonly<Record<TrainMethod, TrainMethodDefaults>> = {
  standard: {
    adversarial: false,
    learningRate: ADAM_LEARNING_RATE,
    schedule: 'constant',
    collapseGuard: false,
    warmup: true,
    robustEvalImages: 0,
  },
  'pgd-at': {
    adversarial: true,
    learningRate: ADAM_LEARNING_RATE,
    steps: 7,
    schedule: 'constant',
    collapseGuard: false,
    warmup: true,
    robustEvalImages: ROBUST_EVAL_IMAGES,
  },
  // Fast-AT (Wong et al. 2020): one-cycle schedule, full ε from the start, and the collapse guard.
  'fast-at': {
    adversarial: true,
    learningRate: ADAM_LEARNING_RATE,
    steps: 1,
    schedule: 'cyclic',
    collapseGuard: true,
    warmup: false,
    robustEvalImages: ROBUST_EVAL_IMAGES,
  },
  trades: {
    adversarial: true,
    learningRate: ADAM_LEARNING_RATE,
    steps: 10,
    beta: 6,
    schedule: 'constant',
    collapseGuard: false,
    warmup: true,
    robustEvalImages: ROBUST_EVAL_IMAGES,
  },
  // Distillation's logits must grow T-fold, so it needs a larger peak rate than the other methods.
  distill: {
    adversarial: false,
    learningRate: 1e-2,
    temperature: 100,
    schedule: 'constant',
    collapseGuard: false,
    warmup: true,
    robustEvalImages: 0,
  },
};

/** The peak learning rate when nobody gives one: the method's under Adam, SGD_LEARNING_RATE under SGD. */
export function defaultLearningRate(method: TrainMethod, optimizer: OptimizerId = 'adam'): number {
  return optimizer === 'sgd' ? SGD_LEARNING_RATE : TRAIN_METHOD_DEFAULTS[method].learningRate;
}

export function isAdversarialMethod(method: TrainMethod): boolean {
  return TRAIN_METHOD_DEFAULTS[method].adversarial;
}

const { 'pgd-at': PGD_AT, distill: DISTILL } = TRAIN_METHOD_DEFAULTS;

/** What each training method is, as the editor's method picker shows it, in the picker's order. */
export const TRAIN_METHOD_INFO: Readonly<Record<TrainMethod, { label: string; description: string }>> = {
  'pgd-at': {
    label: 'PGD-AT',
    description: `Madry et al. 2018: train on PGD-${PGD_AT.steps} examples (robust, ~8× the cost)`,
  },
  trades: { label: 'TRADES', description: 'Zhang et al. 2019: clean loss + β·KL to the adversarial point' },
  'fast-at': { label: 'Fast-AT', description: 'Wong et al. 2020: FGSM from a random start, cyclic LR, collapse guard' },
  distill: {
    label: 'Defensive distillation',
    description: `Papernot et al. 2016, T = ${DISTILL.temperature}: masks gradients; shown to fall to a proper attack`,
  },
  standard: { label: 'Standard', description: 'no adversary' },
};
