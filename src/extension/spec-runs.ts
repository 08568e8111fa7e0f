/** The Run and Train lenses of an experiment spec: check it as the language server does, then start its job. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { SPEC_SUFFIX, specAttackJob, specTrainJob } from '../protocol/experiment-spec';
import { analyzeSpec } from '../experiment/analysis';
import { WorkspaceIndex } from '../experiment/workspace';
import type { Ctx } from './context';
import type { Evaluations } from './evaluations';
import { containingFolder } from './jobs-from-settings';
import type { TrainingController } from './training';

const plural = (count: number, one: string, many: string) => (count === 1 ? one : many);

/** `target` is the spec: a URI, a URI string (LSP command arguments are JSON), or the active editor's file. */
export async function runSpec(ctx: Ctx, runners: { evaluations: Evaluations; training: TrainingController },
  target: string | vscode.Uri | undefined, train: boolean): Promise<void> {
  const uri = typeof target === 'string'
    ? vscode.Uri.parse(target)
    : target ?? vscode.window.activeTextEditor?.document.uri;
  if (!uri || !uri.fsPath.endsWith(SPEC_SUFFIX)) {
    void vscode.window.showErrorMessage(`Robustness Lab: open an experiment spec (*${SPEC_SUFFIX}) first.`);
    return;
  }
  const folder = await ctx.guardRun('runs experiment specs', uri.fsPath);
  if (!folder) return;
  const document = await vscode.workspace.openTextDocument(uri);
  const name = path.basename(uri.fsPath);
  const { problems, spec } = analyzeSpec(document.getText(), new WorkspaceIndex([folder]).factsFor(uri.fsPath));
  const errors = problems.filter((p) => p.severity === 'error');
  if (errors.length > 0 || !spec) {
    const first = errors[0];
    const where = first ? ` (line ${document.positionAt(first.start).line + 1}: ${first.message})` : '';
    const count = `${errors.length} ${plural(errors.length, 'error', 'errors')}`;
    const fix = `fix ${plural(errors.length, 'it', 'them')} to run`;
    const choice = await vscode.window.showErrorMessage(
      `Robustness Lab: ${name} has ${count}${where}; ${fix}.`, 'Show Problems');
    if (choice) await vscode.commands.executeCommand('workbench.actions.view.problems');
    return;
  }
  const dir = path.dirname(uri.fsPath);
  const resolve = (relative: string) => path.resolve(dir, relative);
  const specRel = path.relative(folder, uri.fsPath);
  if (train) {
    const job = specTrainJob(spec, resolve, fs.existsSync(resolve(spec.model)));
    if (!job) {
      void vscode.window.showErrorMessage(`Robustness Lab: ${name} has no "training" block to train with.`);
      return;
    }
    const model = job.init ? path.relative(folder, job.init) : `${job.method} (new smallcnn)`;
    await runners.training.startJob(job, model, specRel);
    return;
  }
  const job = specAttackJob(spec, resolve);
  for (const file of [job.model, job.surrogate].filter((f): f is string => Boolean(f))) {
    if (!containingFolder(file, [folder])) {
      void vscode.window.showErrorMessage(
        `Robustness Lab: ${name} points outside the workspace (${file}); keep models inside ${folder}.`);
      return;
    }
  }
  await runners.evaluations.run({
    job, folder, title: `${spec.name ?? name}: ${path.basename(path.dirname(job.model))} · ${job.norm} ε=${job.eps}`,
    source: `spec ${specRel}`, spec: specRel,
    ...(spec.output?.report ? { reportDir: resolve(spec.output.report) } : {}),
  });
}
