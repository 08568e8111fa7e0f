/**
 * Robustness Lab's extension host: wiring only. The engine runs in a worker thread
 * (engineHost), the panel renders host-owned state (attackPanel), runs live in the workspace
 * (store/runs), and the logic sits in plain modules tested under Node.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { BackendPreference, PanelState } from '../protocol/messages';
import type { AttackJob } from '../protocol/jobs';
import { SPEC_SUFFIX, specAttackJob, specTrainJob } from '../protocol/experiment-spec';
import { writeReport } from '../store/report-files';
import { RunStore } from '../store/runs';
import { analyzeSpec } from '../experiment/analysis';
import { WorkspaceIndex } from '../experiment/workspace';
import { AttackPanel, PANEL_VIEW_TYPE } from './attack-panel';
import { EngineHost, isCrash } from './engine-host';
import { RobustnessLanguageClient } from './language-client';
import { attackJobFor, containingFolder, type AttackKind, type RobustnessSettings } from './jobs-from-settings';
import { initialState, reducePanel, statusText, type PanelEvent } from './panel-state';
import { TrainingController, TRAINING_VIEW_TYPE } from './training';
import { ModelItem, ModelsProvider, RunItem, RunsProvider } from './views';

export function activate(context: vscode.ExtensionContext): void {
  const activationStart = Date.now();
  const log = vscode.window.createOutputChannel('Robustness Lab', { log: true });
  const engine = new EngineHost(context.extensionPath, log);
  const models = new ModelsProvider();
  const runs = new RunsProvider();
  const status = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Left, 50);
  status.command = 'robustness.cancelRun';
  const states = new Map<string, PanelState>();
  let activeRun: string | undefined;
  const handlers = { cancel: (runId: string) => void cancel(runId), log };
  const languageClient = new RobustnessLanguageClient(context, log);
  void languageClient.start();

  const settings = (): RobustnessSettings & { backend: BackendPreference } => {
    const c = vscode.workspace.getConfiguration('robustness');
    return {
      norm: c.get<'linf' | 'l2'>('threatModel.norm', 'linf'), eps: c.get<number>('threatModel.eps', 0.1),
      steps: c.get<number>('attack.steps', 10), samples: c.get<number>('samples', 500), dataset: c.get<string>('dataset', 'embedded'),
      backend: c.get<BackendPreference>('backend', 'auto'),
    };
  };

  const update = (runId: string, event: PanelEvent) => {
    const next = reducePanel(states.get(runId)!, event);
    states.set(runId, next);
    AttackPanel.find(runId)?.update(next);
    if (next.status === 'running') {
      status.text = statusText(next, Date.now());
      status.tooltip = `Robustness Lab: ${next.title} — click to cancel`;
      status.show();
    } else if (activeRun === runId) {
      status.hide();
    }
  };

  async function cancel(runId = activeRun): Promise<void> {
    if (!runId) {
      void vscode.window.showInformationMessage('Robustness Lab: no run is in progress.');
      return;
    }
    const cancelled = await engine.cancel(runId).catch(() => false);
    log.info(`cancel requested for ${runId}: ${cancelled ? 'stopping' : 'not running'}`);
  }

  async function runAttack(kind: AttackKind, target?: vscode.Uri): Promise<void> {
    const uri = target ?? vscode.window.activeTextEditor?.document.uri;
    if (!uri || path.basename(uri.fsPath) !== 'model.json') {
      void vscode.window.showErrorMessage('Robustness Lab: choose a model.json (right-click it in the explorer).');
      return;
    }
    if (!vscode.workspace.isTrusted) {
      const choice = await vscode.window.showWarningMessage(
        'Robustness Lab runs models only in trusted workspaces.', 'Manage Workspace Trust');
      if (choice) await vscode.commands.executeCommand('workbench.trust.manage');
      return;
    }
    const folders = (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath);
    const folder = containingFolder(uri.fsPath, folders);
    if (!folder) {
      void vscode.window.showErrorMessage(`Robustness Lab: ${uri.fsPath} is outside the workspace; open its folder first.`);
      return;
    }
    const s = settings();
    const job = attackJobFor(uri.fsPath, folder, s, kind);
    const title = `${{ attack: 'Attack', curve: 'Curve', evaluate: 'Evaluate (strong)' }[kind]}: ${path.basename(path.dirname(uri.fsPath))} · ${s.norm} ε=${s.eps}`;
    await executeAttack(job, folder, title, kind);
  }

  /** Runs an attack job as a stored run with a live panel; `source` is the spec (workspace-relative) or the command. */
  async function executeAttack(job: AttackJob, folder: string, title: string, source: string, spec?: string, reportDir?: string): Promise<void> {
    const store = new RunStore(folder);
    const relModel = path.relative(folder, job.model);
    const runId = store.newId('evaluation');
    const created = new Date().toISOString();
    store.create({ id: runId, kind: 'evaluation', status: 'running', model: relModel, created, config: job, ...(spec ? { spec } : {}) });
    states.set(runId, initialState(runId, title, created));
    activeRun = runId;
    AttackPanel.show(context.extensionUri, states.get(runId)!, handlers);
    runs.refresh();
    log.info(`run ${runId}: ${source} ${relModel} (${job.suite ? `suite ${job.suite}` : job.attacks.join(', ')}, ${job.norm} ε=${job.eps}, n=${job.n}, data ${job.data})`);
    const ahead = engine.queued;
    if (ahead > 0) update(runId, { type: 'progress', label: `queued behind ${ahead} earlier run${ahead > 1 ? 's' : ''}`, done: 0, total: 1 });
    let final: 'done' | 'failed' | 'cancelled' = 'failed';
    try {
      const report = await engine.runAttack(runId, job, settings().backend, (p) => {
        runs.live.set(runId, p);
        update(runId, { type: 'progress', label: p.label, done: p.done, total: p.total });
      });
      report.model = relModel;
      store.finish(runId, report);
      final = 'done';
      update(runId, { type: 'finished', report });
      log.info(`run ${runId} done: clean ${report.clean_accuracy}, robust ${report.robust_accuracy}, ${report.time_s.toFixed(1)} s on ${report.backend}`);
      if (reportDir) {
        try {
          log.info(`run ${runId}: report written to ${writeReport(reportDir, report).html}`);
        } catch (err) {
          log.warn(`run ${runId}: the spec's output.report folder ${reportDir} could not be written: ${(err as Error).message}`);
        }
      }
    } catch (err) {
      const e = err as Error;
      if (e.name === 'AbortError') {
        store.update(runId, { status: 'cancelled', finished: new Date().toISOString() });
        final = 'cancelled';
        update(runId, { type: 'cancelled' });
        log.info(`run ${runId} cancelled`);
      } else {
        const message = isCrash(e)
          ? `the engine crashed while attacking ${relModel} (${e.message}); it restarts on the next run`
          : e.message;
        store.update(runId, { status: 'failed', error: message, finished: new Date().toISOString() });
        update(runId, { type: 'failed', error: message });
        log.error(`run ${runId} failed: ${message}`);
        void vscode.window.showErrorMessage(`Robustness Lab: ${message}`, 'Show Log').then((a) => { if (a) log.show(); });
      }
    } finally {
      runs.live.delete(runId);
      if (activeRun === runId) { activeRun = undefined; status.hide(); }
      runs.refresh();
      languageClient.runFinished({ runId, folder, status: final });
    }
  }

  /** The Run and Train lenses of an experiment spec: check it as the server does, then start the job. */
  async function runSpec(target: string | vscode.Uri | undefined, train: boolean): Promise<void> {
    const uri = typeof target === 'string' ? vscode.Uri.parse(target) : target ?? vscode.window.activeTextEditor?.document.uri;
    if (!uri || !uri.fsPath.endsWith(SPEC_SUFFIX)) {
      void vscode.window.showErrorMessage(`Robustness Lab: open an experiment spec (*${SPEC_SUFFIX}) first.`);
      return;
    }
    if (!vscode.workspace.isTrusted) {
      void vscode.window.showWarningMessage('Robustness Lab runs experiment specs only in trusted workspaces.');
      return;
    }
    const folder = containingFolder(uri.fsPath, (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath));
    if (!folder) {
      void vscode.window.showErrorMessage(`Robustness Lab: ${uri.fsPath} is outside the workspace; open its folder first.`);
      return;
    }
    const document = await vscode.workspace.openTextDocument(uri);
    const name = path.basename(uri.fsPath);
    const { problems, spec } = analyzeSpec(document.getText(), new WorkspaceIndex([folder]).factsFor(uri.fsPath));
    const errors = problems.filter((p) => p.severity === 'error');
    if (errors.length > 0 || !spec) {
      const first = errors[0];
      const where = first ? ` (line ${document.positionAt(first.start).line + 1}: ${first.message})` : '';
      const choice = await vscode.window.showErrorMessage(`Robustness Lab: ${name} has ${errors.length} error${errors.length === 1 ? '' : 's'}${where}; fix ${errors.length === 1 ? 'it' : 'them'} to run.`, 'Show Problems');
      if (choice) await vscode.commands.executeCommand('workbench.actions.view.problems');
      return;
    }
    const dir = path.dirname(uri.fsPath);
    const resolve = (relative: string) => path.resolve(dir, relative);
    const specRel = path.relative(folder, uri.fsPath);
    if (train) {
      const job = specTrainJob(spec, resolve, fs.existsSync(resolve(spec.model)));
      if (!job) return void vscode.window.showErrorMessage(`Robustness Lab: ${name} has no "training" block to train with.`);
      await training.startJob(job, job.init ? path.relative(folder, job.init) : `${job.method} (new smallcnn)`, specRel);
      return;
    }
    const job = specAttackJob(spec, resolve);
    for (const file of [job.model, job.surrogate].filter((f): f is string => Boolean(f))) {
      if (!containingFolder(file, [folder])) {
        void vscode.window.showErrorMessage(`Robustness Lab: ${name} points outside the workspace (${file}); keep models inside ${folder}.`);
        return;
      }
    }
    const title = `${spec.name ?? name}: ${path.basename(path.dirname(job.model))} · ${job.norm} ε=${job.eps}`;
    await executeAttack(job, folder, title, `spec ${specRel}`, specRel, spec.output?.report ? resolve(spec.output.report) : undefined);
  }

  function openRun(runId: string | RunItem | undefined, folder?: string): void {
    const id = runId instanceof RunItem ? runId.entry.id : runId;
    const workspace = folder ?? vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    if (!id || !workspace) return;
    const store = new RunStore(workspace);
    try {
      const record = store.read(id);
      const report = record.status === 'done' ? store.readReport(id) : undefined;
      const base = initialState(id, `Run: ${path.basename(path.dirname(record.model))} · ${id}`, record.created);
      const state: PanelState = report ? { ...base, status: 'done', report }
        : { ...base, status: record.status === 'running' ? 'running' : record.status, ...(record.error ? { error: record.error } : {}) };
      states.set(id, state);
      AttackPanel.show(context.extensionUri, state, handlers);
    } catch (err) {
      void vscode.window.showErrorMessage(`Robustness Lab: run ${id} cannot be opened: ${(err as Error).message}`);
    }
  }

  const training = new TrainingController(context, {
    engine, log, backend: () => settings().backend, dataset: () => settings().dataset, refresh: () => runs.refresh(),
    trainImages: () => vscode.workspace.getConfiguration('robustness').get<number | null>('training.trainImages') ?? undefined,
    attack: (model) => runAttack('attack', model),
    finished: (runId, folder, final) => languageClient.runFinished({ runId, folder, status: final }),
  });
  const runIdOf = (item: RunItem | string | undefined): string | undefined => (item instanceof RunItem ? item.entry.id : item);
  const workspaceStore = () => {
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    return folder ? new RunStore(folder) : undefined;
  };
  const finalModel = (item: RunItem | string | undefined): vscode.Uri | undefined => {
    const id = runIdOf(item);
    const store = workspaceStore();
    return id && store ? vscode.Uri.file(path.join(store.dir(id), 'model.json')) : undefined;
  };

  for (const folder of vscode.workspace.workspaceFolders ?? []) {
    const recovered = new RunStore(folder.uri.fsPath).recoverInterrupted((id) => engine.isRunning(id));
    if (recovered.length) log.info(`marked ${recovered.length} interrupted run(s) as failed: ${recovered.join(', ')}`);
  }

  const watcher = vscode.workspace.createFileSystemWatcher('**/model.json');
  context.subscriptions.push(
    log, status, watcher, languageClient,
    vscode.window.registerTreeDataProvider('robustness.models', models),
    vscode.window.createTreeView('robustness.runs', { treeDataProvider: runs, canSelectMany: true }),
    watcher.onDidCreate(() => models.refresh()), watcher.onDidDelete(() => models.refresh()), watcher.onDidChange(() => models.refresh()),
    vscode.commands.registerCommand('robustness.attack', (uri?: vscode.Uri | ModelItem) => runAttack('attack', uri instanceof ModelItem ? uri.uri : uri)),
    vscode.commands.registerCommand('robustness.curve', (uri?: vscode.Uri | ModelItem) => runAttack('curve', uri instanceof ModelItem ? uri.uri : uri)),
    vscode.commands.registerCommand('robustness.evaluate', (uri?: vscode.Uri | ModelItem) => runAttack('evaluate', uri instanceof ModelItem ? uri.uri : uri)),
    vscode.commands.registerCommand('robustness.runSpec', (uri?: string | vscode.Uri) => runSpec(uri, false)),
    vscode.commands.registerCommand('robustness.trainSpec', (uri?: string | vscode.Uri) => runSpec(uri, true)),
    // The source-file lenses pass a plain path (LSP command arguments are JSON).
    vscode.commands.registerCommand('robustness.attackPath', (file?: string) => runAttack('attack', file ? vscode.Uri.file(file) : undefined)),
    vscode.commands.registerCommand('robustness.cancelRun', () => cancel()),
    vscode.commands.registerCommand('robustness.openRun', openRun),
    vscode.commands.registerCommand('robustness.showLog', () => log.show()),
    vscode.commands.registerCommand('robustness.refreshModels', () => models.refresh()),
    vscode.commands.registerCommand('robustness.trainFromModel', (uri?: vscode.Uri | ModelItem) =>
      training.start(uri instanceof ModelItem ? uri.uri : uri ?? vscode.window.activeTextEditor?.document.uri)),
    vscode.commands.registerCommand('robustness.newTrainingRun', () => training.start()),
    vscode.commands.registerCommand('robustness.stopRun', async (item?: RunItem | string) => {
      const id = runIdOf(item) ?? activeRun;
      if (id) await (engine.isRunning(id) ? training.stop(id) : cancel(id));
    }),
    vscode.commands.registerCommand('robustness.resumeRun', (item?: RunItem | string) => { const id = runIdOf(item); if (id) return training.resume(id); }),
    vscode.commands.registerCommand('robustness.openTraining', (item?: RunItem | string) => { const id = runIdOf(item); training.show(id ? [id] : undefined); }),
    // With several runs selected, compare those; otherwise every training run.
    vscode.commands.registerCommand('robustness.compareRuns', (_item?: RunItem, selected?: RunItem[]) =>
      training.show(selected && selected.length > 1 ? selected.map((s) => s.entry.id) : undefined)),
    vscode.commands.registerCommand('robustness.attackFinalModel', (item?: RunItem | string) => { const uri = finalModel(item); if (uri) return runAttack('attack', uri); }),
    vscode.commands.registerCommand('robustness.revealModel', async (item?: RunItem | string) => {
      const uri = finalModel(item);
      if (uri) await vscode.commands.executeCommand('revealInExplorer', uri);
    }),
    vscode.commands.registerCommand('robustness.deleteRun', async (item?: RunItem | string) => {
      const id = runIdOf(item);
      const store = workspaceStore();
      if (!id || !store) return;
      if (engine.isRunning(id)) return void vscode.window.showWarningMessage(`Robustness Lab: stop ${id} before deleting it.`);
      const answer = await vscode.window.showWarningMessage(`Delete run ${id} and everything in its folder?`, { modal: true }, 'Delete');
      if (answer === 'Delete') { store.delete(id); runs.refresh(); }
    }),
    vscode.window.registerWebviewPanelSerializer(TRAINING_VIEW_TYPE, {
      async deserializeWebviewPanel(panel: vscode.WebviewPanel) {
        training.attach(panel);
        training.show();
      },
    }),
    vscode.window.registerWebviewPanelSerializer(PANEL_VIEW_TYPE, {
      async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: unknown) {
        const saved = state as PanelState | undefined;
        const restored: PanelState = saved?.runId ? { ...saved, ...(saved.status === 'running' ? { status: 'cancelled' as const } : {}) }
          : { runId: 'restored', title: 'Robustness', status: 'failed', startedAt: new Date().toISOString(), error: 'nothing to restore' };
        states.set(restored.runId, restored);
        AttackPanel.revive(panel, context.extensionUri, restored, handlers);
      },
    }),
    vscode.workspace.onDidGrantWorkspaceTrust(() => log.info('workspace trusted: runs are enabled')),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (!e.affectsConfiguration('robustness')) return;
      const s = settings();
      log.info(`settings changed: ${s.norm} ε=${s.eps}, steps ${s.steps}, samples ${s.samples}, dataset ${s.dataset}, backend ${s.backend}`);
    }),
    { dispose: () => void engine.dispose() },
  );
  log.info(`Robustness Lab activated in ${Date.now() - activationStart} ms`);
}

export function deactivate(): void {
  // Disposables registered in activate() stop the worker.
}
