/**
 * Experiment specs (`*.robustness.json`, JSON with comments): the typed shape of
 * spec-schema.json, and the one translation from a checked spec into the engine's jobs, used by
 * the extension's Run/Train lenses. Paths in a spec are relative to the spec's folder;
 * the callers pass the resolver (this layer has no node:path).
 */
import type { AttackJob, AttackParams, TrainJob, TrainMethod } from './jobs';
import { attackInfo, type LossName } from './attacks';
import type { NormId } from './report';

export const SPEC_SUFFIX = '.robustness.json';

export interface SpecAttack extends AttackParams {
  id: string;
}

export interface RobustnessSpec {
  name?: string;
  model: string;
  data: string | { id: string; n?: number; offset?: number };
  threat: { norm: NormId; eps: number; bounds?: [number, number] };
  attacks?: Array<string | SpecAttack>;
  suite?: 'strong' | 'quick';
  surrogate?: string;
  curve?: number[];
  seed?: number;
  batchSize?: number;
  training?: {
    method: TrainMethod; epochs: number; eps?: number; steps?: number; beta?: number; temperature?: number;
    learningRate?: number; batchSize?: number; optimizer?: 'adam' | 'sgd'; schedule?: 'constant' | 'cosine' | 'step' | 'cyclic';
    warmupEpochs?: number; trainImages?: number; fromModel?: boolean;
  };
  output?: { examples?: number; report?: string };
}

export const DEFAULT_SAMPLES = 500;
export const BUILTIN_DATA = ['embedded', 'fashion-mnist'] as const;

/** "pgd:margin" → { id: 'pgd', loss: 'margin' }. */
export function attackOf(entry: string | SpecAttack): SpecAttack {
  if (typeof entry !== 'string') return entry;
  const [id = '', loss] = entry.split(':');
  return loss ? { id, loss: loss as LossName } : { id };
}

export function dataOf(spec: RobustnessSpec): { id: string; n: number; offset: number } {
  return typeof spec.data === 'string' ? { id: spec.data, n: DEFAULT_SAMPLES, offset: 0 }
    : { id: spec.data.id, n: spec.data.n ?? DEFAULT_SAMPLES, offset: spec.data.offset ?? 0 };
}

/** Resolves a relative path (the caller knows the base folder and the platform). */
export type Resolve = (relative: string) => string;

/** A data id as the engine takes it: a built-in id as is, a folder resolved against its base. */
export function dataLocation(id: string, resolve: Resolve): string {
  return (BUILTIN_DATA as readonly string[]).includes(id) ? id : resolve(id);
}

/**
 * The attack job of a (checked) spec. Per-attack parameters ride in `params`, aligned with
 * `attacks`; an attack without "steps" gets its catalogue default (PGD 10, APGD 100).
 */
export function specAttackJob(spec: RobustnessSpec, resolve: Resolve): AttackJob {
  const data = dataOf(spec);
  const attacks = (spec.attacks ?? []).map(attackOf);
  return {
    model: resolve(spec.model),
    data: dataLocation(data.id, resolve),
    attacks: spec.suite ? ['apgd', 'apgd-t', 'square'] : attacks.map((a) => a.id),
    params: spec.suite ? [] : attacks.map(({ id, ...params }) => {
      const steps = attackInfo(id)?.defaultSteps;
      return params.steps === undefined && steps !== undefined ? { steps, ...params } : params;
    }),
    norm: spec.threat.norm, eps: spec.threat.eps,
    steps: 10, restarts: 1, loss: 'ce', randomStart: true,
    n: data.n, offset: data.offset, batchSize: spec.batchSize ?? 250, seed: spec.seed ?? 0,
    curve: [...(spec.curve ?? [])].sort((a, b) => a - b), examples: spec.output?.examples ?? 32,
    bounds: spec.threat.bounds ?? [0, 1],
    ...(spec.suite ? { suite: spec.suite } : {}),
    ...(spec.surrogate ? { surrogate: resolve(spec.surrogate) } : {}),
  };
}

/** The training job of a spec with a `training` block (its `out` is set by the run store). */
export function specTrainJob(spec: RobustnessSpec, resolve: Resolve, modelExists: boolean): Omit<TrainJob, 'out'> | undefined {
  const t = spec.training;
  if (!t) return undefined;
  const data = dataOf(spec);
  const fromModel = t.fromModel ?? modelExists;
  return {
    method: t.method,
    data: dataLocation(data.id, resolve),
    epochs: t.epochs, batchSize: t.batchSize ?? 128, optimizer: t.optimizer ?? 'adam',
    learningRate: t.learningRate ?? (t.method === 'distill' ? 1e-2 : 1e-3), seed: spec.seed ?? 0, robustEvalLimit: 300,
    ...(t.schedule ? { schedule: t.schedule } : {}),
    ...(t.method === 'standard' || t.method === 'distill' ? {} : { eps: t.eps ?? spec.threat.eps }),
    ...(t.steps !== undefined ? { steps: t.steps } : {}),
    ...(t.beta !== undefined ? { beta: t.beta } : {}),
    ...(t.temperature !== undefined ? { temperature: t.temperature } : {}),
    ...(t.warmupEpochs !== undefined ? { warmupEpochs: t.warmupEpochs } : {}),
    ...(t.trainImages !== undefined ? { trainLimit: t.trainImages } : {}),
    ...(fromModel ? { init: resolve(spec.model) } : {}),
  };
}
