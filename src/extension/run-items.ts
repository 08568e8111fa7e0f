/**
 * How a stored run reads in the Runs view, as plain data (views.ts turns it into a TreeItem): the
 * label leads with the model (or the run's name) and its robust accuracy, the description carries
 * the rest, and the tooltip gives local, readable times. Pure: tested without an editor.
 */
import * as path from 'node:path';
import {
  clipError,
  pct,
  pctN,
  relativeTime,
  statusIcon,
  statusWord,
  STATUS_ICONS,
  trainingRunTitle,
} from '../protocol/format';
import { NORM_LABELS, RUN_STORE_DIR } from '../protocol/vocabulary';
import { workersLabel } from '../protocol/jobs';
import type { RunEntry, RunRecord } from '../store/runs';

/** An evaluation's live progress, as the engine last reported it. */
export interface LiveProgress {
  label: string;
  done: number;
  total: number;
}

export interface RunItemView {
  label: string;
  description: string;
  /** Markdown. */
  tooltip: string;
  /** A codicon id, with the theme colour it is drawn in (if any). */
  icon: { id: string; color?: string };
  contextValue: string;
  /** What a click does: open the evaluation's report, or the training panel. */
  opens?: 'report' | 'training';
}

/** "1 Dec 2026, 04:12" in the machine's time zone; "" for a date that does not parse. */
export function readableTime(iso: string | undefined): string {
  const time = iso === undefined ? NaN : Date.parse(iso);
  if (Number.isNaN(time)) return '';
  const date = new Date(time);
  const month = date.toLocaleString('en-GB', { month: 'short' });
  const hh = String(date.getHours()).padStart(2, '0');
  const mm = String(date.getMinutes()).padStart(2, '0');
  return `${date.getDate()} ${month} ${date.getFullYear()}, ${hh}:${mm}`;
}

/** Text shown as-is in markdown (an error message, a run name). */
export function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_[\]<>#|~]/g, (c) => `\\${c}`);
}

/**
 * A training run's final model, as a run's record names it: ".robustness/runs/<id>/<model folder>/model.json"
 * (runs from before the named folder: ".robustness/runs/<id>/model.json").
 */
const TRAINED_MODEL = new RegExp(`(?:^|/)${RUN_STORE_DIR.replace('.', '\\.')}/([^/]+)/(?:[^/]+/)?[^/]+$`);

/** The id of the training run whose final model `model` is; undefined for any other model. */
export function trainedModelRun(model: string): string | undefined {
  return TRAINED_MODEL.exec(model.split(path.sep).join('/'))?.[1];
}

/**
 * What a run calls its model: the model's folder ("examples/fashion-mnist/smallcnn/model.json" →
 * "smallcnn"), or for a training run's final model that run's name (`runNames`), else its id.
 */
export function modelName(model: string, runNames?: ReadonlyMap<string, string>): string {
  const trained = trainedModelRun(model);
  if (trained) return runNames?.get(trained) ?? trained.replace(/-train$/, '');
  return path.basename(path.dirname(model)) || model;
}

const threat = (norm: keyof typeof NORM_LABELS, eps: number) => `${NORM_LABELS[norm]} ε=${eps}`;

/** The job as submitted, where it says what ran (older or odd records may not). */
function submitted(record: RunRecord): { attack?: string; threat?: string; method?: string; workers?: number } {
  const config = record.config as
    | { attacks?: unknown; suite?: unknown; norm?: unknown; eps?: unknown; method?: unknown; workers?: unknown }
    | undefined;
  if (!config || typeof config !== 'object') return {};
  const attack =
    typeof config.suite === 'string'
      ? `${config.suite} suite`
      : Array.isArray(config.attacks)
        ? config.attacks.filter((a): a is string => typeof a === 'string').join(', ')
        : undefined;
  const norm = config.norm === 'linf' || config.norm === 'l2' ? config.norm : undefined;
  return {
    ...(attack ? { attack } : {}),
    ...(norm && typeof config.eps === 'number' ? { threat: threat(norm, config.eps) } : {}),
    ...(typeof config.method === 'string' ? { method: config.method } : {}),
    // Training: the worker threads each batch was split across (recorded since data-parallel training).
    ...(typeof config.workers === 'number' ? { workers: config.workers } : {}),
  };
}

/** "started 1 Dec 2026, 04:12 · 2 min ago", and the end when there is one. */
function timesLine(record: RunRecord, now: number): string {
  const started = `started ${readableTime(record.created)} · ${relativeTime(record.created, now)}`;
  if (!record.finished) return started;
  return `${started}  \n${statusWord(record.kind, record.status)} ${readableTime(record.finished)} · ${relativeTime(record.finished, now)}`;
}

function tooltip(title: string, record: RunRecord, now: number, facts: string[]): string {
  const lines = [
    `**${escapeMarkdown(title)}**`,
    timesLine(record, now),
    `model \`${record.model}\``,
    ...facts.map(escapeMarkdown),
    ...(record.error ? [`error: ${escapeMarkdown(record.error)}`] : []),
    `run \`${record.id}\``,
  ];
  return lines.join('  \n');
}

function trainingView(record: RunRecord, now: number): RunItemView {
  const { method = 'training', workers } = submitted(record);
  const onWorkers = workers !== undefined ? workersLabel(workers) : '';
  const word = statusWord(record.kind, record.status);
  const progress = record.progress ? { progress: record.progress } : {};
  const ended = record.status === 'running' ? '' : relativeTime(record.finished ?? record.created, now);
  let label: string;
  let description: string;
  if (record.name) {
    label = record.name;
    // The name says the model and the method: the description says where the run is.
    const status = record.status === 'running' ? '' : word;
    description = [trainingRunTitle({ method: status, status: record.status, ...progress }), onWorkers, ended]
      .filter(Boolean)
      .join(' · ');
  } else {
    label = trainingRunTitle({ method, status: record.status, ...progress });
    description = [word, onWorkers, ended].filter(Boolean).join(' · ');
  }
  const facts = [[`training · ${method} · ${word}`, onWorkers].filter(Boolean).join(' · ')];
  if (record.progress) facts.push(trainingRunTitle({ method: '', status: record.status, ...progress }));
  return {
    label,
    description,
    tooltip: tooltip(label, record, now, facts),
    icon: { id: statusIcon(record.kind, record.status) },
    contextValue: `robustness.training.${record.status}`,
    opens: 'training',
  };
}

function evaluationView(
  record: RunRecord,
  now: number,
  live?: LiveProgress,
  runNames?: ReadonlyMap<string, string>,
): RunItemView {
  const lead = record.name ?? modelName(record.model, runNames);
  const job = submitted(record);
  const contextValue = `robustness.run.${record.status}`;
  const summary = record.status === 'done' ? record.summary : undefined;
  if (summary) {
    const label = `${lead} · robust ${pctN(summary.robustAccuracy, summary.n)}`;
    const description = [
      summary.attack,
      threat(summary.norm, summary.eps),
      `clean ${pct(summary.cleanAccuracy)}`,
      relativeTime(record.finished ?? record.created, now),
    ].join(' · ');
    const facts = [
      `attack ${summary.attack} · ${threat(summary.norm, summary.eps)}`,
      `clean ${pctN(summary.cleanAccuracy, summary.n)} · robust ${pctN(summary.robustAccuracy, summary.n)}`,
    ];
    return {
      label,
      description,
      tooltip: tooltip(label, record, now, facts),
      icon: { id: STATUS_ICONS.done, color: 'testing.iconPassed' },
      contextValue,
      opens: 'report',
    };
  }
  const facts = [[job.attack, job.threat].filter(Boolean).join(' · ')].filter(Boolean);
  const label = `${lead} · ${record.status}`;
  let description: string;
  if (record.status === 'running') {
    description = live ? `${live.label} ${live.done}/${live.total}` : 'starting';
  } else {
    // A cancelled evaluation that kept its finished stages says after which, and opens like a finished one.
    const why = record.cancelledAfter
      ? `cancelled after ${record.cancelledAfter}`
      : record.error
        ? clipError(record.error)
        : '';
    description = [why, relativeTime(record.finished ?? record.created, now)].filter(Boolean).join(' · ');
  }
  return {
    label,
    description,
    tooltip: tooltip(label, record, now, facts),
    icon: {
      id: statusIcon(record.kind, record.status),
      ...(record.status === 'failed' ? { color: 'testing.iconFailed' } : {}),
    },
    contextValue,
    ...(record.cancelledAfter ? { opens: 'report' as const } : {}),
  };
}

/**
 * A Runs view row for a stored run; a folder without a readable run.json reads as broken.
 * `runNames` (run id → name) names the training run whose final model an evaluation attacked.
 */
export function runItemView(
  entry: RunEntry,
  now: number,
  live?: LiveProgress,
  runNames?: ReadonlyMap<string, string>,
): RunItemView {
  const record = entry.record;
  if (!record) {
    return {
      label: `${entry.id} (broken)`,
      description: entry.problem ?? '',
      tooltip: `**${escapeMarkdown(entry.id)}**  \n\`${entry.dir}\`  \n${escapeMarkdown(entry.problem ?? '')}`,
      icon: { id: 'warning', color: 'problemsWarningIcon.foreground' },
      contextValue: 'robustness.run.broken',
    };
  }
  return record.kind === 'training' ? trainingView(record, now) : evaluationView(record, now, live, runNames);
}
