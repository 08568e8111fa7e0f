/** Extension ⇄ language server: our custom LSP messages, next to the standard ones. */
import { z } from 'zod';
import { notification, runIdSchema } from './descriptors';

/**
 * client → server: a run finished (or failed, or was cancelled) and its run.json is final; the
 * server rereads the run store and asks the client to refresh its CodeLenses.
 */
export const RunFinishedNotification = notification('robustness/runFinished', z.object({
  runId: runIdSchema,
  /** The workspace folder holding .robustness/runs/<runId>. */
  folder: z.string().min(1),
  status: z.enum(['done', 'failed', 'cancelled']),
}));
export type RunFinishedParams = z.infer<typeof RunFinishedNotification.params>;
