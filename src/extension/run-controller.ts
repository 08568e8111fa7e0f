/**
 * One run's life, the same for attack, evaluate, spec and training runs: its record in the run
 * store, the work on the engine, then done, cancelled or failed written back, the language server
 * told (its lenses refresh) and, on failure, an error with "Show Log".
 */
import type { RunFinishedParams } from '../protocol/messages/lsp';
import type { RunRecord, RunStore } from '../store/runs';

export type RunEnd = RunFinishedParams['status'];

/** What a run needs from the editor: the extension context provides it, tests pass a fake. */
export interface RunHost {
  readonly log: { info(message: string): void; error(message: string): void; show(): void };
  /** Redraws the Runs view. */
  refreshRuns(): void;
  runFinished(params: RunFinishedParams): void;
  showError(message: string, ...actions: string[]): PromiseLike<string | undefined>;
}

/** How one kind of run ends: attack runs and training runs differ only here. */
export interface RunOutcome<R> {
  /** Writes a finished run's result to the store and shows it; returns the log line. */
  done(result: R): string;
  /** The error a failed run stores and shows. */
  failureMessage(err: Error): string;
  /** The log line of a cancelled run. */
  cancelledLine(runId: string): string;
  /** The log line of a failed run. */
  failedLine(runId: string, message: string): string;
  /** The error notification of a failed run (it offers "Show Log"). */
  failureNotice(message: string): string;
  /** The panel follows a run that was cancelled or failed. */
  ended?(end: Exclude<RunEnd, 'done'>, message?: string): void;
  /** Runs last, whatever the end: drop live state, redraw panels. */
  settled?(): void;
}

const SHOW_LOG = 'Show Log';

/** The engine's and the host queue's cancellation error. */
export function isCancellation(err: Error): boolean {
  return err.name === 'AbortError';
}

export class RunController {
  private constructor(private readonly host: RunHost, readonly store: RunStore, readonly folder: string,
    readonly runId: string) {}

  /** Records a new run as running. */
  static start(host: RunHost, store: RunStore, folder: string, record: Omit<RunRecord, 'status'>): RunController {
    store.create({ ...record, status: 'running' });
    return new RunController(host, store, folder, record.id);
  }

  /** Marks a stored run as running again (a resumed training run). */
  static resume(host: RunHost, store: RunStore, folder: string, runId: string): RunController {
    store.update(runId, { status: 'running' });
    return new RunController(host, store, folder, runId);
  }

  /** Runs `work` to its end and records how it ended; never throws. */
  async run<R>(work: () => Promise<R>, outcome: RunOutcome<R>): Promise<RunEnd> {
    const { host, store, runId } = this;
    let end: RunEnd = 'failed';
    try {
      const result = await work();
      end = 'done';
      host.log.info(outcome.done(result));
    } catch (caught) {
      const err = caught instanceof Error ? caught : new Error(String(caught));
      const finished = new Date().toISOString();
      if (isCancellation(err)) {
        end = 'cancelled';
        store.update(runId, { status: 'cancelled', finished });
        outcome.ended?.('cancelled');
        host.log.info(outcome.cancelledLine(runId));
      } else {
        const message = outcome.failureMessage(err);
        store.update(runId, { status: 'failed', error: message, finished });
        outcome.ended?.('failed', message);
        host.log.error(outcome.failedLine(runId, message));
        void host.showError(outcome.failureNotice(message), SHOW_LOG).then((action) => {
          if (action === SHOW_LOG) host.log.show();
        });
      }
    } finally {
      outcome.settled?.();
      host.refreshRuns();
      host.runFinished({ runId, folder: this.folder, status: end });
    }
    return end;
  }
}
