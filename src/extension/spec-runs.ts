/** The Run and Train lenses of an experiment spec: check it as the language server does, then start its job. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { SPEC_SUFFIX, specAttackJob, specTrainJob } from '../protocol/experiment-spec';
import { analyzeSpec } from '../experiment/analysis';
import { WorkspaceIndex } from '../experiment/workspace';
import { clusterDisplayUrl } from './cluster-view';
import type { Ctx } from './context';
import { settingsDataRoots } from './language-client';
import type { Evaluations } from './evaluations';
import type { TrainingController } from './training';
import { runPanelTitle } from '../protocol/format';

const plural = (count: number, one: string, many: string) => (count === 1 ? one : many);

/** `target` is the spec: a URI, a URI string (LSP command arguments are JSON), or the active editor's file. */
export async function runSpec(
  ctx: Ctx,
  runners: { evaluations: Evaluations; training: TrainingController },
  target: string | vscode.Uri | undefined,
  train: boolean,
): Promise<void> {
  const uri =
    typeof target === 'string' ? vscode.Uri.parse(target) : (target ?? vscode.window.activeTextEditor?.document.uri);
  if (!uri || !uri.fsPath.endsWith(SPEC_SUFFIX)) {
    void vscode.window.showErrorMessage(`Robustness Lab: open an experiment spec (*${SPEC_SUFFIX}) first.`);
    return;
  }
  // Trust and the spec's folder first; the files the job reads are guarded once it is built.
  const specPlace = await ctx.guardRun('runs experiment specs', uri.fsPath);
  if (!specPlace) return;
  const { folder } = specPlace;
  const document = await vscode.workspace.openTextDocument(uri);
  // Data elsewhere only through robustness.dataFolder, as the language server and the CLI's --data-root.
  const name = path.basename(uri.fsPath);
  const { problems, spec } = analyzeSpec(
    document.getText(),
    new WorkspaceIndex([folder], settingsDataRoots()).factsFor(uri.fsPath),
  );
  const errors = problems.filter((p) => p.severity === 'error');
  if (errors.length > 0 || !spec) {
    const first = errors[0];
    const where = first ? ` (line ${document.positionAt(first.start).line + 1}: ${first.message})` : '';
    const count = `${errors.length} ${plural(errors.length, 'error', 'errors')}`;
    const fix = `fix ${plural(errors.length, 'it', 'them')} to run`;
    const choice = await vscode.window.showErrorMessage(
      `Robustness Lab: ${name} has ${count}${where}; ${fix}.`,
      'Show Problems',
    );
    if (choice) await vscode.commands.executeCommand('workbench.actions.view.problems');
    return;
  }
  const dir = path.dirname(uri.fsPath);
  const resolve = (relative: string) => path.resolve(dir, relative);
  const specRel = path.relative(folder, uri.fsPath);
  if (train) {
    const job = specTrainJob(spec, resolve, fs.existsSync(resolve(spec.model)), specRel);
    if (job && ctx.config.preprocess) job.preprocessDefaults = ctx.config.preprocess;
    if (!job) {
      void vscode.window.showErrorMessage(`Robustness Lab: ${name} has no "training" block to train with.`);
      return;
    }
    const placement = await ctx.guardRun('runs experiment specs', uri.fsPath, [job.init]);
    if (placement) await runners.training.startJob(job, placement, uri.fsPath);
    return;
  }
  if (spec.cluster) {
    // A spec is the workspace's: it may not choose where the editor sends your models and data.
    const setting = ctx.config.clusterUrl;
    ctx.log.info(
      `${specRel} names the cluster ${clusterDisplayUrl(spec.cluster.redis)}; in the editor, runs go only to ` +
        `the robustness.cluster.redisUrl setting (${setting ? clusterDisplayUrl(setting) : 'empty: this run stays on this machine'})`,
    );
  }
  const job = specAttackJob(spec, resolve, specRel);
  if (ctx.config.preprocess) job.preprocessDefaults = ctx.config.preprocess;
  const placement = await ctx.guardRun('runs experiment specs', uri.fsPath, [job.model, job.surrogate]);
  if (!placement) return;
  // The spec's n (its own or the spec default) wins over robustness.samples: the header says so.
  const setting = ctx.config.samples;
  await runners.evaluations.run({
    job,
    placement,
    title: runPanelTitle(spec.name ?? name, ctx.modelName(job.model), job.norm, job.eps),
    source: `spec ${specRel}`,
    spec: specRel,
    ...(spec.output?.report ? { reportDir: resolve(spec.output.report) } : {}),
    ...(job.n !== setting ? { nSource: { spec: specRel.split(path.sep).join('/'), setting } } : {}),
  });
}
