/** The Models and Runs trees of the Robustness container. */
import * as vscode from 'vscode';
import { RunStore, type RunEntry } from '../store/runs';
import { MODEL_GLOB, MODEL_SEARCH_EXCLUDE } from '../protocol/model-files';
import type { CommandId } from './command-ids';
import { finishedTrainingModels } from './training-runs';
import { workspaceRelative } from '../common/workspace-path';
import { listModel, type ListedModel } from './model-choice';
import { runItemView, type LiveProgress } from './run-items';

const workspaceFolders = () => (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath);

export class ModelItem extends vscode.TreeItem {
  readonly uri: vscode.Uri;

  constructor(readonly model: ListedModel) {
    super(model.label, vscode.TreeItemCollapsibleState.None);
    this.uri = vscode.Uri.file(model.file);
    this.description = model.info;
    this.tooltip = `${workspaceRelative(model.file, workspaceFolders())}\n${model.problem ?? model.info}`;
    this.resourceUri = this.uri;
    if (model.problem) {
      this.contextValue = 'robustness.model.broken';
      this.iconPath = new vscode.ThemeIcon('warning', new vscode.ThemeColor('problemsWarningIcon.foreground'));
    } else {
      this.contextValue = 'robustness.model';
      this.iconPath = new vscode.ThemeIcon('symbol-class');
    }
    this.command = { command: 'vscode.open', title: `Open ${model.label}`, arguments: [this.uri] };
  }
}

/** The Models view's group of training runs' final models (they live in .robustness/, which the search skips). */
export class TrainedGroupItem extends vscode.TreeItem {
  constructor(readonly models: readonly ListedModel[]) {
    super('Trained', vscode.TreeItemCollapsibleState.Expanded);
    this.description = `${models.length} final model${models.length === 1 ? '' : 's'} of training runs`;
    this.iconPath = new vscode.ThemeIcon('mortar-board');
    this.contextValue = 'robustness.trainedGroup';
  }
}

export type ModelsNode = ModelItem | TrainedGroupItem;

/** Every finished training run's final model, newest first, named after its run. */
function trainedModels(folders: readonly string[]): ListedModel[] {
  return folders.flatMap((folder) =>
    finishedTrainingModels(new RunStore(folder)).map(({ runName, modelFile }) =>
      listModel(modelFile, folders, runName),
    ),
  );
}

export class ModelsProvider implements vscode.TreeDataProvider<ModelsNode> {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly info = new Map<string, ListedModel>();
  /** The trained models last shown, to redraw only when a training run adds or removes one. */
  private trainedShown = '';

  refresh(): void {
    this.info.clear();
    this.changed.fire();
  }

  /** After the run store changed: redraws when the set of trained final models changed. */
  runsChanged(): void {
    const now = trainedModels(workspaceFolders())
      .map((m) => `${m.file}|${m.label}`)
      .join('\n');
    if (now === this.trainedShown) return;
    this.trainedShown = now;
    this.changed.fire();
  }

  getTreeItem(item: ModelsNode): vscode.TreeItem {
    return item;
  }

  /** The workspace's models, in path order, each described once until the next refresh. */
  private async workspaceModels(): Promise<ListedModel[]> {
    const files = await vscode.workspace.findFiles(MODEL_GLOB, MODEL_SEARCH_EXCLUDE, 500);
    files.sort((a, b) => a.fsPath.localeCompare(b.fsPath));
    const folders = workspaceFolders();
    return files.map((uri) => {
      let model = this.info.get(uri.fsPath);
      if (model === undefined) {
        model = listModel(uri.fsPath, folders);
        this.info.set(uri.fsPath, model);
      }
      return model;
    });
  }

  /** Every model the view lists: the workspace's, then the training runs' final models. */
  async list(): Promise<ListedModel[]> {
    return [...(await this.workspaceModels()), ...trainedModels(workspaceFolders())];
  }

  async getChildren(node?: ModelsNode): Promise<ModelsNode[]> {
    if (node instanceof TrainedGroupItem) return node.models.map((model) => new ModelItem(model));
    if (node) return [];
    const trained = trainedModels(workspaceFolders());
    this.trainedShown = trained.map((m) => `${m.file}|${m.label}`).join('\n');
    const items: ModelsNode[] = (await this.workspaceModels()).map((model) => new ModelItem(model));
    // An empty view keeps its welcome (add the example, train a model) until there is a model.
    return trained.length ? [...items, new TrainedGroupItem(trained)] : items;
  }
}

/** What a Runs view item runs when clicked. */
const OPEN_TRAINING: CommandId = 'robustness.openTraining';
const OPEN_RUN: CommandId = 'robustness.openRun';

export class RunItem extends vscode.TreeItem {
  constructor(
    readonly entry: RunEntry,
    folder: string,
    live?: LiveProgress,
    now = Date.now(),
    runNames?: ReadonlyMap<string, string>,
  ) {
    super(entry.id, vscode.TreeItemCollapsibleState.None);
    const view = runItemView(entry, now, live, runNames);
    this.label = view.label;
    this.description = view.description;
    this.tooltip = new vscode.MarkdownString(view.tooltip);
    this.iconPath = new vscode.ThemeIcon(
      view.icon.id,
      view.icon.color ? new vscode.ThemeColor(view.icon.color) : undefined,
    );
    this.contextValue = view.contextValue;
    if (view.opens === 'training') this.command = { command: OPEN_TRAINING, title: 'Open', arguments: [this] };
    if (view.opens === 'report') {
      this.command = { command: OPEN_RUN, title: 'Open Run', arguments: [entry.id, folder] };
    }
  }
}

/** How often the Runs view redraws while visible, so that "2 min ago" stays true. */
export const RUNS_REFRESH_MS = 30_000;

export class RunsProvider implements vscode.TreeDataProvider<RunItem> {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changed.event;
  readonly live = new Map<string, LiveProgress>();

  refresh(): void {
    this.changed.fire();
  }

  getTreeItem(item: RunItem): vscode.TreeItem {
    return item;
  }

  getChildren(): RunItem[] {
    const now = Date.now();
    return (vscode.workspace.workspaceFolders ?? []).flatMap((folder) => {
      const entries = new RunStore(folder.uri.fsPath).list();
      const names = new Map(entries.flatMap((e) => (e.record?.name ? [[e.id, e.record.name] as const] : [])));
      return entries.map((entry) => new RunItem(entry, folder.uri.fsPath, this.live.get(entry.id), now, names));
    });
  }

  /** Redraws the view every RUNS_REFRESH_MS while it is visible (relative times), and not while hidden. */
  refreshWhileVisible(view: vscode.TreeView<RunItem>, everyMs = RUNS_REFRESH_MS): vscode.Disposable {
    let timer: ReturnType<typeof setInterval> | undefined;
    const follow = (visible: boolean) => {
      if (visible && !timer) {
        timer = setInterval(() => this.refresh(), everyMs);
        this.refresh();
      } else if (!visible && timer) {
        clearInterval(timer);
        timer = undefined;
      }
    };
    follow(view.visible);
    const subscription = view.onDidChangeVisibility((e) => follow(e.visible));
    return new vscode.Disposable(() => {
      subscription.dispose();
      follow(false);
    });
  }
}
