/**
 * CodeLenses: above a spec, "Run"/"Train" and its last result; in source files, on every line
 * that names a model file, that model's last robustness result (or "Attack"), and a faint hint on
 * a string that looks like a model path but names no file. A source file's paths resolve against
 * its own folder first (a notebook cell's, its notebook's folder), then each workspace folder, so
 * the lens shows whichever folder the workspace is opened at. The results come from the run
 * stores (.robustness/runs/* of every workspace folder), read by the server and refreshed when a
 * run finishes. Pure apart from the store reads and the existence checks.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { workspaceRelative } from '../common/workspace-path';
import { MODEL_FILE_NAME_PATTERN } from '../protocol/model-files';
import { NOTEBOOK_CELL_SCHEME } from '../protocol/source-documents';
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

/**
 * One spelling per file, so that a run store's path (relative to its workspace folder) and a
 * source file's string (relative to that file) compare equal: absolute, normalised, symbolic
 * links resolved where the file exists (a workspace opened through a link), case-folded where
 * the file system ignores case.
 */
export function canonicalPath(file: string): string {
  const absolute = path.resolve(file);
  let real = absolute;
  try {
    real = fs.realpathSync.native(absolute);
  } catch {
    // A model deleted since its run: its path as written still names the run.
  }
  return process.platform === 'win32' || process.platform === 'darwin' ? real.toLowerCase() : real;
}

/** Every readable run of the workspace folders (each folder's own store), newest first (broken folders are skipped). */
export function collectRuns(folders: readonly string[]): KnownRun[] {
  const runs: KnownRun[] = [];
  for (const folder of folders) {
    for (const entry of new RunStore(folder).list()) {
      if (!entry.record) continue;
      const r = entry.record;
      runs.push({
        folder,
        record: r,
        model: canonicalPath(path.resolve(folder, r.model)),
        ...(r.spec ? { spec: canonicalPath(path.resolve(folder, r.spec)) } : {}),
      });
    }
  }
  return runs.sort((a, b) => (b.record.created < a.record.created ? -1 : b.record.created > a.record.created ? 1 : 0));
}

/** The newest finished evaluation of a model (any spelling of its path). */
export function lastEvaluation(runs: readonly KnownRun[], model: string): KnownRun | undefined {
  const wanted = canonicalPath(model);
  return runs.find((r) => r.model === wanted && r.record.kind === 'evaluation' && r.record.status === 'done');
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
  const wanted = canonicalPath(specFile);
  const last = runs.find((r) => r.spec === wanted);
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

/**
 * Where a reference may name a file, in the order tried: the source file's own folder, then each
 * workspace folder (an absolute path is itself).
 */
export function referenceCandidates(ref: string, folders: readonly string[], fileDir: string): string[] {
  if (path.isAbsolute(ref)) return [path.normalize(ref)];
  return [...new Set([fileDir, ...folders].map((dir) => path.resolve(dir, ref)))];
}

/** The first candidate that exists, or undefined. */
export function resolveReference(
  ref: string,
  folders: readonly string[],
  fileDir: string,
  exists = fs.existsSync,
): string | undefined {
  return referenceCandidates(ref, folders, fileDir).find((c) => exists(c));
}

/** Interpolated or prose strings ("{root}/model.json", "see model.json", URLs): not a path to check. */
const NOT_A_LITERAL_PATH = /[{}$%\s]|^[a-z][a-z0-9+.-]*:\/\//i;
/** A bare file name ("model.json" in `path.join(dir, "model.json")`) names a file, not where it is. */
const HAS_FOLDER = /[\\/]/;

export interface ModelHint {
  /** Offsets of the path inside the quotes. */
  start: number;
  end: number;
  message: string;
}

/**
 * A faint hint on every string that looks like a model path (a folder and a model file name) but
 * names no file, saying where it was looked for: silence would read as "no result yet".
 */
export function sourceHints(
  text: string,
  file: string,
  folders: readonly string[],
  exists = fs.existsSync,
): ModelHint[] {
  const hints: ModelHint[] = [];
  for (const ref of modelReferences(text)) {
    if (NOT_A_LITERAL_PATH.test(ref.text) || !HAS_FOLDER.test(ref.text)) continue;
    const candidates = referenceCandidates(ref.text, folders, path.dirname(file));
    if (candidates.some((c) => exists(c))) continue;
    const looked = candidates.map((c) => workspaceRelative(c, folders));
    hints.push({
      start: ref.start + 1,
      end: ref.end - 1,
      message: `no such model: ${ref.text} (looked for ${looked.join(', ')})`,
    });
  }
  return hints;
}

/** One lens per line that names an existing model file: its last result, or "Attack" with its absolute path. */
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

/**
 * The scheme of the notebook a cell belongs to, from the cell URI's fragment: VS Code writes it as
 * `W…` (the cell's handle in base 7, padded with W) + `s` + the scheme in URL-safe base64.
 */
export function cellNotebookScheme(fragment: string): string | undefined {
  const m = /^W*[0-6]+s([A-Za-z0-9_+/-]+=*)$/.exec(decodeURIComponent(fragment.replace(/^#/, '')));
  return m ? Buffer.from(m[1]!, 'base64url').toString('utf8') : undefined;
}

/**
 * The file a document's relative paths resolve against: a file's own path, a notebook cell's
 * notebook; any other URI (an unsaved `untitled:` buffer) as written. A cell keeps its notebook's
 * authority: a network share's server for a `file:` notebook (kept), or, for a notebook opened
 * through a remote (code-server, SSH: `vscode-remote://host/…`), the remote's name (dropped: the
 * server runs beside the extension host, where the path is local).
 */
export function documentPath(uri: string): string {
  try {
    if (uri.startsWith('file:')) return fileURLToPath(uri);
    if (uri.startsWith(`${NOTEBOOK_CELL_SCHEME}:`)) {
      const cell = new URL(uri);
      const host = cellNotebookScheme(cell.hash) === 'file' ? cell.host : '';
      return fileURLToPath(`file://${host}${cell.pathname}`);
    }
  } catch {
    // A URI no file path can be made of (a remote authority on this platform): kept as written.
  }
  return uri;
}
