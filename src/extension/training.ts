/**
 * Training runs in the editor: start (from a model, or a short quick-pick flow), watch live in
 * the Runs view and the training panel, stop (the checkpoint stays), resume, compare, and attack
 * the final model. Each run's life is a RunController's.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { epochMetricsSchema, type RunEpoch } from '../protocol/epoch-metrics';
import { dataLocation } from '../protocol/experiment-spec';
import { defaultTrainJob, type TrainJob } from '../protocol/jobs';
import { duration } from '../protocol/format';
import {
  DEFAULT_TRAIN_EPS, EDITOR_ROBUST_EVAL_IMAGES, isAdversarialMethod, TRAIN_METHOD_INFO,
} from '../protocol/training';
import type { TrainingRunView } from '../protocol/messages/training-panel';
import type { TrainResult } from '../protocol/messages/worker';
import { TFJS_MODEL_FILE } from '../protocol/model-files';
import type { TrainMethod } from '../protocol/vocabulary';
import { RunStore, type RunRecord } from '../store/runs';
import type { Ctx } from './context';
import { RunController, type RunOutcome } from './run-controller';
import { TrainingPanel, type TrainingPanelHandlers } from './training-panel';

/** The method picker: every method, in TRAIN_METHOD_INFO's order (adversarial ones first). */
const METHOD_ITEMS: Array<vscode.QuickPickItem & { method: TrainMethod }> =
  (Object.keys(TRAIN_METHOD_INFO) as TrainMethod[]).map((method) => ({ method, ...TRAIN_METHOD_INFO[method] }));

/** The final model of a training run. */
export function trainedModel(store: RunStore, runId: string): vscode.Uri {
  return vscode.Uri.file(path.join(store.dir(runId), TFJS_MODEL_FILE));
}

/** A run's finished epochs from its metrics.jsonl (lines that do not parse are skipped). */
function readHistory(dir: string): RunEpoch[] {
  try {
    const lines = fs.readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').filter(Boolean);
    const record = JSON.parse(fs.readFileSync(path.join(dir, 'train.json'), 'utf8')) as { config: TrainJob };
    return lines.flatMap((line) => {
      const parsed = epochMetricsSchema.safeParse(JSON.parse(line));
      return parsed.success ? [{ ...parsed.data, epochs: record.config.epochs }] : [];
    });
  } catch {
    return [];
  }
}

const isWithin = (value: string, min: number, max: number) => {
  const v = Number(value);
  return Number.isFinite(v) && v >= min && v <= max ? undefined : `a number in [${min}, ${max}]`;
};

export class TrainingController {
  private panel: TrainingPanel | undefined;
  private readonly live = new Map<string, RunEpoch[]>();
  private shown: string[] = [];
  private readonly panelHandlers: TrainingPanelHandlers;

  /** `attack` runs an attack on a run's final model. */
  constructor(private readonly ctx: Ctx, private readonly attack: (model: vscode.Uri) => Promise<void>) {
    this.panelHandlers = {
      ready: () => this.post(),
      attack: (runId) => {
        const store = this.ctx.workspaceStore();
        if (store) void this.attack(trainedModel(store, runId));
      },
      log: ctx.log,
    };
  }

  private folder(): string | undefined {
    return vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  }

  /** Asks method, ε and epochs; undefined when the user backs out. */
  private async ask(title: string): Promise<{ method: TrainMethod; eps: number; epochs: number } | undefined> {
    const picked = await vscode.window.showQuickPick(METHOD_ITEMS, { title: `${title} (1/3): method`, placeHolder: 'How to train' });
    if (!picked) return undefined;
    const eps = !isAdversarialMethod(picked.method) ? String(DEFAULT_TRAIN_EPS) : await vscode.window.showInputBox({
      title: `${title} (2/3): ε (L∞)`, value: String(DEFAULT_TRAIN_EPS), validateInput: (v) => isWithin(v, 0.001, 1),
    });
    if (eps === undefined) return undefined;
    const epochs = await vscode.window.showInputBox({
      title: `${title} (3/3): epochs`, value: String(defaultTrainJob().epochs),
      validateInput: (v) => (Number.isInteger(Number(v)) ? isWithin(v, 1, 500) : 'a whole number'),
    });
    if (epochs === undefined) return undefined;
    return { method: picked.method, eps: Number(eps), epochs: Number(epochs) };
  }

  async start(init?: vscode.Uri): Promise<void> {
    const folder = await this.ctx.guardRun('trains models');
    if (!folder) return;
    const choice = await this.ask(init ? `Adversarially train from ${path.basename(path.dirname(init.fsPath))}` : 'New training run');
    if (!choice) return;
    const store = new RunStore(folder);
    const id = store.newId('training');
    const trainImages = this.ctx.config.trainImages;
    const job: TrainJob = {
      ...defaultTrainJob(choice.method),
      data: dataLocation(this.ctx.config.dataset, (relative) => path.resolve(folder, relative)),
      epochs: choice.epochs, eps: choice.eps, robustEvalLimit: EDITOR_ROBUST_EVAL_IMAGES, out: store.dir(id),
      ...(init ? { init: init.fsPath } : {}), ...(trainImages ? { trainLimit: trainImages } : {}),
    };
    const model = init ? path.relative(folder, init.fsPath) : `${choice.method} (new smallcnn)`;
    const controller = RunController.start(this.ctx, store, folder, {
      id, kind: 'training', model, created: new Date().toISOString(), config: job,
    });
    await this.run(controller, job, false);
  }

  /** Starts a run from a prepared job (an experiment spec's training block). */
  async startJob(job: Omit<TrainJob, 'out'>, model: string, spec: string): Promise<void> {
    // The spec's run guard has already checked trust and found the workspace folder.
    const folder = this.folder();
    if (!folder) return;
    const store = new RunStore(folder);
    const id = store.newId('training');
    const full: TrainJob = { ...job, out: store.dir(id) };
    const controller = RunController.start(this.ctx, store, folder, {
      id, kind: 'training', model, spec, created: new Date().toISOString(), config: full,
    });
    await this.run(controller, full, false);
  }

  async resume(id: string): Promise<void> {
    const folder = this.folder();
    if (!folder) return;
    const store = new RunStore(folder);
    const record = store.read(id);
    const job = { ...(record.config as TrainJob), out: store.dir(id) };
    await this.run(RunController.resume(this.ctx, store, folder, id), job, true);
  }

  async stop(id: string): Promise<void> {
    await this.ctx.engine.cancel(id);
  }

  private async run(controller: RunController, job: TrainJob, resume: boolean): Promise<void> {
    const { store, runId: id } = controller;
    const history = resume ? readHistory(store.dir(id)) : [];
    this.live.set(id, history);
    this.ctx.refreshRuns();
    this.show([id]);
    const started = Date.now();
    let epochsThisSession = 0;
    const resumed = resume ? ' (resumed)' : '';
    this.ctx.log.info(`training ${id}: ${job.method}, ${job.epochs} epochs, ε=${job.eps}, data ${job.data}${resumed}`);
    const outcome: RunOutcome<TrainResult> = {
      done: (result) => {
        store.update(id, { status: 'done', finished: new Date().toISOString() });
        return `training ${id} done in ${duration(result.seconds)}: ${result.modelFile}`;
      },
      failureMessage: (err) => err.message,
      cancelledLine: (runId) => `training ${runId} stopped; its last checkpoint is kept for Resume`,
      failedLine: (runId, message) => `training ${runId} failed: ${message}`,
      failureNotice: (message) => `Robustness Lab: training failed: ${message}`,
      settled: () => {
        this.live.delete(id);
        this.post();
      },
    };
    await controller.run(() => this.ctx.engine.train(id, job, this.ctx.config.backend, resume, {
      onProgress: () => undefined,
      onEpoch: ({ runId: _runId, ...epoch }) => {
        history.push(epoch);
        // ETA from the epochs run since this start (a resumed run's earlier epochs ran at another time).
        epochsThisSession++;
        const perEpoch = (Date.now() - started) / 1000 / epochsThisSession;
        store.update(id, { progress: {
          epoch: epoch.epoch, epochs: epoch.epochs, clean: epoch.testAccuracy,
          ...(epoch.robustAccuracy !== undefined ? { robust: epoch.robustAccuracy } : {}),
          etaSeconds: Math.round(perEpoch * (epoch.epochs - epoch.epoch)),
        } });
        if (epoch.event) {
          void vscode.window.showWarningMessage(
            `Robustness Lab: catastrophic overfitting in epoch ${epoch.epoch} of ${id}; `
            + 'the previous epoch\'s weights were restored and training stopped.');
        }
        this.ctx.refreshRuns();
        this.post();
      },
    }), outcome);
  }

  /** Opens (or refreshes) the training panel on these runs; all training runs when none are given. */
  show(ids?: string[]): void {
    const store = this.ctx.workspaceStore();
    if (!store) return;
    this.shown = ids ?? store.list().filter((e) => e.record?.kind === 'training').map((e) => e.id);
    this.panel ??= TrainingPanel.create(this.ctx.extensionUri, this.panelHandlers, this.forget());
    this.panel.reveal();
    this.post();
  }

  /** Takes over a training panel VS Code restored after a reload, showing every training run. */
  revive(panel: vscode.WebviewPanel): void {
    this.panel = TrainingPanel.revive(panel, this.ctx.extensionUri, this.panelHandlers, this.forget());
    this.show();
  }

  /** Forgets the panel when it closes (unless a newer one replaced it). */
  private forget(): (closed: TrainingPanel) => void {
    return (closed) => {
      if (this.panel === closed) this.panel = undefined;
    };
  }

  private post(): void {
    const store = this.ctx.workspaceStore();
    if (!this.panel || !store) return;
    const runs: TrainingRunView[] = this.shown.flatMap((id) => {
      let record: RunRecord;
      try {
        record = store.read(id);
      } catch {
        return [];
      }
      const config = record.config as TrainJob | undefined;
      return [{
        id, label: id.replace(/-train$/, ''), method: config?.method ?? 'training', status: record.status,
        epochs: this.live.get(id) ?? readHistory(store.dir(id)),
      }];
    });
    this.panel.post({ runs });
  }
}
