/**
 * Typed message descriptors shared by the extension host, the engine worker and the webviews
 * (the vscode-eslint pattern: one descriptor pairs a method name with its parameter schema).
 * Every message crossing a process or frame boundary is parsed with these zod schemas before
 * use; tensors never cross, only plain JSON.
 */
import { z } from 'zod';
import { attackJobSchema, backendPreferenceSchema, trainJobSchema, type AttackJob, type BackendPreference, type TrainJob } from './jobs';

export { attackJobSchema, backendPreferenceSchema, trainJobSchema, type BackendPreference };
import type { Report } from './report';

const finite = z.number().finite();

// ---------------------------------------------------------------------------------------------
// Descriptors
// ---------------------------------------------------------------------------------------------
export interface RequestType<P, R> {
  readonly method: string;
  readonly params: z.ZodType<P>;
  /** Results come from our own worker and are typed, not re-validated. */
  readonly result?: R;
}

export interface NotificationType<P> {
  readonly method: string;
  readonly params: z.ZodType<P>;
}

function request<P, R>(method: string, params: z.ZodType<P>): RequestType<P, R> {
  return { method, params };
}

function notification<P>(method: string, params: z.ZodType<P>): NotificationType<P> {
  return { method, params };
}

const runId = z.string().regex(/^[A-Za-z0-9._-]{1,80}$/);

export const RunAttackRequest = request<{ runId: string; job: AttackJob; backend: BackendPreference }, Report>(
  'runAttack', z.object({ runId, job: attackJobSchema, backend: backendPreferenceSchema }));
export interface EpochSummary {
  epoch: number;
  epochs: number;
  loss: number;
  trainAccuracy: number;
  testAccuracy: number;
  robustAccuracy?: number;
  seconds: number;
  event?: string;
}
export interface TrainResultSummary {
  modelFile: string;
  epochs: EpochSummary[];
  seconds: number;
}
export const TrainRequest = request<{ runId: string; job: TrainJob; backend: BackendPreference; resume: boolean }, TrainResultSummary>(
  'train', z.object({ runId, job: trainJobSchema, backend: backendPreferenceSchema, resume: z.boolean() }));
export const CancelRequest = request<{ runId: string }, { cancelled: boolean }>('cancel', z.object({ runId }));

export const progressParams = z.object({ runId, label: z.string(), done: z.number().min(0), total: z.number().min(0) });
export type ProgressParams = z.infer<typeof progressParams>;
export const ProgressNotification = notification('progress', progressParams);
export const LogNotification = notification('log', z.object({ level: z.enum(['info', 'warn', 'error']), message: z.string() }));

export const epochParams = z.object({
  runId, epoch: z.number().int().min(1), epochs: z.number().int().min(1), loss: finite, trainAccuracy: finite, testAccuracy: finite,
  robustAccuracy: finite.optional(), seconds: finite, event: z.string().optional(),
});
export type EpochParams = z.infer<typeof epochParams>;
export const EpochNotification = notification('epoch', epochParams);

export const REQUESTS = [RunAttackRequest, TrainRequest, CancelRequest] as const;
export const NOTIFICATIONS = [ProgressNotification, LogNotification, EpochNotification] as const;

// ---------------------------------------------------------------------------------------------
// Envelopes over the worker port
// ---------------------------------------------------------------------------------------------
export const errorInfoSchema = z.object({ name: z.string(), message: z.string() });
export type ErrorInfo = z.infer<typeof errorInfoSchema>;

export const workerEnvelope = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('request'), id: z.number().int().min(0), method: z.string(), params: z.unknown() }),
  z.object({ kind: z.literal('response'), id: z.number().int().min(0), result: z.unknown().optional(), error: errorInfoSchema.optional() }),
  z.object({ kind: z.literal('notification'), method: z.string(), params: z.unknown() }),
]);
export type WorkerEnvelope = z.infer<typeof workerEnvelope>;

/** Parses an envelope, then its params against the descriptor registered for its method. */
export function parseWorkerMessage(raw: unknown): WorkerEnvelope {
  const envelope = workerEnvelope.parse(raw);
  if (envelope.kind === 'response') return envelope;
  const table: ReadonlyArray<{ method: string; params: z.ZodType<unknown> }> = envelope.kind === 'request' ? REQUESTS : NOTIFICATIONS;
  const descriptor = table.find((d) => d.method === envelope.method);
  if (!descriptor) throw new Error(`unknown ${envelope.kind} method "${envelope.method}"`);
  return { ...envelope, params: descriptor.params.parse(envelope.params) };
}

// ---------------------------------------------------------------------------------------------
// The attack panel (webview ⇄ host). The host owns the state; the webview renders it.
// ---------------------------------------------------------------------------------------------
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
    runId, title: z.string(), status: panelStatus, startedAt: z.string(),
    progress: z.object({ label: z.string(), done: z.number(), total: z.number() }).optional(),
    report: z.object({ attacks: z.array(z.unknown()), examples: z.array(z.unknown()), curves: z.array(z.unknown()) }).passthrough().optional(),
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
  z.object({ type: z.literal('exportPng'), dataUrl: z.string().regex(/^data:image\/png;base64,[A-Za-z0-9+/=]+$/).max(20_000_000) }),
]);
export type PanelToHost = z.infer<typeof panelToHost>;

export function parsePanelMessage(raw: unknown): PanelToHost {
  return panelToHost.parse(raw);
}

// ---------------------------------------------------------------------------------------------
// The training panel (webview ⇄ host): runs overlaid, live per-epoch metrics, the trade-off.
// ---------------------------------------------------------------------------------------------
export interface TrainingRunView {
  id: string;
  label: string;
  method: string;
  status: string;
  epochs: EpochSummary[];
}

export interface TrainingPanelState {
  runs: TrainingRunView[];
}

const epochSummary = z.object({
  epoch: z.number(), epochs: z.number(), loss: z.number(), trainAccuracy: z.number(), testAccuracy: z.number(),
  robustAccuracy: z.number().optional(), seconds: z.number(), event: z.string().optional(),
});

export const hostToTrainingPanel = z.object({
  type: z.literal('training'),
  state: z.object({
    runs: z.array(z.object({ id: runId, label: z.string(), method: z.string(), status: z.string(), epochs: z.array(epochSummary) })),
  }),
});

export function parseTrainingHostMessage(raw: unknown): { type: 'training'; state: TrainingPanelState } {
  return hostToTrainingPanel.parse(raw);
}

export const trainingPanelToHost = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready') }),
  z.object({ type: z.literal('attack'), runId }),
]);
export type TrainingPanelToHost = z.infer<typeof trainingPanelToHost>;

// ---------------------------------------------------------------------------------------------
// Extension ⇄ language server (custom LSP messages next to the standard ones)
// ---------------------------------------------------------------------------------------------
/**
 * client → server: a run finished (or failed, or was cancelled) and its run.json is final; the
 * server rereads the run store and asks the client to refresh its CodeLenses.
 */
export const RunFinishedNotification = notification('robustness/runFinished', z.object({
  runId,
  /** The workspace folder holding .robustness/runs/<runId>. */
  folder: z.string().min(1),
  status: z.enum(['done', 'failed', 'cancelled']),
}));
export type RunFinishedParams = z.infer<typeof RunFinishedNotification.params>;
