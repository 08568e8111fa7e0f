/**
 * Owns the engine worker: starts it on first use, restarts it after a crash, logs what it says,
 * and runs one job at a time.
 */
import * as path from 'node:path';
import type * as vscode from 'vscode';
import type { AttackJob, TrainJob } from '../protocol/jobs';
import type { BackendPreference, EpochParams, ProgressParams, TrainResultSummary } from '../protocol/messages';
import type { Report } from '../protocol/report';
import { EngineClient, EngineCrashError } from '../worker/client';

export class EngineHost {
  private client: EngineClient | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private running = new Set<string>();

  constructor(private readonly extensionPath: string, private readonly log: vscode.LogOutputChannel) {}

  private ensure(): EngineClient {
    if (!this.client || !this.client.alive) {
      const started = Date.now();
      this.client = new EngineClient({
        script: path.join(this.extensionPath, 'dist', 'worker.js'),
        onLog: (level, message) => this.log[level](message),
        onExit: (error) => {
          if (error) this.log.error(`engine worker stopped: ${error.message}; it restarts on the next run`);
        },
      });
      this.log.info(`engine worker started (${Date.now() - started} ms to spawn)`);
    }
    return this.client;
  }

  isRunning(runId: string): boolean {
    return this.running.has(runId);
  }

  /** Runs one job at a time on the worker; `runId` is running from when it starts until it settles. */
  private enqueue<T>(runId: string, work: (client: EngineClient) => Promise<T>): Promise<T> {
    const run = async () => {
      this.running.add(runId);
      try {
        return await work(this.ensure());
      } finally {
        this.running.delete(runId);
      }
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  runAttack(runId: string, job: AttackJob, backend: BackendPreference, onProgress: (p: ProgressParams) => void): Promise<Report> {
    return this.enqueue(runId, (client) => client.runAttack(runId, job, backend, onProgress));
  }

  train(runId: string, job: TrainJob, backend: BackendPreference, resume: boolean,
    listeners: { onProgress: (p: ProgressParams) => void; onEpoch: (p: EpochParams) => void }): Promise<TrainResultSummary> {
    return this.enqueue(runId, (client) => client.train(runId, job, backend, resume, listeners));
  }

  async cancel(runId: string): Promise<boolean> {
    if (!this.client?.alive || !this.running.has(runId)) return false;
    return (await this.client.cancel(runId)).cancelled;
  }

  async dispose(): Promise<void> {
    await this.client?.dispose();
  }
}

export function isCrash(err: unknown): err is EngineCrashError {
  return err instanceof EngineCrashError;
}
