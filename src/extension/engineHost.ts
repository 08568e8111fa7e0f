/**
 * Owns the engine worker: starts it on first use, restarts it after a crash, logs what it says,
 * and runs one job at a time.
 */
import * as path from 'node:path';
import type * as vscode from 'vscode';
import type { AttackJob } from '../protocol/jobs';
import type { BackendPreference, ProgressParams } from '../protocol/messages';
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

  runAttack(runId: string, job: AttackJob, backend: BackendPreference, onProgress: (p: ProgressParams) => void): Promise<Report> {
    const run = async () => {
      this.running.add(runId);
      try {
        return await this.ensure().runAttack(runId, job, backend, onProgress);
      } finally {
        this.running.delete(runId);
      }
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
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
