/** The Models and Runs trees of the Robustness container. */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { RunStore, type RunEntry } from '../store/runs';
import { clipError, relativeTime, runTitle, trainingRunTitle } from '../protocol/format';
import { describeModel, formatModelInfo } from '../formats/model-formats';
import { MODEL_GLOB, MODEL_SEARCH_EXCLUDE } from '../protocol/model-files';
import type { CommandId } from './command-ids';

export class ModelItem extends vscode.TreeItem {
  constructor(
    readonly uri: vscode.Uri,
    description: string,
  ) {
    super(path.basename(path.dirname(uri.fsPath)), vscode.TreeItemCollapsibleState.None);
    this.description = description;
    this.tooltip = `${vscode.workspace.asRelativePath(uri)}\n${description}`;
    this.resourceUri = uri;
    this.contextValue = 'robustness.model';
    this.iconPath = new vscode.ThemeIcon('symbol-class');
    this.command = { command: 'vscode.open', title: `Open ${path.basename(uri.fsPath)}`, arguments: [uri] };
  }
}

function describeOrProblem(file: string): string {
  try {
    return formatModelInfo(describeModel(file));
  } catch (err) {
    return `unreadable: ${clipError((err as Error).message)}`;
  }
}

export class ModelsProvider implements vscode.TreeDataProvider<ModelItem> {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly info = new Map<string, string>();

  refresh(): void {
    this.info.clear();
    this.changed.fire();
  }

  getTreeItem(item: ModelItem): vscode.TreeItem {
    return item;
  }

  async getChildren(): Promise<ModelItem[]> {
    const files = await vscode.workspace.findFiles(MODEL_GLOB, MODEL_SEARCH_EXCLUDE, 500);
    files.sort((a, b) => a.fsPath.localeCompare(b.fsPath));
    return Promise.all(
      files.map(async (uri) => {
        let description = this.info.get(uri.fsPath);
        if (description === undefined) {
          description = describeOrProblem(uri.fsPath);
          this.info.set(uri.fsPath, description);
        }
        return new ModelItem(uri, description);
      }),
    );
  }
}

/** What a Runs view item runs when clicked. */
const OPEN_TRAINING: CommandId = 'robustness.openTraining';
const OPEN_RUN: CommandId = 'robustness.openRun';

const ago = (iso: string): string => relativeTime(iso, Date.now());

export class RunItem extends vscode.TreeItem {
  constructor(
    readonly entry: RunEntry,
    folder: string,
    live?: { label: string; done: number; total: number },
  ) {
    super(entry.id, vscode.TreeItemCollapsibleState.None);
    const r = entry.record;
    if (!r) {
      this.label = `${entry.id} (broken)`;
      this.description = entry.problem ?? '';
      this.tooltip = `${entry.dir}\n${entry.problem ?? ''}`;
      this.iconPath = new vscode.ThemeIcon('warning', new vscode.ThemeColor('problemsWarningIcon.foreground'));
      this.contextValue = 'robustness.run.broken';
      return;
    }
    const model = path.basename(path.dirname(r.model));
    if (r.kind === 'training') {
      const method = (r.config as { method?: string } | undefined)?.method ?? 'training';
      this.label = trainingRunTitle({ method, status: r.status, ...(r.progress ? { progress: r.progress } : {}) });
      this.description = `${r.status} · ${ago(r.finished ?? r.created)}`;
      this.tooltip = `${r.model}\ntraining · ${r.status} · started ${r.created}${r.error ? `\n${r.error}` : ''}`;
      this.iconPath = new vscode.ThemeIcon(
        { running: 'sync~spin', done: 'pass', failed: 'error', cancelled: 'debug-pause' }[r.status],
      );
      this.contextValue = `robustness.training.${r.status}`;
      this.command = { command: OPEN_TRAINING, title: 'Open', arguments: [this] };
      return;
    }
    if (r.status === 'done' && r.summary) {
      this.label = `${model} · ${runTitle(r.summary)}`;
      this.description = ago(r.finished ?? r.created);
      this.iconPath = new vscode.ThemeIcon('pass', new vscode.ThemeColor('testing.iconPassed'));
      this.command = { command: OPEN_RUN, title: 'Open Run', arguments: [entry.id, folder] };
    } else if (r.status === 'running') {
      this.label = `${model} · running`;
      this.description = live ? `${live.label} ${live.done}/${live.total}` : 'starting';
      this.iconPath = new vscode.ThemeIcon('sync~spin');
    } else {
      this.label = `${model} · ${r.status}`;
      this.description = r.error ? clipError(r.error) : ago(r.created);
      this.iconPath = new vscode.ThemeIcon(r.status === 'failed' ? 'error' : 'circle-slash');
      // A cancelled evaluation that kept its finished stages opens like a finished one.
      if (r.cancelledAfter) {
        this.description = `cancelled after ${r.cancelledAfter} · ${ago(r.finished ?? r.created)}`;
        this.command = { command: OPEN_RUN, title: 'Open Run', arguments: [entry.id, folder] };
      }
    }
    this.tooltip = `${r.model}\n${r.kind} · ${r.status} · started ${r.created}${r.error ? `\n${r.error}` : ''}`;
    this.contextValue = `robustness.run.${r.status}`;
  }
}

export class RunsProvider implements vscode.TreeDataProvider<RunItem> {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changed.event;
  readonly live = new Map<string, { label: string; done: number; total: number }>();

  refresh(): void {
    this.changed.fire();
  }

  getTreeItem(item: RunItem): vscode.TreeItem {
    return item;
  }

  getChildren(): RunItem[] {
    return (vscode.workspace.workspaceFolders ?? []).flatMap((folder) =>
      new RunStore(folder.uri.fsPath)
        .list()
        .map((entry) => new RunItem(entry, folder.uri.fsPath, this.live.get(entry.id))),
    );
  }
}
