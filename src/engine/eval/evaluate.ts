/**
 * Robust accuracy over a split: clean accuracy first, then each attack on the points that
 * are still correctly classified, the worst case kept per sample; and the accuracy-vs-ε curve.
 */
import * as tf from '@tensorflow/tfjs-core';
import { batchTensors, type Split } from '../data/datasets';
import { throwIfAborted } from '../errors';
import { predict, type Classifier } from '../models/classifier';
import { keepsContract } from '../attacks/runner';
import type { AttackEntry, AttackOptions } from '../attacks/types';
import { distance, validateThreat, type ThreatModel } from '../threat';
import type { NormId } from '../../protocol/vocabulary';
import type { FinishedStage } from '../../protocol/messages/worker';
import { forwardBatchSize } from '../scheduling';
import { predictSplit, type Predictions } from './accuracy';

export interface AttackPlan {
  entry: AttackEntry;
  options: AttackOptions;
}

export interface EvalProgress {
  phase: 'clean' | 'attack' | 'curve';
  /** Attack label, or "ε=0.1" on the curve. */
  label: string;
  done: number;
  total: number;
}

export interface AttackRun {
  id: string;
  label: string;
  params: Record<string, unknown>;
  robustAccuracy: number;
  timeSeconds: number;
  /** Images pushed through the evaluated model forward / backward (the transfer attack: the target only). */
  forwardPasses: number;
  backwardPasses: number;
  /** The transfer attack's surrogate passes, counted apart. */
  surrogatePasses?: { forward: number; backward: number };
  /** Per sample: 1 when the sample is misclassified under this attack (or clean). */
  fooled: Uint8Array;
}

export interface Example {
  index: number;
  label: number;
  cleanPixels: Float32Array;
  cleanPrediction: number;
  cleanConfidence: number;
  /**
   * The adversarial image of the attack that fooled this sample, else of the last attack that ran
   * on it (the clean one if none did: a clean mistake).
   */
  advPixels: Float32Array;
  advPrediction: number;
  advConfidence: number;
  /** That attack's id and label ("clean" for both when none ran). */
  attackId: string;
  attackLabel: string;
}

/** The final check of every adversarial example: inside its ball, inside the box, finite. */
export interface ExampleChecks {
  maxDistanceOverEps: number;
  inBounds: boolean;
  finite: boolean;
}

export interface Evaluation {
  /** Each attack ran only on the points still robust after the ones before it. */
  cascade: boolean;
  /**
   * The signal stopped the attacks (with `keepPartial`): `attacks` holds those that finished,
   * and the examples and checks only what they found.
   */
  cancelled?: boolean;
  checks: ExampleChecks;
  n: number;
  threat: ThreatModel;
  cleanAccuracy: number;
  attacks: AttackRun[];
  /** Worst case over the attacks, per sample. */
  robustAccuracy: number;
  examples: Example[];
  seconds: number;
}

/** A finished stage as the evaluation sees it; the job numbers the stages (run-job.ts). */
export type StageResult = Omit<FinishedStage, 'index' | 'total'>;

export interface EvaluateOptions {
  /** Images per batch of gradient attacks (default 250); forward-only work takes larger ones (forwardBatchSize). */
  batchSize?: number;
  /** Called once clean accuracy is known, then after each attack, as each finishes. */
  onStage?: (stage: StageResult) => void;
  /**
   * On an abort after clean accuracy, return the attacks that finished (`cancelled` set)
   * instead of throwing; the stage that was running is dropped whole.
   */
  keepPartial?: boolean;
  /** How many leading samples to keep images of (default 32). */
  examples?: number;
  signal?: AbortSignal;
  onProgress?: (p: EvalProgress) => void;
  /**
   * AutoAttack's order: each attack only on the points the earlier ones left robust, so an
   * attack's accuracy is the accuracy after that stage (default false: each attack on every
   * clean-correct point, so attacks can be compared).
   */
  cascade?: boolean;
}

/** Folds one batch of adversarial examples into the running checks. */
function checkBatch(
  checks: ExampleChecks,
  threat: ThreatModel,
  x: tf.Tensor4D,
  xAdv: tf.Tensor4D,
  indices: number[],
): void {
  const dist = distance(threat.norm, x, xAdv);
  dist.forEach((d, j) => {
    const eps = typeof threat.eps === 'number' ? threat.eps : threat.eps[indices[j]!]!;
    const ratio = eps > 0 ? d / eps : d > 1e-7 ? Infinity : 0;
    checks.maxDistanceOverEps = Math.max(checks.maxDistanceOverEps, Number.isNaN(ratio) ? Infinity : ratio);
  });
  const [lo, hi, bad] = tf.tidy(() => [
    tf.min(xAdv).dataSync()[0]!,
    tf.max(xAdv).dataSync()[0]!,
    tf.sum(tf.cast(tf.logicalNot(tf.isFinite(xAdv)), 'int32')).dataSync()[0]!,
  ]);
  if (lo < threat.bounds[0] || hi > threat.bounds[1]) checks.inBounds = false;
  if (bad > 0) checks.finite = false;
}

function paramsOf(options: AttackOptions): Record<string, unknown> {
  const { signal: _s, onStep: _o, onLosses: _l, targeted, surrogate, ...rest } = options;
  return { ...rest, ...(targeted ? { targeted: true } : {}), ...(surrogate ? { surrogate: surrogate.source } : {}) };
}

/** An attack has fooled this example: its clean prediction was right and its adversarial one is wrong. */
function alreadyFooled(ex: Example): boolean {
  return ex.attackId !== 'clean' && ex.cleanPrediction === ex.label && ex.advPrediction !== ex.label;
}

/** Clean predictions are forward-only: a larger batch than the attacks'. */
function cleanBatch(shape: [number, number, number], opts: EvaluateOptions): number {
  return forwardBatchSize(opts.batchSize ?? 250, shape[0] * shape[1] * shape[2]);
}

function correctMask(pred: Predictions, split: Split): Uint8Array {
  return Uint8Array.from(pred.labels, (label, i) => (label === split.labels[i] ? 0 : 1));
}

interface PassCounts {
  forward: number;
  backward: number;
  surrogate?: { forward: number; backward: number };
}

/** How often a long batch reports the step it is on, when its tenths come slower (ms). */
export const STEP_PROGRESS_MS = 1000;

/**
 * Runs one attack on the samples whose `fooled` flag is 0, in batches, and updates `fooled`.
 * `onAdversarial` receives each attacked batch's adversarial images with their sample indices.
 */
async function attackSurvivors(
  model: Classifier,
  split: Split,
  shape: [number, number, number],
  threat: ThreatModel,
  plan: AttackPlan,
  fooled: Uint8Array,
  opts: EvaluateOptions,
  report: (done: number, step?: { done: number; total: number }) => void,
  onAdversarial?: (indices: number[], xAdv: tf.Tensor4D) => void,
  checks?: ExampleChecks,
): Promise<PassCounts> {
  // Success is read from the runner's re-score; an attack built by hand could report anything.
  if (!keepsContract(plan.entry.run))
    throw new Error(`attack ${plan.entry.id} was not made by defineAttack (attacks/runner.ts)`);
  const perImage = shape[0] * shape[1] * shape[2];
  // A black-box attack only queries the model: its batches are forward-only, so larger.
  const batchSize =
    plan.entry.access === 'black-box' ? forwardBatchSize(opts.batchSize ?? 250, perImage) : (opts.batchSize ?? 250);
  const survivors = [...fooled.keys()].filter((i) => !fooled[i]);
  const counts: PassCounts = { forward: 0, backward: 0 };
  const order = Int32Array.from(survivors);
  for (let start = 0; start < survivors.length; start += batchSize) {
    throwIfAborted(opts.signal, plan.entry.name);
    const indices = survivors.slice(start, start + batchSize);
    const { x, y } = batchTensors(split, shape, start, batchSize, order);
    const eps =
      typeof threat.eps === 'number' ? threat.eps : Float32Array.from(indices, (i) => (threat.eps as Float32Array)[i]!);
    // Progress inside a batch, in tenths of its steps (a forward-only batch of Square holds many
    // images), and the step itself every STEP_PROGRESS_MS when a tenth takes longer (--steps 1e9).
    let tenths = 0;
    let last = performance.now();
    const onStep = (done: number, total: number) => {
      const now = Math.floor((10 * done) / Math.max(total, 1));
      if (now > tenths && now < 10) {
        tenths = now;
        last = performance.now();
        report(start + Math.floor((indices.length * now) / 10));
      } else if (done < total && performance.now() - last >= STEP_PROGRESS_MS) {
        last = performance.now();
        report(start + Math.floor((indices.length * tenths) / 10), { done, total });
      }
    };
    try {
      const result = await plan.entry.run(
        model,
        x,
        y,
        { ...threat, eps },
        { onStep, ...plan.options, ...(opts.signal ? { signal: opts.signal } : {}) },
      );
      // The runner re-scored success from the logits at the projected xAdv: the attack's own flags never reach here.
      result.success.forEach((s, j) => {
        if (s) fooled[indices[j]!] = 1;
      });
      counts.forward += result.forwardPasses;
      counts.backward += result.backwardPasses;
      if (result.surrogatePasses) {
        const surrogate = (counts.surrogate ??= { forward: 0, backward: 0 });
        surrogate.forward += result.surrogatePasses.forward;
        surrogate.backward += result.surrogatePasses.backward;
      }
      onAdversarial?.(indices, result.xAdv);
      if (checks) checkBatch(checks, threat, x, result.xAdv, indices);
      result.xAdv.dispose();
    } finally {
      tf.dispose([x, y]);
    }
    report(Math.min(survivors.length, start + batchSize));
  }
  return counts;
}

export async function evaluateAttacks(
  model: Classifier,
  split: Split,
  shape: [number, number, number],
  threat: ThreatModel,
  plans: AttackPlan[],
  opts: EvaluateOptions = {},
): Promise<Evaluation> {
  const started = performance.now();
  validateThreat(
    threat,
    typeof threat.eps === 'number' ? split.count : threat.eps.length,
    shape[0] * shape[1] * shape[2],
  );
  opts.onProgress?.({ phase: 'clean', label: 'clean', done: 0, total: split.count });
  const clean = await predictSplit(model, split, shape, cleanBatch(shape, opts), { finite: true });
  const cleanFooled = correctMask(clean, split);
  const n = split.count;
  const cleanCorrect = cleanFooled.filter((f) => !f).length;
  const cleanAccuracy = n === 0 ? 0 : cleanCorrect / n;
  opts.onProgress?.({ phase: 'clean', label: 'clean', done: n, total: n });
  opts.onStage?.({
    kind: 'clean',
    label: 'clean',
    accuracy: cleanAccuracy,
    robust: cleanCorrect,
    n,
    seconds: (performance.now() - started) / 1000,
  });

  const exampleCount = Math.min(opts.examples ?? 32, n);
  const per = shape[0] * shape[1] * shape[2];
  const examples: Example[] = Array.from({ length: exampleCount }, (_, i) => {
    const pixels = Float32Array.from(split.images.subarray(i * per, (i + 1) * per), (v) => v / 255);
    return {
      index: i,
      label: split.labels[i]!,
      cleanPixels: pixels,
      cleanPrediction: clean.labels[i]!,
      cleanConfidence: clean.confidence[i]!,
      advPixels: pixels,
      advPrediction: clean.labels[i]!,
      advConfidence: clean.confidence[i]!,
      attackId: 'clean',
      attackLabel: 'clean',
    };
  });

  const worst = Uint8Array.from(cleanFooled);
  const attacks: AttackRun[] = [];
  const checks: ExampleChecks = { maxDistanceOverEps: 0, inBounds: true, finite: true };
  let cancelled = false;
  for (const plan of plans) {
    const label = plan.entry.label(plan.options);
    const fooled = Uint8Array.from(opts.cascade ? worst : cleanFooled);
    const survivorsAtStart = fooled.filter((f) => !f).length;
    const t0 = performance.now();
    // A stage's images and checks count once it finishes: a cancelled stage leaves no trace.
    const stageExamples = new Map<number, Pick<Example, 'advPixels' | 'advPrediction' | 'advConfidence'>>();
    const stageChecks: ExampleChecks = { ...checks };
    let counts: PassCounts;
    try {
      // A cancel between stages stops here, even before a stage with nothing to attack.
      throwIfAborted(opts.signal, plan.entry.name);
      // The stage's label from its start: its first batch may take many seconds.
      if (survivorsAtStart > 0) opts.onProgress?.({ phase: 'attack', label, done: 0, total: survivorsAtStart });
      counts = await attackSurvivors(
        model,
        split,
        shape,
        threat,
        plan,
        fooled,
        opts,
        (done, step) =>
          opts.onProgress?.({
            phase: 'attack',
            label: step ? `${label} · step ${step.done} of ${step.total}` : label,
            done,
            total: survivorsAtStart,
          }),
        (indices, xAdv) => {
          // An image an earlier attack already fooled keeps that attack's image (attacks without
          // cascade each run on every clean-correct point): the grid shows what fooled it.
          const keep = indices
            .map((sample, row) => [sample, row] as const)
            .filter(([sample]) => sample < exampleCount && !alreadyFooled(examples[sample]!));
          if (keep.length === 0) return;
          tf.tidy(() => {
            const rows = tf.gather(
              xAdv,
              keep.map(([, row]) => row),
            );
            const p = predict(model, rows as tf.Tensor4D);
            const pixels = rows.dataSync() as Float32Array;
            keep.forEach(([sample], k) => {
              stageExamples.set(sample, {
                advPixels: pixels.slice(k * per, (k + 1) * per),
                advPrediction: p.labels[k]!,
                advConfidence: p.confidence[k]!,
              });
            });
          });
        },
        stageChecks,
      );
    } catch (err) {
      if (opts.keepPartial && (err as Error).name === 'AbortError') {
        cancelled = true;
        break;
      }
      throw err;
    }
    for (const [sample, adv] of stageExamples)
      Object.assign(examples[sample]!, adv, { attackId: plan.entry.id, attackLabel: label });
    Object.assign(checks, stageChecks);
    const seconds = (performance.now() - t0) / 1000;
    fooled.forEach((f, i) => {
      if (f) worst[i] = 1;
    });
    const stillRobust = fooled.filter((f) => !f).length;
    opts.onStage?.({
      kind: 'attack',
      label,
      accuracy: n === 0 ? 0 : stillRobust / n,
      robust: stillRobust,
      n,
      attacked: survivorsAtStart,
      forwardPasses: counts.forward,
      backwardPasses: counts.backward,
      seconds,
      ...(survivorsAtStart === 0 ? { skipped: true } : {}),
    });
    attacks.push({
      id: plan.entry.id,
      label,
      params: paramsOf(plan.options),
      robustAccuracy: n === 0 ? 0 : fooled.filter((f) => !f).length / n,
      timeSeconds: seconds,
      forwardPasses: counts.forward,
      backwardPasses: counts.backward,
      fooled,
      ...(counts.surrogate ? { surrogatePasses: counts.surrogate } : {}),
    });
  }
  return {
    cascade: Boolean(opts.cascade),
    ...(cancelled ? { cancelled } : {}),
    checks,
    n,
    threat,
    cleanAccuracy,
    attacks,
    robustAccuracy: n === 0 ? 0 : worst.filter((f) => !f).length / n,
    examples,
    seconds: (performance.now() - started) / 1000,
  };
}

export interface CurvePoint {
  eps: number;
  accuracy: number;
}

/**
 * Accuracy under one attack (or a cascade of attacks, each on the survivors of the one before)
 * over a grid of ε. Radii are visited in increasing order and only the samples still robust at
 * the previous radius are attacked: a point fooled inside a smaller ball is inside every larger
 * one, so the curve is monotone by construction.
 */
export async function accuracyCurve(
  model: Classifier,
  split: Split,
  shape: [number, number, number],
  norm: NormId,
  bounds: [number, number],
  epsGrid: number[],
  plan: AttackPlan | AttackPlan[],
  opts: EvaluateOptions = {},
): Promise<CurvePoint[]> {
  const plans = Array.isArray(plan) ? plan : [plan];
  const grid = [...new Set(epsGrid)].sort((a, b) => a - b);
  for (const eps of grid) validateThreat({ norm, eps, bounds }, split.count, shape[0] * shape[1] * shape[2], '--eps');
  const clean = await predictSplit(model, split, shape, cleanBatch(shape, opts), { finite: true });
  const fooled = correctMask(clean, split);
  const n = split.count;
  const points: CurvePoint[] = [];
  for (const [k, eps] of grid.entries()) {
    if (eps > 0) {
      for (const p of plans) {
        await attackSurvivors(model, split, shape, { norm, eps, bounds }, p, fooled, opts, () =>
          opts.onProgress?.({ phase: 'curve', label: `ε=${eps}`, done: k, total: grid.length }),
        );
      }
    }
    points.push({ eps, accuracy: n === 0 ? 0 : fooled.filter((f) => !f).length / n });
    opts.onProgress?.({ phase: 'curve', label: `ε=${eps}`, done: k + 1, total: grid.length });
  }
  return points;
}
