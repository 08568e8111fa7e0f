/**
 * The models the Models view lists, as plain data: each with its one-line summary or the reason it
 * cannot be read, the quick pick a command offers when it was started without a model, and the one
 * message that refuses a run on an unreadable model. Pure: tested without an editor.
 */
import * as path from 'node:path';
import { workspaceRelative } from '../common/workspace-path';
import { SourceError } from '../common/errors';
import { describeModel, formatModelInfo } from '../formats/model-formats';

export interface ListedModel {
  /** Absolute path of the model file. */
  file: string;
  /** What the Models view calls it: the model's folder, or a training run's name. */
  label: string;
  /** "28×28×1 → 10", or "unreadable: …" */
  info: string;
  /** Why the file cannot be read as a model (the describe error, workspace-relative). */
  problem?: string;
}

/** Why `file` cannot be read as a model, with its path workspace-relative; undefined when it reads. */
export function modelProblem(file: string, folders: readonly string[]): string | undefined {
  try {
    describeModel(file);
    return undefined;
  } catch (err) {
    const relative = workspaceRelative(file, folders);
    if (err instanceof SourceError) {
      // The describe error names the absolute file: say it as the Models view does.
      const detail = err.detail.split(file).join(relative);
      return `${relative}${err.field ? `: ${err.field}` : ''}: ${detail}`;
    }
    return `${relative}: ${(err as Error).message.split(file).join(relative)}`;
  }
}

/** A model as the Models view lists it. */
export function listModel(file: string, folders: readonly string[], label?: string): ListedModel {
  const name = label ?? path.basename(path.dirname(file));
  try {
    return { file, label: name, info: formatModelInfo(describeModel(file)) };
  } catch {
    const problem = modelProblem(file, folders) ?? '';
    // The view's line drops the path it already shows.
    const relative = workspaceRelative(file, folders);
    const reason = problem.startsWith(`${relative}: `) ? problem.slice(relative.length + 2) : problem;
    return { file, label: name, info: `unreadable: ${reason}`, problem };
  }
}

export interface ModelPickItem {
  label: string;
  description: string;
  detail: string;
  file: string;
}

/** The quick pick of a command started without a model: readable models first, in the view's order. */
export function modelPickItems(models: readonly ListedModel[], folders: readonly string[]): ModelPickItem[] {
  const ordered = [...models.filter((m) => !m.problem), ...models.filter((m) => m.problem)];
  return ordered.map((m) => ({
    label: m.label,
    description: m.info,
    detail: workspaceRelative(m.file, folders),
    file: m.file,
  }));
}

/** What each entry point does to a model, as a refusal says it ("cannot be attacked"). */
export type ModelUse = 'attack' | 'curve' | 'evaluate' | 'train';
const USE_WORDS: Readonly<Record<ModelUse, string>> = {
  attack: 'attacked',
  curve: 'attacked for a curve',
  evaluate: 'evaluated',
  train: 'trained from',
};

/** The one message refusing a run on an unreadable model; undefined when the model reads. */
export function refusal(file: string, folders: readonly string[], use: ModelUse): string | undefined {
  const problem = modelProblem(file, folders);
  if (problem === undefined) return undefined;
  const relative = workspaceRelative(file, folders);
  const reason = problem.startsWith(`${relative}: `) ? problem.slice(relative.length + 2) : problem;
  return `Robustness Lab: ${relative} cannot be ${USE_WORDS[use]}: ${reason}`;
}
