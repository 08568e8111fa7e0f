/**
 * Job descriptors: what the CLI and the worker ask the engine to do. Plain JSON, no tensors.
 * The zod schemas are the source of the types (z.infer) and are strict, so a field added to a
 * job exists in the schema that parses it at the worker boundary, and an unknown field is refused
 * instead of silently dropped.
 */
import { z } from 'zod';
import type { AttackId, AttackParam } from './attacks';
import { defaultLearningRate } from './training';
import {
  BACKEND_PREFERENCES,
  DATA_LABEL_SETS,
  IMAGE_CHANNELS,
  LOSSES,
  NORMS,
  OPTIMIZERS,
  SCHEDULES,
  SUITES,
  TRAIN_METHODS,
  type NormId,
  type SuiteId,
  type TrainMethod,
} from './vocabulary';

export interface JobProgress {
  label: string;
  done: number;
  total: number;
}

const finite = z.number().finite();
const integer = (min: number) => z.number().int().min(min);
const nonEmpty = z.string().min(1);

/** Per-attack overrides of the job-wide parameters (a spec's attack objects). */
export const attackParamsSchema = z.strictObject({
  steps: integer(1).optional(),
  stepSize: finite.positive().optional(),
  restarts: integer(1).optional(),
  loss: z.enum(LOSSES).optional(),
  randomStart: z.boolean().optional(),
  queries: integer(1).optional(),
  /** EOT: passes averaged per step (PGD, APGD). */
  eot: integer(1).optional(),
});
export type AttackParams = z.infer<typeof attackParamsSchema>;
/** Compiles only while the overrides are exactly the catalogue's spec parameters. */
export const ATTACK_PARAMS_MATCH_CATALOGUE: [keyof AttackParams] extends [AttackParam]
  ? [AttackParam] extends [keyof AttackParams]
    ? true
    : never
  : never = true;

/**
 * How the data is read: CIFAR-100's label set (fine by default), and whether images whose size or
 * channels differ from the model's input are converted (bilinear resize, grey ↔ RGB) instead of refused.
 */
export const dataOptionsSchema = z.strictObject({
  /** CIFAR-100's labels: fine (100 classes, the default) or coarse (20 superclasses). */
  labels: z.enum(DATA_LABEL_SETS).optional(),
  /** Resize images to the model's input size (bilinear, half-pixel centres) instead of refusing them. */
  resize: z.boolean().optional(),
  /** Convert images to this many channels: 1 (ITU-R BT.601 luma of RGB) or 3 (grey replicated). */
  channels: z.literal(IMAGE_CHANNELS, { error: `channels must be ${IMAGE_CHANNELS.join(' or ')}` }).optional(),
});
export type DataOptions = z.infer<typeof dataOptionsSchema>;

/**
 * `{ dataOptions }` to spread into a job, from the data options a CLI, a spec or the settings give:
 * a value that reads the data as it is (absent, null, no resize, the default fine labels) is left
 * out, and the field itself when nothing is left.
 */
export function dataOptionsField(given: { [K in keyof DataOptions]?: DataOptions[K] | null }): {
  dataOptions?: DataOptions;
} {
  const options: DataOptions = {
    ...(given.labels && given.labels !== 'fine' ? { labels: given.labels } : {}),
    ...(given.resize ? { resize: true } : {}),
    ...(given.channels != null ? { channels: given.channels } : {}),
  };
  return Object.keys(options).length ? { dataOptions: options } : {};
}

/** A model's preprocessing from one source (src/protocol/preprocess.ts); the engine checks the values, naming it. */
export const preprocessLayerSchema = z.strictObject({
  /** Where it came from, for messages and the report: a file, "--mean", "settings". */
  source: nonEmpty,
  scale: z.tuple([finite, finite]).optional(),
  mean: z.array(finite).min(1).optional(),
  std: z.array(finite).min(1).optional(),
  classes: z.array(nonEmpty).min(1).optional(),
});

/** The model's preprocessing and output, in attack and training jobs alike. */
const modelInputFields = {
  /** Preprocessing given for this run (CLI options, then the spec's block): first wins per field, over the sidecar. */
  preprocess: z.array(preprocessLayerSchema).optional(),
  /** The editor's robustness.preprocess.* settings: used for a field neither the run nor the sidecar gives. */
  preprocessDefaults: preprocessLayerSchema.optional(),
  /** The output used as logits, for a graph with several (ONNX). */
  output: nonEmpty.optional(),
};

/** The fields of every attack job, whether it names its attacks or a suite. */
const attackJobFields = {
  ...modelInputFields,
  /** The model.json to attack (absolute). */
  model: nonEmpty,
  /** "embedded", "fashion-mnist" or a data folder (IDX, NumPy, CIFAR binary or an image folder). */
  data: nonEmpty,
  /** How the data is read (label set, resize, channels); omitted → as the files hold it. */
  dataOptions: dataOptionsSchema.optional(),
  norm: z.enum(NORMS),
  eps: finite.min(0),
  steps: integer(1),
  /** Absolute α; omitted → 2.5·ε/steps. */
  stepSize: finite.positive().optional(),
  restarts: integer(1),
  /** The loss of every attack that takes one; omitted → each attack's own (ce for most, dlr for APGD-T). */
  loss: z.enum(LOSSES).optional(),
  randomStart: z.boolean(),
  /** N test images in file order, starting at `offset` (default 0). */
  n: integer(1),
  offset: integer(0).optional(),
  batchSize: integer(1),
  seed: integer(0),
  /** ε grid for the accuracy curve; empty → no curve. */
  curve: z.array(finite.min(0)),
  /** Images kept for the grid. */
  examples: integer(0),
  bounds: z
    .tuple([finite, finite])
    .refine(([lo, hi]) => lo < hi, { error: 'bounds must be a range lo,hi with lo below hi' }),
  /** Square's query budget (default 1000). */
  queries: integer(1).optional(),
  /** PGD, APGD: EOT passes averaged per step (randomised models; default 1). */
  eot: integer(1).optional(),
  /** The surrogate model.json of the transfer attack. */
  surrogate: nonEmpty.optional(),
  /** Run the gradient-masking probes (always on with a suite). */
  diagnostics: z.boolean().optional(),
  /** false: skip the probes even so (a run's shards after the first: src/protocol/cluster.ts). */
  probes: z.literal(false).optional(),
  /** The hidden layer of the representation constant C (default: the last hidden layer). */
  layer: nonEmpty.optional(),
};

const NEITHER = 'an attack job needs "attacks" (a list of attack ids) or "suite" (one of ' + SUITES.join(', ') + ')';
const BOTH =
  'an attack job gives either "attacks" or "suite", not both: a suite fixes its own attacks and their order ' +
  '(src/protocol/suites.ts)';

/** A job that names its attacks. */
const SUITE_PARAMS = 'an attack job with a "suite" takes no per-attack "params": the suite table fixes them';

const attackListJobSchema = z.strictObject({
  ...attackJobFields,
  /** Attack ids from the registry ("pgd", or "pgd:margin" for another loss), run in this order. */
  attacks: z
    .array(nonEmpty, { error: (issue) => (issue.input === undefined ? NEITHER : undefined) })
    .min(1, { error: NEITHER }),
  /** Overrides for attacks[i], aligned with `attacks` (absent or shorter: the job-wide values). */
  params: z.array(attackParamsSchema).optional(),
  suite: z.undefined().optional(),
});

/**
 * A fixed ensemble run AutoAttack-style: each attack only on the points still robust, accuracy
 * after every stage, then the gradient-masking probes.
 */
const suiteJobSchema = z.strictObject({
  ...attackJobFields,
  suite: z.enum(SUITES),
  attacks: z.undefined({ error: BOTH }).optional(),
  params: z.undefined({ error: SUITE_PARAMS }).optional(),
});

const unknownSuite = (input: unknown) =>
  `suite: "${String((input as { suite?: unknown } | undefined)?.suite)}" is not a suite; ` +
  `use one of ${SUITES.join(', ')}`;

export const attackJobSchema = z.discriminatedUnion('suite', [attackListJobSchema, suiteJobSchema], {
  error: (issue) => (issue.code === 'invalid_union' ? unknownSuite(issue.input) : undefined),
});
export type AttackJob = z.infer<typeof attackJobSchema>;
/** The job-wide fields, without the choice of attacks. */
export type AttackJobSettings = Omit<AttackJob, 'attacks' | 'params' | 'suite'>;

/** The most worker threads one training run is split across. */
export const MAX_TRAIN_WORKERS = 16;
/** The CLI's and the editor's default: one worker per core, at most 4 (beyond that the per-batch exchange dominates). */
export const DEFAULT_TRAIN_WORKERS_CAP = 4;

/** "1 worker", "2 workers": how many worker threads a run trained on (the CLI's output, the Runs view). */
export function workersLabel(workers: number): string {
  return `${workers} worker${workers === 1 ? '' : 's'}`;
}

export const trainJobSchema = z.strictObject({
  ...modelInputFields,
  method: z.enum(TRAIN_METHODS),
  data: nonEmpty,
  /** How the data is read (label set, resize, channels); omitted → as the files hold it. */
  dataOptions: dataOptionsSchema.optional(),
  epochs: integer(1),
  batchSize: integer(1),
  optimizer: z.enum(OPTIMIZERS),
  learningRate: finite.positive(),
  schedule: z.enum(SCHEDULES).optional(),
  weightDecay: finite.min(0).optional(),
  seed: integer(0),
  /** Use only the first N training images; omitted → all. */
  trainLimit: integer(1).optional(),
  /** Training radius (L∞) of the adversarial methods. */
  eps: finite.positive().max(1).optional(),
  /** Inner PGD steps (pgd-at, trades). */
  steps: integer(1).optional(),
  /** Epochs of linear ε warm-up (pgd-at, trades). */
  warmupEpochs: integer(0).optional(),
  /** TRADES' KL weight. */
  beta: finite.min(0).optional(),
  /** pgd-at, fast-at: the fraction of each batch attacked; the rest is trained on clean (default 1). */
  advFraction: finite.gt(0).max(1).optional(),
  /** Distillation temperature. */
  temperature: finite.gt(1).optional(),
  /** PGD-10 validation on the last N test images after each epoch. */
  robustEvalLimit: integer(0).optional(),
  /**
   * Weight averaging (pgd-at, trades, any method): an EMA of the weights with this decay in (0, 1),
   * warmed up as min(decay, (1 + t)/(10 + t)); evaluated beside the raw weights each epoch, and saved.
   */
  ema: finite.gt(0).lt(1).optional(),
  /** AWP (Wu et al. 2020), pgd-at and trades: relative weight perturbation γ per layer (5e-3 in the paper). */
  awp: finite.gt(0).max(1).optional(),
  /** Epochs trained without AWP first. */
  awpWarmupEpochs: integer(0).optional(),
  /** Hold out the training split's last N images for robust validation (default 1000 with earlyStop). */
  validation: integer(1).optional(),
  /** Save the epoch with the best robust validation accuracy (the EMA's when averaging), not the last. */
  earlyStop: z.boolean().optional(),
  /** With earlyStop: stop after this many epochs without a better robust validation accuracy. */
  patience: integer(1).optional(),
  /**
   * Data-parallel training: each batch split across this many worker threads, their gradients
   * summed; omitted → 1. A run resumes with the count it started with (the result is exact for a given count).
   */
  workers: integer(1).max(MAX_TRAIN_WORKERS).optional(),
  /**
   * Start from this model's weights instead of a fresh example network: a Layers model.json, or an
   * .onnx model (fine-tuned with BatchNorm statistics frozen, written back as model.onnx).
   */
  init: nonEmpty.optional(),
  /** Run folder: the final model (model.json + weights.bin, or model.onnx), train.json, metrics.jsonl, checkpoints/. */
  out: nonEmpty,
  /**
   * The final model's own folder inside `out` ("smallcnn-pgd-at-eps0.1", see trainedModelFolder), so
   * its name says what it is; omitted → the model is saved in `out` itself (the CLI's layout).
   */
  modelFolder: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$/)
    .optional(),
});
export type TrainJob = z.infer<typeof trainJobSchema>;
export type PreprocessJobLayer = z.infer<typeof preprocessLayerSchema>;

export const backendPreferenceSchema = z.enum(BACKEND_PREFERENCES);

// ---------------------------------------------------------------------------------------------
// Defaults: the one place the CLI, the spec translation and the editor's settings take them from.
// ---------------------------------------------------------------------------------------------

/** Test images an attack job evaluates when nobody says how many (spec data, editor setting). */
export const DEFAULT_SAMPLES = 500;
/** The CLI evaluates more images by default: it runs headless, often in CI, where a minute more is cheap. */
export const CLI_DEFAULT_SAMPLES = 1000;
/** The ε grid of an accuracy curve when nobody gives one (L∞ on [0, 1] images). */
export const DEFAULT_CURVE_GRID: readonly number[] = [0, 0.025, 0.05, 0.1, 0.15, 0.2];
/** L2 radii on 28×28 images run about ten times the L∞ ones (√784 = 28 times at most). */
const L2_CURVE_SCALE = 10;

/** The default ε grid for a norm: DEFAULT_CURVE_GRID for L∞, ten times it for L2. */
export function defaultCurveGrid(norm: NormId): number[] {
  return norm === 'linf' ? [...DEFAULT_CURVE_GRID] : DEFAULT_CURVE_GRID.map((eps) => eps * L2_CURVE_SCALE);
}

/** The attacks an attack run uses when nobody names any (the CLI's --attack, the editor's Attack command). */
export const DEFAULT_ATTACKS: readonly AttackId[] = ['fgsm', 'pgd'];
/** The attacks an accuracy curve uses when nobody names any (the CLI's curve, the editor's Curve command). */
export const DEFAULT_CURVE_ATTACKS: readonly AttackId[] = ['pgd'];
/** The suite the editor's Evaluate command runs (the CLI's evaluate defaults to the same). */
export const DEFAULT_SUITE: SuiteId = SUITES[0];

/** The job-wide attack settings nobody asked to change; the caller adds the model and the attacks or suite. */
export function defaultAttackJob(): Omit<AttackJobSettings, 'model'> {
  return {
    data: 'embedded',
    norm: 'linf',
    eps: 0.1,
    steps: 10,
    restarts: 1,
    randomStart: true,
    n: DEFAULT_SAMPLES,
    batchSize: 250,
    seed: 0,
    curve: [],
    examples: 32,
    bounds: [0, 1],
  };
}

/** A training job with every setting at its default; the caller adds `out` (the run folder). */
export function defaultTrainJob(method: TrainMethod = 'standard'): Omit<TrainJob, 'out'> {
  return {
    method,
    data: 'embedded',
    epochs: 5,
    batchSize: 128,
    optimizer: 'adam',
    learningRate: defaultLearningRate(method),
    seed: 0,
  };
}
