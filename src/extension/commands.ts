/**
 * The command table: each command id maps to a factory `(ctx) => handler` (rust-analyzer's
 * pattern). Its keys are exactly COMMAND_IDS, which a test checks against package.json.
 */
import * as vscode from 'vscode';
import { attackJobSchema } from '../protocol/jobs';
import { exportStoredRun } from './attack-panel';
import type { CommandId } from './command-ids';
import type { Ctx } from './context';
import type { Evaluations } from './evaluations';
import { copyExample } from './example';
import { modelOrPick, refuseIfUnreadable } from './model-pick';
import { workspaceRelative } from '../common/workspace-path';
import { runSpec } from './spec-runs';
import { trainedModel, type TrainingController } from './training';
import { storedRunLabel } from './training-runs';
import { ModelItem, RunItem } from './views';
import { runPanelTitle } from '../protocol/format';
import { compareReports } from '../store/compare';
import * as path from 'node:path';

/** What the commands act through: the shared context and the two kinds of runs. */
export interface CommandContext {
  ctx: Ctx;
  evaluations: Evaluations;
  training: TrainingController;
}

/** VS Code passes commands whatever their caller gives; each handler declares what it accepts. */
export type CommandHandler = (...args: never[]) => unknown;
export type CommandTable = { readonly [Id in CommandId]: (context: CommandContext) => CommandHandler };

type ModelTarget = vscode.Uri | ModelItem | undefined;
type RunTarget = RunItem | string | undefined;

const modelUri = (target: ModelTarget): vscode.Uri | undefined => (target instanceof ModelItem ? target.uri : target);
const runIdOf = (target: RunTarget): string | undefined => (target instanceof RunItem ? target.entry.id : target);
const workspaceFolders = () => (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath);

/** A training run's final model, in the run store holding the run. */
function finalModel({ ctx }: CommandContext, target: RunTarget): vscode.Uri | undefined {
  const id = runIdOf(target);
  const store = ctx.workspaceStore(id);
  return id && store ? trainedModel(store, id) : undefined;
}

export const COMMANDS: CommandTable = {
  'robustness.attack':
    ({ evaluations }) =>
    (target?: ModelTarget) =>
      evaluations.attackModel('attack', modelUri(target)),
  'robustness.curve':
    ({ evaluations }) =>
    (target?: ModelTarget) =>
      evaluations.attackModel('curve', modelUri(target)),
  'robustness.evaluate':
    ({ evaluations }) =>
    (target?: ModelTarget) =>
      evaluations.attackModel('evaluate', modelUri(target)),
  'robustness.runSpec':
    ({ ctx, evaluations, training }) =>
    (spec?: string | vscode.Uri) =>
      runSpec(ctx, { evaluations, training }, spec, false),
  'robustness.trainSpec':
    ({ ctx, evaluations, training }) =>
    (spec?: string | vscode.Uri) =>
      runSpec(ctx, { evaluations, training }, spec, true),
  // The source-file lenses pass a plain path (LSP command arguments are JSON).
  'robustness.attackPath':
    ({ evaluations }) =>
    (file?: string) =>
      evaluations.attackModel('attack', file ? vscode.Uri.file(file) : undefined),
  'robustness.cancelRun':
    ({ evaluations }) =>
    () =>
      evaluations.cancel(),
  'robustness.openRun':
    ({ evaluations }) =>
    (target?: RunTarget, folder?: string) => {
      const id = runIdOf(target);
      const workspace = folder ?? vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
      if (id && workspace) evaluations.open(id, workspace);
    },
  'robustness.showLog':
    ({ ctx }) =>
    () =>
      ctx.log.show(),
  'robustness.clusterStatus':
    ({ ctx }) =>
    () =>
      ctx.cluster.showStatus(),
  'robustness.refreshModels':
    ({ ctx }) =>
    () =>
      ctx.models.refresh(),
  'robustness.trainFromModel':
    ({ ctx, training }) =>
    async (target?: ModelTarget) => {
      const uri = modelUri(target) ?? (await modelOrPick(ctx.models, 'Adversarially Train From Which Model?'));
      if (uri) await training.start(uri);
    },
  'robustness.newTrainingRun':
    ({ training }) =>
    () =>
      training.start(),
  'robustness.stopRun':
    ({ ctx, evaluations, training }) =>
    async (target?: RunTarget) => {
      const id = runIdOf(target) ?? evaluations.activeRun;
      if (id) await (ctx.engine.isRunning(id) ? training.stop(id) : evaluations.cancel(id));
    },
  'robustness.resumeRun':
    ({ training }) =>
    async (target?: RunTarget) => {
      const id = runIdOf(target);
      // The Runs view's item knows which workspace folder's store the run is in.
      if (id) await training.resume(id, target instanceof RunItem ? target.entry.dir : undefined);
    },
  'robustness.openTraining':
    ({ training }) =>
    (target?: RunTarget) => {
      const id = runIdOf(target);
      training.show(id ? [id] : undefined);
    },
  // With several runs selected, compare those; otherwise every training run.
  'robustness.compareRuns':
    ({ training }) =>
    (_clicked?: RunItem, selected?: RunItem[]) =>
      training.show(selected && selected.length > 1 ? selected.map((item) => item.entry.id) : undefined),
  // Two evaluations of the same images: McNemar's exact test on their per-image robustness.
  'robustness.compareEvaluations':
    ({ ctx }) =>
    async (clicked?: RunItem, selected?: RunItem[]) => {
      const items = selected && selected.length > 1 ? selected : clicked ? [clicked] : [];
      if (items.length !== 2) {
        void vscode.window.showInformationMessage(
          `Robustness Lab: select two evaluations of the same images in Runs (Ctrl/Cmd-click) to compare them; ${items.length} selected.`,
        );
        return;
      }
      const [a, b] = items as [RunItem, RunItem];
      const label = (item: RunItem) => {
        const store = ctx.workspaceStore(item.entry.id);
        return store ? storedRunLabel(store, item.entry.id) : item.entry.id;
      };
      try {
        const lines = compareReports(
          [path.join(a.entry.dir, 'report.json'), path.join(b.entry.dir, 'report.json')],
          [label(a), label(b)],
        );
        for (const line of lines) ctx.log.info(`compare: ${line}`);
        const choice = await vscode.window.showInformationMessage(
          `Robustness Lab: ${lines[lines.length - 1]}.`,
          { detail: lines.slice(0, -1).join('\n') },
          'Show Details',
        );
        if (choice === 'Show Details') ctx.log.show(true);
      } catch (err) {
        void vscode.window.showErrorMessage(`Robustness Lab: cannot compare: ${(err as Error).message}`);
      }
    },
  'robustness.revealModel': (context) => async (target?: RunTarget | ModelItem) => {
    const uri = target instanceof ModelItem ? target.uri : finalModel(context, target);
    if (uri) await vscode.commands.executeCommand('revealInExplorer', uri);
  },
  'robustness.attackFinalModel': (context) => async (target?: RunTarget) => {
    const uri = finalModel(context, target);
    if (uri) await context.evaluations.attackModel('attack', uri);
  },
  'robustness.deleteRun':
    ({ ctx }) =>
    async (target?: RunTarget) => {
      const id = runIdOf(target);
      const store = ctx.workspaceStore(id);
      if (!id || !store) return;
      if (ctx.engine.isRunning(id)) {
        void vscode.window.showWarningMessage(`Robustness Lab: stop ${id} before deleting it.`);
        return;
      }
      const answer = await vscode.window.showWarningMessage(
        `Delete run ${storedRunLabel(store, id)} and everything in its folder?`,
        { modal: true },
        'Delete',
      );
      if (answer === 'Delete') {
        store.delete(id);
        ctx.refreshRuns();
      }
    },
  'robustness.addExample': (context) => () => addExample(context),
  'robustness.openModel': () => async (target?: ModelTarget) => {
    const uri = modelUri(target);
    if (uri) await vscode.window.showTextDocument(uri);
  },
  'robustness.revealRunFolder': () => async (target?: RunItem) => {
    if (target instanceof RunItem)
      await vscode.commands.executeCommand('revealInExplorer', vscode.Uri.file(target.entry.dir));
  },
  'robustness.rerun': (context) => (target?: RunItem) => rerun(context, target),
  'robustness.renameRun':
    ({ training }) =>
    async (target?: RunTarget) => {
      const id = runIdOf(target);
      if (id) await training.rename(id);
    },
  'robustness.exportRun':
    ({ ctx }) =>
    async (target?: RunTarget) => {
      const id = runIdOf(target);
      const store = ctx.workspaceStore(id);
      if (id && store?.has(id)) await exportStoredRun(store, id);
    },
};

/** Copies the bundled example into the first workspace folder and opens its spec. */
async function addExample({ ctx, evaluations }: CommandContext): Promise<void> {
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  if (!folder) {
    void vscode.window.showErrorMessage('Robustness Lab: open a folder to add the example to.');
    return;
  }
  let example;
  try {
    example = copyExample(ctx.extension.extensionPath, folder);
  } catch (err) {
    void vscode.window.showErrorMessage(`Robustness Lab: the example could not be copied: ${(err as Error).message}`);
    return;
  }
  ctx.models.refresh();
  await vscode.window.showTextDocument(vscode.Uri.file(example.spec), { preview: false });
  const model = workspaceRelative(example.model, workspaceFolders());
  const attack = 'Attack It';
  const choice = await vscode.window.showInformationMessage(
    `Robustness Lab: ${example.created ? 'added' : 'found'} the Fashion-MNIST example: ${model} ` +
      '(a standard-trained CNN, 90.0% clean) and its experiment spec; the Run lens above the spec runs it.',
    attack,
  );
  if (choice === attack) await evaluations.attackModel('attack', vscode.Uri.file(example.model));
}

/** Runs a stored evaluation's job again, as it was submitted, as a new run. */
async function rerun({ ctx, evaluations }: CommandContext, target?: RunItem): Promise<void> {
  const record = target instanceof RunItem ? target.entry.record : undefined;
  if (!target || !record) return;
  const parsed = record.kind === 'evaluation' ? attackJobSchema.safeParse(record.config) : undefined;
  if (!parsed?.success) {
    void vscode.window.showErrorMessage(`Robustness Lab: run ${record.id} has no stored job to run again.`);
    return;
  }
  const job = parsed.data;
  const model = vscode.Uri.file(job.model);
  if (refuseIfUnreadable(model, job.suite ? 'evaluate' : 'attack')) return;
  const placement = await ctx.guardRun('runs models', job.model, [job.surrogate]);
  if (!placement) return;
  const title = runPanelTitle('Re-run', ctx.modelName(job.model), job.norm, job.eps);
  await evaluations.run({
    job,
    placement,
    title,
    source: `re-run of ${record.id}`,
    ...(record.spec ? { spec: record.spec } : {}),
  });
}

/** Registers every command of the table. */
export function registerCommands(context: CommandContext): vscode.Disposable[] {
  return (Object.keys(COMMANDS) as CommandId[]).map((id) =>
    // The handler's declared parameters are what its callers (menus, lenses, views) pass.
    vscode.commands.registerCommand(id, COMMANDS[id](context) as (...args: unknown[]) => unknown),
  );
}
