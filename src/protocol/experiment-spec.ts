/**
 * Experiment specs (`*.robustness.json`, JSON with comments): the typed shape of
 * experiment-spec-schema.json (test/unit/experiment.test.ts checks they have the same properties), and
 * the one translation from a checked spec into the engine's jobs, used by the extension's Run/Train lenses.
 * Paths in a spec are relative to the spec's folder; the callers pass the resolver (this layer has no node:path).
 */
import {
  defaultAttackJob,
  defaultTrainJob,
  DEFAULT_SAMPLES,
  type AttackJob,
  type AttackParams,
  dataOptionsField,
  type DataOptions,
  type TrainJob,
} from './jobs';
import { attackInfo } from './attacks';
import type { PreprocessFields } from './preprocess';
import {
  defaultLearningRate,
  EDITOR_ROBUST_EVAL_IMAGES,
  isAdversarialMethod,
  type RobustTrainingOptions,
} from './training';
import {
  BUILTIN_DATA,
  type LossId,
  type NormId,
  type OptimizerId,
  type ScheduleId,
  type SuiteId,
  type TrainMethod,
} from './vocabulary';

export const SPEC_SUFFIX = '.robustness.json';

export interface SpecAttack extends AttackParams {
  id: string;
}

export interface RobustnessSpec {
  /** The editor's pointer to experiment-spec-schema.json. */
  $schema?: string;
  name?: string;
  model: string;
  /** A data id, or an object with the images to use and how to read them (DataOptions: labels, resize, channels). */
  data: string | ({ id: string; n?: number; offset?: number } & DataOptions);
  threat: { norm: NormId; eps: number; bounds?: [number, number] };
  /** Exactly one of attacks and suite (or neither, with a training block). */
  attacks?: Array<string | SpecAttack>;
  suite?: SuiteId;
  surrogate?: string;
  curve?: number[];
  seed?: number;
  batchSize?: number;
  training?: {
    method: TrainMethod;
    epochs: number;
    eps?: number;
    steps?: number;
    beta?: number;
    advFraction?: number;
    temperature?: number;
    learningRate?: number;
    batchSize?: number;
    optimizer?: OptimizerId;
    schedule?: ScheduleId;
    warmupEpochs?: number;
    trainImages?: number;
    fromModel?: boolean;
  } & RobustTrainingOptions;
  output?: { examples?: number; report?: string };
  /** Run the shards on the workers of this Redis (README "Scale out"); the CLI's --redis wins. */
  cluster?: { redis: string; shardSize?: number };
  /** The model's preprocessing (src/protocol/preprocess.ts): over its sidecar and the settings. */
  preprocess?: PreprocessFields;
  /** The model output used as logits, for a graph with several (the CLI's --output). */
  modelOutput?: string;
}

/** The spec's preprocessing and output as job fields; `source` names the spec in messages and the report. */
export function specModelInput(
  spec: RobustnessSpec,
  source: string,
): { preprocess?: Array<PreprocessFields & { source: string }>; output?: string } {
  return {
    ...(spec.preprocess ? { preprocess: [{ ...spec.preprocess, source }] } : {}),
    ...(spec.modelOutput ? { output: spec.modelOutput } : {}),
  };
}

/** "pgd:margin" → { id: 'pgd', loss: 'margin' }. */
export function attackOf(entry: string | SpecAttack): SpecAttack {
  if (typeof entry !== 'string') return entry;
  const [id = '', loss] = entry.split(':');
  return loss ? { id, loss: loss as LossId } : { id };
}

export function dataOf(spec: RobustnessSpec): { id: string; n: number; offset: number } {
  return typeof spec.data === 'string'
    ? { id: spec.data, n: DEFAULT_SAMPLES, offset: 0 }
    : { id: spec.data.id, n: spec.data.n ?? DEFAULT_SAMPLES, offset: spec.data.offset ?? 0 };
}

/** The spec's data options as a job's `dataOptions` field (absent when the spec sets none). */
export function dataOptionsOf(spec: RobustnessSpec): { dataOptions?: DataOptions } {
  return typeof spec.data === 'string' ? {} : dataOptionsField(spec.data);
}

/** Resolves a relative path (the caller knows the base folder and the platform). */
export type Resolve = (relative: string) => string;

/** A data id as the engine takes it: a built-in id as is, a folder resolved against its base. */
export function dataLocation(id: string, resolve: Resolve): string {
  return (BUILTIN_DATA as readonly string[]).includes(id) ? id : resolve(id);
}

/**
 * The attack job of a (checked) spec. Per-attack parameters ride in `params`, aligned with
 * `attacks`; an attack without "steps" gets its catalogue default (PGD 10, APGD 100). A suite
 * brings its own attacks (src/protocol/suites.ts), so a spec gives one or the other.
 */
export function specAttackJob(spec: RobustnessSpec, resolve: Resolve, specSource = 'the spec'): AttackJob {
  if (spec.suite && spec.attacks) {
    throw new Error(
      `the spec gives both "attacks" and "suite" ("${spec.suite}"); give one ` +
        '(the analysis reports it as suite-and-attacks)',
    );
  }
  const data = dataOf(spec);
  const defaults = defaultAttackJob();
  const settings = {
    ...defaults,
    model: resolve(spec.model),
    data: dataLocation(data.id, resolve),
    ...dataOptionsOf(spec),
    norm: spec.threat.norm,
    eps: spec.threat.eps,
    n: data.n,
    offset: data.offset,
    batchSize: spec.batchSize ?? defaults.batchSize,
    seed: spec.seed ?? defaults.seed,
    curve: [...(spec.curve ?? [])].sort((a, b) => a - b),
    examples: spec.output?.examples ?? defaults.examples,
    bounds: spec.threat.bounds ?? defaults.bounds,
    ...(spec.surrogate ? { surrogate: resolve(spec.surrogate) } : {}),
    ...specModelInput(spec, specSource),
  };
  if (spec.suite) return { ...settings, suite: spec.suite };
  const attacks = (spec.attacks ?? []).map(attackOf);
  return {
    ...settings,
    attacks: attacks.map((a) => a.id),
    params: attacks.map(({ id, ...params }) => {
      const steps = attackInfo(id)?.defaultSteps;
      return params.steps === undefined && steps !== undefined ? { steps, ...params } : params;
    }),
  };
}

/** The training job of a spec with a `training` block (its `out` is set by the run store). */
export function specTrainJob(
  spec: RobustnessSpec,
  resolve: Resolve,
  modelExists: boolean,
  specSource = 'the spec',
): Omit<TrainJob, 'out'> | undefined {
  const t = spec.training;
  if (!t) return undefined;
  const data = dataOf(spec);
  const fromModel = t.fromModel ?? modelExists;
  const defaults = defaultTrainJob(t.method);
  return {
    method: t.method,
    data: dataLocation(data.id, resolve),
    ...dataOptionsOf(spec),
    epochs: t.epochs,
    batchSize: t.batchSize ?? defaults.batchSize,
    optimizer: t.optimizer ?? defaults.optimizer,
    learningRate: t.learningRate ?? defaultLearningRate(t.method, t.optimizer),
    seed: spec.seed ?? defaults.seed,
    robustEvalLimit: EDITOR_ROBUST_EVAL_IMAGES,
    ...(t.schedule ? { schedule: t.schedule } : {}),
    ...(isAdversarialMethod(t.method) ? { eps: t.eps ?? spec.threat.eps } : {}),
    ...(t.steps !== undefined ? { steps: t.steps } : {}),
    ...(t.beta !== undefined ? { beta: t.beta } : {}),
    ...(t.advFraction !== undefined ? { advFraction: t.advFraction } : {}),
    ...(t.temperature !== undefined ? { temperature: t.temperature } : {}),
    ...(t.warmupEpochs !== undefined ? { warmupEpochs: t.warmupEpochs } : {}),
    ...(t.trainImages !== undefined ? { trainLimit: t.trainImages } : {}),
    ...(t.ema !== undefined ? { ema: t.ema } : {}),
    ...(t.awp !== undefined ? { awp: t.awp } : {}),
    ...(t.awpWarmupEpochs !== undefined ? { awpWarmupEpochs: t.awpWarmupEpochs } : {}),
    ...(t.validation !== undefined ? { validation: t.validation } : {}),
    ...(t.earlyStop ? { earlyStop: true } : {}),
    ...(t.patience !== undefined ? { patience: t.patience } : {}),
    ...(fromModel ? { init: resolve(spec.model) } : {}),
    ...specModelInput(spec, specSource),
  };
}
