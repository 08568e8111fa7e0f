/**
 * Each training method's defaults and traits, written once: the CLI's flags and help, the spec's
 * translation, the editor's method picker and the engine's training loop all read this table.
 */
import { trainingRunName } from './format';
import type { BuiltinData, DistillPart, OptimizerId, ScheduleId, TrainMethod, TrainPhase } from './vocabulary';

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

/** AWP's relative weight perturbation γ when `--awp` comes without a value (Wu et al. 2020's default). */
export const DEFAULT_AWP_GAMMA = 5e-3;
/** The weight average's decay when `--ema` comes without a value. */
export const DEFAULT_EMA_DECAY = 0.999;
/** Training images held out for robust validation when early stopping is on and nobody says how many. */
export const DEFAULT_VALIDATION_IMAGES = 1000;
/** PGD steps of the per-epoch robust validation (Rice et al. 2020 validate with PGD-10). */
export const VALIDATION_PGD_STEPS = 10;

/** Which weights a training run saved, and why (train.json's savedWeights, the model's metadata). */
/** The robust-training additions of pgd-at and trades (src/engine/training/robust.ts), as jobs, specs and the CLI name them. */
export interface RobustTrainingOptions {
  /**
   * Weight averaging: an EMA of the trainable weights with this decay in (0, 1), warmed up as
   * min(decay, (1 + t)/(10 + t)). Each epoch reports its accuracies beside the raw weights', and the
   * run ends with the average in the model (the CLI's --ema).
   */
  ema?: number;
  /** AWP's relative weight perturbation γ (pgd-at, trades; Wu et al. 2020 use 5e-3); 0 or absent: off (--awp). */
  awp?: number;
  /** Epochs without AWP at the start (its warm-up; default 0). */
  awpWarmupEpochs?: number;
  /**
   * Hold out the training split's last N images for robust validation (clean and PGD-10 at the
   * training ε after each epoch); default DEFAULT_VALIDATION_IMAGES with earlyStop, else none (--val).
   */
  validation?: number;
  /** Keep the epoch with the best robust validation accuracy (the EMA's when averaging), not the last (--early-stop). */
  earlyStop?: boolean;
  /** With earlyStop: stop after this many epochs without a better robust validation accuracy. */
  patience?: number;
}

export interface KeptWeights {
  /** The raw weights or their moving average (EMA). */
  weights: 'raw' | 'ema';
  /** The epoch whose weights these are. */
  epoch: number;
  /** last: the final epoch's; best-robust-validation: early stopping's pick. */
  reason: 'last' | 'best-robust-validation';
  /** Set when patience ended the run before its last epoch. */
  stoppedAfter?: number;
}

/** "EMA of epoch 12 (best robust validation accuracy; stopped after epoch 15, patience)" and the like. */
export function savedWeightsText(kept: KeptWeights): string {
  const which = kept.weights === 'ema' ? 'EMA' : 'raw weights';
  const why = kept.reason === 'best-robust-validation' ? 'best robust validation accuracy' : 'last epoch';
  const stopped = kept.stoppedAfter !== undefined ? `; stopped after epoch ${kept.stoppedAfter} (patience)` : '';
  return `${which} of epoch ${kept.epoch} (${why}${stopped})`;
}

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

/** The network a run trains: its starting model's folder ("smallcnn" for …/smallcnn/model.json), else the example network. */
export function trainedNetworkName(init: string | undefined): string {
  const parts = (init ?? '').split(/[\\/]/).filter(Boolean);
  return parts.length >= 2 ? parts[parts.length - 2]! : 'smallcnn';
}

/** The ε a run trains at, or undefined for a method without an adversary (standard, distillation). */
function trainingEps(job: { method: TrainMethod; eps?: number | undefined }): number | undefined {
  return isAdversarialMethod(job.method) ? (job.eps ?? DEFAULT_TRAIN_EPS) : undefined;
}

/** A new training run's name: "smallcnn · PGD-AT ε=0.1 · 5 ep" (trainingRunName with this table's label). */
export function trainingRunDisplayName(job: {
  init?: string | undefined;
  method: TrainMethod;
  eps?: number | undefined;
  epochs: number;
}): string {
  const eps = trainingEps(job);
  return trainingRunName({
    model: trainedNetworkName(job.init),
    methodLabel: TRAIN_METHOD_INFO[job.method].label,
    ...(eps !== undefined ? { eps } : {}),
    epochs: job.epochs,
  });
}

/**
 * The final model's folder inside its run folder: "smallcnn-pgd-at-eps0.1" ("smallcnn-standard" without
 * an adversary), so the model reads as what it is wherever its folder name is shown.
 */
export function trainedModelFolder(job: {
  init?: string | undefined;
  method: TrainMethod;
  eps?: number | undefined;
}): string {
  const eps = trainingEps(job);
  const network = trainedNetworkName(job.init)
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '')
    .slice(0, 40);
  return `${network || 'model'}-${job.method}${eps !== undefined ? `-eps${eps}` : ''}`;
}

/** Where a training run is, as its progress reports it (the worker's trainProgress notification). */
export interface TrainProgressView {
  phase: TrainPhase;
  /** The whole run's epochs. */
  epochs: number;
  epoch?: number | undefined;
  batch?: number | undefined;
  batches?: number | undefined;
  /** Distillation trains a teacher, then the student. */
  part?: DistillPart | undefined;
}

/** "loading data…", "building the model…", "epoch 1: batch 40/469", "epoch 1: measuring accuracy…", "saving the model…". */
export function trainPhaseText(p: TrainProgressView): string {
  const part = p.part ? `${p.part} ` : '';
  switch (p.phase) {
    case 'loading-data':
      return 'loading data…';
    case 'building-model':
      return 'building the model…';
    case 'training':
      return `${part}epoch ${p.epoch ?? 1}: batch ${p.batch ?? 0}/${p.batches ?? '?'}`;
    case 'evaluating':
      return `${part}epoch ${p.epoch ?? 1}: measuring accuracy…`;
    case 'saving':
      return 'saving the model…';
  }
}

/** Elapsed time as a clock: 72 → "1:12", 3725 → "1:02:05". */
export function clock(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const two = (n: number) => String(n).padStart(2, '0');
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}:${two(m)}:${two(s % 60)}` : `${m}:${two(s % 60)}`;
}

/**
 * A running training run in the status bar: "smallcnn · PGD-AT · epoch 2/5 · batch 40/469 · 1:12"
 * ("… · loading data… · 0:03" in its first seconds). The caller adds the spinning icon.
 */
export function trainingStatusText(run: {
  network: string;
  method: TrainMethod;
  progress?: TrainProgressView | undefined;
  elapsedSeconds: number;
}): string {
  const p = run.progress;
  const parts = [run.network, TRAIN_METHOD_INFO[run.method].label];
  const part = p?.part ? `${p.part} ` : '';
  if (!p) parts.push('starting…');
  else if (p.phase === 'training')
    parts.push(`${part}epoch ${p.epoch ?? 1}/${p.epochs}`, `batch ${p.batch ?? 0}/${p.batches ?? '?'}`);
  else if (p.phase === 'evaluating') parts.push(`${part}epoch ${p.epoch ?? 1}/${p.epochs}`, 'measuring accuracy…');
  else parts.push(trainPhaseText(p));
  parts.push(clock(run.elapsedSeconds));
  return parts.join(' · ');
}

// ---------------------------------------------------------------------------------------------
// Cost estimate before a run starts
// ---------------------------------------------------------------------------------------------

/**
 * Gradient passes per training image and epoch, relative to standard training: PGD-AT and TRADES run
 * their inner steps, Fast-AT one FGSM step; a distillation epoch is a student step plus the teacher's
 * forward pass (a third of a gradient pass). Its teacher's own epochs are counted as a second phase
 * by estimateTrainingCost, not here.
 */
export function trainingCostFactor(method: TrainMethod, steps?: number): number {
  const inner = steps ?? TRAIN_METHOD_DEFAULTS[method].steps ?? 0;
  switch (method) {
    case 'pgd-at':
      return inner + 1;
    case 'fast-at':
      return 2;
    case 'trades':
      return inner + 2;
    case 'distill':
      return 4 / 3;
    case 'standard':
      return 1;
  }
}

/**
 * Seconds per image and gradient pass when no earlier run measured one: smallcnn, batch 128, the wasm
 * backend on a 2-core machine (an epoch on 1,000 images with the embedded test set's checks: standard
 * 0.3 s, PGD-AT with PGD-10 on 300 images 1.7 s, i.e. 1.8e-4 and 1.45e-4 s a pass). Only the rough
 * tier of the estimate uses it, and it says so.
 */
export const ROUGH_SECONDS_PER_IMAGE_PASS = 0.00016;

/** The built-in data's training and test images (the embedded sample is the first 10,000 and 2,000). */
export const BUILTIN_DATA_IMAGES: Readonly<Record<BuiltinData, { train: number; test: number }>> = {
  embedded: { train: 10_000, test: 2_000 },
  'fashion-mnist': { train: 60_000, test: 10_000 },
};

/** Above this many seconds the editor asks before a training run starts. */
export const CONFIRM_TRAINING_ABOVE_SECONDS = 60;

/** A finished training run whose epoch times can predict a new one's. */
export interface MeasuredTrainingRun {
  method: TrainMethod;
  /** The trained network (trainedNetworkName). */
  network: string;
  /** The job's data id or folder. */
  data: string;
  /** Training images per epoch, when known (the job's trainLimit, or the built-in data's size). */
  images?: number | undefined;
  steps?: number | undefined;
  /** Wall seconds of each finished epoch (metrics.jsonl). */
  epochSeconds: number[];
  /** When it finished (ISO), to take the latest. */
  finished: string;
}

/** A run about to start. */
export interface PlannedTrainingRun {
  method: TrainMethod;
  network: string;
  data: string;
  images?: number | undefined;
  steps?: number | undefined;
  epochs: number;
  /** Per-epoch checks, for the rough tier: clean accuracy on the test images, PGD-10 on held-out ones. */
  testImages?: number | undefined;
  robustEvalImages?: number | undefined;
}

export interface TrainingCostEstimate {
  seconds: number;
  perEpochSeconds: number;
  /** measured: the same method's last run; scaled: another method's, times the cost ratio; rough: no run yet. */
  basis: 'measured' | 'scaled' | 'rough';
  /** "About 6 min (5 epochs × ~70 s, measured on your last PGD-AT run)". */
  text: string;
}

/** A duration as an estimate reads it: "45 s", "6 min", "2.5 h". */
export function roughDuration(seconds: number): string {
  if (seconds < 90) return `${Math.max(1, Math.round(seconds))} s`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** How many images of `past` one epoch of `plan` trains, as a ratio; undefined when they cannot be compared. */
function imageRatio(plan: PlannedTrainingRun, past: MeasuredTrainingRun): number | undefined {
  if (plan.images !== undefined && past.images !== undefined) return plan.images / past.images;
  return plan.images === past.images && plan.data === past.data ? 1 : undefined;
}

/**
 * What a run will cost, from the measured epoch times of the latest comparable finished run: the
 * same method's (on the same network first), else another method's scaled by trainingCostFactor,
 * else a rough guess from ROUGH_SECONDS_PER_IMAGE_PASS, stated as such. Epoch times are the median
 * epoch (the first one warms up), scaled by the ratio of training images. Undefined when nothing
 * can be said (no comparable run, and the number of images is unknown).
 */
export function estimateTrainingCost(
  plan: PlannedTrainingRun,
  past: MeasuredTrainingRun[],
): TrainingCostEstimate | undefined {
  const label = TRAIN_METHOD_INFO[plan.method].label;
  // Distillation's epochs are the student's; its teacher trains as many first.
  const phases = TRAIN_METHOD_DEFAULTS[plan.method].temperature !== undefined ? 2 : 1;
  const usable = past
    .filter((run) => run.epochSeconds.length > 0 && imageRatio(plan, run) !== undefined)
    .sort((a, b) => b.finished.localeCompare(a.finished));
  const sameMethod = usable.filter((run) => run.method === plan.method);
  const measured = sameMethod.find((run) => run.network === plan.network) ?? sameMethod[0];
  const finish = (perEpoch: number, basis: TrainingCostEstimate['basis'], why: string): TrainingCostEstimate => {
    const seconds = perEpoch * plan.epochs * phases;
    const epochs = phases === 2 ? `2 × ${plan.epochs} epochs` : `${plan.epochs} epoch${plan.epochs === 1 ? '' : 's'}`;
    return {
      seconds,
      perEpochSeconds: perEpoch,
      basis,
      text: `About ${roughDuration(seconds)} (${epochs} × ~${roughDuration(perEpoch)}, ${why})`,
    };
  };
  if (measured) {
    const perEpoch = median(measured.epochSeconds) * imageRatio(plan, measured)!;
    const on = measured.network === plan.network ? '' : ` on ${measured.network}`;
    return finish(perEpoch, 'measured', `measured on your last ${label} run${on}`);
  }
  const other = usable[0];
  if (other) {
    const ratio = trainingCostFactor(plan.method, plan.steps) / trainingCostFactor(other.method, other.steps);
    const perEpoch = median(other.epochSeconds) * imageRatio(plan, other)! * ratio;
    return finish(perEpoch, 'scaled', `scaled from your last ${TRAIN_METHOD_INFO[other.method].label} run`);
  }
  if (plan.images === undefined) return undefined;
  // A forward pass costs about a third of a gradient pass; PGD-10 takes ten gradient passes and a forward one.
  const passes =
    plan.images * trainingCostFactor(plan.method, plan.steps) +
    (plan.testImages ?? 0) / 3 +
    (isAdversarialMethod(plan.method) ? (plan.robustEvalImages ?? 0) * 10.3 : 0);
  const perEpoch = ROUGH_SECONDS_PER_IMAGE_PASS * passes;
  return finish(perEpoch, 'rough', 'a rough guess before any run here was timed');
}
