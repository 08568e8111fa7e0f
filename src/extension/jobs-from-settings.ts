/** Turns settings and a model path into an AttackJob (pure: tested without an editor). */
import * as path from 'node:path';
import {
  DEFAULT_ATTACKS,
  DEFAULT_CURVE_ATTACKS,
  DEFAULT_SUITE,
  defaultAttackJob,
  defaultCurveGrid,
  type AttackJob,
  type DataOptions,
} from '../protocol/jobs';
import { dataLocation } from '../protocol/experiment-spec';
import type { NormId, SuiteId } from '../protocol/vocabulary';
import type { PreprocessLayer } from '../protocol/preprocess';

export interface RobustnessSettings {
  norm: NormId;
  eps: number;
  steps: number;
  /** Absolute α; absent: each attack's default (2.5·ε/steps for PGD). */
  stepSize?: number;
  restarts: number;
  samples: number;
  /** Image rows the report keeps. */
  examples: number;
  /** A built-in data id or a data folder (relative to the workspace folder). */
  dataset: string;
  /** How the data is read (label set, resize, channels); absent: as the files hold it. */
  dataOptions?: DataOptions;
  /** The curve's ε grid; absent: the norm's default grid. */
  curve?: number[];
  /** robustness.preprocess.*: below the model's sidecar and a spec's block. */
  preprocess?: PreprocessLayer;
}

/** The file's workspace folder, or undefined when the path leaves every folder. */
export function containingFolder(file: string, folders: string[]): string | undefined {
  const resolved = path.resolve(file);
  return folders.find((f) => {
    const rel = path.relative(path.resolve(f), resolved);
    return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
  });
}

export type AttackKind = 'attack' | 'curve' | 'evaluate';

/** What each command of the editor runs: an attack list, or the strong suite (evaluate). */
const ATTACKS_OF: Record<AttackKind, { attacks: string[] } | { suite: SuiteId }> = {
  attack: { attacks: [...DEFAULT_ATTACKS] },
  curve: { attacks: [...DEFAULT_CURVE_ATTACKS] },
  evaluate: { suite: DEFAULT_SUITE },
};

/**
 * The settings' job-wide values (ε, steps, α, restarts, samples, example rows, data, the curve's
 * grid) with the attacks of `kind`: attack: FGSM and PGD with the curve; curve: PGD over the grid; evaluate: the strong suite
 * (src/protocol/suites.ts, with the gradient-masking diagnostics) and the curve of its gradient attacks.
 */
export function attackJobFor(model: string, folder: string, settings: RobustnessSettings, kind: AttackKind): AttackJob {
  const data = dataLocation(settings.dataset, (relative) => path.resolve(folder, relative));
  const grid = [...new Set(settings.curve ?? defaultCurveGrid(settings.norm))];
  return {
    ...defaultAttackJob(),
    model,
    data,
    ...(settings.dataOptions ? { dataOptions: settings.dataOptions } : {}),
    norm: settings.norm,
    eps: settings.eps,
    steps: settings.steps,
    ...(settings.stepSize !== undefined ? { stepSize: settings.stepSize } : {}),
    restarts: settings.restarts,
    n: settings.samples,
    examples: settings.examples,
    // The curve always passes through the configured ε, so it agrees with the table.
    curve: (grid.includes(settings.eps) ? grid : [...grid, settings.eps]).sort((a, b) => a - b),
    ...(settings.preprocess ? { preprocessDefaults: settings.preprocess } : {}),
    ...ATTACKS_OF[kind],
  };
}
