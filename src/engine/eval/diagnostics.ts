/**
 * Gradient-masking diagnostics: the checks of Carlini et al. 2019 ("On Evaluating Adversarial
 * Robustness"), Athalye et al. 2018 ("Obfuscated Gradients Give a False Sense of Security") and
 * AutoAttack's own, run as cheap probes on up to 200 clean-correct points of the evaluated split,
 * plus the checks that read an evaluation's per-sample results. Each finding says what to do.
 */
import * as tf from '@tensorflow/tfjs-core';
import { fgsm } from '../attacks/fgsm';
import { pgd } from '../attacks/pgd';
import { square } from '../attacks/square';
import { lossAndGrad } from '../attacks/common';
import type { AttackOptions, AttackResult } from '../attacks/types';
import { getAttack } from '../attacks/registry';
import { batchTensors, type Split } from '../data/datasets';
import { throwIfAborted } from '../errors';
import { predict, type Classifier } from '../models/classifier';
import { maxEps, type ThreatModel } from '../threat';
import type { Report, ReportDiagnostic } from '../../protocol/report';
import { pct } from '../../protocol/format';
import { maskingAdvice, randomnessAdvice } from '../../protocol/suites';
import { NORM_LABELS } from '../../protocol/vocabulary';
import type { Evaluation } from './evaluate';

export interface DiagnosticsOptions {
  /** Probe points (default 200). */
  probe?: number;
  seed?: number;
  signal?: AbortSignal;
  onProgress?: (label: string, done: number, total: number) => void;
  /** The suite the probes accompany: advice does not send the user to the suite they just ran. */
  suite?: string | null;
}

/** Every id a diagnostic can have, with whether it signals gradient masking. */
export const DIAGNOSTIC_IDS = {
  'probability-outputs': true,
  'saturated-softmax': true,
  'random-outputs': true,
  'zero-gradients': true,
  'non-finite-gradients': true,
  'single-step-beats-iterative': true,
  'no-chance-at-large-eps': true,
  'black-box-beats-white-box': true,
  'loss-dependent-result': true,
  'more-steps-change-result': false,
  'loss-still-rising': false,
  'invalid-examples': false,
} as const;
export type DiagnosticId = keyof typeof DIAGNOSTIC_IDS;

function finding(id: DiagnosticId, severity: ReportDiagnostic['severity'], message: string): ReportDiagnostic {
  return { id, severity, message, ...(DIAGNOSTIC_IDS[id] ? { masking: true } : {}) };
}

/** The first `limit` points of the split that the model classifies correctly. */
function probePoints(
  model: Classifier,
  split: Split,
  shape: [number, number, number],
  limit: number,
): { x: tf.Tensor4D; y: tf.Tensor1D } {
  const take = Math.min(split.count, Math.max(limit * 2, 400));
  const { x, y } = batchTensors(split, shape, 0, take);
  const keep = tf.tidy(() => {
    const labels = predict(model, x).labels;
    const truth = y.dataSync();
    return [...labels.keys()].filter((i) => labels[i] === truth[i]).slice(0, limit);
  });
  const picked = tf.tidy(() => {
    const rows = tf.tensor1d(keep, 'int32');
    return { x: tf.gather(x, rows) as tf.Tensor4D, y: tf.gather(y, rows) as tf.Tensor1D };
  });
  tf.dispose([x, y]);
  return picked;
}

async function fooledBy(run: Promise<AttackResult>): Promise<boolean[]> {
  const r = await run;
  r.xAdv.dispose();
  return r.success;
}

const count = (flags: boolean[]) => flags.filter(Boolean).length;

/** Probes that query the model: outputs, gradients, and small attacks compared with each other. */
export async function probeDiagnostics(
  model: Classifier,
  split: Split,
  shape: [number, number, number],
  threat: ThreatModel,
  opts: DiagnosticsOptions = {},
): Promise<ReportDiagnostic[]> {
  const found: ReportDiagnostic[] = [];
  const { x, y } = probePoints(model, split, shape, opts.probe ?? 200);
  const n = x.shape[0];
  if (n === 0) {
    // Nothing is classified correctly: there is no robustness to probe.
    tf.dispose([x, y]);
    return [];
  }
  const eps = typeof threat.eps === 'number' ? threat.eps : threat.eps.reduce((max, e) => Math.max(max, e), 0);
  // AutoAttack's standard version (aa) runs the strong suite's stages and more: the same advice holds.
  const strongRan = opts.suite === 'strong' || opts.suite === 'aa';
  const base: AttackOptions = { seed: opts.seed ?? 0, ...(opts.signal ? { signal: opts.signal } : {}) };
  const total = 7;
  const step = (label: string, k: number) => {
    throwIfAborted(opts.signal, 'diagnostics');
    opts.onProgress?.(label, k, total);
  };
  try {
    // 1. Outputs: probabilities, saturation, randomness.
    step('outputs', 0);
    const { rowsAreProbabilities, saturated, drift } = tf.tidy(() => {
      const a = model.predictLogits(x);
      const b = model.predictLogits(x);
      const sums = tf.sum(a, 1);
      const probabilities = tf.min(a).dataSync()[0]! >= -1e-6 && tf.max(tf.abs(tf.sub(sums, 1))).dataSync()[0]! < 1e-3;
      // Softmax saturates in float32 when the top logit leads the runner-up by more than ~17.
      const { values } = tf.topk(a, 2);
      const lead = tf.sub(tf.slice(values, [0, 0], [-1, 1]), tf.slice(values, [0, 1], [-1, 1]));
      const sat = tf.mean(tf.cast(tf.greater(lead, 17), 'float32')).dataSync()[0]!;
      const scale = 1 + tf.max(tf.abs(a)).dataSync()[0]!;
      return {
        rowsAreProbabilities: probabilities,
        saturated: sat,
        drift: tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]! / scale,
      };
    });
    if (rowsAreProbabilities) {
      found.push(
        finding(
          'probability-outputs',
          'warning',
          'The model outputs probabilities (every row is ≥ 0 and sums to 1): ' +
            'gradients of a loss on probabilities vanish where the model is confident. ' +
            'Export the logits (the layer before the softmax) and evaluate those.',
        ),
      );
    }
    if (saturated > 0.5) {
      found.push(
        finding(
          'saturated-softmax',
          'warning',
          `On ${pct(saturated)} of the probe points the top logit leads by more than 17, so softmax is exactly 1 ` +
            'in float32 and the cross-entropy gradient is zero (the signature of defensive distillation at T = 1). ' +
            (strongRan
              ? 'Trust only scale-invariant losses (dlr, margin): the APGD-T stage of this suite uses dlr. ' +
                maskingAdvice(opts.suite)
              : 'Trust only scale-invariant losses (dlr, margin) and the strong suite.'),
        ),
      );
    }
    if (drift > 1e-4) {
      found.push(
        finding(
          'random-outputs',
          'error',
          `Two forward passes on the same inputs differ (by ${drift.toExponential(1)} relative): ` +
            'the model is random at inference, so single gradients are noisy. ' +
            randomnessAdvice(opts.suite),
        ),
      );
    }

    // 2. Gradients at the clean points.
    step('gradients', 1);
    const g = lossAndGrad(model, x, y, 'ce');
    const [zeroShare, nonFinite] = tf.tidy(() => {
      const l1 = tf.sum(tf.abs(tf.reshape(g.grad, [n, -1])), 1);
      return [
        tf.mean(tf.cast(tf.equal(l1, 0), 'float32')).dataSync()[0]!,
        tf.sum(tf.cast(tf.logicalNot(tf.isFinite(l1)), 'int32')).dataSync()[0]!,
      ];
    });
    tf.dispose([g.grad, g.loss, g.success]);
    if (nonFinite > 0) {
      found.push(
        finding(
          'non-finite-gradients',
          'error',
          `The input gradient is NaN or infinite on ${nonFinite} of ${n} probe points: ` +
            'gradient attacks step nowhere there. Look for a log or division without a guard in the model.',
        ),
      );
    }
    if (zeroShare > 0.2) {
      found.push(
        finding(
          'zero-gradients',
          'warning',
          `The cross-entropy input gradient is exactly zero on ${pct(zeroShare)} of the probe points: ` +
            'gradient attacks cannot move from there. ' +
            (strongRan
              ? "This suite's dlr loss (APGD-T) and its black-box stage (Square) do not rely on it; " +
                'its worst case is the number to report.'
              : 'Use the dlr or margin loss (the strong suite does) and a black-box attack (Square).'),
        ),
      );
    }

    // 3. A single step beating many.
    step('FGSM vs PGD-20', 2);
    const threatN = { ...threat, eps };
    const oneStep = await fooledBy(fgsm(model, x, y, threatN, base));
    const pgd20 = await fooledBy(pgd(model, x, y, threatN, { ...base, steps: 20 }));
    const extraByFgsm = oneStep.filter((f, i) => f && !pgd20[i]).length;
    if (extraByFgsm > Math.max(1, 0.01 * n)) {
      found.push(
        finding(
          'single-step-beats-iterative',
          'warning',
          `FGSM fools ${extraByFgsm} probe points that PGD-20 does not (FGSM ${pct(1 - count(oneStep) / n)} vs ` +
            `PGD-20 ${pct(1 - count(pgd20) / n)} robust): the iterative attack follows misleading gradients. ` +
            'Do not trust the PGD number.',
        ),
      );
    }

    // 4. More steps, and whether the loss was still rising at the end.
    step('PGD-100 convergence', 3);
    const trace: Float32Array[] = [];
    const pgd100 = await pgd(model, x, y, threatN, {
      ...base,
      steps: 100,
      keep: 'maxLoss',
      seed: (opts.seed ?? 0) + 1,
      onLosses: (_s, losses) => {
        trace.push(Float32Array.from(losses));
      },
    });
    pgd100.xAdv.dispose();
    const lastFooled = pgd100.success;
    const drop = count(lastFooled) / n - count(pgd20) / n;
    // More than 5 points (and 3 points' worth of samples) is a change no rounding explains.
    if (drop > Math.max(3 / n, 0.05)) {
      found.push(
        finding(
          'more-steps-change-result',
          'warning',
          `PGD-100 fools ${pct(drop)} more of the probe points than PGD-20: ` +
            'the attack had not converged at 20 steps. ' +
            (strongRan
              ? "This suite's APGD stages run 100 adaptive steps; check that their accuracies agree."
              : 'Evaluate with more steps and restarts, or the strong suite.'),
        ),
      );
    }
    // On the points PGD-100 did not fool (a fooled point's loss may grow without bound, harmlessly):
    // did the best-so-far mean loss still rise by more than 1% over the last 10% of the steps?
    const robust = [...lastFooled.keys()].filter((i) => !lastFooled[i]);
    if (robust.length > 0 && trace.length > 10) {
      const bestMeanAt = (t: number) => {
        let sum = 0;
        for (const i of robust) {
          let m = -Infinity;
          for (let k = 0; k <= t; k++) m = Math.max(m, trace[k]![i]!);
          sum += Number.isFinite(m) ? m : 0;
        }
        return sum / robust.length;
      };
      const late = bestMeanAt(Math.floor((trace.length - 1) * 0.9));
      const end = bestMeanAt(trace.length - 1);
      if (Math.abs(late) > 1e-6 && (end - late) / Math.abs(late) > 0.01) {
        found.push(
          finding(
            'loss-still-rising',
            'info',
            'On the probe points PGD-100 did not fool, its loss still rose by ' +
              `${pct((end - late) / Math.abs(late))} over the last 10 steps: optimisation was incomplete. ` +
              'Use more steps (APGD adapts its step size).',
          ),
        );
      }
    }

    // 5. Accuracy at a huge ε must reach chance or below.
    step('large ε', 4);
    const width = threat.bounds[1] - threat.bounds[0];
    const bigEps =
      threat.norm === 'linf'
        ? 0.5 * width
        : Math.min(
            maxEps('l2', threat.bounds, shape[0] * shape[1] * shape[2]),
            0.25 * width * Math.sqrt(shape[0] * shape[1] * shape[2]),
          );
    const big = await fooledBy(pgd(model, x, y, { ...threat, eps: bigEps }, { ...base, steps: 20 }));
    const bigAccuracy = 1 - count(big) / n;
    const chance = 1 / model.numClasses;
    if (bigAccuracy > chance + 0.1) {
      found.push(
        finding(
          'no-chance-at-large-eps',
          'warning',
          `At ε = ${+bigEps.toFixed(3)} (${NORM_LABELS[threat.norm]}) PGD-20 still leaves ${pct(bigAccuracy)} accuracy, ` +
            `above chance (${pct(chance)}): with that budget any image can be changed, so the gradients must be ` +
            'misleading the attack.',
        ),
      );
    }

    // 6. A black-box attack beating the white-box one.
    step('Square vs PGD-100', 5);
    const black = await fooledBy(square(model, x, y, threatN, { ...base, queries: 300 }));
    const extraByBlack = black.filter((f, i) => f && !lastFooled[i]).length;
    if (extraByBlack > Math.max(1, 0.02 * n)) {
      found.push(
        finding(
          'black-box-beats-white-box',
          'warning',
          `Square (300 queries, no gradients) fools ${extraByBlack} probe points that PGD-100 does not: ` +
            'the gradients mislead white-box attacks. ' +
            (strongRan
              ? maskingAdvice(opts.suite)
              : "Report the strong suite's number, not PGD's (Robustness: Evaluate (strong))."),
        ),
      );
    }
    step('done', total);
  } finally {
    tf.dispose([x, y]);
  }
  return found;
}

/** More points than this, of n, fooled only by black-box attacks is a finding: 0.5%, and at least 2. */
export function blackBoxThreshold(n: number): number {
  return Math.max(1, 0.005 * n);
}

/**
 * Checks that read an evaluation's per-sample results: invalid examples, black-box gains. A shard
 * of a run (`shard`) reports every black-box gain with its count, for the merge to judge the total.
 */
export function evaluationDiagnostics(evaluation: Evaluation, shard = false): ReportDiagnostic[] {
  const found: ReportDiagnostic[] = [];
  const { checks, n } = evaluation;
  if (checks.maxDistanceOverEps > 1 + 1e-4 || !checks.inBounds || !checks.finite) {
    found.push(
      finding(
        'invalid-examples',
        'error',
        'An adversarial example failed the final check ' +
          `(largest ‖x'−x‖/ε ${checks.maxDistanceOverEps.toFixed(5)}, in bounds: ${checks.inBounds}, ` +
          `finite: ${checks.finite}). ` +
          'The robust accuracy is not valid; report this as a bug.',
      ),
    );
  }
  const access = (id: string) => getAttack(id).access;
  const white = evaluation.attacks.filter((a) => access(a.id) === 'white-box');
  const other = evaluation.attacks.filter((a) => access(a.id) !== 'white-box');
  if (white.length > 0 && other.length > 0) {
    const whiteFooled = Uint8Array.from({ length: n }, (_, i) => (white.some((a) => a.fooled[i]) ? 1 : 0));
    for (const a of other) {
      const extra = [...a.fooled.keys()].filter((i) => a.fooled[i] && !whiteFooled[i]).length;
      if (extra > (shard ? 0 : blackBoxThreshold(n))) found.push(blackBoxFinding(a.label, extra, n));
    }
  }
  return found;
}

/**
 * A black-box or transfer attack fooled `count` of `n` points no white-box attack did
 * (also used to merge worker slices).
 */
export function blackBoxFinding(attack: string, count: number, n: number): ReportDiagnostic {
  return {
    ...finding(
      'black-box-beats-white-box',
      'warning',
      `${attack} fools ${count} points (${pct(count / n)}) that no white-box attack did: ` +
        'the gradients mislead white-box attacks on this model. Trust the worst case, and treat white-box numbers ' +
        'alone as upper bounds.',
    ),
    count,
    attack,
  };
}

/** Checks on a report's per-stage accuracies (recomputed after worker slices merge). */
export function suiteDiagnostics(report: Pick<Report, 'attacks' | 'cascade' | 'robust_accuracy'>): ReportDiagnostic[] {
  // APGD-CE then a dlr attack (the strong suite): a large gap means the ce loss is masked.
  const ce = report.attacks.find((a) => a.id === 'apgd' && (a.params.loss ?? 'ce') === 'ce');
  if (!ce || !report.cascade || ce.robust_accuracy - report.robust_accuracy <= 0.1) return [];
  return [
    finding(
      'loss-dependent-result',
      'warning',
      `APGD-CE leaves ${pct(ce.robust_accuracy)} but the full suite ${pct(report.robust_accuracy)}: ` +
        'the cross-entropy loss is masked (the dlr loss is scale-invariant and is not). ' +
        'A ce-only evaluation of this model would overstate its robustness by ' +
        `${((ce.robust_accuracy - report.robust_accuracy) * 100).toFixed(1)} points.`,
    ),
  ];
}
