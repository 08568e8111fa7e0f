/**
 * The run store: one folder per run under <workspace>/.robustness/runs/<id>/ holding run.json
 * and report.json. Every write is atomic (temporary file in the same folder, then rename), so a
 * crash leaves the previous complete file; a broken folder is listed with its problem, never thrown.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Report } from '../protocol/report';
import { RUN_STORE_DIR, type RunKind, type RunStatus } from '../protocol/vocabulary';
import type { RunSummary } from '../protocol/format';
import { writeFileAtomic } from '../common/atomic-write';
import { parseJsonText, readTextBounded } from '../formats/file-read';

export type { RunKind, RunStatus };

export interface RunRecord {
  id: string;
  kind: RunKind;
  status: RunStatus;
  /**
   * The run's display name: set when the run starts (a training run: "smallcnn · PGD-AT ε=0.1 · 5 ep",
   * see trainingRunName) and changed by Rename. Older records have none: show the id then.
   */
  name?: string;
  /** Model path relative to the workspace (or absolute when outside it). */
  model: string;
  created: string;
  finished?: string;
  summary?: RunSummary;
  error?: string;
  /** Training: the last finished epoch, for the Runs view. */
  progress?: { epoch: number; epochs: number; clean?: number; robust?: number; etaSeconds?: number };
  /** The experiment spec that started the run (workspace-relative), for its CodeLens. */
  spec?: string;
  /** The job as submitted, for reruns. */
  config?: unknown;
  /** A cancelled evaluation that kept what finished (its report.json is partial): the last stage done. */
  cancelledAfter?: string;
}

export interface RunEntry {
  id: string;
  dir: string;
  record?: RunRecord;
  /** Why the folder cannot be read as a run, when it cannot. */
  problem?: string;
}

const ID = /^[A-Za-z0-9._-]{1,80}$/;

export class RunStore {
  readonly root: string;

  constructor(workspaceFolder: string) {
    this.root = path.join(workspaceFolder, ...RUN_STORE_DIR.split('/'));
  }

  /** Sortable, unique, filesystem-safe: 20261125-084726-123-eval. */
  newId(kind: RunKind, now = new Date()): string {
    const stamp = now
      .toISOString()
      .replace(/[-:]/g, '')
      .replace('T', '-')
      .replace(/\.(\d{3})Z$/, '-$1');
    let id = `${stamp}-${kind === 'evaluation' ? 'eval' : 'train'}`;
    for (let n = 2; fs.existsSync(path.join(this.root, id)); n++)
      id = `${stamp}-${kind === 'evaluation' ? 'eval' : 'train'}-${n}`;
    return id;
  }

  dir(id: string): string {
    if (!ID.test(id)) throw new Error(`invalid run id "${id}"`);
    return path.join(this.root, id);
  }

  /** True when this store has a folder for `id` (false for an id that is not a run id). */
  has(id: string): boolean {
    return ID.test(id) && fs.existsSync(path.join(this.root, id));
  }

  create(record: RunRecord): string {
    const dir = this.dir(record.id);
    fs.mkdirSync(dir, { recursive: true });
    writeFileAtomic(path.join(dir, 'run.json'), JSON.stringify(record, null, 2));
    return dir;
  }

  update(id: string, patch: Partial<RunRecord>): RunRecord {
    const current = this.read(id);
    const next = { ...current, ...patch, id };
    writeFileAtomic(path.join(this.dir(id), 'run.json'), JSON.stringify(next, null, 2));
    return next;
  }

  /** Writes report.json first, then marks the run done: a crash in between leaves a readable report. */
  finish(id: string, report: Report): RunRecord {
    writeFileAtomic(path.join(this.dir(id), 'report.json'), JSON.stringify(report));
    const strongest = [...report.attacks].sort((a, b) => a.robust_accuracy - b.robust_accuracy)[0];
    return this.update(id, {
      status: 'done',
      finished: new Date().toISOString(),
      summary: {
        cleanAccuracy: report.clean_accuracy,
        robustAccuracy: report.robust_accuracy,
        // A suite's stages are accuracies after each stage: name the suite, not its last stage.
        attack: report.suite ? `${report.suite} suite` : (strongest?.label ?? 'none'),
        norm: report.threat.norm,
        eps: report.threat.eps,
        // The accuracies' 95% intervals need the number of images.
        ...(typeof report.n === 'number' ? { n: report.n } : {}),
      },
    });
  }

  read(id: string): RunRecord {
    const file = path.join(this.dir(id), 'run.json');
    const parsed = parseJsonText(readTextBounded(file, 'runRecord'), file) as RunRecord;
    if (parsed.id !== id || typeof parsed.status !== 'string' || typeof parsed.model !== 'string') {
      throw new Error(`${file}: not a run record (id, status and model are required)`);
    }
    return parsed;
  }

  readReport(id: string): Report {
    const file = path.join(this.dir(id), 'report.json');
    return parseJsonText(readTextBounded(file, 'report'), file) as Report;
  }

  /** Every run folder, newest first; unreadable ones carry a problem instead of a record. */
  list(): RunEntry[] {
    if (!fs.existsSync(this.root)) return [];
    return fs
      .readdirSync(this.root, { withFileTypes: true })
      .filter((e) => e.isDirectory() && ID.test(e.name))
      .map((e) => e.name)
      .sort()
      .reverse()
      .map((id): RunEntry => {
        const dir = path.join(this.root, id);
        try {
          return { id, dir, record: this.read(id) };
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          return {
            id,
            dir,
            problem: code === 'ENOENT' ? 'run.json is missing' : `run.json is unreadable: ${(err as Error).message}`,
          };
        }
      });
  }

  delete(id: string): void {
    fs.rmSync(this.dir(id), { recursive: true, force: true });
  }

  /** Marks runs left "running" by a process that died as failed. */
  recoverInterrupted(isLive: (id: string) => boolean): string[] {
    const recovered: string[] = [];
    for (const entry of this.list()) {
      if (entry.record?.status === 'running' && !isLive(entry.id)) {
        this.update(entry.id, {
          status: 'failed',
          error: 'interrupted: the editor or engine stopped before the run finished',
        });
        recovered.push(entry.id);
      }
    }
    return recovered;
  }
}
