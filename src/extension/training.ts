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
  DEFAULT_TRAIN_EPS,
  EDITOR_ROBUST_EVAL_IMAGES,
  isAdversarialMethod,
  TRAIN_METHOD_INFO,
} from '../protocol/training';
import type { TrainingRunView } from '../protocol/messages/training-panel';
import type { TrainRunResult } from '../protocol/messages/worker';
import { TFJS_MODEL_FILE } from '../protocol/model-files';
import type { TrainMethod } from '../protocol/vocabulary';
import { RunStore, type RunRecord } from '../store/runs';
import type { Ctx } from './context';
import { refuseIfUnreadable } from './model-pick';
import { RunController, type RunOutcome } from './run-controller';
import type { GuardedPlacement } from './run-placement';
import { newTrainingRun, readTrainJob } from './training-runs';
import { TrainingPanel, type TrainingPanelHandlers } from './training-panel';

/** The method picker: every method, in TRAIN_METHOD_INFO's order (adversarial ones first). */
const METHOD_ITEMS: Array<vscode.QuickPickItem & { method: TrainMethod }> = (
  Object.keys(TRAIN_METHOD_INFO) as TrainMethod[]
).map((method) => ({ method, ...TRAIN_METHOD_INFO[method] }));

/** The final model of a training run. */
export function trainedModel(store: RunStore, runId: string): vscode.Uri {
  return vscode.Uri.file(path.join(store.dir(runId), TFJS_MODEL_FILE));
}

/**
 * A run's finished epochs from its metrics.jsonl (lines that do not parse are skipped); none when
 * the files are missing, and none, with `problem` told why, when train.json's job does not parse.
 */
function readHistory(dir: string, problem?: (message: string) => void): RunEpoch[] {
  let lines: string[];
  let config: TrainJob;
  try {
    lines = fs.readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').filter(Boolean);
    const file = path.join(dir, 'train.json');
    config = readTrainJob((JSON.parse(fs.readFileSync(file, 'utf8')) as { config?: unknown }).config, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') problem?.((err as Error).message);
    return [];
  }
  return lines.flatMap((line) => {
    try {
      const parsed = epochMetricsSchema.safeParse(JSON.parse(line));
      return parsed.success ? [{ ...parsed.data, epochs: config.epochs }] : [];
    } catch {
      return [];
    }
  });
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
  /** Stored files already reported as unreadable (the panel redraws every epoch; each is told once). */
  private readonly reported = new Set<string>();

  /** `attack` runs an attack on a run's final model. */
  constructor(
    private readonly ctx: Ctx,
    private readonly attack: (model: vscode.Uri) => Promise<void>,
  ) {
    this.panelHandlers = {
      ready: () => this.post(),
      attack: (runId) => {
        const store = this.ctx.workspaceStore(runId);
        if (store) void this.attack(trainedModel(store, runId));
      },
      log: ctx.log,
    };
  }

  /** Asks method, ε and epochs; undefined when the user backs out. */
  private async ask(title: string): Promise<{ method: TrainMethod; eps: number; epochs: number } | undefined> {
    const picked = await vscode.window.showQuickPick(METHOD_ITEMS, {
      title: `${title} (1/3): method`,
      placeHolder: 'How to train',
    });
    if (!picked) return undefined;
    const eps = !isAdversarialMethod(picked.method)
      ? String(DEFAULT_TRAIN_EPS)
      : await vscode.window.showInputBox({
          title: `${title} (2/3): ε (L∞)`,
          value: String(DEFAULT_TRAIN_EPS),
          validateInput: (v) => isWithin(v, 0.001, 1),
        });
    if (eps === undefined) return undefined;
    const epochs = await vscode.window.showInputBox({
      title: `${title} (3/3): epochs`,
      value: String(defaultTrainJob().epochs),
      validateInput: (v) => (Number.isInteger(Number(v)) ? isWithin(v, 1, 500) : 'a whole number'),
    });
    if (epochs === undefined) return undefined;
    return { method: picked.method, eps: Number(eps), epochs: Number(epochs) };
  }

  async start(init?: vscode.Uri): Promise<void> {
    if (init && refuseIfUnreadable(init, 'train')) return;
    // A run from a model is stored in that model's workspace folder; a new one in the first folder.
    const placement = await this.ctx.guardRun('trains models', init?.fsPath);
    if (!placement) return;
    const { folder } = placement;
    const choice = await this.ask(
      init ? `Adversarially train from ${path.basename(path.dirname(init.fsPath))}` : 'New training run',
    );
    if (!choice) return;
    const trainImages = this.ctx.config.trainImages;
    const { job, record } = newTrainingRun(placement, {
      ...defaultTrainJob(choice.method),
      data: dataLocation(this.ctx.config.dataset, (relative) => path.resolve(folder, relative)),
      epochs: choice.epochs,
      eps: choice.eps,
      robustEvalLimit: EDITOR_ROBUST_EVAL_IMAGES,
      ...(init ? { init: init.fsPath } : {}),
      ...(trainImages ? { trainLimit: trainImages } : {}),
    });
    await this.run(RunController.start(this.ctx, placement, record), job, false);
  }

  /**
   * Starts a run from an experiment spec's training block, in the folder the spec's run guard
   * accepted (the spec's paths are relative to it).
   */
  async startJob(job: Omit<TrainJob, 'out'>, placement: GuardedPlacement, spec: string): Promise<void> {
    const run = newTrainingRun(placement, job, { spec });
    await this.run(RunController.start(this.ctx, placement, run.record), run.job, false);
  }

  /** Resumes a stopped or failed run from its checkpoint; `runDir` (the Runs view's) names its folder. */
  async resume(id: string, runDir?: string): Promise<void> {
    const placement = await this.ctx.guardRun('trains models', runDir);
    if (!placement) return;
    const store = new RunStore(placement.folder);
    let job: TrainJob;
    try {
      const record = store.read(id);
      job = { ...readTrainJob(record.config, path.join(store.dir(id), 'run.json')), out: store.dir(id) };
    } catch (err) {
      void vscode.window.showErrorMessage(`Robustness Lab: ${id} cannot be resumed: ${(err as Error).message}`);
      return;
    }
    await this.run(RunController.resume(this.ctx, placement, id), job, true);
  }

  async stop(id: string): Promise<void> {
    await this.ctx.engine.cancel(id);
  }

  private async run(controller: RunController, job: TrainJob, resume: boolean): Promise<void> {
    const { store, runId: id } = controller;
    const history = resume ? readHistory(store.dir(id), (problem) => this.report(problem)) : [];
    this.live.set(id, history);
    this.ctx.refreshRuns();
    this.show([id]);
    const started = Date.now();
    let epochsThisSession = 0;
    const resumed = resume ? ' (resumed)' : '';
    this.ctx.log.info(`training ${id}: ${job.method}, ${job.epochs} epochs, ε=${job.eps}, data ${job.data}${resumed}`);
    const outcome: RunOutcome<TrainRunResult> = {
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
    await controller.run(
      () =>
        this.ctx.engine.train(id, job, this.ctx.config.backend, resume, {
          onProgress: () => undefined,
          onEpoch: ({ runId: _runId, ...epoch }) => {
            history.push(epoch);
            // ETA from the epochs run since this start (a resumed run's earlier epochs ran at another time).
            epochsThisSession++;
            const perEpoch = (Date.now() - started) / 1000 / epochsThisSession;
            store.update(id, {
              progress: {
                epoch: epoch.epoch,
                epochs: epoch.epochs,
                clean: epoch.testAccuracy,
                ...(epoch.robustAccuracy !== undefined ? { robust: epoch.robustAccuracy } : {}),
                etaSeconds: Math.round(perEpoch * (epoch.epochs - epoch.epoch)),
              },
            });
            if (epoch.event) {
              void vscode.window.showWarningMessage(
                `Robustness Lab: catastrophic overfitting in epoch ${epoch.epoch} of ${id}; ` +
                  "the previous epoch's weights were restored and training stopped.",
              );
            }
            this.ctx.refreshRuns();
            this.post();
          },
        }),
      outcome,
    );
  }

  /** Opens (or refreshes) the training panel on these runs; all training runs when none are given. */
  show(ids?: string[]): void {
    const stores = this.ctx.runStores();
    if (stores.length === 0) return;
    this.shown =
      ids ??
      stores
        .flatMap((store) => store.list())
        .filter((e) => e.record?.kind === 'training')
        .map((e) => e.id);
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
    if (!this.panel) return;
    const runs: TrainingRunView[] = this.shown.flatMap((id) => {
      const store = this.ctx.workspaceStore(id);
      if (!store) return [];
      let record: RunRecord;
      try {
        record = store.read(id);
      } catch {
        return [];
      }
      let config: TrainJob;
      try {
        config = readTrainJob(record.config, path.join(store.dir(id), 'run.json'));
      } catch (err) {
        this.report((err as Error).message);
        return [];
      }
      return [
        {
          id,
          label: id.replace(/-train$/, ''),
          method: config.method,
          status: record.status,
          epochs: this.live.get(id) ?? readHistory(store.dir(id), (problem) => this.report(problem)),
        },
      ];
    });
    this.panel.post({ runs });
  }

  /** Logs a stored file that cannot be shown, once per problem. */
  private report(problem: string): void {
    if (this.reported.has(problem)) return;
    this.reported.add(problem);
    this.ctx.log.warn(`training panel: ${problem}`);
  }
}
