/**
 * Robustness Lab's extension host: wiring only. The shared state is the context (context.ts),
 * commands are a table (commands.ts), each run's life is a RunController's (run-controller.ts),
 * and the engine runs in a worker thread started on first use (engine-host.ts).
 */
import * as vscode from 'vscode';
import { panelState } from '../protocol/messages/attack-panel';
import { MODEL_GLOB } from '../protocol/model-files';
import { RUN_STORE_DIR } from '../protocol/vocabulary';
import { RunStore } from '../store/runs';
import { PANEL_VIEW_TYPE } from './attack-panel';
import { registerCommands } from './commands';
import { Ctx } from './context';
import { Evaluations } from './evaluations';
import { TrainingController } from './training';
import { TRAINING_VIEW_TYPE } from './training-panel';

export function activate(extension: vscode.ExtensionContext): void {
  const activationStart = Date.now();
  const ctx = new Ctx(extension);
  void ctx.languageClient.start();
  const evaluations = new Evaluations(ctx);
  const training = new TrainingController(ctx, (model) => evaluations.attackModel('attack', model));

  for (const folder of vscode.workspace.workspaceFolders ?? []) {
    const recovered = new RunStore(folder.uri.fsPath).recoverInterrupted((id) => ctx.engine.isRunning(id));
    if (recovered.length) {
      ctx.log.info(`marked ${recovered.length} interrupted run(s) as failed: ${recovered.join(', ')}`);
    }
  }

  const modelWatcher = vscode.workspace.createFileSystemWatcher(MODEL_GLOB);
  const runsView = vscode.window.createTreeView('robustness.runs', { treeDataProvider: ctx.runs, canSelectMany: true });
  // A model file inside the run store (a training checkpoint, a final model) is the Runs view's business: the
  // Models view lists final models from the store when a run finishes (runsChanged), not on every checkpoint.
  const inRunStore = (uri: vscode.Uri) => uri.path.includes(`/${RUN_STORE_DIR}/`);
  const refreshModels = (uri?: vscode.Uri) => {
    if (!uri || !inRunStore(uri)) ctx.models.refresh();
  };
  const refreshModelsForFiles = (e: { files: readonly (vscode.Uri | { newUri: vscode.Uri })[] }) => {
    if (e.files.some((f) => !inRunStore(f instanceof vscode.Uri ? f : f.newUri))) ctx.models.refresh();
  };
  extension.subscriptions.push(
    ctx,
    modelWatcher,
    vscode.window.registerTreeDataProvider('robustness.models', ctx.models),
    runsView,
    ctx.runs.refreshWhileVisible(runsView),
    modelWatcher.onDidCreate(refreshModels),
    modelWatcher.onDidDelete(refreshModels),
    modelWatcher.onDidChange(refreshModels),
    // A folder deleted, moved or pasted in the explorer is no model.json event to the watcher.
    vscode.workspace.onDidDeleteFiles(refreshModelsForFiles),
    vscode.workspace.onDidRenameFiles(refreshModelsForFiles),
    vscode.workspace.onDidCreateFiles(refreshModelsForFiles),
    ...registerCommands({ ctx, evaluations, training }),
    vscode.window.registerWebviewPanelSerializer(TRAINING_VIEW_TYPE, {
      async deserializeWebviewPanel(panel: vscode.WebviewPanel) {
        training.revive(panel);
      },
    }),
    vscode.window.registerWebviewPanelSerializer(PANEL_VIEW_TYPE, {
      async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: unknown) {
        // What the webview saved (its last state message); anything else is not restored.
        const saved = panelState.safeParse(state);
        evaluations.revive(panel, saved.success ? saved.data : undefined);
      },
    }),
    vscode.workspace.onDidGrantWorkspaceTrust(() => ctx.log.info('workspace trusted: runs are enabled')),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (!e.affectsConfiguration('robustness')) return;
      ctx.log.info(`settings changed: ${ctx.reloadConfig().describe()}`);
    }),
  );
  ctx.log.info(`Robustness Lab activated in ${Date.now() - activationStart} ms`);
}

export function deactivate(): void {
  // The context, registered in activate(), stops the worker.
}
