/**
 * One run's life, the same for attack, evaluate, spec and training runs: its record in the run
 * store, the work on the engine, then done, cancelled or failed written back, the language server
 * told (its lenses refresh) and, on failure, an error with "Show Log". A run starts or resumes
 * only in a folder the run guard accepted (a GuardedPlacement), whose run store holds its record.
 */
import * as path from 'node:path';
import { writeFileAtomic } from '../common/atomic-write';
import type { RunFinishedParams } from '../protocol/messages/lsp';
import type { Report } from '../protocol/report';
import { RunStore, type RunRecord } from '../store/runs';
import type { GuardedPlacement } from './run-placement';

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
  /** The panel follows a run that was cancelled (with what finished, if kept) or failed. */
  ended?(end: Exclude<RunEnd, 'done'>, message?: string, partial?: R): void;
  /**
   * A run cancelled with what finished (a CancelledWithPartial): stores it, and returns the
   * fields its record gains (e.g. cancelledAfter).
   */
  keepPartial?(partial: R): Partial<RunRecord>;
  /** Called every second while the run runs: the status bar's elapsed time keeps counting. */
  tick?(): void;
  /** Runs last, whatever the end: drop live state, redraw panels. */
  settled?(): void;
}

/**
 * A cancelled run that still has a result: the stages that finished before the cancel. Named
 * AbortError, so everything that treats a cancel as a cancel still does.
 */
export class CancelledWithPartial<R> extends Error {
  override readonly name = 'AbortError';
  constructor(
    readonly partial: R,
    readonly after: string,
  ) {
    super(`cancelled after ${after}`);
  }
}

/** How often `tick` runs while a run runs. */
export const TICK_MS = 1000;

const SHOW_LOG = 'Show Log';

/** The engine's and the host queue's cancellation error. */
export function isCancellation(err: Error): boolean {
  return err.name === 'AbortError';
}

export class RunController {
  readonly folder: string;

  private constructor(
    private readonly host: RunHost,
    readonly store: RunStore,
    placement: GuardedPlacement,
    readonly runId: string,
  ) {
    this.folder = placement.folder;
  }

  /** Records a new run as running, in the run store of the folder the guard accepted. */
  static start(host: RunHost, placement: GuardedPlacement, record: Omit<RunRecord, 'status'>): RunController {
    const store = new RunStore(placement.folder);
    store.create({ ...record, status: 'running' });
    return new RunController(host, store, placement, record.id);
  }

  /** Marks a stored run of the guarded folder as running again (a resumed training run). */
  static resume(host: RunHost, placement: GuardedPlacement, runId: string): RunController {
    const store = new RunStore(placement.folder);
    store.update(runId, { status: 'running' });
    return new RunController(host, store, placement, runId);
  }

  /** Runs `work` to its end and records how it ended; never throws. */
  async run<R>(work: () => Promise<R>, outcome: RunOutcome<R>, tickMs = TICK_MS): Promise<RunEnd> {
    const { host, store, runId } = this;
    let end: RunEnd = 'failed';
    const ticker = outcome.tick ? setInterval(() => outcome.tick?.(), tickMs) : undefined;
    try {
      const result = await work();
      // Done once its record says so: a store that cannot be written makes the run a failure.
      const line = outcome.done(result);
      end = 'done';
      host.log.info(line);
    } catch (caught) {
      const err = caught instanceof Error ? caught : new Error(String(caught));
      const finished = new Date().toISOString();
      if (isCancellation(err)) {
        end = 'cancelled';
        const partial = err instanceof CancelledWithPartial ? (err.partial as R) : undefined;
        let kept: Partial<RunRecord> = {};
        try {
          if (partial !== undefined) kept = outcome.keepPartial?.(partial) ?? {};
        } catch (keepErr) {
          // The run still ends cancelled; only what finished is lost.
          host.log.error(`run ${runId}: the partial report could not be written: ${(keepErr as Error).message}`);
        }
        store.update(runId, { ...kept, status: 'cancelled', finished });
        outcome.ended?.('cancelled', undefined, partial);
        host.log.info(
          outcome.cancelledLine(runId) + (partial !== undefined ? ` (kept what finished: ${err.message})` : ''),
        );
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
      if (ticker) clearInterval(ticker);
      outcome.settled?.();
      host.refreshRuns();
      host.runFinished({ runId, folder: this.folder, status: end });
    }
    return end;
  }
}

/**
 * A cancelled evaluation's partial report, written where a finished one's goes (report.json), so
 * Open shows it; returns the record's field that says so. The run stays cancelled.
 */
export function keepPartialReport(store: RunStore, runId: string, report: Report): Partial<RunRecord> {
  writeFileAtomic(path.join(store.dir(runId), 'report.json'), JSON.stringify(report));
  return { cancelledAfter: report.partial?.cancelled_after ?? 'clean' };
}
