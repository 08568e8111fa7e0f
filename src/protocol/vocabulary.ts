/**
 * Every closed list of the product, written once. The zod enums, the TypeScript types, the CLI's
 * choices, package.json's setting enums and the spec schema derive from these arrays (a test
 * checks package.json and experiment-spec-schema.json against them).
 */

/** Threat-model norms: L∞ and L2 balls in the data's pixel space. */
export const NORMS = ['linf', 'l2'] as const;
export type NormId = (typeof NORMS)[number];
/** How a norm reads to a person (hovers, report axes, run titles). */
export const NORM_LABELS: Readonly<Record<NormId, string>> = { linf: 'L∞', l2: 'L2' };

/** Attack losses (margin: CW's logit margin; dlr: Croce & Hein's difference of logits ratio). */
export const LOSSES = ['ce', 'margin', 'dlr'] as const;
export type LossId = (typeof LOSSES)[number];

/** Which iterate an iterative attack returns per sample. */
export const KEEP_POLICIES = ['last', 'maxLoss', 'firstSuccess'] as const;
export type KeepPolicy = (typeof KEEP_POLICIES)[number];

/** Fixed attack ensembles run AutoAttack-style (their attacks are in the suite table, suites.ts). */
export const SUITES = ['strong', 'quick', 'aa', 'rand'] as const;
export type SuiteId = (typeof SUITES)[number];

export const TRAIN_METHODS = ['standard', 'pgd-at', 'fast-at', 'trades', 'distill'] as const;
export type TrainMethod = (typeof TRAIN_METHODS)[number];

/** How serious a report's diagnostic is (report-schema.json's severity enum). */
export const SEVERITIES = ['info', 'warning', 'error'] as const;
export type Severity = (typeof SEVERITIES)[number];

export const SCHEDULES = ['constant', 'cosine', 'step', 'cyclic'] as const;
export type ScheduleId = (typeof SCHEDULES)[number];

export const OPTIMIZERS = ['adam', 'sgd'] as const;
export type OptimizerId = (typeof OPTIMIZERS)[number];

/** The tfjs backends the engine runs on, in the order `auto` tries them. */
export const TENSOR_BACKENDS = ['tensorflow', 'wasm', 'cpu'] as const;
export type TensorBackend = (typeof TENSOR_BACKENDS)[number];

/**
 * What a user may ask for in the editor's settings: auto, then the bundled backends, then tfjs-node
 * (an optional native install) last, as package.json's enum lists them.
 */
export const BACKEND_PREFERENCES = ['auto', ...TENSOR_BACKENDS.slice(1), TENSOR_BACKENDS[0]] as const;
export type BackendPreference = (typeof BACKEND_PREFERENCES)[number];

/** The CLI offers auto and the backends in auto's order, plus tfjs-wasm without our kernels (for the benchmark). */
export const BACKEND_CHOICES = [
  'auto',
  ...TENSOR_BACKENDS.flatMap((backend) => (backend === 'wasm' ? [backend, 'wasm-stock' as const] : [backend])),
] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];

/** Data ids the engine knows without a folder: the committed sample and Debian's full set. */
export const BUILTIN_DATA = ['embedded', 'fashion-mnist'] as const;
export type BuiltinData = (typeof BUILTIN_DATA)[number];
/** What each built-in data id is (completions, help). */
export const BUILTIN_DATA_INFO: Readonly<Record<BuiltinData, string>> = {
  embedded: 'Fashion-MNIST sample shipped with the extension (2,000 test images)',
  'fashion-mnist': 'full Fashion-MNIST (dataset-fashion-mnist or $FMNIST_DIR)',
};

/**
 * Model formats, in the order the registry tries them (src/formats/model-formats.ts for the cheap
 * describe, src/engine/models/load.ts for the loaders; a test checks both lists name these ids).
 */
export const MODEL_FORMAT_IDS = ['tfjs-layers', 'tfjs-graph', 'onnx'] as const;
export type ModelFormatId = (typeof MODEL_FORMAT_IDS)[number];

/** Data sources: folder layouts a dataset can come in (src/formats/data-sources.ts, src/engine/data/sources.ts). */
export const DATA_SOURCE_IDS = ['idx', 'numpy', 'cifar-10', 'cifar-100', 'image-folder'] as const;
export type DataSourceId = (typeof DATA_SOURCE_IDS)[number];

/** The label set of data that has several (CIFAR-100: fine, its 100 classes; coarse, its 20 superclasses). */
export const DATA_LABEL_SETS = ['fine', 'coarse'] as const;
export type DataLabelSet = (typeof DATA_LABEL_SETS)[number];
/** Channel counts images can be converted to (grey ↔ RGB). */
export const IMAGE_CHANNELS = [1, 3] as const;
export type ImageChannels = (typeof IMAGE_CHANNELS)[number];

/** The splits a data source serves. */
export const DATA_SPLITS = ['train', 'test'] as const;
export type DataSplit = (typeof DATA_SPLITS)[number];

/** What a stored run is: an attack run (attack, curve, evaluate, a spec's Run) or a training run. */
export const RUN_KINDS = ['evaluation', 'training'] as const;
export type RunKind = (typeof RUN_KINDS)[number];

/** A run's status in the run store, the attack panel, the training panel and the engine's train.json. */
export const RUN_STATUSES = ['running', 'done', 'failed', 'cancelled'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/** The run store's folder inside a workspace folder, '/'-separated (one folder per run below it). */
export const RUN_STORE_DIR = '.robustness/runs';

/** The parts of an evaluation that report as they finish, in the order they run (clean is stage 0). */
export const STAGE_KINDS = ['clean', 'attack', 'diagnostics', 'geometry', 'curve'] as const;
export type StageKind = (typeof STAGE_KINDS)[number];

/** The editor's data setting (robustness.dataset): a built-in data id, or "folder" (robustness.dataFolder). */
export const DATASET_SETTINGS = [...BUILTIN_DATA, 'folder'] as const;
export type DatasetSetting = (typeof DATASET_SETTINGS)[number];

/**
 * What a training run is doing, as its progress reports it (the worker's trainProgress notification,
 * the status bar and the training panel): reading the data, building or loading the model, the
 * batches of an epoch, the end-of-epoch accuracy checks, saving the final model.
 */
export const TRAIN_PHASES = ['loading-data', 'building-model', 'training', 'evaluating', 'saving'] as const;
export type TrainPhase = (typeof TRAIN_PHASES)[number];

/** Distillation's two trainings, in order: the teacher at temperature T, then the student on its soft labels. */
export const DISTILL_PARTS = ['teacher', 'student'] as const;
export type DistillPart = (typeof DISTILL_PARTS)[number];

/**
 * What happened to one image of a report's grid: the attack changed a correct prediction
 * (fooled), the prediction held (robust), or the model already got the clean image wrong, so no
 * attack ran on it (clean-mistake): a clean mistake is never counted as fooled.
 */
export const EXAMPLE_OUTCOMES = ['fooled', 'robust', 'clean-mistake'] as const;
export type ExampleOutcome = (typeof EXAMPLE_OUTCOMES)[number];
