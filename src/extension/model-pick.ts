/**
 * The entry points' model: the one they were given, the active editor's, or one picked from the
 * models the Models view lists; and the refusal, before any run starts, of a model that cannot be read.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { isModelFile } from '../protocol/model-files';
import type { CommandId } from './command-ids';
import { modelPickItems, refusal, type ListedModel, type ModelUse } from './model-choice';

/** The models to pick from: the Models view's (ModelsProvider.list). */
export interface ModelList {
  list(): Promise<ListedModel[]>;
}

const ADD_EXAMPLE: CommandId = 'robustness.addExample';

const folders = () => (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath);

/** Asks which of the listed models to use; undefined when there is none or the user backs out. */
export async function pickModel(models: ModelList, title: string): Promise<vscode.Uri | undefined> {
  const listed = await models.list();
  if (listed.length === 0) {
    const add = 'Add the Fashion-MNIST Example';
    const choice = await vscode.window.showInformationMessage(
      'Robustness Lab: there is no model.json in this workspace yet.',
      add,
    );
    if (choice === add) await vscode.commands.executeCommand(ADD_EXAMPLE);
    return undefined;
  }
  const picked = await vscode.window.showQuickPick(modelPickItems(listed, folders()), {
    title,
    placeHolder: 'Which model?',
    matchOnDescription: true,
    matchOnDetail: true,
  });
  return picked ? vscode.Uri.file(picked.file) : undefined;
}

/** The active editor's model file, else one the user picks. */
export async function modelOrPick(models: ModelList, title: string): Promise<vscode.Uri | undefined> {
  const active = vscode.window.activeTextEditor?.document.uri;
  if (active?.scheme === 'file' && isModelFile(active.fsPath)) return active;
  return pickModel(models, title);
}

/**
 * True, after one error message offering to open the file, when `uri` is a model file that cannot
 * be read: the run is refused before it starts (no panel, no run record).
 */
export function refuseIfUnreadable(uri: vscode.Uri, use: ModelUse): boolean {
  if (!isModelFile(uri.fsPath)) return false;
  const message = refusal(uri.fsPath, folders(), use);
  if (message === undefined) return false;
  const open = `Open ${path.basename(uri.fsPath)}`;
  void vscode.window.showErrorMessage(message, open).then(async (choice) => {
    if (choice === open) await vscode.window.showTextDocument(uri);
  });
  return true;
}
