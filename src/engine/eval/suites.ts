/**
 * Fixed attack ensembles, run AutoAttack's way (clean first, each attack on the points still
 * robust, worst case per sample, accuracy after every stage). Which attacks, with which
 * parameters and in which order is the suite table in src/protocol/suites.ts; this file only
 * turns its rows into the engine's plans.
 */
import { getAttack } from '../attacks/registry';
import type { Classifier } from '../models/classifier';
import { suiteStages } from '../../protocol/suites';
import type { SuiteId } from '../../protocol/vocabulary';
import type { AttackPlan } from './evaluate';

export interface SuiteSettings {
  seed: number;
  /** Square's query budget (default: the table's). */
  queries?: number;
  surrogate?: Classifier;
}

export function suitePlans(suite: SuiteId, s: SuiteSettings): AttackPlan[] {
  return suiteStages(suite, Boolean(s.surrogate)).map(({ attack, params }) => ({
    entry: getAttack(attack),
    options: {
      seed: s.seed,
      ...params,
      ...('queries' in params && s.queries !== undefined ? { queries: s.queries } : {}),
      ...(attack === 'transfer' && s.surrogate ? { surrogate: s.surrogate } : {}),
    },
  }));
}
