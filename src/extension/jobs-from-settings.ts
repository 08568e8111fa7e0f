/** Turns settings and a model path into an AttackJob (pure: tested without an editor). */
import * as path from 'node:path';
import type { AttackJob } from '../protocol/jobs';
import { dataLocation } from '../protocol/experiment-spec';

export interface RobustnessSettings {
  norm: 'linf' | 'l2';
  eps: number;
  steps: number;
  samples: number;
  dataset: string;
}

export const CURVE_GRID = [0, 0.025, 0.05, 0.1, 0.15, 0.2];

/** The file's workspace folder, or undefined when the path leaves every folder. */
export function containingFolder(file: string, folders: string[]): string | undefined {
  const resolved = path.resolve(file);
  return folders.find((f) => {
    const rel = path.relative(path.resolve(f), resolved);
    return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
  });
}

export type AttackKind = 'attack' | 'curve' | 'evaluate';

/**
 * attack: FGSM and PGD with the curve; curve: PGD over the grid; evaluate: the strong suite
 * (APGD-CE → APGD-T → Square, with the gradient-masking diagnostics) and its first attack's curve.
 */
export function attackJobFor(model: string, folder: string, settings: RobustnessSettings, kind: AttackKind): AttackJob {
  const data = dataLocation(settings.dataset, (relative) => path.resolve(folder, relative));
  const grid = settings.norm === 'linf' ? CURVE_GRID : CURVE_GRID.map((e) => e * 10);
  return {
    model, data, attacks: { attack: ['fgsm', 'pgd'], curve: ['pgd'], evaluate: ['apgd', 'apgd-t', 'square'] }[kind], norm: settings.norm, eps: settings.eps,
    steps: settings.steps, restarts: 1, loss: 'ce', randomStart: true, n: settings.samples, batchSize: 250, seed: 0,
    curve: grid.includes(settings.eps) ? grid : [...grid, settings.eps].sort((a, b) => a - b), examples: 32, bounds: [0, 1],
    ...(kind === 'evaluate' ? { suite: 'strong' as const } : {}),
  };
}
