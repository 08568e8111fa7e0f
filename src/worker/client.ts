/**
 * The host's side of an engine worker: typed requests with progress, cancellation, and a clear
 * error when the worker dies (crash or out of memory) so the caller can restart it.
 */
import { Worker } from 'node:worker_threads';
import type { AttackJob, TrainJob } from '../protocol/jobs';
import type { RequestType } from '../protocol/messages/descriptors';
import {
  CancelRequest,
  dispatchNotification,
  parseWorkerMessage,
  RunAttackRequest,
  TrainRequest,
  type EpochParams,
  type LogLevel,
  type ProgressParams,
  type StageParams,
  type TrainProgressParams,
  type TrainRunResult,
  type WorkerNotificationHandlers,
} from '../protocol/messages/worker';
import type { BackendPreference } from '../protocol/vocabulary';
import type { Report } from '../protocol/report';

/** The worker stopped while requests were in flight. */
export class EngineCrashError extends Error {
  override readonly name = 'EngineCrashError';
}

/** An error the engine raised for a request, with the engine's error name (InputError, AbortError, …). */
export class EngineError extends Error {
  constructor(
    readonly engineName: string,
    message: string,
  ) {
    super(message);
    this.name = engineName;
  }
}

interface Pending {
  /** Parses the result against the request's descriptor, then resolves. */
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
}

export interface EngineClientOptions {
  /** Path of the bundled worker (dist/worker.js). */
  script: string;
  /** Heap limit of the worker in MB; exceeding it ends the worker, not the host. */
  maxOldGenerationSizeMb?: number;
  onLog?: (level: LogLevel, message: string) => void;
  onExit?: (error: EngineCrashError | undefined) => void;
}

/** An attack run's extras: its finished stages as they come, and a partial report on cancel. */
export interface AttackRunOptions {
  onStage?: (stage: StageParams) => void;
  /** A cancel after clean accuracy resolves with the report of what finished (`report.partial`). */
  keepPartial?: boolean;
  /** Coordinate the run on the workers of this Redis (src/cluster/coordinator.ts) instead of computing it here. */
  cluster?: { redis: string; shardSize?: number };
}

/** What a training run reports while it runs: progress, each finished epoch, its phase and batch. */
export interface TrainListeners {
  onProgress?: (p: ProgressParams) => void;
  onEpoch?: (p: EpochParams) => void;
  onTrainProgress?: (p: TrainProgressParams) => void;
}

export class EngineClient {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private readonly progressListeners = new Map<string, (p: ProgressParams) => void>();
  private readonly epochListeners = new Map<string, (p: EpochParams) => void>();
  private readonly stageListeners = new Map<string, (p: StageParams) => void>();
  private readonly trainProgressListeners = new Map<string, (p: TrainProgressParams) => void>();
  private nextId = 0;
  private exited = false;
  private readonly notificationHandlers: WorkerNotificationHandlers = {
    progress: (p) => this.progressListeners.get(p.runId)?.(p),
    epoch: (p) => this.epochListeners.get(p.runId)?.(p),
    stage: (p) => this.stageListeners.get(p.runId)?.(p),
    log: ({ level, message }) => this.options.onLog?.(level, message),
    trainProgress: (p) => this.trainProgressListeners.get(p.runId)?.(p),
  };

  constructor(private readonly options: EngineClientOptions) {
    this.worker = new Worker(options.script, {
      resourceLimits: { maxOldGenerationSizeMb: options.maxOldGenerationSizeMb ?? 4096 },
    });
    this.worker.on('message', (raw) => this.receive(raw));
    this.worker.on('error', (err) => this.fail(new EngineCrashError(`the engine worker crashed: ${err.message}`)));
    this.worker.on('exit', (code) =>
      this.fail(code === 0 ? undefined : new EngineCrashError(`the engine worker exited with code ${code}`)),
    );
  }

  get alive(): boolean {
    return !this.exited;
  }

  private receive(raw: unknown): void {
    let message;
    try {
      message = parseWorkerMessage(raw);
    } catch (err) {
      this.options.onLog?.('error', `malformed message from the engine worker: ${(err as Error).message}`);
      return;
    }
    if (message.kind === 'response') {
      const pending = this.pending.get(message.id);
      this.pending.delete(message.id);
      if (message.error) pending?.reject(new EngineError(message.error.name, message.error.message));
      else pending?.resolve(message.result);
    } else if (message.kind === 'notification') {
      dispatchNotification(this.notificationHandlers, message.method, message.params);
    }
  }

  private fail(error: EngineCrashError | undefined): void {
    if (this.exited) return;
    this.exited = true;
    const reason = error ?? new EngineCrashError('the engine worker stopped');
    for (const p of this.pending.values()) p.reject(reason);
    this.pending.clear();
    this.options.onExit?.(error);
  }

  request<M extends string, P, R>(type: RequestType<M, P, R>, params: P): Promise<R> {
    if (this.exited) return Promise.reject(new EngineCrashError('the engine worker is not running'));
    const id = this.nextId++;
    return new Promise<R>((resolve, reject) => {
      const settle = (value: unknown) => {
        const parsed = type.result.safeParse(value);
        if (parsed.success) resolve(parsed.data);
        else
          reject(
            new EngineError(
              'ProtocolError',
              `the engine worker answered ${type.method} with a malformed result: ` +
                `${parsed.error.message.slice(0, 300)}`,
            ),
          );
      };
      this.pending.set(id, { resolve: settle, reject });
      this.worker.postMessage({ kind: 'request', id, method: type.method, params });
    });
  }

  async runAttack(
    runId: string,
    job: AttackJob,
    backend: BackendPreference,
    onProgress?: (p: ProgressParams) => void,
    options: AttackRunOptions = {},
  ): Promise<Report> {
    if (onProgress) this.progressListeners.set(runId, onProgress);
    if (options.onStage) this.stageListeners.set(runId, options.onStage);
    try {
      return await this.request(RunAttackRequest, {
        runId,
        job,
        backend,
        ...(options.keepPartial ? { keepPartial: true } : {}),
        ...(options.cluster ? { cluster: options.cluster } : {}),
      });
    } finally {
      this.progressListeners.delete(runId);
      this.stageListeners.delete(runId);
    }
  }

  async train(
    runId: string,
    job: TrainJob,
    backend: BackendPreference,
    resume: boolean,
    listeners: TrainListeners = {},
    /** Train on a worker of this Redis (src/cluster/sweep.ts runTrainOnCluster) instead of here. */
    cluster?: { redis: string },
  ): Promise<TrainRunResult> {
    if (listeners.onProgress) this.progressListeners.set(runId, listeners.onProgress);
    if (listeners.onEpoch) this.epochListeners.set(runId, listeners.onEpoch);
    if (listeners.onTrainProgress) this.trainProgressListeners.set(runId, listeners.onTrainProgress);
    try {
      return await this.request(TrainRequest, { runId, job, backend, resume, ...(cluster ? { cluster } : {}) });
    } finally {
      this.progressListeners.delete(runId);
      this.epochListeners.delete(runId);
      this.trainProgressListeners.delete(runId);
    }
  }

  cancel(runId: string): Promise<{ cancelled: boolean }> {
    return this.request(CancelRequest, { runId });
  }

  /** Test hook and last resort: posts a raw message, bypassing the typed API. */
  postRaw(message: unknown): void {
    this.worker.postMessage(message);
  }

  /** Ends the thread as a crash would: requests in flight reject with EngineCrashError (tests). */
  kill(): void {
    void this.worker.terminate();
  }

  async dispose(): Promise<void> {
    this.exited = true;
    await this.worker.terminate();
  }
}
