/** The attack panel channel (webview ⇄ host). The host owns the state; the webview renders it. */
import { z } from 'zod';
import type { Report } from '../report';
import { runIdSchema } from './descriptors';

export const panelStatus = z.enum(['running', 'done', 'cancelled', 'failed']);
export type PanelStatus = z.infer<typeof panelStatus>;

export interface PanelState {
  runId: string;
  title: string;
  status: PanelStatus;
  startedAt: string;
  progress?: { label: string; done: number; total: number };
  report?: Report;
  error?: string;
}

export type HostToPanel = { type: 'state'; state: PanelState };

/** What the webview accepts from the host; the report inside is our own JSON and only shape-checked. */
export const hostToPanel = z.object({
  type: z.literal('state'),
  state: z.object({
    runId: runIdSchema, title: z.string(), status: panelStatus, startedAt: z.string(),
    progress: z.object({ label: z.string(), done: z.number(), total: z.number() }).optional(),
    report: z.object({
      attacks: z.array(z.unknown()), examples: z.array(z.unknown()), curves: z.array(z.unknown()),
    }).passthrough().optional(),
    error: z.string().optional(),
  }),
});

export function parseHostMessage(raw: unknown): HostToPanel {
  return hostToPanel.parse(raw) as HostToPanel;
}

export const panelToHost = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready') }),
  z.object({ type: z.literal('cancel') }),
  z.object({ type: z.literal('export'), format: z.enum(['json', 'html']) }),
  z.object({
    type: z.literal('exportPng'),
    dataUrl: z.string().regex(/^data:image\/png;base64,[A-Za-z0-9+/=]+$/).max(20_000_000),
  }),
]);
export type PanelToHost = z.infer<typeof panelToHost>;

export function parsePanelMessage(raw: unknown): PanelToHost {
  return panelToHost.parse(raw);
}
