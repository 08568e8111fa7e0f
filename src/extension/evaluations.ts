/**
 * Attack runs in the editor (attack, curve, evaluate, and an experiment spec's Run lens): each is
 * a stored run with a live attack panel and a status-bar item, driven by a RunController.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { AttackJob } from '../protocol/jobs';
import type { PanelState } from '../protocol/messages/attack-panel';
import type { ProgressParams, StageParams } from '../protocol/messages/worker';
import type { Report } from '../protocol/report';
import { isModelFile, MODEL_FILE_NAMES } from '../protocol/model-files';
import { duration, relativeTime, runPanelTitle } from '../protocol/format';
import { attackJobSchema, DEFAULT_SUITE } from '../protocol/jobs';
import type { SuiteId } from '../protocol/vocabulary';
import { writeReport } from '../store/report-files';
import { RunStore } from '../store/runs';
import { AttackPanel, type PanelHandlers } from './attack-panel';
import { clusterDisplayUrl } from './cluster-view';
import type { Ctx } from './context';
import { isCrash } from './engine-host';
import { attackJobFor, type AttackKind } from './jobs-from-settings';
import { modelOrPick, refuseIfUnreadable } from './model-pick';
import { cancelQuestion, initialState, reducePanel, statusText, statusTooltip, type PanelEvent } from './panel-state';
import { CancelledWithPartial, keepPartialReport, RunController, type RunOutcome } from './run-controller';
import type { GuardedPlacement } from './run-placement';

const KIND_TITLES: Record<AttackKind, string> = {
  attack: 'Attack',
  curve: 'Curve',
  evaluate: `Evaluate (${DEFAULT_SUITE})`,
};

/** An attack job ready to run: where its run is stored, its panel title, and what started it. */
export interface AttackRunRequest {
  job: AttackJob;
  /** The workspace folder the run guard accepted: the run is stored there. */
  placement: GuardedPlacement;
  title: string;
  /** For the log: the command ("attack") or "spec <file>". */
  source: string;
  /** The experiment spec that started the run, workspace-relative. */
  spec?: string;
  /** The spec's output.report folder, written when the run is done. */
  reportDir?: string;
  /** Where n came from when a spec's overrides robustness.samples (the report's header says so). */
  nSource?: Report['n_source'];
}

export class Evaluations {
  private readonly states = new Map<string, PanelState>();
  /** Each shown run's job (started here, or read from its store): what "run again with a suite" reuses. */
  private readonly jobs = new Map<string, AttackJob>();
  /** The attack run the status bar shows and "Cancel Run" stops. */
  private active: string | undefined;
  readonly panelHandlers: PanelHandlers;

  constructor(private readonly ctx: Ctx) {
    this.panelHandlers = {
      cancel: (runId: string) => void this.cancelNow(runId),
      runSuite: (runId: string, suite: SuiteId) => void this.runSuite(runId, suite),
      log: ctx.log,
    };
  }

  get activeRun(): string | undefined {
    return this.active;
  }

  /**
   * Cancels `runId` (the panel's Cancel, the Runs view's Stop), or, with no id, the active run
   * (the status-bar item, the palette): a click there may be a stray one, so a long evaluation
   * asks first; a short run cancels at once.
   */
  async cancel(runId?: string): Promise<void> {
    const target = runId ?? this.active;
    if (!target) {
      void vscode.window.showInformationMessage('Robustness Lab: no run is in progress.');
      return;
    }
    const state = this.states.get(target);
    const question = !runId && state ? cancelQuestion(state, Date.now()) : undefined;
    if (question) {
      const cancelRun: vscode.MessageItem = { title: 'Cancel Run' };
      const keepRunning: vscode.MessageItem = { title: 'Keep Running', isCloseAffordance: true };
      const answer = await vscode.window.showWarningMessage(
        question.message,
        { modal: true, detail: question.detail },
        cancelRun,
        keepRunning,
      );
      if (answer !== cancelRun) return;
      // It may have ended while the dialog was open.
      if (this.states.get(target)?.status !== 'running') return;
    }
    await this.cancelNow(target);
  }

  private async cancelNow(runId: string): Promise<void> {
    const cancelled = await this.ctx.engine.cancel(runId).catch(() => false);
    this.ctx.log.info(`cancel requested for ${runId}: ${cancelled ? 'stopping' : 'not running'}`);
  }

  /** Attack, Curve or Evaluate on a model file (the explorer's, the Models view's, or the active editor's). */
  async attackModel(kind: AttackKind, target?: vscode.Uri): Promise<void> {
    const uri = target ?? (await modelOrPick(this.ctx.models, `${KIND_TITLES[kind]}: Which Model?`));
    if (!uri || refuseIfUnreadable(uri, kind)) return;
    if (!isModelFile(uri.fsPath)) {
      void vscode.window.showErrorMessage(
        `Robustness Lab: choose a ${MODEL_FILE_NAMES.join(' or ')} (right-click it in the explorer).`,
      );
      return;
    }
    const placement = await this.ctx.guardRun('runs models', uri.fsPath);
    if (!placement) return;
    const config = this.ctx.config;
    const job = attackJobFor(uri.fsPath, placement.folder, config.attackSettings, kind);
    const title = runPanelTitle(KIND_TITLES[kind], this.ctx.modelName(uri.fsPath), config.norm, config.eps);
    await this.run({ job, placement, title, source: kind });
  }

  /** Runs an attack job as a stored run with a live panel. */
  async run(request: AttackRunRequest): Promise<void> {
    const { job, placement, title, source, spec, reportDir } = request;
    // With robustness.cluster.redisUrl set the run goes there, or (the cluster unreachable) here
    // after "Run Locally"; "Open Settings" or a dismissed message starts nothing.
    const url = this.ctx.config.clusterUrl;
    let cluster: { redis: string; shardSize: number } | undefined;
    if (url) {
      const place = await this.ctx.cluster.place(url);
      if (place === 'cluster') cluster = { redis: url, shardSize: this.ctx.config.shardSize };
      else if (place !== 'local') return;
    }
    const folder = placement.folder;
    const store = new RunStore(folder);
    const relModel = path.relative(folder, job.model);
    const runId = store.newId('evaluation');
    const created = new Date().toISOString();
    const controller = RunController.start(this.ctx, placement, {
      id: runId,
      kind: 'evaluation',
      model: relModel,
      created,
      config: job,
      ...(spec ? { spec } : {}),
    });
    // A split run (threads or the cluster) keeps no partial report on cancel.
    const keepsPartial = !cluster && this.ctx.engine.workersFor(job) === 1;
    this.states.set(runId, initialState(runId, title, created, job.suite, keepsPartial));
    this.jobs.set(runId, job);
    this.active = runId;
    AttackPanel.show(this.ctx.extensionUri, this.states.get(runId)!, this.panelHandlers);
    this.ctx.refreshRuns();
    const attacks = job.suite ? `suite ${job.suite}` : job.attacks.join(', ');
    const threat = `${job.norm} ε=${job.eps}`;
    const where = cluster ? ` on the cluster at ${clusterDisplayUrl(cluster.redis)}` : '';
    this.ctx.log.info(
      `run ${runId}: ${source} ${relModel} (${attacks}, ${threat}, n=${job.n}, data ${job.data})${where}`,
    );
    // A cluster run waits for no local run (its shards queue in Redis, the status bar's count).
    const ahead = cluster ? 0 : this.ctx.engine.queued;
    if (ahead > 0) {
      const label = `queued behind ${ahead} earlier run${ahead > 1 ? 's' : ''}`;
      this.update(runId, { type: 'progress', label, done: 0, total: 1 });
    }
    const outcome: RunOutcome<Report> = {
      done: (report) => {
        report.model = relModel;
        if (request.nSource) report.n_source = request.nSource;
        store.finish(runId, report);
        this.update(runId, { type: 'finished', report });
        if (reportDir) this.writeSpecReport(runId, reportDir, report);
        return (
          `run ${runId} done: clean ${report.clean_accuracy}, robust ${report.robust_accuracy}, ` +
          `${duration(report.time_s)} on ${report.backend}`
        );
      },
      failureMessage: (err) =>
        isCrash(err)
          ? `the engine crashed while attacking ${relModel} (${err.message}); it restarts on the next run`
          : err.message,
      cancelledLine: (id) => `run ${id} cancelled`,
      failedLine: (id, message) => `run ${id} failed: ${message}`,
      failureNotice: (message) => `Robustness Lab: ${message}`,
      keepPartial: (report) => {
        report.model = relModel;
        return keepPartialReport(store, runId, report);
      },
      ended: (end, message, partial) =>
        this.update(
          runId,
          end === 'cancelled'
            ? { type: 'cancelled', ...(partial ? { report: partial } : {}) }
            : { type: 'failed', error: message ?? '' },
        ),
      // The elapsed time counts on between progress events (a long stage sends none for seconds).
      tick: () => {
        if (this.active === runId) this.showStatus(runId);
      },
      settled: () => {
        this.ctx.runs.live.delete(runId);
        if (this.active === runId) {
          this.active = undefined;
          this.ctx.status.hide();
        }
      },
    };
    const onProgress = (p: ProgressParams) => {
      this.ctx.runs.live.set(runId, p);
      this.update(runId, { type: 'progress', label: p.label, done: p.done, total: p.total });
    };
    const onStage = ({ runId: _r, ...stage }: StageParams) => this.update(runId, { type: 'stage', stage });
    await controller.run(async () => {
      const backend = this.ctx.config.backend;
      const report = cluster
        ? await this.ctx.engine.runOnCluster(runId, job, backend, cluster, onProgress, onStage)
        : await this.ctx.engine.runAttack(runId, job, backend, onProgress, { keepPartial: true, onStage });
      // Cancelled after some stages finished: the engine answered with what it has. With no
      // attack finished there is nothing to keep beyond the clean row the panel already shows.
      if (report.partial?.stages_done) throw new CancelledWithPartial(report, report.partial.cancelled_after);
      if (report.partial) throw Object.assign(new Error(`run ${runId} aborted`), { name: 'AbortError' });
      return report;
    }, outcome);
  }

  /**
   * The panel's one click (a randomised model: "Evaluate (rand)"): the run's model, data, threat
   * model and sample again, with `suite` in place of its attacks or suite.
   */
  async runSuite(runId: string, suite: SuiteId): Promise<void> {
    const job = this.jobs.get(runId);
    if (!job) {
      void vscode.window.showErrorMessage(
        `Robustness Lab: run ${runId}'s settings are unknown; evaluate the model again.`,
      );
      return;
    }
    const placement = await this.ctx.guardRun('runs models', job.model);
    if (!placement) return;
    const { attacks: _attacks, params: _params, suite: _suite, ...settings } = job;
    const title = runPanelTitle(`Evaluate (${suite})`, this.ctx.modelName(job.model), job.norm, job.eps);
    await this.run({ job: { ...settings, suite }, placement, title, source: `evaluate (${suite}) from run ${runId}` });
  }

  /** Opens a stored run in the attack panel (a cancelled one with the stages it kept). */
  open(runId: string, folder: string): void {
    const store = new RunStore(folder);
    try {
      const record = store.read(runId);
      const report = record.status === 'done' || record.cancelledAfter ? store.readReport(runId) : undefined;
      const suite = (record.config as { suite?: SuiteId } | undefined)?.suite;
      const parsed = attackJobSchema.safeParse(record.config);
      if (parsed.success) this.jobs.set(runId, parsed.data);
      const model = record.name ?? this.ctx.modelName(path.resolve(folder, record.model));
      const title = record.summary
        ? runPanelTitle('Run', model, record.summary.norm, record.summary.eps)
        : `Run: ${model} · ${relativeTime(record.created, Date.now())}`;
      const base = initialState(runId, title, record.created, suite);
      const state: PanelState = report
        ? { ...base, status: record.status === 'done' ? 'done' : 'cancelled', report }
        : {
            ...base,
            status: record.status === 'running' ? 'running' : record.status,
            ...(record.error ? { error: record.error } : {}),
          };
      this.states.set(runId, state);
      AttackPanel.show(this.ctx.extensionUri, state, this.panelHandlers);
    } catch (err) {
      void vscode.window.showErrorMessage(`Robustness Lab: run ${runId} cannot be opened: ${(err as Error).message}`);
    }
  }

  /** Brings back an attack panel after a window reload; a run that was live then is shown as cancelled. */
  revive(panel: vscode.WebviewPanel, saved: PanelState | undefined): void {
    const restored: PanelState = saved?.runId
      ? { ...saved, ...(saved.status === 'running' ? { status: 'cancelled' as const } : {}) }
      : {
          runId: 'restored',
          title: 'Robustness',
          status: 'failed',
          startedAt: new Date().toISOString(),
          error: 'nothing to restore',
        };
    this.states.set(restored.runId, restored);
    AttackPanel.revive(panel, this.ctx.extensionUri, restored, this.panelHandlers);
  }

  private update(runId: string, event: PanelEvent): void {
    const previous = this.states.get(runId);
    if (!previous) return;
    const next = reducePanel(previous, event);
    this.states.set(runId, next);
    AttackPanel.find(runId)?.update(next);
    this.showStatus(runId);
  }

  /** The status-bar item follows the active run: its stage, its progress and the elapsed time. */
  private showStatus(runId: string): void {
    const state = this.states.get(runId);
    const status = this.ctx.status;
    if (state?.status === 'running') {
      status.text = statusText(state, Date.now());
      status.tooltip = statusTooltip(state);
      status.show();
    } else if (this.active === runId) {
      status.hide();
    }
  }

  private writeSpecReport(runId: string, reportDir: string, report: Report): void {
    try {
      this.ctx.log.info(`run ${runId}: report written to ${writeReport(reportDir, report).html}`);
    } catch (err) {
      const reason = (err as Error).message;
      this.ctx.log.warn(`run ${runId}: the spec's output.report folder ${reportDir} could not be written: ${reason}`);
    }
  }
}
