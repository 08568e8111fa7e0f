/** The attack panel channel (webview ⇄ host). The host owns the state; the webview renders it. */
import { z } from 'zod';
import { RUN_STATUSES, SUITES } from '../vocabulary';
import { reportShape, runIdSchema } from './descriptors';
import { finishedStageSchema } from './worker';

export const panelStatus = z.enum(RUN_STATUSES);
export type PanelStatus = z.infer<typeof panelStatus>;

/**
 * What the panel shows of one run. Strict, like every message here: a field the schema does not
 * name is refused rather than silently dropped. The report inside is our own JSON and only
 * shape-checked.
 */
export const panelState = z.strictObject({
  runId: runIdSchema,
  title: z.string(),
  status: panelStatus,
  startedAt: z.string(),
  progress: z.strictObject({ label: z.string(), done: z.number(), total: z.number() }).optional(),
  report: reportShape.optional(),
  error: z.string().optional(),
  /** The suite the run evaluates with (Evaluate): the panel's help line describes its cascade. */
  suite: z.enum(SUITES).optional(),
  /**
   * False when a cancel keeps no partial report (the run is split across workers); the cancel
   * question and the cancelled line say so. Absent: it keeps one.
   */
  keepsPartial: z.boolean().optional(),
  /** The stages that finished, in order (clean first), shown while the run runs. */
  stages: z.array(finishedStageSchema).optional(),
  /** The report's data as the header names it (the host's: built-in sets by name, workspace paths relative). */
  dataLabel: z.string().optional(),
});
export type PanelState = z.infer<typeof panelState>;

/** What the webview accepts from the host. */
export const hostToPanel = z.strictObject({ type: z.literal('state'), state: panelState });
export type HostToPanel = z.infer<typeof hostToPanel>;

export function parseHostMessage(raw: unknown): HostToPanel {
  return hostToPanel.parse(raw);
}

export const panelToHost = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('ready') }),
  z.strictObject({ type: z.literal('cancel') }),
  z.strictObject({ type: z.literal('export'), format: z.enum(['json', 'html']) }),
  /** Evaluate the same model, data and threat model again with this suite (a randomised model: rand). */
  z.strictObject({ type: z.literal('runSuite'), suite: z.enum(SUITES) }),
  z.strictObject({
    type: z.literal('exportPng'),
    dataUrl: z
      .string()
      .regex(/^data:image\/png;base64,[A-Za-z0-9+/=]+$/)
      .max(20_000_000),
  }),
]);
export type PanelToHost = z.infer<typeof panelToHost>;

export function parsePanelMessage(raw: unknown): PanelToHost {
  return panelToHost.parse(raw);
}
