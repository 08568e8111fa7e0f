/** Extension ⇄ language server: our custom LSP messages, next to the standard ones. */
import { z } from 'zod';
import { RUN_STATUSES } from '../vocabulary';
import { notification, runIdSchema } from './descriptors';

/**
 * client → server: a run finished (or failed, or was cancelled) and its run.json is final; the
 * server rereads the run store and asks the client to refresh its CodeLenses.
 */
export const RunFinishedNotification = notification(
  'robustness/runFinished',
  z.strictObject({
    runId: runIdSchema,
    /** The workspace folder holding RUN_STORE_DIR/<runId>. */
    folder: z.string().min(1),
    /** How it ended: every run status but running. */
    status: z.enum(RUN_STATUSES).exclude(['running']),
  }),
);
export type RunFinishedParams = z.infer<typeof RunFinishedNotification.params>;
