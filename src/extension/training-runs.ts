/**
 * The editor-free decisions of a training run: where a new one is stored (the folder the run guard
 * accepted, never simply the first workspace folder), what its record says, and reading a stored
 * job back through its schema.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { epochMetricsSchema } from '../protocol/epoch-metrics';
import { trainJobSchema, type TrainJob } from '../protocol/jobs';
import { ONNX_TRAINED_MODEL_FILE, TFJS_MODEL_FILE } from '../protocol/model-files';
import {
  BUILTIN_DATA_IMAGES,
  trainedModelFolder,
  trainedNetworkName,
  trainingRunDisplayName,
  type MeasuredTrainingRun,
} from '../protocol/training';
import { BUILTIN_DATA, type BuiltinData } from '../protocol/vocabulary';
import { RunStore, type RunRecord } from '../store/runs';
import type { GuardedPlacement } from './run-placement';

/** A new training run: its job, writing to the run's folder, and the record RunController.start stores. */
export interface NewTrainingRun {
  job: TrainJob;
  record: Omit<RunRecord, 'status'>;
}

/**
 * A new training run in the guarded folder's run store, named "smallcnn · PGD-AT ε=0.1 · 5 ep", its
 * final model saved in a folder named the same way ("smallcnn-pgd-at-eps0.1"). Its model (the starting model, or the
 * method on a new network) and its spec are named relative to that folder.
 */
export function newTrainingRun(
  placement: GuardedPlacement,
  job: Omit<TrainJob, 'out'>,
  origin: { spec?: string } = {},
  now = new Date(),
): NewTrainingRun {
  const { folder } = placement;
  const store = new RunStore(folder);
  const id = store.newId('training', now);
  const full: TrainJob = { modelFolder: trainedModelFolder(job), ...job, out: store.dir(id) };
  const model = job.init ? path.relative(folder, job.init) : `${job.method} (new smallcnn)`;
  return {
    job: full,
    record: {
      id,
      kind: 'training',
      name: trainingRunDisplayName(job),
      model,
      created: now.toISOString(),
      config: full,
      ...(origin.spec !== undefined ? { spec: path.relative(folder, origin.spec) } : {}),
    },
  };
}

/** A training job read back from `file` (run.json's or train.json's config), checked by its schema. */
export function readTrainJob(value: unknown, file: string): TrainJob {
  const parsed = trainJobSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues
    .map((issue) => `${['config', ...issue.path.map(String)].join('.')}: ${issue.message}`)
    .join('; ');
  throw new Error(`${file} does not hold a valid training job (${issues})`);
}

/** What a run is called wherever it is shown: its name, else (a record from before names) its id. */
export function runLabel(record: Pick<RunRecord, 'id' | 'name'>): string {
  return record.name?.trim() || record.id;
}

/** A stored run's label (runLabel); its id when its run.json cannot be read (a broken run can still be deleted). */
export function storedRunLabel(store: RunStore, id: string): string {
  try {
    return runLabel(store.read(id));
  } catch {
    return id;
  }
}

/** A run name's longest length: a Runs view label and a legend entry stay readable. */
export const RUN_NAME_MAX = 80;

/** Why a new run name is refused (the rename box's validation), or undefined when it is fine. */
export function validateRunName(value: string): string | undefined {
  const name = value.trim();
  if (!name) return 'A run needs a name.';
  if (name.length > RUN_NAME_MAX) return `At most ${RUN_NAME_MAX} characters (this one has ${name.length}).`;
  return undefined;
}

/** Renames a stored run (its run.json's name); throws the validation message for a name it refuses. */
export function renameRun(store: RunStore, id: string, value: string): RunRecord {
  const problem = validateRunName(value);
  if (problem) throw new Error(problem);
  return store.update(id, { name: value.trim() });
}

/** The final model of a stored training run: in its model folder (a named one, or the run folder for older runs). */
export function trainedModelFile(runDir: string, config: unknown): string {
  const parsed = trainJobSchema.safeParse(config);
  const folder = parsed.success ? parsed.data.modelFolder : undefined;
  // A run fine-tuning an ONNX model writes model.onnx back.
  const onnx = parsed.success && /\.onnx$/i.test(parsed.data.init ?? '');
  return path.join(runDir, ...(folder ? [folder] : []), onnx ? ONNX_TRAINED_MODEL_FILE : TFJS_MODEL_FILE);
}

/** A finished training run's final model: the run's id and name, and the model file. */
export interface FinishedTrainingModel {
  runId: string;
  runName: string;
  modelFile: string;
}

/** Every finished training run of a store whose final model is on disk, newest first. */
export function finishedTrainingModels(store: RunStore): FinishedTrainingModel[] {
  return store.list().flatMap(({ id, dir, record }) => {
    if (record?.kind !== 'training' || record.status !== 'done') return [];
    const modelFile = trainedModelFile(dir, record.config);
    return fs.existsSync(modelFile) ? [{ runId: id, runName: runLabel(record), modelFile }] : [];
  });
}

/** The wall seconds of each epoch in a run folder's metrics.jsonl (unreadable lines skipped; none without the file). */
export function epochSeconds(runDir: string): number[] {
  let text: string;
  try {
    text = fs.readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter(Boolean)
    .flatMap((line) => {
      try {
        const parsed = epochMetricsSchema.safeParse(JSON.parse(line));
        return parsed.success && parsed.data.seconds > 0 ? [parsed.data.seconds] : [];
      } catch {
        return [];
      }
    });
}

/** Training images per epoch of a job, when known: its trainLimit (capped by built-in data), or the built-in data's size. */
export function trainImagesOf(job: Pick<TrainJob, 'data' | 'trainLimit'>): number | undefined {
  const builtin = (BUILTIN_DATA as readonly string[]).includes(job.data)
    ? BUILTIN_DATA_IMAGES[job.data as BuiltinData].train
    : undefined;
  if (job.trainLimit === undefined) return builtin;
  return builtin === undefined ? job.trainLimit : Math.min(job.trainLimit, builtin);
}

/** The test images a job checks clean accuracy on each epoch, when known (the built-in data's test split). */
export function testImagesOf(job: Pick<TrainJob, 'data'>): number | undefined {
  return (BUILTIN_DATA as readonly string[]).includes(job.data)
    ? BUILTIN_DATA_IMAGES[job.data as BuiltinData].test
    : undefined;
}

/** The finished training runs of a store with their epoch times, for estimateTrainingCost. */
export function measuredTrainingRuns(store: RunStore): MeasuredTrainingRun[] {
  return store.list().flatMap(({ dir, record }) => {
    if (record?.kind !== 'training' || record.status !== 'done') return [];
    const parsed = trainJobSchema.safeParse(record.config);
    if (!parsed.success) return [];
    const job = parsed.data;
    const seconds = epochSeconds(dir);
    if (seconds.length === 0) return [];
    return [
      {
        method: job.method,
        network: trainedNetworkName(job.init),
        data: job.data,
        images: trainImagesOf(job),
        steps: job.steps,
        epochSeconds: seconds,
        finished: record.finished ?? record.created,
      },
    ];
  });
}
