/**
 * The language server's side of the describe worker: each model or data folder a spec names is read
 * in dist/describe-worker.js, never on the server's thread, and a read that overruns its budget is
 * abandoned (the worker terminated, a fresh one started for the next job), so no file (a slow disk,
 * a huge folder) can stall the server's answers. Jobs asked twice while running share one read.
 */
import { Worker } from 'node:worker_threads';
import {
  describeResponseSchema,
  type DescribeJob,
  type DescribeRequest,
  type DescribeResponse,
} from '../protocol/messages/describe';

type Result = DescribeResponse['result'];

/** How long one model or data folder may take to describe. */
export const DESCRIBE_BUDGET_MS = 5000;

const shownOf = (job: DescribeJob) => (job.kind === 'model' ? job.shown : `data "${job.id}"`);

export class Describer {
  private worker: Worker | undefined;
  private seq = 0;
  private readonly waiting = new Map<number, { job: DescribeJob; settle: (r: Result) => void }>();

  constructor(
    private readonly script: string,
    private readonly budgetMs = DESCRIBE_BUDGET_MS,
  ) {}

  describe(job: DescribeJob): Promise<Result> {
    const worker = (this.worker ??= this.start());
    const seq = ++this.seq;
    return new Promise<Result>((resolve) => {
      const timer = setTimeout(() => {
        // Overran: this worker is abandoned with every job it holds.
        this.stop(`took longer than ${this.budgetMs / 1000} s to read; it is skipped`);
      }, this.budgetMs);
      timer.unref();
      this.waiting.set(seq, {
        job,
        settle: (result) => {
          clearTimeout(timer);
          this.waiting.delete(seq);
          resolve(result);
        },
      });
      worker.postMessage({ seq, job } satisfies DescribeRequest);
    });
  }

  /** Ends the worker; the jobs it held get `problem` as their answer. */
  stop(problem = 'was not read: the language server is shutting down'): void {
    const worker = this.worker;
    this.worker = undefined;
    for (const { job, settle } of [...this.waiting.values()]) settle({ problem: `${shownOf(job)} ${problem}` });
    void worker?.terminate();
  }

  private start(): Worker {
    const worker = new Worker(this.script);
    worker.unref();
    worker.on('message', (raw: unknown) => {
      const response = describeResponseSchema.safeParse(raw);
      if (response.success) this.waiting.get(response.data.seq)?.settle(response.data.result);
    });
    worker.on('error', (err) => {
      if (this.worker === worker) this.stop(`could not be read (${err.message})`);
    });
    worker.on('exit', () => {
      if (this.worker === worker) this.stop('could not be read (the reader stopped)');
    });
    return worker;
  }
}
