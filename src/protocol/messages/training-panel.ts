/** The training panel channel (webview ⇄ host): runs overlaid, live per-epoch metrics, the trade-off. */
import { z } from 'zod';
import { runEpochSchema } from '../epoch-metrics';
import { runIdSchema } from './descriptors';

export const trainingRunView = z.object({
  id: runIdSchema, label: z.string(), method: z.string(), status: z.string(), epochs: z.array(runEpochSchema),
});
export type TrainingRunView = z.infer<typeof trainingRunView>;

export const trainingPanelState = z.object({ runs: z.array(trainingRunView) });
export type TrainingPanelState = z.infer<typeof trainingPanelState>;

export const hostToTrainingPanel = z.object({ type: z.literal('training'), state: trainingPanelState });
export type HostToTrainingPanel = z.infer<typeof hostToTrainingPanel>;

export function parseTrainingHostMessage(raw: unknown): HostToTrainingPanel {
  return hostToTrainingPanel.parse(raw);
}

export const trainingPanelToHost = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready') }),
  z.object({ type: z.literal('attack'), runId: runIdSchema }),
]);
export type TrainingPanelToHost = z.infer<typeof trainingPanelToHost>;
