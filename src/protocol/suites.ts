/**
 * The suite table: which attacks each suite runs, with which parameters, in which order. Plain
 * data, so the engine (which runs it), the language server and the CLI (which describe it) read
 * the same rows, as AutoAttack's set_version is the one place that says what a version runs.
 *
 * AutoAttack's standard version runs APGD-T over 9 targets and Square with 5000 queries; the
 * strong suite trims both to finish 1,000 images in minutes on two cores (docs/results.md).
 */
import type { AttackId, OptionsOf } from './attacks';
import type { LossId, SuiteId } from './vocabulary';

/** The attack options a suite fixes (a subset of the engine's AttackOptions). */
export interface SuiteAttackParams {
  steps?: number;
  loss?: LossId;
  randomStart?: boolean;
  /** APGD-T: target classes, ranked by the clean logits. */
  targetClasses?: number;
  /** Square's query budget; a job's `queries` overrides it. */
  queries?: number;
}

/** One stage: an attack of the catalogue and only options that attack takes (a bad stage does not compile). */
export type SuiteStage = {
  [Id in AttackId]: { attack: Id; params: Pick<SuiteAttackParams, OptionsOf<Id> & keyof SuiteAttackParams> };
}[AttackId];

export interface SuiteDefinition {
  /** One line for help texts and hovers, e.g. "APGD-CE → APGD-T (dlr) → Square". */
  summary: string;
  stages: readonly SuiteStage[];
  /** Run last when the job names a surrogate model (the transfer attack needs one). */
  surrogateStage?: SuiteStage;
}

export const SUITE_TABLE: Readonly<Record<SuiteId, SuiteDefinition>> = {
  strong: {
    summary: 'APGD-CE → APGD-T (dlr) → Square (→ transfer, with a surrogate)',
    stages: [
      { attack: 'apgd', params: { steps: 100, loss: 'ce' } },
      { attack: 'apgd-t', params: { steps: 100, loss: 'dlr', targetClasses: 3 } },
      { attack: 'square', params: { queries: 1000 } },
    ],
    surrogateStage: { attack: 'transfer', params: { steps: 20, loss: 'ce' } },
  },
  quick: {
    summary: 'FGSM → PGD-20',
    stages: [
      { attack: 'fgsm', params: { loss: 'ce' } },
      { attack: 'pgd', params: { steps: 20, loss: 'ce', randomStart: true } },
    ],
  },
};

/** The stages a suite runs, in order: its table rows, plus the transfer stage when there is a surrogate. */
export function suiteStages(suite: SuiteId, withSurrogate: boolean): SuiteStage[] {
  const { stages, surrogateStage } = SUITE_TABLE[suite];
  return [...stages, ...(withSurrogate && surrogateStage ? [surrogateStage] : [])];
}

/** The attack ids a suite runs, in order. */
export function suiteAttackIds(suite: SuiteId, withSurrogate: boolean): AttackId[] {
  return suiteStages(suite, withSurrogate).map((stage) => stage.attack);
}
