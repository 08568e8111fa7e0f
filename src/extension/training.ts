/**
 * Training runs in the editor: start (from a model, or a short quick-pick flow), watch live in
 * the Runs view and the training panel, stop (the checkpoint stays), resume, compare, delete,
 * and attack the final model.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { TrainJob, TrainMethod } from '../protocol/jobs';
import { dataLocation } from '../protocol/experiment-spec';
import {
  trainingPanelToHost, type BackendPreference, type EpochSummary, type TrainingPanelState, type TrainingRunView,
} from '../protocol/messages';
import { RunStore, type RunRecord } from '../store/runs';
import type { EngineHost } from './engine-host';
import { webviewHtml, webviewOptions } from './webview-html';

export const TRAINING_VIEW_TYPE = 'robustness.training';

const METHOD_ITEMS: Array<vscode.QuickPickItem & { method: TrainMethod }> = [
  { method: 'pgd-at', label: 'PGD-AT', description: 'Madry et al. 2018: train on PGD-7 examples (robust, ~8× the cost)' },
  { method: 'trades', label: 'TRADES', description: 'Zhang et al. 2019: clean loss + β·KL to the adversarial point' },
  { method: 'fast-at', label: 'Fast-AT', description: 'Wong et al. 2020: FGSM from a random start, cyclic LR, collapse guard' },
  { method: 'distill', label: 'Defensive distillation', description: 'Papernot et al. 2016, T = 100: masks gradients; shown to fall to a proper attack' },
  { method: 'standard', label: 'Standard', description: 'no adversary' },
];

export interface TrainingHooks {
  engine: EngineHost;
  log: vscode.LogOutputChannel;
  backend: () => BackendPreference;
  dataset: () => string;
  trainImages: () => number | undefined;
  refresh: () => void;
  attack: (model: vscode.Uri) => Promise<void>;
  /** A run ended (done, failed or cancelled): the language server refreshes its lenses. */
  finished: (id: string, folder: string, status: 'done' | 'failed' | 'cancelled') => void;
}

function readHistory(dir: string): EpochSummary[] {
  try {
    const lines = fs.readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').filter(Boolean);
    const record = JSON.parse(fs.readFileSync(path.join(dir, 'train.json'), 'utf8')) as { config: TrainJob };
    return lines.map((l) => ({ ...(JSON.parse(l) as EpochSummary), epochs: record.config.epochs }));
  } catch {
    return [];
  }
}

export class TrainingController {
  private panel: vscode.WebviewPanel | undefined;
  private panelReady = false;
  private readonly live = new Map<string, EpochSummary[]>();

  constructor(private readonly context: vscode.ExtensionContext, private readonly hooks: TrainingHooks) {}

  private folder(): string | undefined {
    return vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  }

  /** Asks method, ε and epochs; undefined when the user backs out. */
  private async ask(title: string): Promise<{ method: TrainMethod; eps: number; epochs: number } | undefined> {
    const picked = await vscode.window.showQuickPick(METHOD_ITEMS, { title: `${title} (1/3): method`, placeHolder: 'How to train' });
    if (!picked) return undefined;
    const number = (value: string, min: number, max: number) => {
      const v = Number(value);
      return Number.isFinite(v) && v >= min && v <= max ? undefined : `a number in [${min}, ${max}]`;
    };
    const eps = picked.method === 'standard' || picked.method === 'distill' ? '0.1' : await vscode.window.showInputBox({
      title: `${title} (2/3): ε (L∞)`, value: '0.1', validateInput: (v) => number(v, 0.001, 1),
    });
    if (eps === undefined) return undefined;
    const epochs = await vscode.window.showInputBox({
      title: `${title} (3/3): epochs`, value: '5', validateInput: (v) => (Number.isInteger(Number(v)) ? number(v, 1, 500) : 'a whole number'),
    });
    if (epochs === undefined) return undefined;
    return { method: picked.method, eps: Number(eps), epochs: Number(epochs) };
  }

  async start(init?: vscode.Uri): Promise<void> {
    const folder = this.folder();
    if (!folder) return void vscode.window.showErrorMessage('Robustness Lab: open a folder to keep training runs in.');
    if (!vscode.workspace.isTrusted) return void vscode.window.showWarningMessage('Robustness Lab trains models only in trusted workspaces.');
    const choice = await this.ask(init ? `Adversarially train from ${path.basename(path.dirname(init.fsPath))}` : 'New training run');
    if (!choice) return;
    const store = new RunStore(folder);
    const id = store.newId('training');
    const dataset = this.hooks.dataset();
    const job: TrainJob = {
      method: choice.method, data: dataLocation(dataset, (relative) => path.resolve(folder, relative)),
      epochs: choice.epochs, batchSize: 128, optimizer: 'adam', learningRate: choice.method === 'distill' ? 1e-2 : 1e-3,
      seed: 0, eps: choice.eps, robustEvalLimit: 300, out: store.dir(id),
      ...(init ? { init: init.fsPath } : {}), ...(this.hooks.trainImages() ? { trainLimit: this.hooks.trainImages()! } : {}),
    };
    const model = init ? path.relative(folder, init.fsPath) : `${choice.method} (new smallcnn)`;
    store.create({ id, kind: 'training', status: 'running', model, created: new Date().toISOString(), config: job });
    await this.run(id, job, false);
  }

  /** Starts a run from a prepared job (an experiment spec's training block). */
  async startJob(job: Omit<TrainJob, 'out'>, model: string, spec: string): Promise<void> {
    const folder = this.folder();
    if (!folder) return void vscode.window.showErrorMessage('Robustness Lab: open a folder to keep training runs in.');
    const store = new RunStore(folder);
    const id = store.newId('training');
    const full: TrainJob = { ...job, out: store.dir(id) };
    store.create({ id, kind: 'training', status: 'running', model, spec, created: new Date().toISOString(), config: full });
    await this.run(id, full, false);
  }

  async resume(id: string): Promise<void> {
    const folder = this.folder();
    if (!folder) return;
    const store = new RunStore(folder);
    const record = store.read(id);
    const job = { ...(record.config as TrainJob), out: store.dir(id) };
    store.update(id, { status: 'running' });
    await this.run(id, job, true);
  }

  async stop(id: string): Promise<void> {
    await this.hooks.engine.cancel(id);
  }

  private async run(id: string, job: TrainJob, resume: boolean): Promise<void> {
    const store = new RunStore(this.folder()!);
    const history = resume ? readHistory(store.dir(id)) : [];
    this.live.set(id, history);
    this.hooks.refresh();
    this.show([id]);
    const started = Date.now();
    let epochsThisSession = 0;
    this.hooks.log.info(`training ${id}: ${job.method}, ${job.epochs} epochs, ε=${job.eps}, data ${job.data}${resume ? ' (resumed)' : ''}`);
    try {
      const result = await this.hooks.engine.train(id, job, this.hooks.backend(), resume, {
        onProgress: () => undefined,
        onEpoch: (e) => {
          const { runId: _r, ...summary } = e;
          history.push(summary);
          // ETA from the epochs run since this start (a resumed run's earlier epochs ran at another time).
          epochsThisSession++;
          const perEpoch = (Date.now() - started) / 1000 / epochsThisSession;
          store.update(id, { progress: {
            epoch: e.epoch, epochs: e.epochs, clean: e.testAccuracy, ...(e.robustAccuracy !== undefined ? { robust: e.robustAccuracy } : {}),
            etaSeconds: Math.round(perEpoch * (e.epochs - e.epoch)),
          } });
          if (e.event) void vscode.window.showWarningMessage(`Robustness Lab: catastrophic overfitting in epoch ${e.epoch} of ${id}; the previous epoch's weights were restored and training stopped.`);
          this.hooks.refresh();
          this.post();
        },
      });
      store.update(id, { status: 'done', finished: new Date().toISOString() });
      this.hooks.finished(id, this.folder()!, 'done');
      this.hooks.log.info(`training ${id} done in ${result.seconds.toFixed(1)} s: ${result.modelFile}`);
    } catch (err) {
      const e = err as Error;
      if (e.name === 'AbortError') {
        store.update(id, { status: 'cancelled', finished: new Date().toISOString() });
        this.hooks.finished(id, this.folder()!, 'cancelled');
        this.hooks.log.info(`training ${id} stopped; its last checkpoint is kept for Resume`);
      } else {
        store.update(id, { status: 'failed', error: e.message, finished: new Date().toISOString() });
        this.hooks.finished(id, this.folder()!, 'failed');
        this.hooks.log.error(`training ${id} failed: ${e.message}`);
        void vscode.window.showErrorMessage(`Robustness Lab: training failed: ${e.message}`, 'Show Log').then((a) => { if (a) this.hooks.log.show(); });
      }
    } finally {
      this.live.delete(id);
      this.hooks.refresh();
      this.post();
    }
  }

  private shown: string[] = [];

  /** Opens (or refreshes) the training panel on these runs; all training runs when none are given. */
  show(ids?: string[]): void {
    const folder = this.folder();
    if (!folder) return;
    this.shown = ids ?? new RunStore(folder).list().filter((e) => e.record?.kind === 'training').map((e) => e.id);
    if (!this.panel) {
      this.panel = vscode.window.createWebviewPanel(TRAINING_VIEW_TYPE, 'Robustness: Training', vscode.ViewColumn.Active, { retainContextWhenHidden: true });
      this.attach(this.panel);
    }
    this.panel.reveal();
    this.post();
  }

  attach(panel: vscode.WebviewPanel): void {
    this.panel = panel;
    this.panelReady = false;
    panel.webview.options = webviewOptions(this.context.extensionUri);
    panel.webview.html = webviewHtml(panel.webview, this.context.extensionUri, 'training.js', `
<h1>Training</h1>
<table class="runs"><thead><tr><th>run</th><th>method</th><th>status</th><th>epoch</th><th>clean</th><th>robust</th><th>events</th><th></th></tr></thead><tbody id="runs-body"></tbody></table>
<div class="training-grid">
  <div class="chart"><canvas id="loss" aria-label="training loss per epoch"></canvas></div>
  <div class="chart"><canvas id="clean" aria-label="clean accuracy per epoch"></canvas></div>
  <div class="chart"><canvas id="robust" aria-label="robust accuracy per epoch"></canvas></div>
  <div class="chart"><canvas id="tradeoff" aria-label="clean versus robust accuracy of every run"></canvas></div>
</div>`);
    panel.onDidDispose(() => { if (this.panel === panel) this.panel = undefined; });
    panel.webview.onDidReceiveMessage((raw: unknown) => {
      const parsed = trainingPanelToHost.safeParse(raw);
      if (!parsed.success) return this.hooks.log.warn('training panel: rejected a malformed message');
      if (parsed.data.type === 'ready') {
        this.panelReady = true;
        this.post();
      } else {
        const folder = this.folder();
        if (folder) void this.hooks.attack(vscode.Uri.file(path.join(new RunStore(folder).dir(parsed.data.runId), 'model.json')));
      }
    });
  }

  private post(): void {
    const folder = this.folder();
    if (!this.panel || !this.panelReady || !folder) return;
    const store = new RunStore(folder);
    const runs: TrainingRunView[] = this.shown.flatMap((id) => {
      let record: RunRecord;
      try { record = store.read(id); } catch { return []; }
      const config = record.config as TrainJob | undefined;
      return [{
        id, label: id.replace(/-train$/, ''), method: config?.method ?? 'training', status: record.status,
        epochs: this.live.get(id) ?? readHistory(store.dir(id)),
      }];
    });
    void this.panel.webview.postMessage({ type: 'training', state: { runs } satisfies TrainingPanelState });
  }
}
