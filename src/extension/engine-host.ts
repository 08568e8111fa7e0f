/**
 * Owns the engine worker: starts it on first use, restarts it after a crash, logs what it says,
 * and runs one job at a time.
 */
import * as path from 'node:path';
import type * as vscode from 'vscode';
import type { AttackJob, TrainJob } from '../protocol/jobs';
import type { FinishedStage, ProgressParams, TrainRunResult } from '../protocol/messages/worker';
import type { BackendPreference } from '../protocol/vocabulary';
import type { Report } from '../protocol/report';
import { EngineClient, EngineCrashError, type AttackRunOptions, type TrainListeners } from '../worker/client';
import { runAttackParallel } from '../worker/pool';

/** How long a cancelled cluster run may take to remove its shards before it ends here anyway. */
export const CLUSTER_CANCEL_GRACE_MS = 10_000;

/** Below this many images a split is not worth the extra workers' start-up (~0.5 s each), as in the CLI. */
export const PARALLEL_MIN_IMAGES = 200;

/** A run cancelled before its turn; named like the engine's AbortError so callers treat both alike. */
class QueuedRunCancelled extends Error {
  override readonly name = 'AbortError';
}

export class EngineHost {
  private client: EngineClient | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private running = new Set<string>();
  /** Runs waiting for the worker, in order; cancelling one drops it before it starts. */
  private waiting = new Map<string, AbortController>();
  /** Evaluations split across extra workers (robustness.workers > 1): cancelling one aborts them all. */
  private parallel = new Map<string, AbortController>();
  /**
   * The thread that coordinates cluster runs (robustness.cluster.redisUrl): it waits on Redis while
   * the workers compute, so its runs neither queue behind the engine worker's nor hold it up.
   */
  private clusterClient: EngineClient | undefined;
  /** Cluster runs in flight; `abandon` ends one here when the cluster does not confirm its cancel. */
  private clusterRuns = new Map<string, { abandon: (err: Error) => void }>();

  /** `workers`: how many workers one evaluation is split across (the robustness.workers setting). */
  constructor(
    private readonly extensionPath: string,
    private readonly log: vscode.LogOutputChannel,
    private readonly workers: () => number = () => 1,
    /** How long a cancelled cluster run may take to stop before it ends here anyway (Redis gone). */
    private readonly clusterCancelGraceMs = CLUSTER_CANCEL_GRACE_MS,
  ) {}

  private ensure(): EngineClient {
    if (!this.client || !this.client.alive) this.client = this.spawn('engine worker');
    return this.client;
  }

  private spawn(name: string): EngineClient {
    const started = Date.now();
    const client = new EngineClient({
      script: path.join(this.extensionPath, 'dist', 'worker.js'),
      onLog: (level, message) => this.log[level](message),
      onExit: (error) => {
        if (error) this.log.error(`${name} stopped: ${error.message}; it restarts on the next run`);
      },
    });
    this.log.info(`${name} started (${Date.now() - started} ms to spawn)`);
    return client;
  }

  isRunning(runId: string): boolean {
    return this.running.has(runId) || this.clusterRuns.has(runId);
  }

  /** How many runs wait for the worker; a new run starts after all of them and the current one. */
  get queued(): number {
    return this.waiting.size + this.running.size;
  }

  /**
   * Runs one job at a time on the worker; `runId` is waiting until its turn, then running until it
   * settles. A run cancelled while waiting rejects with an AbortError and never reaches the worker.
   */
  private enqueue<T>(runId: string, work: (client: EngineClient) => Promise<T>): Promise<T> {
    const waiting = new AbortController();
    this.waiting.set(runId, waiting);
    const dropped = () => new QueuedRunCancelled(`run ${runId} (cancelled while queued) aborted`);
    const run = async () => {
      this.waiting.delete(runId);
      if (waiting.signal.aborted) throw dropped();
      this.running.add(runId);
      try {
        return await work(this.ensure());
      } finally {
        this.running.delete(runId);
      }
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    // A cancelled waiting run settles now, not when the runs ahead of it finish.
    const cancelled = new Promise<never>((_, reject) =>
      waiting.signal.addEventListener('abort', () => reject(dropped()), { once: true }),
    );
    return Promise.race([result, cancelled]);
  }

  /**
   * How many workers `job` is split across: the robustness.workers setting from PARALLEL_MIN_IMAGES
   * images on, else 1. A split run streams merged stages but keeps no partial report on cancel.
   */
  workersFor(job: AttackJob): number {
    return job.n >= PARALLEL_MIN_IMAGES ? Math.min(this.workers(), job.n) : 1;
  }

  runAttack(
    runId: string,
    job: AttackJob,
    backend: BackendPreference,
    onProgress: (p: ProgressParams) => void,
    options: AttackRunOptions = {},
  ): Promise<Report> {
    const workers = this.workersFor(job);
    // A split run streams its merged stages; a partial report on cancel is a single worker's (one report to keep).
    if (workers > 1)
      return this.enqueue(runId, () => this.runParallel(runId, job, backend, workers, onProgress, options.onStage));
    return this.enqueue(runId, (client) => client.runAttack(runId, job, backend, onProgress, options));
  }

  /** One evaluation split into consecutive slices of its images, each on a worker of its own, then merged. */
  private async runParallel(
    runId: string,
    job: AttackJob,
    backend: BackendPreference,
    workers: number,
    onProgress: (p: ProgressParams) => void,
    onStage: AttackRunOptions['onStage'],
  ): Promise<Report> {
    const abort = new AbortController();
    this.parallel.set(runId, abort);
    this.log.info(`run ${runId}: split across ${workers} workers`);
    try {
      return await runAttackParallel(job, {
        script: path.join(this.extensionPath, 'dist', 'worker.js'),
        workers,
        backend,
        runId,
        signal: abort.signal,
        onProgress: (p) => onProgress({ runId, ...p }),
        ...(onStage ? { onStage: (stage: FinishedStage) => onStage({ runId, ...stage }) } : {}),
        onLog: (level, message) => this.log[level](message),
      });
    } finally {
      this.parallel.delete(runId);
    }
  }

  /**
   * Runs `job` on the cluster at `cluster.redis`: its shards on the workers there, this host's
   * coordinator thread streaming their merged progress and stages. Not queued behind local runs.
   * A cancel removes the waiting shards; running ones stop at their worker's next step.
   */
  async runOnCluster(
    runId: string,
    job: AttackJob,
    backend: BackendPreference,
    cluster: { redis: string; shardSize?: number },
    onProgress: (p: ProgressParams) => void,
    onStage?: AttackRunOptions['onStage'],
  ): Promise<Report> {
    return this.onCluster(runId, (client) =>
      client.runAttack(runId, job, backend, onProgress, { cluster, ...(onStage ? { onStage } : {}) }),
    );
  }

  /**
   * Trains `job` on a worker of the cluster at `cluster.redis`, this host's coordinator thread
   * streaming its epochs and progress; the run's folder comes back into job.out. Not queued behind
   * local runs. A cancel stops the run at its worker's next step; its last checkpoint comes back.
   */
  async trainOnCluster(
    runId: string,
    job: TrainJob,
    backend: BackendPreference,
    resume: boolean,
    cluster: { redis: string },
    listeners: TrainListeners,
  ): Promise<TrainRunResult> {
    return this.onCluster(runId, (client) => client.train(runId, job, backend, resume, listeners, cluster));
  }

  /**
   * `start` on this host's coordinator thread (started again if it died), not queued behind local
   * runs; the run can be abandoned by id while it lasts.
   */
  private async onCluster<T>(runId: string, start: (client: EngineClient) => Promise<T>): Promise<T> {
    if (!this.clusterClient || !this.clusterClient.alive) this.clusterClient = this.spawn('cluster coordinator');
    let abandon: (err: Error) => void = () => {};
    const abandoned = new Promise<never>((_, reject) => (abandon = reject));
    this.clusterRuns.set(runId, { abandon });
    try {
      return await Promise.race([start(this.clusterClient), abandoned]);
    } finally {
      this.clusterRuns.delete(runId);
    }
  }

  train(
    runId: string,
    job: TrainJob,
    backend: BackendPreference,
    resume: boolean,
    listeners: TrainListeners,
  ): Promise<TrainRunResult> {
    return this.enqueue(runId, (client) => client.train(runId, job, backend, resume, listeners));
  }

  async cancel(runId: string): Promise<boolean> {
    const waiting = this.waiting.get(runId);
    if (waiting) {
      waiting.abort();
      return true;
    }
    const parallel = this.parallel.get(runId);
    if (parallel) {
      parallel.abort();
      return true;
    }
    if (this.clusterRuns.has(runId)) return this.cancelClusterRun(runId);
    if (!this.client?.alive || !this.running.has(runId)) return false;
    return (await this.client.cancel(runId)).cancelled;
  }

  /**
   * The coordinator thread knows a run once its backend is up (a moment after the request): a
   * cancel that comes before is tried again until the thread has the run or it has settled.
   */
  private async cancelClusterRun(runId: string): Promise<boolean> {
    for (let tries = 0; tries < 50 && this.clusterRuns.has(runId); tries++) {
      if (!this.clusterClient?.alive) return false;
      if ((await this.clusterClient.cancel(runId)).cancelled) {
        this.abandonUnlessStopped(runId);
        return true;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    return false;
  }

  /**
   * A cancelled cluster run stops once its coordinator has removed its shards from Redis. With
   * Redis gone that never happens: after the grace time the run ends here as cancelled, and the
   * coordinator thread, when it holds no other run, is stopped (it restarts on the next run).
   */
  private abandonUnlessStopped(runId: string): void {
    const timer = setTimeout(() => {
      const run = this.clusterRuns.get(runId);
      if (!run) return;
      this.log.warn(
        `run ${runId}: the cluster did not confirm the cancel within ${this.clusterCancelGraceMs / 1000} s ` +
          '(is Redis reachable?); the run ends here, and shards it could not remove may still be run by a worker',
      );
      this.clusterRuns.delete(runId);
      run.abandon(Object.assign(new Error(`run ${runId} cancelled`), { name: 'AbortError' }));
      if (this.clusterRuns.size === 0) {
        const client = this.clusterClient;
        this.clusterClient = undefined;
        void client?.dispose();
      }
    }, this.clusterCancelGraceMs);
    timer.unref?.();
  }

  async dispose(): Promise<void> {
    await Promise.all([this.client?.dispose(), this.clusterClient?.dispose()]);
  }
}

export function isCrash(err: unknown): err is EngineCrashError {
  return err instanceof EngineCrashError;
}
