/**
 * The engine host side in a worker thread: receives typed requests, streams progress, honours
 * cancel. Tensors never leave this thread; only report JSON and progress numbers do.
 */
import { parentPort } from 'node:worker_threads';
import { describeBackend, initBackend, runAttackJob, runTrainJob, type BackendChoice } from '../engine';
import {
  CancelRequest, EpochNotification, LogNotification, parseWorkerMessage, ProgressNotification, RunAttackRequest, TrainRequest,
  type NotificationType, type TrainResultSummary, type WorkerEnvelope,
} from '../protocol/messages';

const port = parentPort;
if (!port) throw new Error('engine-worker must run in a worker thread');

const running = new Map<string, AbortController>();
let backendReady: Promise<unknown> | undefined;
let backendWanted: BackendChoice | undefined;

function notify<P>(type: NotificationType<P>, params: P): void {
  port!.postMessage({ kind: 'notification', method: type.method, params });
}

function respond(id: number, result: unknown, error?: Error): void {
  port!.postMessage(error
    ? { kind: 'response', id, error: { name: error.name, message: error.message } }
    : { kind: 'response', id, result });
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

async function handle(message: WorkerEnvelope & { kind: 'request' }): Promise<unknown> {
  if (message.method === RunAttackRequest.method) {
    const { runId, job, backend } = RunAttackRequest.params.parse(message.params);
    await ensureBackend(backend);
    const controller = new AbortController();
    running.set(runId, controller);
    try {
      return await runAttackJob(job, `attack (editor run ${runId})`, {
        signal: controller.signal,
        onProgress: (p) => notify(ProgressNotification, { runId, ...p }),
        onWarning: (w) => notify(LogNotification, { level: 'warn', message: w }),
      });
    } finally {
      running.delete(runId);
    }
  }
  if (message.method === TrainRequest.method) {
    const { runId, job, backend, resume } = TrainRequest.params.parse(message.params);
    await ensureBackend(backend);
    const controller = new AbortController();
    running.set(runId, controller);
    try {
      const result = await runTrainJob(job, {
        signal: controller.signal,
        onProgress: (p) => notify(ProgressNotification, { runId, ...p }),
        onEpoch: (m, epochs) => notify(EpochNotification, {
          runId, epoch: m.epoch, epochs, loss: m.loss, trainAccuracy: m.trainAccuracy, testAccuracy: m.testAccuracy, seconds: m.seconds,
          ...(m.robustAccuracy !== undefined ? { robustAccuracy: m.robustAccuracy } : {}), ...(m.event ? { event: m.event } : {}),
        }),
      }, resume);
      return {
        modelFile: result.modelFile, seconds: result.seconds,
        epochs: result.history.map((m) => ({ ...m, epochs: job.epochs })),
      } satisfies TrainResultSummary;
    } finally {
      running.delete(runId);
    }
  }
  if (message.method === CancelRequest.method) {
    const { runId } = CancelRequest.params.parse(message.params);
    const controller = running.get(runId);
    controller?.abort();
    return { cancelled: Boolean(controller) };
  }
  throw new Error(`unknown request "${message.method}"`);
}

port.on('message', (raw: unknown) => {
  let message: WorkerEnvelope;
  try {
    message = parseWorkerMessage(raw);
  } catch (err) {
    notify(LogNotification, { level: 'error', message: `engine worker: malformed message rejected: ${(err as Error).message}` });
    const id = (raw as { id?: unknown })?.id;
    if (typeof id === 'number') respond(id, undefined, err as Error);
    return;
  }
  if (message.kind !== 'request') return;
  handle(message).then((result) => respond(message.id, result), (err: Error) => respond(message.id, undefined, err));
});
