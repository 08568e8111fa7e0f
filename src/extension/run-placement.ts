/**
 * Where a run may live, decided in one place for every kind of run: only in a trusted workspace,
 * and only inside a workspace folder (its run store lives there).
 */
import { containingFolder } from './jobs-from-settings';

export type RunPlacement =
  | { folder: string }
  | { refusal: 'untrusted' }
  | { refusal: 'no-folder' }
  | { refusal: 'outside-workspace'; file: string };

/**
 * The folder a run keeps its record in: the one containing `file`, or the first workspace folder
 * when the run starts from no file (a new training run).
 */
export function placeRun(options: { trusted: boolean; folders: readonly string[]; file?: string }): RunPlacement {
  if (!options.trusted) return { refusal: 'untrusted' };
  if (options.file === undefined) {
    const first = options.folders[0];
    return first === undefined ? { refusal: 'no-folder' } : { folder: first };
  }
  const folder = containingFolder(options.file, [...options.folders]);
  return folder ? { folder } : { refusal: 'outside-workspace', file: options.file };
}
