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
import { defaultTrainJob, MAX_TRAIN_WORKERS, type TrainJob } from '../protocol/jobs';
import { duration, STATUS_ICONS } from '../protocol/format';
import {
  CONFIRM_TRAINING_ABOVE_SECONDS,
  DEFAULT_TRAIN_EPS,
  EDITOR_ROBUST_EVAL_IMAGES,
  estimateTrainingCost,
  isAdversarialMethod,
  TRAIN_METHOD_INFO,
  trainedNetworkName,
  trainingStatusText,
  trainPhaseText,
  type MeasuredTrainingRun,
  type PlannedTrainingRun,
  type TrainingCostEstimate,
  type TrainProgressView,
} from '../protocol/training';
import type { TrainingRunView } from '../protocol/messages/training-panel';
import type { TrainRunResult } from '../protocol/messages/worker';
import { BUILTIN_DATA, type TrainMethod } from '../protocol/vocabulary';
import { RunStore, type RunRecord } from '../store/runs';
import type { TrainListeners } from '../worker/client';
import { clusterDisplayUrl } from './cluster-view';
import type { CommandId } from './command-ids';
import type { Ctx } from './context';
import { refuseIfUnreadable } from './model-pick';
import { RunController, type RunOutcome } from './run-controller';
import type { GuardedPlacement } from './run-placement';
import {
  measuredTrainingRuns,
  newTrainingRun,
  readTrainJob,
  renameRun,
  runLabel,
  storedRunLabel,
  testImagesOf,
  trainedModelFile,
  trainImagesOf,
  validateRunName,
} from './training-runs';
import { TRAINING_PANEL_TITLE, TrainingPanel, type TrainingPanelHandlers } from './training-panel';

/** The method picker: every method, in TRAIN_METHOD_INFO's order (adversarial ones first). */
const METHOD_ITEMS: Array<vscode.QuickPickItem & { method: TrainMethod }> = (
  Object.keys(TRAIN_METHOD_INFO) as TrainMethod[]
).map((method) => ({ method, ...TRAIN_METHOD_INFO[method] }));

/** The final model of a training run (in its named model folder; older runs saved it in the run folder). */
export function trainedModel(store: RunStore, runId: string): vscode.Uri {
  let config: unknown;
  try {
    config = store.read(runId).config;
  } catch {
    config = undefined;
  }
  return vscode.Uri.file(trainedModelFile(store.dir(runId), config));
}

/** The Yes of the cost confirmation. */
const START = 'Start';

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

const lowerFirst = (text: string) => text.charAt(0).toLowerCase() + text.slice(1);

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
  /** Where each running run is (phase, epoch, batch), from the engine's trainProgress. */
  private readonly progress = new Map<string, TrainProgressView>();
  /** The status-bar item of the running training run (click: its panel). */
  private readonly status: vscode.StatusBarItem;
  /** The training runs started in this window and not yet ended, for the status bar. */
  /** The run the status-bar item's command opens. */
  private statusCommandRun: string | undefined;
  private readonly statusRuns = new Map<
    string,
    { network: string; method: TrainMethod; started: number; name: string }
  >();
  /** The run the status bar shows: the one that reported progress last (a queued run waits silently). */
  private statusFocus: string | undefined;
  private statusTimer: ReturnType<typeof setInterval> | undefined;

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
      stop: (runId) => void this.stop(runId),
      log: ctx.log,
    };
    this.status = vscode.window.createStatusBarItem('robustness.training', vscode.StatusBarAlignment.Left, 49);
    this.status.name = 'Robustness Lab: training';
    ctx.extension.subscriptions.push(this.status, { dispose: () => this.stopStatusTimer() });
  }

  /** The finished training runs of every workspace folder, with their epoch times. */
  private measuredRuns(): MeasuredTrainingRun[] {
    return this.ctx.runStores().flatMap((store) => measuredTrainingRuns(store));
  }

  /**
   * Asks method, ε and epochs, showing what the run will cost (from the measured epoch times of an
   * earlier run); a run estimated above a minute asks to be confirmed. Undefined when the user backs out.
   */
  private async ask(
    title: string,
    plan: (method: TrainMethod, epochs: number) => PlannedTrainingRun,
  ): Promise<{ method: TrainMethod; eps: number; epochs: number } | undefined> {
    const past = this.measuredRuns();
    const estimate = (method: TrainMethod, epochs: number) => estimateTrainingCost(plan(method, epochs), past);
    const defaultEpochs = defaultTrainJob().epochs;
    const picked = await vscode.window.showQuickPick(
      METHOD_ITEMS.map((item) => {
        const cost = estimate(item.method, defaultEpochs);
        return cost ? { ...item, detail: `${defaultEpochs} epochs: ${lowerFirst(cost.text)}` } : item;
      }),
      { title: `${title} (1/3): method`, placeHolder: 'How to train', matchOnDetail: false },
    );
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
      value: String(defaultEpochs),
      // A valid number shows the run's cost as an information line under the box, as the user types.
      validateInput: (v) => {
        const problem = Number.isInteger(Number(v)) ? isWithin(v, 1, 500) : 'a whole number';
        if (problem) return problem;
        const cost = estimate(picked.method, Number(v));
        return cost ? { message: cost.text, severity: vscode.InputBoxValidationSeverity.Info } : undefined;
      },
    });
    if (epochs === undefined) return undefined;
    const cost = estimate(picked.method, Number(epochs));
    if (!(await this.confirmCost(cost))) return undefined;
    return { method: picked.method, eps: Number(eps), epochs: Number(epochs) };
  }

  /** Asks before a run estimated above a minute ("About 6 min (…)", Start or Cancel); true to go on. */
  private async confirmCost(cost: TrainingCostEstimate | undefined): Promise<boolean> {
    if (!cost || cost.seconds <= CONFIRM_TRAINING_ABOVE_SECONDS) return true;
    this.ctx.log.info(`training cost estimate: ${cost.text}`);
    const answer = await vscode.window.showInformationMessage(
      `Start this training run? ${cost.text}.`,
      { modal: true, detail: 'You can stop it at any time; its last finished epoch is kept for Resume.' },
      START,
    );
    return answer === START;
  }

  async start(init?: vscode.Uri): Promise<void> {
    if (init && refuseIfUnreadable(init, 'train')) return;
    // A run from a model is stored in that model's workspace folder; a new one in the first folder.
    const placement = await this.ctx.guardRun('trains models', init?.fsPath);
    if (!placement) return;
    const { folder } = placement;
    const trainImages = this.ctx.config.trainImages;
    const data = dataLocation(this.ctx.config.dataset, (relative) => path.resolve(folder, relative));
    const jobFor = (method: TrainMethod, epochs: number, eps = DEFAULT_TRAIN_EPS): Omit<TrainJob, 'out'> => ({
      ...defaultTrainJob(method),
      data,
      ...this.ctx.config.dataOptions,
      epochs,
      eps,
      robustEvalLimit: EDITOR_ROBUST_EVAL_IMAGES,
      workers: this.trainWorkers(),
      ...(init ? { init: init.fsPath } : {}),
      ...(trainImages ? { trainLimit: trainImages } : {}),
      ...(this.ctx.config.preprocess ? { preprocessDefaults: this.ctx.config.preprocess } : {}),
    });
    const choice = await this.ask(
      init ? `Adversarially train from ${path.basename(path.dirname(init.fsPath))}` : 'New training run',
      (method, epochs) => {
        const job = jobFor(method, epochs);
        return {
          method,
          network: trainedNetworkName(job.init),
          data,
          images: trainImagesOf(job),
          steps: job.steps,
          epochs,
          testImages: testImagesOf(job),
          robustEvalImages: EDITOR_ROBUST_EVAL_IMAGES,
        };
      },
    );
    if (!choice) return;
    const planned = jobFor(choice.method, choice.epochs, choice.eps);
    const where = await this.place(planned);
    if (!where) return;
    const { job, record } = newTrainingRun(placement, planned);
    await this.run(RunController.start(this.ctx, placement, record), job, false, where.cluster);
  }

  /**
   * Where a training run goes: with robustness.cluster.redisUrl set, to a worker of the cluster
   * (a run of the example network on built-in data; one from a model or on a data folder trains
   * here, and says so), or, the cluster unreachable, here after "Run Locally"; undefined when the
   * user chose neither (nothing starts).
   */
  private async place(job: Omit<TrainJob, 'out'>): Promise<{ cluster?: { redis: string } } | undefined> {
    const url = this.ctx.config.clusterUrl;
    if (!url) return {};
    if (job.init || !(BUILTIN_DATA as readonly string[]).includes(job.data)) {
      const why = job.init ? 'it starts from a model' : `its data (${job.data}) is not built in`;
      this.ctx.log.info(
        `training on this machine: ${why}, and the cluster trains the example network on built-in data (${BUILTIN_DATA.join(', ')})`,
      );
      return {};
    }
    const place = await this.ctx.cluster.place(url);
    if (place === 'cluster') return { cluster: { redis: url } };
    return place === 'local' ? {} : undefined;
  }

  /**
   * Starts a run from an experiment spec's training block, in the folder the spec's run guard
   * accepted (the spec's paths are relative to it).
   */
  async startJob(job: Omit<TrainJob, 'out'>, placement: GuardedPlacement, spec: string): Promise<void> {
    const where = await this.place(job);
    if (!where) return;
    const run = newTrainingRun(placement, { workers: this.trainWorkers(), ...job }, { spec });
    await this.run(RunController.start(this.ctx, placement, run.record), run.job, false, where.cluster);
  }

  /**
   * The worker threads a new run splits each batch across: the robustness.workers setting. A resumed
   * run keeps the count in its config (its weights are exact for a given count).
   */
  private trainWorkers(): number {
    return Math.min(this.ctx.config.workers, MAX_TRAIN_WORKERS);
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
    // A run stopped on the cluster has its last checkpoint here: it resumes where the setting says,
    // its folder going to Redis first when that is the cluster.
    const where = await this.place(job);
    if (!where) return;
    await this.run(RunController.resume(this.ctx, placement, id), job, true, where.cluster);
  }

  /** Stops a running training run (its last checkpoint stays); a worker that died meanwhile is only logged. */
  async stop(id: string): Promise<void> {
    const stopping = await this.ctx.engine.cancel(id).catch((err: unknown) => {
      this.ctx.log.warn(`stop ${id}: ${(err as Error).message}`);
      return false;
    });
    this.ctx.log.info(`stop requested for ${id}: ${stopping ? 'stopping' : 'not running'}`);
  }

  /** Renames a stored run (training or evaluation): an input box with its name, checked, saved in its run.json. */
  async rename(id: string): Promise<void> {
    const store = this.ctx.workspaceStore(id);
    if (!store?.has(id)) return;
    let record: RunRecord;
    try {
      record = store.read(id);
    } catch (err) {
      void vscode.window.showErrorMessage(`Robustness Lab: ${id} cannot be renamed: ${(err as Error).message}`);
      return;
    }
    const current = runLabel(record);
    const name = await vscode.window.showInputBox({
      title: 'Rename run',
      prompt: `A name for ${record.kind === 'training' ? 'training' : 'evaluation'} run ${id}`,
      value: current,
      valueSelection: [0, current.length],
      validateInput: validateRunName,
    });
    if (name === undefined || name.trim() === current) return;
    const renamed = runLabel(renameRun(store, id, name));
    const shown = this.statusRuns.get(id);
    if (shown) shown.name = renamed;
    this.ctx.log.info(`run ${id} renamed "${renamed}"`);
    this.ctx.refreshRuns();
    this.updateStatus();
    this.post();
  }

  private async run(
    controller: RunController,
    job: TrainJob,
    resume: boolean,
    cluster?: { redis: string },
  ): Promise<void> {
    const { store, runId: id } = controller;
    const history = resume ? readHistory(store.dir(id), (problem) => this.report(problem)) : [];
    this.live.set(id, history);
    this.ctx.refreshRuns();
    this.show([id]);
    const started = Date.now();
    let epochsThisSession = 0;
    const resumed = resume ? ' (resumed)' : '';
    // On the cluster a worker trains it; its epochs and progress stream back as the local worker
    // thread's do, and its folder (model, metrics, train.json) comes back into the run store.
    const where = cluster
      ? ` on the cluster at ${clusterDisplayUrl(cluster.redis)}`
      : this.ctx.config.clusterUrl
        ? ' on this machine'
        : '';
    this.ctx.log.info(
      `training ${id}: ${job.method}, ${job.epochs} epochs, ε=${job.eps}, data ${job.data}${resumed}${where}`,
    );
    this.startStatus(id, job);
    const outcome: RunOutcome<TrainRunResult> = {
      done: (result) => {
        store.update(id, { status: 'done', finished: new Date().toISOString() });
        const notes = (result.notes ?? []).map((n) => `; ${n}`).join('');
        return `training ${id} done in ${duration(result.seconds)}: ${result.modelFile}${notes}`;
      },
      failureMessage: (err) => err.message,
      cancelledLine: (runId) =>
        cluster
          ? `training ${runId} stopped on the cluster; its last checkpoint is brought back here for Resume`
          : `training ${runId} stopped; its last checkpoint is kept for Resume`,
      failedLine: (runId, message) => `training ${runId} failed: ${message}`,
      failureNotice: (message) => `Robustness Lab: training failed: ${message}`,
      settled: () => {
        this.live.delete(id);
        this.progress.delete(id);
        this.endStatus(id);
        this.post();
      },
    };
    const listeners: TrainListeners = {
      onProgress: () => undefined,
      onTrainProgress: ({ runId: _runId, ...progress }) => {
        const run = this.statusRuns.get(id);
        // The clock starts when the engine starts the run, not when it was queued.
        if (run && !this.progress.has(id)) run.started = Date.now();
        this.progress.set(id, progress);
        this.statusFocus = id;
        this.updateStatus();
        this.post();
      },
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
    };
    const backend = this.ctx.config.backend;
    await controller.run(
      () =>
        cluster
          ? this.ctx.engine.trainOnCluster(id, job, backend, resume, cluster, listeners)
          : this.ctx.engine.train(id, job, backend, resume, listeners),
      outcome,
    );
  }

  /** Shows the status-bar item for a run that starts (or resumes); its clock ticks every second. */
  private startStatus(id: string, job: TrainJob): void {
    const store = this.ctx.workspaceStore(id);
    this.statusRuns.set(id, {
      network: trainedNetworkName(job.init),
      method: job.method,
      started: Date.now(),
      name: store ? storedRunLabel(store, id) : id,
    });
    this.statusFocus ??= id;
    this.updateStatus();
    this.status.show();
    this.statusTimer ??= setInterval(() => this.updateStatus(), 1000);
  }

  private updateStatus(): void {
    const id = this.statusFocus;
    const run = id === undefined ? undefined : this.statusRuns.get(id);
    if (id === undefined || !run) return;
    const text = trainingStatusText({
      network: run.network,
      method: run.method,
      progress: this.progress.get(id),
      elapsedSeconds: (Date.now() - run.started) / 1000,
    });
    const others = this.statusRuns.size - 1;
    this.status.text = `$(${STATUS_ICONS.running}) ${text}${others > 0 ? ` (+${others} queued)` : ''}`;
    // Set only when the run shown changes: a command replaced every tick can be gone by the time a click lands.
    if (this.statusCommandRun !== id) {
      this.statusCommandRun = id;
      this.status.command = {
        command: 'robustness.openTraining' satisfies CommandId,
        title: 'Open the training panel',
        arguments: [id],
      };
    }
    this.status.tooltip = `Training ${run.name}: click to open its panel (Stop is there and in the Runs view)`;
  }

  private endStatus(id: string): void {
    this.statusRuns.delete(id);
    if (this.statusFocus === id) this.statusFocus = this.statusRuns.keys().next().value;
    if (this.statusRuns.size > 0) {
      this.updateStatus();
      return;
    }
    this.stopStatusTimer();
    this.status.hide();
  }

  private stopStatusTimer(): void {
    if (this.statusTimer) clearInterval(this.statusTimer);
    this.statusTimer = undefined;
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
      const progress = record.status === 'running' ? this.progress.get(id) : undefined;
      return [
        {
          id,
          label: runLabel(record),
          method: config.method,
          status: record.status,
          epochs: this.live.get(id) ?? readHistory(store.dir(id), (problem) => this.report(problem)),
          totalEpochs: config.epochs,
          ...(progress ? { progress: trainPhaseText(progress) } : {}),
        },
      ];
    });
    this.panel.setTitle(
      runs.length === 0
        ? TRAINING_PANEL_TITLE
        : runs.length === 1
          ? `Training: ${runs[0]!.label}`
          : `Training: ${runs.length} runs compared`,
    );
    this.panel.post({ runs });
  }

  /** Logs a stored file that cannot be shown, once per problem. */
  private report(problem: string): void {
    if (this.reported.has(problem)) return;
    this.reported.add(problem);
    this.ctx.log.warn(`training panel: ${problem}`);
  }
}
