/**
 * The editor-free decisions of a training run: where a new one is stored (the folder the run guard
 * accepted, never simply the first workspace folder), what its record says, and reading a stored
 * job back through its schema.
 */
import * as path from 'node:path';
import { trainJobSchema, type TrainJob } from '../protocol/jobs';
import { RunStore, type RunRecord } from '../store/runs';
import type { GuardedPlacement } from './run-placement';

/** A new training run: its job, writing to the run's folder, and the record RunController.start stores. */
export interface NewTrainingRun {
  job: TrainJob;
  record: Omit<RunRecord, 'status'>;
}

/**
 * A new training run in the guarded folder's run store. Its model (the starting model, or the
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
  const full: TrainJob = { ...job, out: store.dir(id) };
  const model = job.init ? path.relative(folder, job.init) : `${job.method} (new smallcnn)`;
  return {
    job: full,
    record: {
      id,
      kind: 'training',
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
