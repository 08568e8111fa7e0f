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

/** Why a describe error says `file` cannot be read, with the absolute path in it made workspace-relative. */
function unreadableReason(err: unknown, file: string, relative: string): string {
  if (err instanceof SourceError) {
    // The describe error names the absolute file: say it as the Models view does.
    const detail = err.detail.split(file).join(relative);
    return `${err.field ? `${err.field}: ` : ''}${detail}`;
  }
  return (err as Error).message.split(file).join(relative);
}

/** Why `file` cannot be read as a model: its workspace-relative path and the reason; undefined when it reads. */
function unreadable(file: string, folders: readonly string[]): { relative: string; reason: string } | undefined {
  try {
    describeModel(file);
    return undefined;
  } catch (err) {
    const relative = workspaceRelative(file, folders);
    return { relative, reason: unreadableReason(err, file, relative) };
  }
}

/** A model as the Models view lists it (its file described once). */
export function listModel(file: string, folders: readonly string[], label?: string): ListedModel {
  const name = label ?? path.basename(path.dirname(file));
  try {
    return { file, label: name, info: formatModelInfo(describeModel(file)) };
  } catch (err) {
    const relative = workspaceRelative(file, folders);
    const reason = unreadableReason(err, file, relative);
    // The view's line drops the path it already shows.
    return { file, label: name, info: `unreadable: ${reason}`, problem: `${relative}: ${reason}` };
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
  const why = unreadable(file, folders);
  return why && `Robustness Lab: ${why.relative} cannot be ${USE_WORDS[use]}: ${why.reason}`;
}
