/**
 * The language server's describe worker (dist/describe-worker.js): reads model files and data
 * folders off the server's thread, one job at a time, with the same bounded reader and checks as the
 * CLI (WorkspaceIndex without onMiss). The server terminates it when a job overruns its budget.
 */
import { parentPort } from 'node:worker_threads';
import { WorkspaceIndex } from '../experiment/workspace';
import { describeRequestSchema, type DescribeResponse } from '../protocol/messages/describe';

const index = new WorkspaceIndex([]);

parentPort?.on('message', (raw: unknown) => {
  const request = describeRequestSchema.safeParse(raw);
  if (!request.success) {
    // Answered all the same, so the server does not wait out its budget.
    const seq = (raw as { seq?: unknown } | null)?.seq;
    if (typeof seq === 'number') {
      parentPort!.postMessage({ seq, result: { problem: 'could not be read (a malformed request)' } });
    }
    return;
  }
  const { seq, job } = request.data;
  let result: DescribeResponse['result'];
  try {
    result = (
      job.kind === 'model' ? index.model(job.file, job.shown) : index.data(job.id, job.dir)
    ) as DescribeResponse['result'];
  } catch (err) {
    result = { problem: (err as Error).message };
  }
  parentPort!.postMessage({ seq, result } satisfies DescribeResponse);
});
