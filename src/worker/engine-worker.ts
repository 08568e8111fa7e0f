/**
 * The engine host side in a worker thread: receives typed requests, streams progress, honours
 * cancel. Tensors never leave this thread; only report JSON and progress numbers do.
 */
import { parentPort } from 'node:worker_threads';
import { describeBackend, initBackend, runAttackJob, runTrainJob, type BackendChoice } from '../engine';
import type * as Coordinator from '../cluster/coordinator';
import type * as Sweep from '../cluster/sweep';
import { openShard, type ShardRunner, type ShardSpec } from '../engine/training/parallel';
import type { NotificationType } from '../protocol/messages/descriptors';
import { threadPeers } from './train-pool';
import {
  dispatchRequest,
  EpochNotification,
  LogNotification,
  parseWorkerMessage,
  ProgressNotification,
  StageNotification,
  TrainProgressNotification,
  type WorkerEnvelope,
  type WorkerRequestHandlers,
} from '../protocol/messages/worker';

const port = parentPort;
if (!port) throw new Error('engine-worker must run in a worker thread');

const running = new Map<string, AbortController>();
/** Replicas this worker holds for data-parallel training runs, by share id. */
const shards = new Map<string, ShardRunner>();
let backendReady: Promise<unknown> | undefined;
let backendWanted: BackendChoice | undefined;

function notify<M extends string, P>(type: NotificationType<M, P>, params: P): void {
  port!.postMessage({ kind: 'notification', method: type.method, params });
}

function respond(id: number, result: unknown, error?: Error): void {
  port!.postMessage(
    error
      ? { kind: 'response', id, error: { name: error.name, message: error.message } }
      : { kind: 'response', id, result },
  );
}

async function ensureBackend(choice: BackendChoice): Promise<void> {
  if (!backendReady || backendWanted !== choice) {
    backendWanted = choice;
    backendReady = initBackend(choice).then((info) => {
      notify(LogNotification, { level: 'info', message: `engine worker: backend ${describeBackend(info)}` });
      info.notes.forEach((n) => notify(LogNotification, { level: 'info', message: n }));
    });
  }
  await backendReady;
}

/** Runs `work` as `runId`, cancellable by a cancel request until it settles. */
async function cancellable<T>(runId: string, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  running.set(runId, controller);
  try {
    return await work(controller.signal);
  } finally {
    running.delete(runId);
  }
}

const handlers: WorkerRequestHandlers = {
  runAttack: async ({ runId, job, backend, keepPartial, cluster }) => {
    await ensureBackend(backend);
    // On the cluster this thread only coordinates: the shards run on the workers, their merged
    // progress and stages stream back as a local run's do; a cancel removes the waiting shards.
    if (cluster) {
      // Loaded on the first cluster run only: BullMQ and ioredis would add to every thread's start.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { runAttackOnCluster } = require('../cluster/coordinator') as typeof Coordinator;
      return cancellable(runId, (signal) =>
        runAttackOnCluster(job, {
          redis: cluster.redis,
          ...(cluster.shardSize ? { shardSize: cluster.shardSize } : {}),
          command: `attack (editor run ${runId}, cluster)`,
          signal,
          onProgress: (p) => notify(ProgressNotification, { runId, ...p }),
          onStage: (stage) => notify(StageNotification, { runId, ...stage }),
          onLog: (message) => notify(LogNotification, { level: 'info', message }),
        }),
      );
    }
    return cancellable(runId, (signal) =>
      runAttackJob(job, `attack (editor run ${runId})`, {
        signal,
        onProgress: (p) => notify(ProgressNotification, { runId, ...p }),
        onStage: (stage) => notify(StageNotification, { runId, ...stage }),
        onWarning: (w) => notify(LogNotification, { level: 'warn', message: w }),
        ...(keepPartial ? { keepPartial } : {}),
      }),
    );
  },
  train: async ({ runId, job, backend, resume, cluster }) => {
    // On the cluster a worker there trains; this thread streams its epochs and progress back and,
    // when it ends (or stops), brings its folder (or its last checkpoint) into job.out.
    if (cluster) {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { runTrainOnCluster } = require('../cluster/sweep') as typeof Sweep;
      const { modelFile, result } = await cancellable(runId, (signal) =>
        runTrainOnCluster(job, {
          redis: cluster.redis,
          resume,
          signal,
          onEpoch: (epoch) => notify(EpochNotification, { ...epoch, runId }),
          onTrainProgress: (p) => notify(TrainProgressNotification, { runId, ...p }),
          onLog: (message) => notify(LogNotification, { level: 'info', message }),
        }),
      );
      return {
        modelFile,
        seconds: result.seconds,
        notes: [
          `trained on the cluster by ${result.worker}` +
            (result.resumedAfter ? ` (resumed after epoch ${result.resumedAfter})` : ''),
        ],
        epochs: result.epochs,
      };
    }
    await ensureBackend(backend);
    const result = await cancellable(runId, (signal) =>
      runTrainJob(
        job,
        {
          signal,
          // The batches go out as trainProgress (throttled by the engine), not one progress message each.
          onTrainProgress: (p) => notify(TrainProgressNotification, { runId, ...p }),
          onEpoch: (metrics, epochs) => notify(EpochNotification, { ...metrics, runId, epochs }),
          // Workers 2…N of a split run: more engine workers, started from this same bundle.
          trainPeers: threadPeers({
            script: __filename,
            backend,
            onLog: (level, message) => notify(LogNotification, { level, message: `training worker: ${message}` }),
          }),
        },
        resume,
      ),
    );
    return {
      modelFile: result.modelFile,
      seconds: result.seconds,
      ...(result.notes.length ? { notes: result.notes } : {}),
      epochs: result.history.map((metrics) => ({ ...metrics, epochs: job.epochs })),
    };
  },
  trainShardOpen: async ({ shardId, backend, spec, buffers }) => {
    await ensureBackend(backend);
    const runner = await openShard(spec as ShardSpec, {
      weights: new Float32Array(buffers.weights),
      x: new Float32Array(buffers.x),
      y: new Int32Array(buffers.y),
      gradients: new Float32Array(buffers.gradients),
    });
    shards.get(shardId)?.dispose();
    shards.set(shardId, runner);
    return { parameters: runner.parameters };
  },
  trainShardStep: async ({ shardId, ...step }) => {
    const runner = shards.get(shardId);
    if (!runner) throw new Error(`no training share "${shardId}" is open in this worker`);
    return runner.step(step);
  },
  trainShardClose: async ({ shardId }) => {
    const runner = shards.get(shardId);
    runner?.dispose();
    shards.delete(shardId);
    return { closed: Boolean(runner) };
  },
  cancel: async ({ runId }) => {
    const controller = running.get(runId);
    controller?.abort();
    return { cancelled: Boolean(controller) };
  },
};

port.on('message', (raw: unknown) => {
  let message: WorkerEnvelope;
  try {
    message = parseWorkerMessage(raw);
  } catch (err) {
    notify(LogNotification, {
      level: 'error',
      message: `engine worker: malformed message rejected: ${(err as Error).message}`,
    });
    const id = (raw as { id?: unknown })?.id;
    if (typeof id === 'number') respond(id, undefined, err as Error);
    return;
  }
  if (message.kind !== 'request') return;
  const { id } = message;
  dispatchRequest(handlers, message.method, message.params).then(
    (result) => respond(id, result),
    (err: Error) => respond(id, undefined, err),
  );
});
