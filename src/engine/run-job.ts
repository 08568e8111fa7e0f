/** The jobs the CLI and the worker run: an attack evaluation (→ report) and training with any method. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { AttackJob, AttackParams, JobProgress, TrainJob } from '../protocol/jobs';
import type { TrainProgressView } from '../protocol/training';
import { ATTACK_INFO, attackInfo } from '../protocol/attacks';
import type { Report } from '../protocol/report';
import type { FinishedStage } from '../protocol/messages/worker';
import type { DistillPart, RunStatus } from '../protocol/vocabulary';
import { getAttack } from './attacks/registry';
import { LOSSES, type LossId } from '../protocol/vocabulary';
import { DEFAULT_TRAIN_EPS, isAdversarialMethod, TRAIN_METHOD_DEFAULTS } from '../protocol/training';
import { checkGradientAccess } from './attacks/runner';
import { minClassesFor } from './losses';
import type { AttackOptions } from './attacks/types';
import { describeBackend } from './backend';
import { loadData, loadTrainingData, sliceSplit } from './data/datasets';
import { InputError, withInputErrors } from './errors';
import { describeModel, modelFormatFor } from '../formats/model-formats';
import { accuracyCurve, evaluateAttacks, type AttackPlan, type StageResult } from './eval/evaluate';
import { probeDiagnostics } from './eval/diagnostics';
import { geometryProbe } from './eval/geometry';
import { suitePlans } from './eval/suites';
import { loadClassifier } from './models/load';
import { fileHandler, folderSaveHandler, savedModelFile } from './models/io';
import { smallCnn } from './models/smallcnn';
import { buildReport } from './report/build';
import {
  trainModel,
  trainModelOutcome,
  validateTrainOptions,
  type EpochMetrics,
  type KeptWeights,
  type TrainProgress,
} from './training/train-loop';
import { DEFAULT_VALIDATION_IMAGES } from './training/robust';
import { throttleTrainProgress } from './training/progress';
import { layersNet, loadOnnxNet, ONNX_FINE_TUNING_NOTE, type OnnxNet, type TrainableNet } from './training/net';
import type { PeersFactory } from './training/parallel';
import { makeClassifier, type Classifier } from './models/classifier';
import { writeFileAtomic } from '../common/atomic-write';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { validateThreat } from './threat';
import {
  checkAgainstModel,
  jobPreprocessing,
  normalizationOf,
  writeSidecar,
  type PreprocessJobFields,
} from './preprocess';
import type { Preprocessing } from '../protocol/preprocess';
import type { ReportPreprocess } from '../protocol/report';

export interface JobHooks {
  signal?: AbortSignal;
  onProgress?: (p: JobProgress) => void;
  onWarning?: (message: string) => void;
  /** Training: called once per finished epoch. */
  onEpoch?: (metrics: EpochMetrics, epochs: number) => void;
  /** Attack jobs: each stage as it finishes (clean, each attack, diagnostics, geometry, curve), in order. */
  onStage?: (stage: FinishedStage) => void;
  /**
   * Attack jobs: a cancel after clean accuracy returns the report of the stages that finished,
   * marked `partial`, instead of throwing the AbortError.
   */
  keepPartial?: boolean;
  /** Training: the phase and batch, throttled (throttleTrainProgress). */
  onTrainProgress?: (progress: TrainProgressView) => void;
  /** Training on more than one worker (job.workers): starts workers 2…N (src/worker/train-pool.ts's threadPeers). */
  trainPeers?: PeersFactory;
}

export { VERSION } from '../protocol/report';
import { VERSION } from '../protocol/report';

/**
 * An attack of the job: "pgd", or "pgd:margin" to override the job's loss for that attack;
 * `params` (a spec's attack object) overrides the job-wide steps, α, restarts, loss and queries.
 */
export function planFor(spec: string, job: AttackJob, surrogate?: Classifier, params: AttackParams = {}): AttackPlan {
  const [id = '', lossOverride, ...extra] = spec.split(':');
  if (extra.length || lossOverride === '') {
    throw new InputError(
      '--attack',
      spec,
      `is not an attack: write an id, or id:loss for another loss (e.g. pgd:margin), with one loss at most`,
    );
  }
  const entry = getAttack(id);
  if (!entry.norms.includes(job.norm)) throw new InputError('--attack', id, `does not support the ${job.norm} norm`);
  if (lossOverride !== undefined && !LOSSES.includes(lossOverride as LossId)) {
    throw new InputError('--attack', spec, `"${lossOverride}" is not a loss; use one of ${LOSSES.join(', ')}`);
  }
  // No loss given: the attack's own (its catalogue default, dlr for APGD-T), named in the report's params.
  const loss =
    params.loss ?? (lossOverride as LossId | undefined) ?? job.loss ?? (entry.options.loss as LossId | undefined);
  if (entry.id === 'transfer' && !surrogate)
    throw new InputError('--attack', 'transfer', 'needs a surrogate model: pass --surrogate <model.json>');
  // The spec's per-attack params over the job-wide settings, each passed only to an attack that
  // takes it (the runner rejects the rest; the spec analysis warns that they are ignored).
  const wanted: AttackOptions = {
    steps: params.steps ?? job.steps,
    stepSize: params.stepSize ?? job.stepSize,
    restarts: params.restarts ?? job.restarts,
    loss,
    randomStart: params.randomStart ?? job.randomStart,
    queries: params.queries ?? job.queries,
    eot: params.eot ?? job.eot,
    surrogate,
  };
  const options: Record<string, unknown> = {};
  for (const name of Object.keys(entry.options) as (keyof AttackOptions)[]) {
    if (wanted[name] !== undefined) options[name] = wanted[name];
  }
  // Last, as before the runner: reports list the attack's own parameters first.
  options.seed = job.seed;
  return { entry, options: options as AttackOptions };
}

/**
 * A plan fitted to the model at planning time, before any image is attacked: the loss's class-count
 * rule (dlr needs 3 classes; an attack that picks its own targets runs its loss targeted, and APGD-T
 * needs 4) refuses the attack naming it and the model; the targets an attack picks are capped at
 * classes − 1, so its label shows the count it runs.
 */
export function fitPlanToModel(plan: AttackPlan, numClasses: number, modelFile: string): AttackPlan {
  const info = attackInfo(plan.entry.id);
  const loss = plan.options.loss as LossId | undefined;
  const targeted = info ? !info.targetable : false;
  const needed = Math.max(loss ? minClassesFor(loss, targeted) : 2, info?.minClasses ?? 2);
  if (numClasses < needed) {
    const byLoss = loss ? minClassesFor(loss, targeted) : 0;
    const why =
      byLoss >= needed
        ? `its ${loss} loss${targeted ? ' (targeted)' : ''} needs at least ${needed} classes`
        : `it needs at least ${needed} classes`;
    const instead =
      byLoss >= needed && (info?.minClasses ?? 2) <= numClasses
        ? `choose another loss (e.g. ${plan.entry.id}:ce or --loss ce)`
        : `choose an attack without targets (e.g. ${numClasses >= minClassesFor('dlr', false) ? 'apgd' : 'apgd:ce'})`;
    throw new InputError(
      modelFile,
      'output',
      `has ${numClasses} classes, too few for ${plan.entry.label(plan.options)}: ${why}; ${instead}`,
    );
  }
  const targets =
    (plan.options as { targetClasses?: number }).targetClasses ?? (info?.options.targetClasses as number | undefined);
  if (targets !== undefined && targets > numClasses - 1) {
    return { ...plan, options: { ...plan.options, targetClasses: numClasses - 1 } as AttackOptions };
  }
  return plan;
}

/**
 * A job's model with its preprocessing (the job's sources, the sidecar, the settings: src/engine/preprocess.ts)
 * and its chosen output, each source checked against the loaded model's channels and classes.
 */
export async function loadJobModel(
  job: PreprocessJobFields & { output?: string },
  file: string,
  bounds: [number, number],
): Promise<{ model: Classifier; preprocessing: Preprocessing }> {
  const { layers, preprocessing } = jobPreprocessing(job, file, bounds);
  const normalization = normalizationOf(preprocessing, bounds);
  const model = await loadClassifier(file, {
    bounds,
    ...(normalization ? { normalization } : {}),
    ...(job.output ? { output: job.output } : {}),
  });
  try {
    checkAgainstModel(layers, { channels: model.inputShape[2], classes: model.numClasses });
  } catch (err) {
    model.dispose?.();
    throw err;
  }
  return { model, preprocessing };
}

/** The report's preprocessing section: what is in force, and the graph's own normalisation. */
function reportPreprocess(p: Preprocessing, model: Classifier): ReportPreprocess {
  return {
    scale: p.scale,
    mean: p.mean,
    std: p.std,
    ...(p.classes ? { classes: p.classes } : {}),
    sources: p.sources,
    ...(model.inGraphNormalization ? { in_graph: model.inGraphNormalization } : {}),
  };
}

export async function runAttackJob(job: AttackJob, command: string, hooks: JobHooks = {}): Promise<Report> {
  const started = performance.now();
  const { model, preprocessing } = await loadJobModel(job, job.model, job.bounds);
  let surrogate: Classifier | undefined;
  try {
    model.warnings.forEach((w) => hooks.onWarning?.(w));
    const data = await loadData(job.data, 'test', (job.offset ?? 0) + job.n, {
      ...job.dataOptions,
      inputShape: model.inputShape,
    });
    if (data.shape.join('x') !== model.inputShape.join('x')) {
      throw new InputError(
        job.model,
        'input shape',
        `[${model.inputShape.join(', ')}] does not match the ${data.id} images [${data.shape.join(', ')}]`,
      );
    }
    if (data.classesFile && data.classNames.length !== model.numClasses) {
      throw new InputError(
        data.classesFile,
        '',
        `names ${data.classNames.length} classes, but ${job.model} has ${model.numClasses} outputs; ` +
          'name one class per output, in output order',
      );
    }
    if (data.classNames.length > model.numClasses) {
      throw new InputError(
        job.model,
        'output',
        `has ${model.numClasses} classes but ${data.id} has ${data.classNames.length}`,
      );
    }
    const test = sliceSplit(data.samples, job.offset ?? 0, job.n);
    // A worker's later slice may start past the end of a short split (the CLI asks for n before it
    // knows the count); the first slice, or a whole job, with no image is an error.
    if (test.count === 0 && !job.offset) {
      throw new InputError(data.file, 'test', 'holds no test images; an evaluation needs at least one');
    }
    const threat = { norm: job.norm, eps: job.eps, bounds: job.bounds };
    validateThreat(threat, test.count, data.shape[0] * data.shape[1] * data.shape[2], '--eps');
    if (job.layer && !model.featureLayers?.includes(job.layer)) {
      throw new InputError(
        job.model,
        'layer',
        model.featureLayers
          ? `"${job.layer}" is not a hidden layer; choose one of ${model.featureLayers.join(', ')}`
          : 'a graph model has no named layers for the representation constant; leave --layer out',
      );
    }
    // The surrogate brings its own sidecar; the job's preprocessing is the target's.
    surrogate = job.surrogate ? (await loadJobModel({}, job.surrogate, job.bounds)).model : undefined;
    const plans = (
      job.suite
        ? suitePlans(job.suite, {
            seed: job.seed,
            ...(job.queries ? { queries: job.queries } : {}),
            ...(surrogate ? { surrogate } : {}),
          })
        : job.attacks.map((id, i) => planFor(id, job, surrogate, job.params?.[i]))
    ).map((plan) => fitPlanToModel(plan, model.numClasses, job.model));
    const wantsProbes = Boolean(job.suite || job.diagnostics);
    refuseWithoutGradients(plans, model, surrogate, wantsProbes);
    // A shard after a run's first leaves the probes to the first (src/protocol/cluster.ts).
    const probing = wantsProbes && job.probes !== false;
    const progress = {
      ...(hooks.signal ? { signal: hooks.signal } : {}),
      batchSize: job.batchSize,
      examples: job.examples,
      onProgress: (p: { label: string; done: number; total: number }) => hooks.onProgress?.(p),
    };
    // An attack list gets one curve per attack; a suite one curve of its gradient attacks in
    // cascade (its first attack alone would be the masked one on a distilled model).
    const series =
      job.curve.length === 0
        ? []
        : job.suite
          ? [plans.filter((p) => p.entry.access === 'white-box')]
          : plans.map((p) => [p]);
    const stages = new StageCounter(
      plans.length + (probing ? 2 : 0) + (series.length > 0 ? 1 : 0),
      test.count,
      hooks.onStage,
    );
    const evaluation = await evaluateAttacks(model, test, data.shape, threat, plans, {
      ...progress,
      cascade: Boolean(job.suite),
      onStage: (stage) => stages.finished(stage),
      ...(hooks.keepPartial ? { keepPartial: true } : {}),
    });
    let cancelled = Boolean(evaluation.cancelled);
    /** Runs a stage after the attacks; with keepPartial, a cancel ends the job with what finished. */
    const later = async <T>(work: () => Promise<T>): Promise<T | undefined> => {
      if (cancelled) return undefined;
      try {
        return await work();
      } catch (err) {
        if (!hooks.keepPartial || (err as Error).name !== 'AbortError') throw err;
        cancelled = true;
        return undefined;
      }
    };
    const probes = probing
      ? ((await later(async () => {
          const t0 = performance.now();
          const found = await probeDiagnostics(model, test, data.shape, threat, {
            seed: job.seed,
            suite: job.suite ?? null,
            ...(hooks.signal ? { signal: hooks.signal } : {}),
            onProgress: (label, done, total) => hooks.onProgress?.({ label: `diagnostics: ${label}`, done, total }),
          });
          const masking = found.filter((d) => d.masking).length;
          stages.finished({
            kind: 'diagnostics',
            label: 'diagnostics',
            findings: found.length,
            masking,
            detail: found.length ? found.map((d) => d.id).join(', ') : 'no sign of gradient masking in the probes',
            seconds: (performance.now() - t0) / 1000,
          });
          return found;
        })) ?? [])
      : [];
    const geometry = probing
      ? await later(async () => {
          const t0 = performance.now();
          const probe = await geometryProbe(
            model,
            test,
            data.shape,
            { ...threat, eps: job.eps },
            {
              seed: job.seed,
              ...(hooks.signal ? { signal: hooks.signal } : {}),
              ...(job.layer ? { layer: job.layer } : {}),
              onProgress: (done, total) => hooks.onProgress?.({ label: 'geometry: C and γ', done, total }),
            },
          );
          stages.finished({
            kind: 'geometry',
            label: 'geometry',
            detail:
              (probe.representation ? `C median ${probe.representation.median.toPrecision(3)} · ` : '') +
              `γ median ${probe.linearity.median.toPrecision(3)} (first ${probe.n} images)`,
            seconds: (performance.now() - t0) / 1000,
          });
          return probe;
        })
      : undefined;
    const curves =
      series.length === 0
        ? []
        : ((await later(async () => {
            const t0 = performance.now();
            const drawn = [];
            for (const chain of series) {
              const name = chain.map((p) => p.entry.label(p.options)).join(' → ');
              const points = await accuracyCurve(model, test, data.shape, job.norm, job.bounds, job.curve, chain, {
                ...progress,
                onProgress: (p) =>
                  hooks.onProgress?.({ label: `curve ${name} ${p.label}`, done: p.done, total: p.total }),
              });
              drawn.push({ attack: name, points });
            }
            const grid = drawn[0]?.points ?? [];
            stages.finished({
              kind: 'curve',
              label: 'curve',
              detail:
                `${drawn.length} curve${drawn.length > 1 ? 's' : ''} over ${grid.length} radii ` +
                `(ε ${grid[0]?.eps ?? 0}…${grid[grid.length - 1]?.eps ?? 0})`,
              seconds: (performance.now() - t0) / 1000,
            });
            return drawn;
          })) ?? []);
    const report = buildReport(evaluation, {
      command,
      version: VERSION,
      model: job.model,
      modelWarnings: model.warnings,
      dataset: `${data.id} (${data.location})`,
      backend: describeBackend(),
      // The model's class names (from its preprocessing) over the data's.
      classNames: preprocessing.classes ?? data.classNames,
      preprocess: reportPreprocess(preprocessing, model),
      shape: data.shape,
      curves,
      seconds: (performance.now() - started) / 1000,
      suite: job.suite ?? null,
      probes,
      // A job with an offset is a shard of a run (shardFields): merged before anyone reads it.
      shard: job.offset !== undefined,
      ...(geometry ? { geometry } : {}),
    });
    for (const example of report.examples) example.index += job.offset ?? 0;
    if (cancelled) report.partial = stages.partial();
    return report;
  } finally {
    model.dispose?.();
    surrogate?.dispose?.();
  }
}

/** Numbers the stages of an attack job as they finish and remembers the last, for a partial report. */
class StageCounter {
  private done = 0;
  private last = 'clean';

  constructor(
    private readonly total: number,
    private readonly n: number,
    private readonly listener: ((stage: FinishedStage) => void) | undefined,
  ) {}

  finished(stage: Omit<StageResult, 'n'> & { n?: number }): void {
    if (stage.kind !== 'clean') this.done++;
    this.last = stage.label;
    this.listener?.({ n: this.n, ...stage, index: stage.kind === 'clean' ? 0 : this.done, total: this.total });
  }

  partial(): NonNullable<Report['partial']> {
    return { cancelled_after: this.last, stages_done: this.done, stages_total: this.total };
  }
}

export interface TrainResult {
  modelFile: string;
  /** The preprocessing the model trained with, written next to it (absent when there was none). */
  sidecar?: string;
  history: EpochMetrics[];
  seconds: number;
  /** What the report says about how the model was trained (an ONNX model's frozen BatchNorm statistics). */
  notes: string[];
  /** Which weights the saved model holds: raw or EMA, the last epoch's or early stopping's best. */
  kept: KeptWeights;
}

interface TrainRecord {
  config: TrainJob;
  status: RunStatus;
  phase?: DistillPart;
  error?: string;
  notes?: string[];
  /** Which weights the saved model holds (set when the run is done). */
  savedWeights?: KeptWeights;
}

function writeTrainRecord(job: TrainJob, record: Omit<TrainRecord, 'config'>): void {
  fs.mkdirSync(job.out, { recursive: true });
  writeFileAtomic(path.join(job.out, 'train.json'), JSON.stringify({ config: job, ...record }, null, 2));
}

/** A starting model's format, when it is one that trains (tfjs Layers or ONNX); else refused naming the file. */
function trainableFormat(file: string): 'tfjs-layers' | 'onnx' {
  const format = withInputErrors(() => modelFormatFor(file));
  if (format.id === 'onnx' || format.id === 'tfjs-layers') return format.id;
  throw new InputError(
    file,
    '',
    `cannot be trained (${format.label}): only tfjs Layers and ONNX models can be trained`,
  );
}

/**
 * A starting point from an existing model, checked against the data: a Layers model's topology
 * and weights, or an ONNX graph with its float weights made trainable (training/net.ts).
 */
async function initialModel(file: string, shape: [number, number, number]): Promise<tfl.LayersModel | OnnxNet> {
  if (trainableFormat(file) === 'onnx') return loadOnnxNet(file, shape);
  let model: tfl.LayersModel;
  try {
    model = await tfl.loadLayersModel(fileHandler(file));
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(
      file,
      'modelTopology',
      `cannot be trained: ${(err as Error).message} (only tfjs Layers models can be trained)`,
    );
  }
  const last = model.layers[model.layers.length - 1]?.getConfig() as { activation?: string } | undefined;
  if (last?.activation === 'softmax') {
    throw new InputError(
      file,
      'modelTopology',
      'ends in a softmax; training needs a model that outputs logits (export it without the softmax)',
    );
  }
  const input = model.inputs[0]?.shape.slice(1).join('x');
  if (input !== shape.join('x'))
    throw new InputError(
      file,
      'input shape',
      `[${input?.replace(/x/g, ', ')}] does not match the data [${shape.join(', ')}]`,
    );
  return model;
}

/** Reads a run folder's train.json, to resume it. */
export function readTrainJob(dir: string): TrainJob {
  const file = path.join(dir, 'train.json');
  let record: TrainRecord;
  try {
    record = JSON.parse(fs.readFileSync(file, 'utf8')) as TrainRecord;
  } catch (err) {
    throw new InputError(file, '', `cannot be read as a training run: ${(err as Error).message}`);
  }
  if (!record.config || typeof record.config.method !== 'string') throw new InputError(file, 'config', 'is missing');
  return { ...record.config, out: dir };
}

function trainOptions(
  job: TrainJob,
  hooks: JobHooks,
  distillPart: DistillPart | undefined,
  resume: boolean,
  report?: (progress: TrainProgressView) => void,
) {
  const label = distillPart ? `${distillPart} ` : '';
  const part = distillPart ? { part: distillPart } : {};
  return {
    epochs: job.epochs,
    method: job.method,
    batchSize: job.batchSize,
    optimizer: job.optimizer,
    learningRate: job.learningRate,
    seed: job.seed,
    resume,
    adversarial: {
      eps: job.eps ?? DEFAULT_TRAIN_EPS,
      ...(job.steps !== undefined ? { steps: job.steps } : {}),
      ...(job.warmupEpochs !== undefined ? { warmupEpochs: job.warmupEpochs } : {}),
      ...(job.beta !== undefined ? { beta: job.beta } : {}),
      ...(job.advFraction !== undefined ? { advFraction: job.advFraction } : {}),
      ...(job.temperature !== undefined ? { temperature: job.temperature } : {}),
    },
    ...(job.schedule ? { schedule: job.schedule } : {}),
    ...(job.weightDecay !== undefined ? { weightDecay: job.weightDecay } : {}),
    ...(job.trainLimit !== undefined ? { trainLimit: job.trainLimit } : {}),
    ...(job.robustEvalLimit !== undefined ? { robustEvalLimit: job.robustEvalLimit } : {}),
    ...(job.ema !== undefined ? { ema: job.ema } : {}),
    ...(job.awp !== undefined ? { awp: job.awp } : {}),
    ...(job.awpWarmupEpochs !== undefined ? { awpWarmupEpochs: job.awpWarmupEpochs } : {}),
    ...(job.validation !== undefined ? { validation: job.validation } : {}),
    ...(job.earlyStop ? { earlyStop: true } : {}),
    ...(job.patience !== undefined ? { patience: job.patience } : {}),
    workers: job.workers ?? 1,
    ...(hooks.trainPeers ? { peers: hooks.trainPeers } : {}),
    ...(hooks.signal ? { signal: hooks.signal } : {}),
    onProgress: (p: TrainProgress) => {
      // The CLI's progress line counts batches; the end-of-epoch checks are told only as a phase.
      if (p.phase !== 'evaluating') {
        hooks.onProgress?.({ label: `${label}epoch ${p.epoch}/${p.epochs}`, done: p.batch, total: p.batches });
      }
      if (!p.epochMetrics) {
        const { epoch, epochs, batch, batches } = p;
        report?.({ phase: p.phase ?? 'training', epochs, epoch, batch, batches, ...part });
      }
      if (p.epochMetrics && distillPart !== 'teacher') hooks.onEpoch?.(p.epochMetrics, p.epochs);
    },
  };
}

/**
 * Trains the example network with any method into a run folder that can be resumed after a
 * kill: `job.out` gets train.json, metrics.jsonl, checkpoints/last/ and, at the end, the model.
 * Distillation trains a teacher at temperature T (in out/teacher/), then the student on its soft
 * labels; the student is saved with raw logits (deployed at T = 1) and T in its metadata.
 */
export async function runTrainJob(job: TrainJob, hooks: JobHooks = {}, resume = false): Promise<TrainResult> {
  const started = performance.now();
  if (!resume && fs.existsSync(path.join(job.out, 'checkpoints'))) {
    throw new InputError(
      job.out,
      'checkpoints',
      'already holds a training run; continue it with --resume, or choose another --out',
    );
  }
  // Options that cannot train together (AWP on fast-at, mixed batches on TRADES) are refused
  // before the data is read or the run folder written.
  validateTrainOptions(trainOptions(job, {}, undefined, resume));
  const report = hooks.onTrainProgress && throttleTrainProgress(hooks.onTrainProgress);
  report?.({ phase: 'loading-data', epochs: job.epochs });
  // A starting model that cannot train is refused before the data is read; one that can takes the
  // data fitted to its input (resize, channels).
  if (job.init) trainableFormat(job.init);
  const described = job.init ? withInputErrors(() => describeModel(job.init!)) : undefined;
  const initShape = described?.inputShape;
  const data = await loadTrainingData(job.data, {
    ...job.dataOptions,
    ...(initShape ? { inputShape: initShape } : {}),
  });
  // The preprocessing the model trains with (the job's, the starting model's sidecar, the settings),
  // applied inside it and written next to the trained model, so that attacking it applies it again.
  const { layers, preprocessing } = jobPreprocessing(job, job.init, [0, 1]);
  checkAgainstModel(layers, { channels: data.shape[2], classes: data.classNames.length });
  // Every label of both splits was read: the starting model must have a logit for each.
  if (described?.classes !== undefined && described.classes < data.classNames.length) {
    throw new InputError(
      job.init!,
      'output',
      `has ${described.classes} classes, but the labels of ${data.id} run from 0 to ${data.classNames.length - 1}; ` +
        'fine-tune a model with a logit for every class',
    );
  }
  const normalization = normalizationOf(preprocessing, [0, 1]);
  report?.({ phase: 'building-model', epochs: job.epochs });
  writeTrainRecord(job, { status: 'running' });
  const models: Array<{ dispose(): unknown }> = [];
  // A method with a temperature distils: a teacher trains at T first, then the student on its soft labels.
  const temperature = TRAIN_METHOD_DEFAULTS[job.method].temperature;
  try {
    // The starting model first: one that does not fit the data is refused before a teacher trains.
    const model = job.init
      ? await initialModel(job.init, data.shape)
      : smallCnn(data.shape, data.classNames.length, job.seed);
    models.push(model);
    let teacher: Classifier | undefined;
    let teacherTrainable: TrainableNet | undefined;
    if (temperature !== undefined) {
      const teacherNet = smallCnn(data.shape, data.classNames.length, job.seed + 1);
      models.push(teacherNet);
      teacherTrainable = layersNet(teacherNet);
      writeTrainRecord(job, { status: 'running', phase: 'teacher' });
      await trainModel(teacherNet, data, {
        ...trainOptions(job, hooks, 'teacher', resume, report),
        ...(normalization ? { normalization } : {}),
        phase: 'teacher',
        checkpointDir: path.join(job.out, 'teacher'),
      });
      teacher = makeClassifier((x) => teacherNet.apply(x, { training: false }) as tf.Tensor2D, {
        inputShape: data.shape,
        numClasses: data.classNames.length,
        bounds: [0, 1],
        source: 'teacher',
        warnings: [],
        ...(normalization ? { normalization } : {}),
      });
      writeTrainRecord(job, { status: 'running', phase: 'student' });
    }
    const onnx = 'writeModel' in model ? model : undefined;
    const notes = onnx?.batchNorm ? [`${job.init}: ${ONNX_FINE_TUNING_NOTE}`] : [];
    onnx?.warnings.forEach((w) => hooks.onWarning?.(w));
    notes.forEach((n) => hooks.onWarning?.(n));
    const { history, kept } = await trainModelOutcome(model, data, {
      ...trainOptions(job, hooks, teacher ? 'student' : undefined, resume, report),
      ...(normalization ? { normalization } : {}),
      checkpointDir: job.out,
      ...(teacher ? { teacher, teacherNet: teacherTrainable!, phase: 'student' as const } : {}),
    });
    const keptEpoch = history.find((h) => h.epoch === kept.epoch) ?? history[history.length - 1];
    const keptAccuracy =
      kept.weights === 'ema'
        ? { test: keptEpoch?.emaTestAccuracy, robust: keptEpoch?.emaRobustAccuracy }
        : { test: keptEpoch?.testAccuracy, robust: keptEpoch?.robustAccuracy };
    report?.({ phase: 'saving', epochs: job.epochs });
    // The editor names the final model's folder (job.modelFolder); the CLI's stays the run folder.
    const modelDir = job.modelFolder ? path.join(job.out, job.modelFolder) : job.out;
    const metadata = {
      robustnessLab: {
        method: job.method,
        dataset: data.id,
        epochs: job.epochs,
        batchSize: job.batchSize,
        optimizer: job.optimizer,
        learningRate: job.learningRate,
        schedule: job.schedule ?? null,
        seed: job.seed,
        workers: job.workers ?? 1,
        trainImages: job.trainLimit ?? data.train.count,
        eps: isAdversarialMethod(job.method) ? (job.eps ?? DEFAULT_TRAIN_EPS) : null,
        ...(temperature !== undefined ? { temperature: job.temperature ?? temperature, deployedTemperature: 1 } : {}),
        // The saved weights' own accuracies: the kept epoch's, the EMA's when the average was saved.
        testAccuracy: keptAccuracy.test,
        robustAccuracy: keptAccuracy.robust ?? null,
        ...(job.advFraction !== undefined ? { advFraction: job.advFraction } : {}),
        ...(job.ema !== undefined ? { ema: job.ema } : {}),
        ...(job.awp !== undefined ? { awp: job.awp, awpWarmupEpochs: job.awpWarmupEpochs ?? 0 } : {}),
        ...(job.earlyStop
          ? { earlyStop: true, ...(job.patience !== undefined ? { patience: job.patience } : {}) }
          : {}),
        ...(job.validation !== undefined || job.earlyStop
          ? { validationImages: job.validation ?? DEFAULT_VALIDATION_IMAGES }
          : {}),
        savedWeights: kept,
        events: history.filter((h) => h.event).map((h) => ({ epoch: h.epoch, event: h.event })),
        classNames: data.classNames,
        backend: describeBackend(),
        ...(onnx?.batchNorm ? { batchNorm: ONNX_FINE_TUNING_NOTE } : {}),
      },
    };
    // An ONNX model is written back as the same graph with the new weights, the metadata in its metadata_props.
    let modelFile: string;
    if (onnx) modelFile = onnx.writeModel(modelDir, { robustnessLab: JSON.stringify(metadata.robustnessLab) });
    else {
      await (model as tfl.LayersModel).save(folderSaveHandler(modelDir, metadata));
      modelFile = savedModelFile(modelDir);
    }
    const sidecar = writeSidecar(modelFile, preprocessing, [0, 1]);
    writeTrainRecord(job, { status: 'done', ...(notes.length ? { notes } : {}), savedWeights: kept });
    return {
      modelFile,
      ...(sidecar ? { sidecar } : {}),
      history,
      seconds: (performance.now() - started) / 1000,
      notes,
      kept,
    };
  } catch (err) {
    const e = err as Error;
    writeTrainRecord(job, { status: e.name === 'AbortError' ? 'cancelled' : 'failed', error: e.message });
    throw err;
  } finally {
    models.forEach((m) => m.dispose());
  }
}

/**
 * A model whose format runs only forward (no gradients) serves black-box attacks; white-box ones,
 * and the gradient probes of a suite or --diagnostics, are refused naming the model and the attack.
 * A transfer attack needs gradients of its surrogate only.
 */
export function refuseWithoutGradients(
  plans: AttackPlan[],
  model: Classifier,
  surrogate: Classifier | undefined,
  probes: boolean,
): void {
  // Each attack's runner refuses too; here the whole job is refused before its first attack runs.
  for (const { entry } of plans) checkGradientAccess(entry, model, surrogate);
  if (probes && !model.gradients) {
    const blackBox = ATTACK_INFO.filter((a) => a.access === 'black-box')
      .map((a) => a.id)
      .join(', ');
    throw new InputError(
      model.source,
      'gradients',
      'the diagnostics of a suite or --diagnostics need ' +
        `gradients, which this model's format does not give; run black-box attacks (${blackBox}) without them`,
    );
  }
}
