/**
 * The state every command needs, in one object (rust-analyzer's Ctx): the engine host, the log,
 * the status bar, the Models and Runs views, the language client, the settings as last read, and
 * the one guard every run passes (a trusted workspace, a workspace folder).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { RunFinishedParams } from '../protocol/messages/lsp';
import { RunStore } from '../store/runs';
import { ClusterMonitor } from './cluster-monitor';
import { Config } from './config';
import { EngineHost } from './engine-host';
import { addStoreToGitignore, ignoresStore, STORE_IGNORE_LINE } from './gitignore';
import type { CommandId } from './command-ids';
import { RobustnessLanguageClient } from './language-client';
import type { RunHost } from './run-controller';
import { isGuarded, placeRun, type GuardedPlacement } from './run-placement';
import { ModelsProvider, RunsProvider } from './views';
import { modelName, trainedModelRun } from './run-items';
import { storedRunLabel } from './training-runs';

/** What a guarded run is about to do, as its trust warning words it ("Robustness Lab runs models …"). */
export type GuardedActivity = 'runs models' | 'runs experiment specs' | 'trains models';

export class Ctx implements RunHost, vscode.Disposable {
  readonly log: vscode.LogOutputChannel;
  readonly engine: EngineHost;
  readonly status: vscode.StatusBarItem;
  /** The cluster's status-bar item and the check before a run goes there (robustness.cluster.redisUrl). */
  readonly cluster: ClusterMonitor;
  readonly models = new ModelsProvider();
  readonly runs = new RunsProvider();
  readonly languageClient: RobustnessLanguageClient;
  private currentConfig: Config;
  /** Workspace folders whose run store a run accepted by the guard is about to create. */
  private readonly storesBeingCreated = new Set<string>();

  constructor(readonly extension: vscode.ExtensionContext) {
    this.log = vscode.window.createOutputChannel('Robustness Lab', { log: true });
    this.engine = new EngineHost(extension.extensionPath, this.log, () => this.config.workers);
    this.status = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Left, 50);
    this.status.command = 'robustness.cancelRun' satisfies CommandId;
    this.languageClient = new RobustnessLanguageClient(extension, this.log);
    this.currentConfig = this.readConfig();
    this.cluster = new ClusterMonitor(this.log);
    this.cluster.follow(this.currentConfig.clusterUrl);
  }

  get extensionUri(): vscode.Uri {
    return this.extension.extensionUri;
  }

  /** The settings as read at activation or at their last change. */
  get config(): Config {
    return this.currentConfig;
  }

  /** Rereads the settings (on a configuration change). */
  reloadConfig(): Config {
    this.currentConfig = this.readConfig(this.currentConfig);
    this.cluster.follow(this.currentConfig.clusterUrl);
    return this.currentConfig;
  }

  /** Reads the settings; each invalid one is warned about once (not again while it stays invalid). */
  private readConfig(previous?: Config): Config {
    const config = new Config(vscode.workspace.getConfiguration('robustness'));
    for (const problem of config.problems) {
      if (previous?.problems.includes(problem)) continue;
      this.log.warn(problem);
      void vscode.window.showWarningMessage(problem);
    }
    return config;
  }

  /** Every workspace folder's run store, in the workspace's order. */
  runStores(): RunStore[] {
    return (vscode.workspace.workspaceFolders ?? []).map((f) => new RunStore(f.uri.fsPath));
  }

  /**
   * The run store holding `runId`: that of the workspace folder whose store has the run (a run is
   * stored in the folder its guard placed it in), else the first folder's, as without a run id.
   */
  /** How a person knows a model file: its folder's name, or for a training run's final model that run's name. */
  modelName(file: string): string {
    const runId = trainedModelRun(file);
    const store = runId === undefined ? undefined : this.runStores().find((s) => s.has(runId));
    return store && runId ? storedRunLabel(store, runId) : modelName(file);
  }

  workspaceStore(runId?: string): RunStore | undefined {
    const stores = this.runStores();
    const holding = runId === undefined ? undefined : stores.find((store) => store.has(runId));
    return holding ?? stores[0];
  }

  /**
   * The workspace folder a run about `file` (or, without one, a new training run) keeps its record
   * in, with every file in `reads` inside it; undefined after telling the user why the run may not
   * start. The placement it returns is what RunController.start and resume require.
   */
  async guardRun(
    activity: GuardedActivity,
    file?: string,
    reads?: ReadonlyArray<string | undefined>,
  ): Promise<GuardedPlacement | undefined> {
    const placement = placeRun({
      trusted: vscode.workspace.isTrusted,
      folders: (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath),
      ...(file !== undefined ? { file } : {}),
      ...(reads !== undefined ? { reads } : {}),
    });
    if (isGuarded(placement)) {
      if (!fs.existsSync(this.storeFolder(placement.folder))) this.storesBeingCreated.add(placement.folder);
      return placement;
    }
    switch (placement.refusal) {
      case 'untrusted': {
        const choice = await vscode.window.showWarningMessage(
          `Robustness Lab ${activity} only in trusted workspaces.`,
          'Manage Workspace Trust',
        );
        if (choice) await vscode.commands.executeCommand('workbench.trust.manage');
        return undefined;
      }
      case 'no-folder':
        void vscode.window.showErrorMessage('Robustness Lab: open a folder to keep training runs in.');
        return undefined;
      case 'outside-workspace':
        void vscode.window.showErrorMessage(
          `Robustness Lab: ${placement.file} is outside the workspace; open its folder first.`,
        );
        return undefined;
      case 'reads-outside':
        void vscode.window.showErrorMessage(
          `Robustness Lab: ${path.basename(placement.file)} points outside ` +
            `the workspace (${placement.outside}); keep models inside ${placement.folder}.`,
        );
        return undefined;
    }
  }

  refreshRuns(): void {
    this.runs.refresh();
    this.models.runsChanged();
    for (const folder of this.storesBeingCreated) {
      if (!fs.existsSync(this.storeFolder(folder))) continue;
      this.storesBeingCreated.delete(folder);
      void this.offerGitignore(folder);
    }
  }

  /** `folder`/.robustness: the run store's folder (runs and their reports). */
  private storeFolder(folder: string): string {
    return path.join(folder, STORE_IGNORE_LINE);
  }

  /**
   * Says once per workspace folder, when the extension has just created its .robustness/ folder,
   * what it holds, and offers to keep it out of Git (unless .gitignore already does).
   */
  private async offerGitignore(folder: string): Promise<void> {
    const key = `robustness.storeFolderNotice:${folder}`;
    if (this.extension.workspaceState.get<boolean>(key)) return;
    let gitignore = '';
    try {
      gitignore = fs.readFileSync(path.join(folder, '.gitignore'), 'utf8');
    } catch {
      // No .gitignore yet: adding the line creates it.
    }
    if (ignoresStore(gitignore)) return;
    await this.extension.workspaceState.update(key, true);
    const add = 'Add to .gitignore';
    const keep = 'Keep in Git';
    const where = (vscode.workspace.workspaceFolders?.length ?? 0) > 1 ? ` in ${path.basename(folder)}` : '';
    const choice = await vscode.window.showInformationMessage(
      `Robustness Lab keeps its runs and reports in ${STORE_IGNORE_LINE}${where}. Add it to .gitignore?`,
      add,
      keep,
    );
    if (choice !== add) return;
    try {
      const result = addStoreToGitignore(folder);
      this.log.info(`${STORE_IGNORE_LINE} ${result === 'added' ? 'added to' : 'was already in'} ${folder}/.gitignore`);
    } catch (err) {
      void vscode.window.showErrorMessage(`Robustness Lab: .gitignore could not be written: ${(err as Error).message}`);
    }
  }

  runFinished(params: RunFinishedParams): void {
    this.languageClient.runFinished(params);
  }

  showError(message: string, ...actions: string[]): Thenable<string | undefined> {
    return vscode.window.showErrorMessage(message, ...actions);
  }

  dispose(): void {
    void this.engine.dispose();
    this.cluster.dispose();
    this.languageClient.dispose();
    this.status.dispose();
    this.log.dispose();
  }
}
