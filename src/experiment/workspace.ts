/**
 * The language server's view of the file system: model summaries and data shapes from the format
 * and data-source registries (src/formats), cached by modification time, and the workspace's
 * model files for completion. Plain Node.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BUILTIN_DATA_INFO, describeData, isDataFile, type DataInfo } from '../formats/data-sources';
import { FormatError } from '../formats/errors';
import { insideDataFolder } from '../formats/file-read';
import { IMAGE_EXTENSIONS, looksLikeImageDataset } from '../formats/image-folder';
import { modelFormatFor, type ModelInfo } from '../formats/model-formats';
import { isModelFile, MODEL_FILE_NAMES } from '../protocol/model-files';
import { BUILTIN_DATA, type BuiltinData } from '../protocol/vocabulary';
import { quoted, type Facts } from './analysis';
import { containedPath, isInside } from '../common/containment';
import type { DescribeJob } from '../protocol/messages/describe';

export type ModelResult = { info: ModelInfo } | { problem: string; missing?: boolean };
export type DataResult = DataInfo | { problem: string };

const SKIP = new Set(['node_modules', '.git', '.e2e', 'dist', 'out']);

/**
 * The data roots the robustness.dataFolder setting gives (folders elsewhere a spec may name as data,
 * as the CLI's --data-root): an absolute folder as it is, a relative one against each workspace
 * folder; none when unset. The language client (for the server) and the Run lenses both ask here.
 */
export function settingDataRoots(setting: string | undefined, workspaceFolders: readonly string[]): string[] {
  const folder = (setting ?? '').trim();
  if (!folder) return [];
  if (path.isAbsolute(folder)) return [path.resolve(folder)];
  return workspaceFolders.map((f) => path.resolve(f, folder));
}

/** The data roots in a language server's options ({ dataRoots: string[] }): absolute strings only. */
export function dataRootsOption(options: unknown): string[] {
  const roots = (options as { dataRoots?: unknown } | null | undefined)?.dataRoots;
  return Array.isArray(roots) ? roots.filter((d): d is string => typeof d === 'string' && path.isAbsolute(d)) : [];
}

/** The model files and data folders of a workspace (absolute, sorted). */
export interface Listing {
  models: string[];
  data: string[];
}

/** The bounds of the listing walk: folders deep, hits (models and data) and folders read in all. */
export const LISTING_LIMITS = { depth: 8, hits: 2000, folders: 20_000 } as const;

function readFolder(dir: string): fs.Dirent[] | undefined {
  try {
    return fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return undefined;
  }
}

/**
 * The workspace listing's rule, written once: every model file and every data folder under the
 * folders, skipping dependencies and dot-folders, at most LISTING_LIMITS deep, hits and folders read.
 * A generator that reads nothing itself: it yields each folder to read and is sent its entries
 * (undefined when unreadable), and yields null where a driver may pause (before each image-dataset
 * check, which reads a few folders); the CLI drives it synchronously, the language server
 * asynchronously (WorkspaceIndex.onListed).
 */
export function* listingWalk(folders: readonly string[]): Generator<string | null, Listing, fs.Dirent[] | undefined> {
  const models: string[] = [];
  const data = new Set<string>();
  const imageRoots = new Set<string>();
  let read = 0;
  const pending: Array<{ dir: string; depth: number }> = folders.map((dir) => ({ dir, depth: 0 }));
  while (pending.length > 0) {
    const { dir, depth } = pending.shift()!;
    if (depth > LISTING_LIMITS.depth || models.length + data.size > LISTING_LIMITS.hits) continue;
    if (++read > LISTING_LIMITS.folders) break;
    const entries = yield dir;
    if (!entries) continue;
    let classFolder = false;
    for (const e of entries) {
      if (e.isDirectory() && !SKIP.has(e.name) && !e.name.startsWith('.')) {
        pending.push({ dir: path.join(dir, e.name), depth: depth + 1 });
      } else if (e.isFile() && isModelFile(e.name)) models.push(path.join(dir, e.name));
      // An .npz is data by itself: the file is listed (a folder of several is not one data id).
      else if (e.isFile() && e.name.toLowerCase().endsWith('.npz')) data.add(path.join(dir, e.name));
      else if (e.isFile() && isDataFile(e.name)) data.add(dir);
      else if (e.isFile() && !classFolder && isImage(e.name)) {
        // A folder of images is a class folder when its parent (PATH, or PATH/test, PATH/train) is an image dataset.
        classFolder = true;
        let root = path.dirname(dir);
        if (['test', 'train'].includes(path.basename(root))) root = path.dirname(root);
        imageRoots.add(root);
      }
    }
  }
  for (const root of imageRoots) {
    yield null;
    if (looksLikeImageDataset(root)) data.add(root);
  }
  return { models: models.sort(), data: [...data].sort() };
}

export class WorkspaceIndex {
  private modelCache = new Map<string, { stamp: string; result: ModelResult }>();
  private dataCache = new Map<string, { stamp: string; result: DataResult }>();
  private listing: Listing | undefined;

  /**
   * @param folders the workspace folders: a spec reads and writes only inside the one holding it
   *   (or, outside every folder, inside its own folder), symlinks resolved.
   * @param dataRoots folders elsewhere a spec may name as data, given by the settings or the CLI.
   */
  /**
   * Set by the language server, which reads no file on its thread: a model or data folder not in the
   * cache (or changed on disk) is handed here with its stamp, to be described elsewhere and
   * `remember`ed; what it returns stands in meanwhile (and is not cached). Unset, the index reads.
   */
  onMiss: ((job: DescribeJob, stamp: string) => ModelResult | DataResult) | undefined;

  constructor(
    public folders: string[],
    public dataRoots: string[] = [],
  ) {}

  /** Stores what was described elsewhere (see onMiss) under the stamp it was asked with. */
  remember(job: DescribeJob, stamp: string, result: ModelResult | DataResult): void {
    if (job.kind === 'model') this.modelCache.set(job.file, { stamp, result: result as ModelResult });
    else this.dataCache.set(path.resolve(job.dir, job.id), { stamp, result: result as DataResult });
  }

  /** The folders a spec's paths must stay inside: the workspace folders holding it, else its own folder. */
  rootsFor(specFile: string): string[] {
    const holding = this.folders.filter((folder) => isInside(specFile, folder));
    return holding.length > 0 ? holding : [path.dirname(path.resolve(specFile))];
  }

  /**
   * Set by the language server, which must not block on a walk: the listing is then made
   * asynchronously (a folder a step, see listingWalk), `models()` and `dataFolders()` answering with
   * the last complete listing (none at first) meanwhile, and this is called when a walk completes.
   * Unset (the CLI), the walk runs synchronously on the first call.
   */
  onListed: (() => void) | undefined;
  private walking: Promise<void> | undefined;
  /** The last complete listing, kept through an invalidation until the next walk completes. */
  private previous: Listing | undefined;
  /** Bumped by each invalidation: a walk started before one is discarded and started again. */
  private generation = 0;

  /** Forget the listing (a model file or a data folder was created or deleted). */
  invalidateModels(): void {
    this.previous = this.listing ?? this.previous;
    this.listing = undefined;
    this.generation++;
  }

  /** Every model file and every data folder under the workspace folders (absolute); see listingWalk. */
  private list(): Listing {
    if (this.listing) return this.listing;
    if (!this.onListed) {
      const walk = listingWalk(this.folders);
      let step = walk.next();
      while (!step.done) step = walk.next(step.value === null ? undefined : readFolder(step.value));
      this.listing = step.value;
      return this.listing;
    }
    this.walking ??= this.walkInBackground();
    return this.previous ?? { models: [], data: [] };
  }

  /** The listing walk with each folder read asynchronously and the event loop given a turn between steps. */
  private async walkInBackground(): Promise<void> {
    const generation = this.generation;
    const walk = listingWalk(this.folders);
    let step = walk.next();
    while (!step.done) {
      const dir = step.value;
      let entries: fs.Dirent[] | undefined;
      if (dir === null) await new Promise((resolve) => setImmediate(resolve));
      else entries = await fs.promises.readdir(dir, { withFileTypes: true }).catch(() => undefined);
      step = walk.next(entries);
    }
    this.walking = undefined;
    if (generation !== this.generation) {
      // Invalidated while walking: what was read may be stale, so walk again.
      this.walking = this.walkInBackground();
      return;
    }
    this.listing = this.previous = step.value;
    this.onListed?.();
  }

  /** Resolves when no background walk is running (tests, and the server's shutdown). */
  async listed(): Promise<void> {
    while (this.walking) await this.walking;
  }

  models(): string[] {
    return this.list().models;
  }

  /** Folders a data source reads: the data a spec can name besides the built-in ids. */
  dataFolders(): string[] {
    return this.list().data;
  }

  model(file: string, shown: string): ModelResult {
    let stat: fs.Stats;
    try {
      stat = fs.statSync(file);
    } catch {
      return { problem: `${shown} does not exist (${file})`, missing: true };
    }
    if (!stat.isFile() && !stat.isDirectory()) {
      return { problem: `${shown} is not a regular file (a FIFO, device or socket); it is not read` };
    }
    if (stat.isDirectory()) {
      const inside = MODEL_FILE_NAMES.find((name) => fs.existsSync(path.join(file, name)));
      return inside
        ? { problem: `${shown} is a folder; point at its ${inside} (${path.join(shown, inside)})` }
        : { problem: `${shown} is a folder, not a model file (${MODEL_FILE_NAMES.join(', ')})`, missing: true };
    }
    const stamp = `${stat.mtimeMs}:${stat.size}`;
    const cached = this.modelCache.get(file);
    if (cached?.stamp === stamp) return cached.result;
    if (this.onMiss) return this.onMiss({ kind: 'model', file, shown }, stamp) as ModelResult;
    let result: ModelResult;
    try {
      const format = modelFormatFor(file);
      try {
        result = { info: format.describe(file) };
      } catch (err) {
        result = { problem: `${shown} is not a ${format.noun}: ${problemText(err)}` };
      }
    } catch (err) {
      result = { problem: `${shown} ${problemText(err)}` };
    }
    this.modelCache.set(file, { stamp, result });
    return result;
  }

  data(id: string, dir: string): DataInfo | { problem: string } {
    if (BUILTIN_DATA.includes(id as BuiltinData)) return BUILTIN_DATA_INFO[id as BuiltinData];
    const folder = path.resolve(dir, id);
    let stamp: string;
    try {
      const stat = fs.statSync(folder);
      const npz = stat.isFile() && folder.toLowerCase().endsWith('.npz');
      if (!stat.isDirectory() && !npz) {
        return { problem: `data "${id}" is a file; give ${builtins()}, a data folder or an .npz` };
      }
      stamp = String(stat.mtimeMs);
    } catch {
      return { problem: `data "${id}" is neither ${builtins(' nor ')} nor an existing folder (${folder})` };
    }
    const cached = this.dataCache.get(folder);
    if (cached?.stamp === stamp) return cached.result;
    if (this.onMiss) return this.onMiss({ kind: 'data', id, dir }, stamp) as DataResult;
    let result: DataInfo | { problem: string };
    try {
      // The headers it reads must lie inside the data folder too (symlinks resolved), as for the engine.
      result = insideDataFolder(folder, () => describeData(folder));
    } catch (err) {
      result = { problem: (err as Error).message };
    }
    this.dataCache.set(folder, { stamp, result });
    return result;
  }

  /**
   * The analysis' window onto the workspace for one spec file; `roots` are the folders its paths
   * must stay inside (by default rootsFor's).
   */
  factsFor(specFile: string, roots: string[] = this.rootsFor(specFile)): Facts {
    const dir = path.dirname(specFile);
    const where = roots.length === 1 ? `the spec's workspace folder (${roots[0]})` : "the spec's workspace folders";
    const outside = (relative: string, extra: readonly string[] = []) =>
      containedPath(dir, relative, [...roots, ...extra]) === undefined;
    return {
      model: (relative) =>
        outside(relative)
          ? {
              problem:
                `${quoted(relative)} is outside ${where}, symlinks resolved; ` +
                'a spec reads models only inside it (nothing was read)',
            }
          : this.model(path.resolve(dir, relative), relative),
      data: (id) =>
        !BUILTIN_DATA.includes(id as BuiltinData) && outside(id, this.dataRoots)
          ? {
              problem:
                `data "${quoted(id)}" is outside ${where}, symlinks resolved; name data elsewhere ` +
                "through the robustness.dataFolder setting or the CLI's --data-root, not in the spec",
            }
          : this.data(id, dir),
      output: (relative) =>
        outside(relative)
          ? `output.report "${quoted(relative)}" is outside ${where}, symlinks resolved; a spec writes only inside it ` +
            "(the CLI's --out may point elsewhere)"
          : undefined,
      models: () => this.models().map((m) => toPosix(path.relative(dir, m))),
      dataFolders: () => this.dataFolders().map((d) => toPosix(path.relative(dir, d)) || '.'),
    };
  }
}

const isImage = (name: string): boolean => IMAGE_EXTENSIONS.some((ext) => name.toLowerCase().endsWith(ext));

const builtins = (separator = ', ') => BUILTIN_DATA.map((d) => `"${d}"`).join(separator);

/** A FormatError's field and problem ("modelTopology is missing; …"), without the file it names. */
function problemText(err: unknown): string {
  if (!(err instanceof FormatError)) return (err as Error).message;
  return err.field ? `${err.field} ${err.problem}` : err.problem;
}

export function toPosix(p: string): string {
  return p.split(path.sep).join('/');
}
