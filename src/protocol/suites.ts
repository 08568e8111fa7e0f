/**
 * The suite table: which attacks each suite runs, with which parameters, in which order. Plain
 * data, so the engine (which runs it), the language server and the CLI (which describe it) read
 * the same rows, as AutoAttack's set_version is the one place that says what a version runs.
 *
 * AutoAttack's standard version runs APGD-T over 9 targets and Square with 5000 queries; the
 * strong suite trims both to finish 1,000 images in minutes on two cores (docs/results.md); the aa
 * suite is the standard version as it is (with FAB-T), for a few images or a faster machine.
 * AutoAttack's rand version (for randomised defences) runs APGD-CE and APGD-DLR, 100 steps, one
 * restart, each with EOT over 20 passes (Athalye et al. 2018).
 */
import type { AttackId, OptionsOf } from './attacks';
import type { LossId, SuiteId } from './vocabulary';
import type { FinishedStage } from './messages/worker';
import type { ReportAttack } from './report';
import { duration, pct } from './format';

/** The attack options a suite fixes (a subset of the engine's AttackOptions). */
export interface SuiteAttackParams {
  steps?: number;
  loss?: LossId;
  randomStart?: boolean;
  /** APGD-T, FAB-T: target classes, ranked by the clean logits. */
  targetClasses?: number;
  /** Square's query budget; a job's `queries` overrides it. */
  queries?: number;
  /** EOT: passes whose loss and gradient each step averages (randomised models). */
  eot?: number;
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
  aa: {
    summary: 'AutoAttack standard: APGD-CE → APGD-T (9 targets) → FAB-T (9 targets) → Square-5000',
    stages: [
      { attack: 'apgd', params: { steps: 100, loss: 'ce' } },
      { attack: 'apgd-t', params: { steps: 100, loss: 'dlr', targetClasses: 9 } },
      { attack: 'fab-t', params: { steps: 100, targetClasses: 9 } },
      { attack: 'square', params: { queries: 5000 } },
    ],
  },
  rand: {
    summary: 'APGD-CE → APGD-DLR, each with EOT over 20 passes (randomised models)',
    stages: [
      { attack: 'apgd', params: { steps: 100, loss: 'ce', eot: 20 } },
      { attack: 'apgd', params: { steps: 100, loss: 'dlr', eot: 20 } },
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

/** Whether the diagnostics found the model random at inference (two passes differ). */
export function randomised(diagnostics: readonly { id: string }[] = []): boolean {
  return diagnostics.some((d) => d.id === 'random-outputs');
}

/** What to run on a model that is random at inference: the rand suite (EOT), unless it just ran. */
export function randomnessAdvice(suite: string | null | undefined): string {
  return suite === 'rand'
    ? 'This evaluation ran the rand suite (APGD-CE and APGD-DLR, EOT over 20 passes): its worst case is the number to report.'
    : 'Attack the expectation over its randomness: run the rand suite, APGD-CE and APGD-DLR with EOT over 20 passes ' +
        '(robustness-lab evaluate --suite rand, or "suite": "rand" in a spec).';
}

/**
 * What to trust when the gradients mislead attacks, said for the evaluation that found it: on a
 * randomised model (a random-outputs finding among `diagnostics`), the rand suite; after the
 * strong suite, its own worst case (not "run the strong suite", which just ran); otherwise, the
 * strong suite and the command that runs it.
 */
export function maskingAdvice(suite: string | null | undefined, diagnostics?: readonly { id: string }[]): string {
  if (randomised(diagnostics)) return randomnessAdvice(suite);
  return suite === 'strong' || suite === 'aa'
    ? `This evaluation ran the ${suite} suite: its worst case (the last stage) is the number to report, ` +
        'and the gradient attacks before it are upper bounds.'
    : 'Trust only the worst case of the strong suite (Robustness: Evaluate (strong)).';
}

/** What a stage with no point left to attack says, in the panel's table and the CLI's. */
export const SKIPPED_ALL_FOOLED = 'skipped (all fooled)';

/**
 * A report's attack that attacked nothing: every point was already fooled (a suite's earlier
 * stages) or misclassified clean. Any attacked point costs at least one forward pass.
 */
export function attackSkipped(attack: ReportAttack): boolean {
  return attack.forward_passes === 0 && !attack.surrogate_forward_passes;
}

/** "stage 2 of 5" (clean is the baseline, not a stage). */
export function stagePosition(stage: Pick<FinishedStage, 'index' | 'total'>): string {
  return stage.index === 0 ? 'clean' : `stage ${stage.index} of ${stage.total}`;
}

/** What a finished stage measured, in words: "31.0% (93/300)", "skipped (all fooled)", "2 findings (1 masking): …". */
export function stageResult(stage: FinishedStage): string {
  if (stage.skipped) return SKIPPED_ALL_FOOLED;
  switch (stage.kind) {
    case 'clean':
    case 'attack':
      return `${pct(stage.accuracy ?? 0)} (${stage.robust ?? 0}/${stage.n})`;
    case 'diagnostics': {
      const findings = stage.findings ?? 0;
      const masking = stage.masking ? ` (${stage.masking} masking)` : '';
      return `${findings} finding${findings === 1 ? '' : 's'}${masking}${stage.detail ? `: ${stage.detail}` : ''}`;
    }
    default:
      return stage.detail ?? 'done';
  }
}

/** One line per finished stage, for the CLI: "stage 2 of 5 · APGD-T (3 targets): 31.0% (93/300) · 11.5 s". */
export function stageLine(stage: FinishedStage): string {
  const time = stage.skipped ? '' : ` · ${duration(stage.seconds)}`;
  const where = stage.index === 0 ? '' : `${stagePosition(stage)} · `;
  return `${where}${stage.label}: ${stageResult(stage)}${time}`;
}

/** The stage running after those that finished ("stage 3 of 5"); undefined before clean is known or after the last. */
export function runningStage(finished: readonly FinishedStage[]): string | undefined {
  const last = finished[finished.length - 1];
  if (!last || last.index >= last.total) return undefined;
  return `stage ${last.index + 1} of ${last.total}`;
}
