/**
 * Where a run may live, decided in one place for every kind of run: only in a trusted workspace,
 * and only inside a workspace folder (its run store lives there), reading only files inside that
 * folder. A run starts only from a GuardedPlacement, and only placeRun makes one.
 */
import { containingFolder } from './jobs-from-settings';

declare const guarded: unique symbol;

/** A workspace folder the run guard accepted for a run (RunController.start and resume take only this). */
export type GuardedPlacement = { readonly folder: string } & { readonly [guarded]: true };

export type RunPlacement =
  | GuardedPlacement
  | { refusal: 'untrusted' }
  | { refusal: 'no-folder' }
  | { refusal: 'outside-workspace'; file: string }
  | { refusal: 'reads-outside'; file: string; outside: string; folder: string };

export interface PlacementRequest {
  trusted: boolean;
  folders: readonly string[];
  /** The file the run is about (a model, a spec, a run's folder); none for a new training run. */
  file?: string;
  /** Files the run reads (a spec's model and surrogate, a training run's starting model): inside the folder found. */
  reads?: ReadonlyArray<string | undefined>;
}

/**
 * The folder a run keeps its record in: the one containing `file`, or the first workspace folder
 * when the run starts from no file (a new training run).
 */
export function placeRun(request: PlacementRequest): RunPlacement {
  if (!request.trusted) return { refusal: 'untrusted' };
  let folder: string | undefined;
  if (request.file === undefined) {
    folder = request.folders[0];
    if (folder === undefined) return { refusal: 'no-folder' };
  } else {
    folder = containingFolder(request.file, [...request.folders]);
    if (folder === undefined) return { refusal: 'outside-workspace', file: request.file };
  }
  const inside = folder;
  const outside = request.reads?.find((read) => read !== undefined && !containingFolder(read, [inside]));
  if (outside !== undefined) {
    return { refusal: 'reads-outside', file: request.file ?? inside, outside, folder: inside };
  }
  return { folder: inside } as GuardedPlacement;
}

/** True when the guard accepted the run. */
export function isGuarded(placement: RunPlacement): placement is GuardedPlacement {
  return !('refusal' in placement);
}
