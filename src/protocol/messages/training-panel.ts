/** The training panel channel (webview ⇄ host): runs overlaid, live per-epoch metrics, the trade-off. */
import { z } from 'zod';
import { runEpochSchema } from '../epoch-metrics';
import { RUN_STATUSES, TRAIN_METHODS } from '../vocabulary';
import { runIdSchema } from './descriptors';

export const trainingRunView = z.strictObject({
  id: runIdSchema,
  /** The run's name (its record's, else its id): the table, every legend and the trade-off say it. */
  label: z.string(),
  method: z.enum(TRAIN_METHODS),
  status: z.enum(RUN_STATUSES),
  epochs: z.array(runEpochSchema),
  /** The epochs the run will train (its job's), so the axes and the table know them before the first one ends. */
  totalEpochs: z.number().int().min(1).optional(),
  /** While it runs: where it is ("loading data…", "epoch 1: batch 40/469"; trainPhaseText). */
  progress: z.string().optional(),
});
export type TrainingRunView = z.infer<typeof trainingRunView>;

export const trainingPanelState = z.strictObject({ runs: z.array(trainingRunView) });
export type TrainingPanelState = z.infer<typeof trainingPanelState>;

export const hostToTrainingPanel = z.strictObject({ type: z.literal('training'), state: trainingPanelState });
export type HostToTrainingPanel = z.infer<typeof hostToTrainingPanel>;

export function parseTrainingHostMessage(raw: unknown): HostToTrainingPanel {
  return hostToTrainingPanel.parse(raw);
}

export const trainingPanelToHost = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('ready') }),
  z.strictObject({ type: z.literal('attack'), runId: runIdSchema }),
  /** The Stop button of a running run: stops it as the Runs view's Stop does (its checkpoint stays). */
  z.strictObject({ type: z.literal('stop'), runId: runIdSchema }),
]);
export type TrainingPanelToHost = z.infer<typeof trainingPanelToHost>;
