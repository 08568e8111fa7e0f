/**
 * The engine worker channel (extension host or CLI ⇄ worker thread): requests with typed results,
 * notifications, and the envelopes that carry them over the port. Tensors never cross, only JSON.
 */
import { z } from 'zod';
import { MAX_SHARD_IMAGES } from '../cluster';
import { epochMetricsSchema, runEpochSchema, trainPositionSchema } from '../epoch-metrics';
import { attackJobSchema, backendPreferenceSchema, trainJobSchema } from '../jobs';
import { NORMS, STAGE_KINDS, TRAIN_METHODS } from '../vocabulary';
import {
  methodTable,
  notification,
  reportShape,
  request,
  runIdSchema,
  type ParamsOf,
  type ResultOf,
} from './descriptors';

/** What a training run ends with (the engine's own TrainResult carries its history under another name). */
export const trainRunResultSchema = z.strictObject({
  modelFile: z.string(),
  epochs: z.array(runEpochSchema),
  seconds: z.number().finite(),
  /** How the model was trained, for the report ("BatchNorm statistics frozen" for an ONNX model). */
  notes: z.array(z.string()).optional(),
});
export type TrainRunResult = z.infer<typeof trainRunResultSchema>;

export const RunAttackRequest = request(
  'runAttack',
  z.object({
    runId: runIdSchema,
    job: attackJobSchema,
    backend: backendPreferenceSchema,
    /**
     * On cancel, answer with the report of the stages that finished (its `partial` says after
     * which) instead of an AbortError; nothing finished yet still rejects with the AbortError.
     */
    keepPartial: z.boolean().optional(),
    /**
     * Run the job's shards on the workers of this Redis (README "Scale out") instead of this
     * thread: the thread coordinates, streaming the shards' merged progress and stages.
     */
    cluster: z
      .strictObject({
        redis: z.string().min(1),
        shardSize: z.number().int().min(1).max(MAX_SHARD_IMAGES).optional(),
      })
      .optional(),
  }),
  reportShape,
);
export const TrainRequest = request(
  'train',
  z.object({
    runId: runIdSchema,
    job: trainJobSchema,
    backend: backendPreferenceSchema,
    resume: z.boolean(),
    /**
     * Train on a worker of this Redis (README "Scale out") instead of this thread: the thread
     * coordinates, streaming the run's epochs and progress; the run's folder comes back into job.out.
     */
    cluster: z.strictObject({ redis: z.string().min(1) }).optional(),
  }),
  trainRunResultSchema,
);
// ---------------------------------------------------------------------------------------------
// Data-parallel training (src/engine/training/parallel.ts): a worker holds a replica of the
// network and computes one share of each batch's gradient. Bulk data goes through shared memory
// (the weights, the share's rows, its gradient), the messages carry only what to do.
// ---------------------------------------------------------------------------------------------
const sharedBuffer = z.custom<SharedArrayBuffer>((v) => v instanceof SharedArrayBuffer, 'a SharedArrayBuffer');
const netSpecSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('layers'), topology: z.unknown() }),
  z.object({ kind: z.literal('onnx'), file: z.string().min(1) }),
]);
export const shardSpecSchema = z.object({
  net: netSpecSchema,
  shape: z.tuple([z.number().int().min(1), z.number().int().min(1), z.number().int().min(1)]),
  classes: z.number().int().min(2),
  normalization: z
    .object({
      scale: z.tuple([z.number().finite(), z.number().finite()]).optional(),
      mean: z.array(z.number().finite()),
      std: z.array(z.number().finite()),
    })
    .optional(),
  method: z.enum(TRAIN_METHODS),
  adv: z.object({
    eps: z.number().finite().min(0),
    norm: z.enum(NORMS).optional(),
    steps: z.number().int().min(1).optional(),
    stepRelative: z.number().finite().positive().optional(),
    warmupEpochs: z.number().int().min(0).optional(),
    beta: z.number().finite().min(0).optional(),
    advFraction: z.number().finite().gt(0).max(1).optional(),
    temperature: z.number().finite().optional(),
  }),
  phase: z.enum(['teacher', 'student']).optional(),
  teacher: z
    .object({ net: netSpecSchema, weights: z.custom<Float32Array>((v) => v instanceof Float32Array, 'a Float32Array') })
    .optional(),
  maxRows: z.number().int().min(1),
});
/** Starts a replica: `weights` is shared by all workers of the run; x, y and gradients are this worker's. */
export const TrainShardOpenRequest = request(
  'trainShardOpen',
  z.object({
    shardId: runIdSchema,
    backend: backendPreferenceSchema,
    spec: shardSpecSchema,
    buffers: z.object({ weights: sharedBuffer, x: sharedBuffer, y: sharedBuffer, gradients: sharedBuffer }),
  }),
  z.object({ parameters: z.number().int().min(0) }),
);
/** One batch's share: its rows are in x and y; the answer comes once its weighted gradient is in `gradients`. */
export const TrainShardStepRequest = request(
  'trainShardStep',
  z.object({
    shardId: runIdSchema,
    rows: z.number().int().min(1),
    weight: z.number().finite().positive().max(1),
    seed: z.number().int().min(0),
    eps: z.number().finite().min(0),
    /** AWP's rounds: keep x' after this step, or reuse the kept one (src/engine/training/parallel.ts). */
    awp: z.enum(['keep', 'reuse']).optional(),
  }),
  z.object({ loss: z.number(), correct: z.number().int().min(0) }),
);
export const TrainShardCloseRequest = request(
  'trainShardClose',
  z.object({ shardId: runIdSchema }),
  z.object({ closed: z.boolean() }),
);

export const CancelRequest = request('cancel', z.object({ runId: runIdSchema }), z.object({ cancelled: z.boolean() }));

export const progressParams = z.object({
  runId: runIdSchema,
  label: z.string(),
  done: z.number().min(0),
  total: z.number().min(0),
});
export type ProgressParams = z.infer<typeof progressParams>;
export const ProgressNotification = notification('progress', progressParams);

/**
 * One finished part of an evaluation, sent as it finishes: the clean accuracy (stage 0), each
 * attack of the list or suite, then the diagnostics, the geometry probe and the curve. A stage
 * with no point left to attack is `skipped` (a suite whose earlier stages fooled every point).
 */
export const finishedStageSchema = z.strictObject({
  kind: z.enum(STAGE_KINDS),
  /** 0 for clean, then 1…total in the order they run. */
  index: z.number().int().min(0),
  /** Stages after clean: the attacks, the diagnostics, the geometry, the curve (those the job runs). */
  total: z.number().int().min(0),
  label: z.string(),
  /** Clean and attacks: accuracy after the stage (a suite: on the points the earlier stages left). */
  accuracy: z.number().min(0).max(1).optional(),
  /** Clean and attacks: points still correct after the stage, of n. */
  robust: z.number().int().min(0).optional(),
  n: z.number().int().min(0),
  /** Attacks: the points this stage attacked (0: skipped). */
  attacked: z.number().int().min(0).optional(),
  forwardPasses: z.number().int().min(0).optional(),
  backwardPasses: z.number().int().min(0).optional(),
  /** Diagnostics: how many findings, and how many of them say the gradients mislead attacks. */
  findings: z.number().int().min(0).optional(),
  masking: z.number().int().min(0).optional(),
  /** Geometry and curve: one line of what was measured ("γ median 0.012", "ε=0…0.2, 6 points"). */
  detail: z.string().optional(),
  seconds: z.number().min(0).finite(),
  skipped: z.boolean().optional(),
});
export type FinishedStage = z.infer<typeof finishedStageSchema>;
export const stageParams = finishedStageSchema.extend({ runId: runIdSchema });
export type StageParams = z.infer<typeof stageParams>;
export const StageNotification = notification('stage', stageParams);

export const LOG_LEVELS = ['info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LogNotification = notification('log', z.object({ level: z.enum(LOG_LEVELS), message: z.string() }));

export const epochParams = epochMetricsSchema.extend({ runId: runIdSchema, epochs: z.number().int().min(1) });
export type EpochParams = z.infer<typeof epochParams>;
export const EpochNotification = notification('epoch', epochParams);

/**
 * Where a training run is between epochs: loading data, building the model, batch b of B, the
 * end-of-epoch checks, saving. The engine throttles it (each phase's start, each epoch's first and
 * last batch, and at most one other every 250 ms).
 */
export const trainProgressParams = trainPositionSchema.extend({ runId: runIdSchema });
export type TrainProgressParams = z.infer<typeof trainProgressParams>;
export const TrainProgressNotification = notification('trainProgress', trainProgressParams);

/** Requests the worker answers, keyed by method. */
export const WORKER_REQUESTS = methodTable({
  runAttack: RunAttackRequest,
  train: TrainRequest,
  cancel: CancelRequest,
  trainShardOpen: TrainShardOpenRequest,
  trainShardStep: TrainShardStepRequest,
  trainShardClose: TrainShardCloseRequest,
});
/** Notifications the worker sends, keyed by method. */
export const WORKER_NOTIFICATIONS = methodTable({
  progress: ProgressNotification,
  log: LogNotification,
  epoch: EpochNotification,
  stage: StageNotification,
  trainProgress: TrainProgressNotification,
});

export type WorkerRequestMethod = keyof typeof WORKER_REQUESTS;
export type WorkerNotificationMethod = keyof typeof WORKER_NOTIFICATIONS;
export type WorkerRequestParams = { [M in WorkerRequestMethod]: ParamsOf<(typeof WORKER_REQUESTS)[M]> };
export type WorkerRequestResults = { [M in WorkerRequestMethod]: ResultOf<(typeof WORKER_REQUESTS)[M]> };
export type WorkerNotificationParams = { [M in WorkerNotificationMethod]: ParamsOf<(typeof WORKER_NOTIFICATIONS)[M]> };

/** The worker's side: one handler per request, its result type checked against the descriptor's. */
export type WorkerRequestHandlers = {
  [M in WorkerRequestMethod]: (params: WorkerRequestParams[M]) => Promise<WorkerRequestResults[M]>;
};
/** The client's side: one listener per notification. */
export type WorkerNotificationHandlers = {
  [M in WorkerNotificationMethod]: (params: WorkerNotificationParams[M]) => void;
};

/** Calls the handler of `method`; the generic keeps the method, its params and its result together. */
export function dispatchRequest<M extends WorkerRequestMethod>(
  handlers: WorkerRequestHandlers,
  method: M,
  params: WorkerRequestParams[M],
): Promise<WorkerRequestResults[M]> {
  return handlers[method](params);
}

export function dispatchNotification<M extends WorkerNotificationMethod>(
  handlers: WorkerNotificationHandlers,
  method: M,
  params: WorkerNotificationParams[M],
): void {
  handlers[method](params);
}

// ---------------------------------------------------------------------------------------------
// Envelopes over the worker port
// ---------------------------------------------------------------------------------------------
export const errorInfoSchema = z.object({ name: z.string(), message: z.string() });
export type ErrorInfo = z.infer<typeof errorInfoSchema>;

const messageId = z.number().int().min(0);
export const workerEnvelope = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('request'), id: messageId, method: z.string(), params: z.unknown() }),
  z.object({
    kind: z.literal('response'),
    id: messageId,
    result: z.unknown().optional(),
    error: errorInfoSchema.optional(),
  }),
  z.object({ kind: z.literal('notification'), method: z.string(), params: z.unknown() }),
]);

export type WorkerRequestEnvelope = {
  [M in WorkerRequestMethod]: { kind: 'request'; id: number; method: M; params: WorkerRequestParams[M] };
}[WorkerRequestMethod];
export type WorkerNotificationEnvelope = {
  [M in WorkerNotificationMethod]: { kind: 'notification'; method: M; params: WorkerNotificationParams[M] };
}[WorkerNotificationMethod];
export type WorkerResponseEnvelope = { kind: 'response'; id: number; result?: unknown; error?: ErrorInfo };
export type WorkerEnvelope = WorkerRequestEnvelope | WorkerNotificationEnvelope | WorkerResponseEnvelope;

function isKey<T extends object>(table: T, key: string): key is Extract<keyof T, string> {
  return Object.hasOwn(table, key);
}

/**
 * Parses an envelope, then its params against the descriptor of its method. A response's result
 * is parsed by the caller, which knows the request it answers.
 */
export function parseWorkerMessage(raw: unknown): WorkerEnvelope {
  const envelope = workerEnvelope.parse(raw);
  if (envelope.kind === 'response') return envelope;
  const { method } = envelope;
  // The casts pair a method with the params its own schema has just parsed.
  if (envelope.kind === 'request') {
    if (!isKey(WORKER_REQUESTS, method)) throw new Error(`unknown request method "${method}"`);
    const params: unknown = WORKER_REQUESTS[method].params.parse(envelope.params);
    return { kind: 'request', id: envelope.id, method, params } as WorkerRequestEnvelope;
  }
  if (!isKey(WORKER_NOTIFICATIONS, method)) throw new Error(`unknown notification method "${method}"`);
  const params: unknown = WORKER_NOTIFICATIONS[method].params.parse(envelope.params);
  return { kind: 'notification', method, params } as WorkerNotificationEnvelope;
}
