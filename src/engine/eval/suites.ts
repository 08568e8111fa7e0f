/**
 * Fixed attack ensembles, run AutoAttack's way (clean first, each attack on the points still
 * robust, worst case per sample, accuracy after every stage):
 *   strong: APGD-CE (100 steps) → APGD-T (dlr, 100 steps, 3 target classes) → Square (1000 queries)
 *           [→ transfer from the surrogate, when one is given]
 *   quick:  FGSM → PGD-20
 * AutoAttack's standard version runs APGD-T over 9 targets and Square with 5000 queries; the
 * strong suite trims both to finish 1,000 images in minutes on two cores (docs/results.md).
 */
import { getAttack } from '../attacks/registry';
import type { AttackOptions } from '../attacks/types';
import type { Classifier } from '../models/classifier';
import type { SuiteId } from '../../protocol/jobs';
import type { AttackPlan } from './evaluate';

export interface SuiteSettings {
  seed: number;
  /** Square's query budget (default 1000). */
  queries?: number;
  surrogate?: Classifier;
}

export function suitePlans(suite: SuiteId, s: SuiteSettings): AttackPlan[] {
  const plan = (id: string, options: AttackOptions): AttackPlan => ({ entry: getAttack(id), options: { seed: s.seed, ...options } });
  if (suite === 'quick') return [plan('fgsm', { loss: 'ce' }), plan('pgd', { steps: 20, loss: 'ce', randomStart: true })];
  return [
    plan('apgd', { steps: 100, loss: 'ce' }),
    plan('apgd-t', { steps: 100, loss: 'dlr', targetClasses: 3 }),
    plan('square', { queries: s.queries ?? 1000 }),
    ...(s.surrogate ? [plan('transfer', { steps: 20, loss: 'ce', surrogate: s.surrogate })] : []),
  ];
}
