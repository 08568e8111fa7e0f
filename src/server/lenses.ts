/**
 * CodeLenses: above a spec, "Run"/"Train" and its last result; in source files, on every line
 * that names a workspace model file, that model's last robustness result (or "Attack"). The
 * results come from the run store (.robustness/runs/*), read by the server and refreshed when a
 * run finishes. Pure apart from the store reads.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MODEL_FILE_NAME_PATTERN } from '../protocol/model-files';
import { RunStore, type RunRecord } from '../store/runs';
import { clipError, relativeTime, runTitle, trainingRunTitle } from '../protocol/format';

export interface LensCommand {
  title: string;
  command: string;
  arguments: unknown[];
}

export interface Lens {
  /** Offsets of the text the lens sits above. */
  start: number;
  end: number;
  command: LensCommand;
}

/** Commands the lenses invoke (registered by the extension). */
export const LENS_COMMANDS = {
  runSpec: 'robustness.runSpec',
  trainSpec: 'robustness.trainSpec',
  openRun: 'robustness.openRun',
  openTraining: 'robustness.openTraining',
  attackPath: 'robustness.attackPath',
} as const;

export interface KnownRun {
  folder: string;
  record: RunRecord;
  /** Absolute paths. */
  model: string;
  spec?: string;
}

/** Every readable run of the workspace folders, newest first (broken folders are skipped). */
export function collectRuns(folders: readonly string[]): KnownRun[] {
  const runs: KnownRun[] = [];
  for (const folder of folders) {
    for (const entry of new RunStore(folder).list()) {
      if (!entry.record) continue;
      const r = entry.record;
      runs.push({
        folder,
        record: r,
        model: path.resolve(folder, r.model),
        ...(r.spec ? { spec: path.resolve(folder, r.spec) } : {}),
      });
    }
  }
  return runs.sort((a, b) => (b.record.created < a.record.created ? -1 : b.record.created > a.record.created ? 1 : 0));
}

/** The newest finished evaluation of a model (absolute path). */
export function lastEvaluation(runs: readonly KnownRun[], model: string): KnownRun | undefined {
  return runs.find((r) => r.model === model && r.record.kind === 'evaluation' && r.record.status === 'done');
}

/**
 * "robust 71.3% (PGD-20, ε=0.1) · clean 84.0% · 2 min ago"; a training run reads as in the Runs view
 * ("pgd-at · epoch 5/5 · clean 80.0% · robust 41.5% · 2 min ago").
 */
export function resultTitle(record: RunRecord, now: number): string {
  const s = record.summary;
  const error = record.error ? `: ${clipError(record.error)}` : '';
  if (record.kind === 'training') {
    const method = (record.config as { method?: string } | undefined)?.method ?? 'training';
    const progress = record.progress ? { progress: record.progress } : {};
    const title = trainingRunTitle({ method, status: record.status, ...progress });
    const when = relativeTime(record.finished ?? record.created, now);
    if (record.status === 'running') return `$(sync~spin) ${title}`;
    if (record.status === 'done') return `${title} · ${when}`;
    return `${title} · ${record.status}${error} · ${when}`;
  }
  if (record.status === 'running') return `$(sync~spin) running since ${relativeTime(record.created, now)}`;
  if (record.status === 'done' && s) return `${runTitle(s)} · ${relativeTime(record.finished, now)}`;
  return `last run ${record.status}${error} · ${relativeTime(record.finished ?? record.created, now)}`;
}

function openCommand(run: KnownRun, now: number): LensCommand {
  return run.record.kind === 'training'
    ? { title: resultTitle(run.record, now), command: LENS_COMMANDS.openTraining, arguments: [run.record.id] }
    : { title: resultTitle(run.record, now), command: LENS_COMMANDS.openRun, arguments: [run.record.id, run.folder] };
}

/** Lenses above a spec: Run (attacks or suite), Train (a training block), and its last run. */
export function specLenses(
  specFile: string,
  spec: { attacks?: unknown; suite?: unknown; training?: unknown } | undefined,
  anchor: { start: number; end: number },
  runs: readonly KnownRun[],
  now: number,
  uri: string,
): Lens[] {
  const lenses: Lens[] = [];
  if (spec?.attacks !== undefined || spec?.suite !== undefined)
    lenses.push({ ...anchor, command: { title: '$(play) Run', command: LENS_COMMANDS.runSpec, arguments: [uri] } });
  if (spec?.training !== undefined)
    lenses.push({
      ...anchor,
      command: { title: '$(mortar-board) Train', command: LENS_COMMANDS.trainSpec, arguments: [uri] },
    });
  const last = runs.find((r) => r.spec === specFile);
  if (last) lenses.push({ ...anchor, command: openCommand(last, now) });
  return lenses;
}

export interface ModelReference {
  start: number;
  end: number;
  /** As written, without quotes or file://. */
  text: string;
}

const REFERENCE = new RegExp(`(["'\`])((?:file://)?[^"'\`\n]*${MODEL_FILE_NAME_PATTERN})\\1`, 'g');

/** String literals that name a model file: "models/cnn/model.json", 'file://runs/x/model.json'. */
export function modelReferences(text: string): ModelReference[] {
  const refs: ModelReference[] = [];
  for (const m of text.matchAll(REFERENCE)) {
    const literal = m[2]!;
    refs.push({ start: m.index!, end: m.index! + m[0].length, text: literal.replace(/^file:\/\//, '') });
  }
  return refs;
}

/** Resolves a reference against the workspace folders, then the file's own folder; only existing files. */
export function resolveReference(
  ref: string,
  folders: readonly string[],
  fileDir: string,
  exists = fs.existsSync,
): string | undefined {
  const candidates = path.isAbsolute(ref)
    ? [ref]
    : [...folders.map((f) => path.resolve(f, ref)), path.resolve(fileDir, ref)];
  return candidates.find((c) => exists(c));
}

/** One lens per line that names an existing workspace model: its last result, or "Attack". */
export function sourceLenses(
  text: string,
  file: string,
  folders: readonly string[],
  runs: readonly KnownRun[],
  now: number,
  exists = fs.existsSync,
): Lens[] {
  const lenses: Lens[] = [];
  const lines = new Set<number>();
  for (const ref of modelReferences(text)) {
    const model = resolveReference(ref.text, folders, path.dirname(file), exists);
    if (!model) continue;
    const line = text.slice(0, ref.start).split('\n').length;
    if (lines.has(line)) continue;
    lines.add(line);
    const last = lastEvaluation(runs, model);
    const command = last
      ? openCommand(last, now)
      : { title: '$(shield) Attack (no robustness result yet)', command: LENS_COMMANDS.attackPath, arguments: [model] };
    lenses.push({ start: ref.start, end: ref.end, command });
  }
  return lenses;
}
