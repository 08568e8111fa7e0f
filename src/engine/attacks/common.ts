/** What the update rules share: loss + input gradient, success, row selection, rounds on survivors. */
import * as tf from '@tensorflow/tfjs-core';
import type { Classifier } from '../models/classifier';
import { perSampleLoss } from '../losses';
import type { LossId } from '../../protocol/vocabulary';
import { subsetThreat, type ThreatModel } from '../threat';
import type { AttackOptions, KeepPolicy } from './types';

export interface LossAndGrad {
  /** Per-sample loss at x (before the step). */
  loss: tf.Tensor1D;
  /** Per-sample success at x. */
  success: tf.Tensor1D;
  grad: tf.Tensor4D;
}

/** Per-sample success: misclassified, or classified as the target. */
export function successOf(logits: tf.Tensor2D, y: tf.Tensor1D, targets?: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => {
    const predicted = tf.argMax(logits, 1);
    return (
      targets ? tf.equal(predicted, tf.cast(targets, 'int32')) : tf.notEqual(predicted, tf.cast(y, 'int32'))
    ) as tf.Tensor1D;
  });
}

/** One forward and one backward pass: the loss, the success flags and ∂loss/∂x (a counting model counts both). */
export function lossAndGrad(
  model: Classifier,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  loss: LossId,
  targets?: tf.Tensor1D,
): LossAndGrad {
  let perSample: tf.Tensor1D | undefined;
  let success: tf.Tensor1D | undefined;
  const gradFn = tf.valueAndGrad((input: tf.Tensor) => {
    const logits = model.predictLogits(input as tf.Tensor4D);
    perSample = tf.keep(perSampleLoss(loss, logits, y, targets));
    success = tf.keep(successOf(logits, y, targets));
    return tf.sum(perSample) as tf.Scalar;
  });
  const { value, grad } = gradFn(x);
  value.dispose();
  return { loss: perSample!, success: success!, grad: grad as tf.Tensor4D };
}

/** Loss and success at x without a gradient (one forward pass). */
export function evaluatePoint(
  model: Classifier,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  loss: LossId,
  targets?: tf.Tensor1D,
): { loss: tf.Tensor1D; success: tf.Tensor1D } {
  return tf.tidy(() => {
    const logits = model.predictLogits(x);
    return { loss: perSampleLoss(loss, logits, y, targets), success: successOf(logits, y, targets) };
  });
}

/**
 * One step's look at the iterate: per-sample loss and success as arrays, and ∂loss/∂x unless
 * `scoreOnly` (a forward pass only, for the last iterate).
 */
export function stepPoint(
  model: Classifier,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  loss: LossId,
  targets: tf.Tensor1D | undefined,
  scoreOnly: boolean,
  eot = 1,
): { loss: Float32Array; success: Uint8Array; grad?: tf.Tensor4D } {
  if (eot > 1) return eotPoint(model, x, y, loss, targets, scoreOnly, eot);
  const point: { loss: tf.Tensor1D; success: tf.Tensor1D; grad?: tf.Tensor4D } = scoreOnly
    ? evaluatePoint(model, x, y, loss, targets)
    : lossAndGrad(model, x, y, loss, targets);
  const values = point.loss.dataSync() as Float32Array;
  const success = point.success.dataSync() as Uint8Array;
  tf.dispose([point.loss, point.success]);
  return { loss: values, success, ...(point.grad ? { grad: point.grad } : {}) };
}

/**
 * Expectation over transformation (Athalye, Carlini & Wagner 2018, "Obfuscated Gradients Give a
 * False Sense of Security"): `passes` forward (and backward) passes through a randomised model,
 * each drawing its own randomness; the loss and ∂loss/∂x are their means. Success is that of the
 * last pass (as AutoAttack's EOT); the counting model counts every pass.
 */
function eotPoint(
  model: Classifier,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  loss: LossId,
  targets: tf.Tensor1D | undefined,
  scoreOnly: boolean,
  passes: number,
): { loss: Float32Array; success: Uint8Array; grad?: tf.Tensor4D } {
  const sum = new Float32Array(x.shape[0]);
  let success = new Uint8Array(x.shape[0]);
  let grad: tf.Tensor4D | undefined;
  for (let pass = 0; pass < passes; pass++) {
    const point: { loss: tf.Tensor1D; success: tf.Tensor1D; grad?: tf.Tensor4D } = scoreOnly
      ? evaluatePoint(model, x, y, loss, targets)
      : lossAndGrad(model, x, y, loss, targets);
    const values = point.loss.dataSync() as Float32Array;
    for (let i = 0; i < sum.length; i++) sum[i] = sum[i]! + values[i]!;
    success = Uint8Array.from(point.success.dataSync());
    tf.dispose([point.loss, point.success]);
    if (point.grad) {
      const next: tf.Tensor4D = grad ? tf.add(grad, point.grad) : point.grad;
      if (grad) tf.dispose([grad, point.grad]);
      grad = next;
    }
  }
  const mean = sum.map((v) => v / passes);
  if (!grad) return { loss: mean, success };
  const averaged = tf.div(grad, passes) as tf.Tensor4D;
  grad.dispose();
  return { loss: mean, success, grad: averaged };
}

/**
 * Per sample, a where mask is 1, the row of `a`, else of `b` (a new tensor the caller owns).
 * The mask is spread over whole rows here rather than broadcast by tf.where: broadcasting a
 * [n, 1, 1, 1] condition tiles it through tfjs's Tile kernel, which on wasm cost as much as a
 * quarter of an APGD step (`npm run bench`'s profile); a mask of one value is a clone.
 */
export function selectRows(mask: Uint8Array, a: tf.Tensor4D, b: tf.Tensor4D): tf.Tensor4D {
  const n = mask.length;
  let ones = 0;
  for (let i = 0; i < n; i++) if (mask[i]) ones++;
  if (ones === n) return tf.clone(a);
  if (ones === 0) return tf.clone(b);
  const per = a.size / n;
  const full = new Uint8Array(a.size);
  for (let i = 0; i < n; i++) if (mask[i]) full.fill(1, i * per, (i + 1) * per);
  return tf.tidy(() => tf.where(tf.tensor(full, a.shape, 'bool'), a, b)) as tf.Tensor4D;
}

/**
 * Each sample's kept point of a run under a keep policy: `last` the final iterate, `maxLoss` the
 * iterate of highest loss, `firstSuccess` the first fooling iterate, else the final one. `found`
 * is success at the kept point, `loss` the loss there.
 */
export class KeptPoints {
  readonly loss: Float32Array;
  readonly found: Uint8Array;
  private kept: tf.Tensor4D | undefined;

  constructor(
    private readonly policy: KeepPolicy,
    start: tf.Tensor4D,
  ) {
    const n = start.shape[0];
    this.loss = new Float32Array(n).fill(-Infinity);
    this.found = new Uint8Array(n);
    this.kept = tf.clone(start);
  }

  /** Offers the iterate `current`, scored `loss` and `success` per sample; `last`: the final one. */
  offer(current: tf.Tensor4D, loss: Float32Array, success: Uint8Array, last: boolean): void {
    const take = new Uint8Array(this.found.length);
    for (let i = 0; i < take.length; i++) {
      if (this.policy === 'last') take[i] = last ? 1 : 0;
      else if (this.policy === 'maxLoss') take[i] = loss[i]! > this.loss[i]! ? 1 : 0;
      else take[i] = !this.found[i] && (success[i] || last) ? 1 : 0;
      if (take[i]) {
        this.loss[i] = loss[i]!;
        this.found[i] = success[i]!;
      }
    }
    if (take.some(Boolean)) {
      const merged = selectRows(take, current, this.kept!);
      this.kept!.dispose();
      this.kept = merged;
    }
  }

  /** Whether every sample's kept point fools the model. */
  allFound(): boolean {
    return this.found.every(Boolean);
  }

  /** Hands the kept points over: the caller owns (and disposes) them. */
  take(): tf.Tensor4D {
    const kept = this.kept!;
    this.kept = undefined;
    return kept;
  }

  dispose(): void {
    this.kept?.dispose();
    this.kept = undefined;
  }
}

export function resolveStepSize(
  stepSize: AttackOptions['stepSize'],
  threat: ThreatModel,
  fallbackRelative: number,
): tf.Tensor {
  const relative =
    stepSize === undefined ? fallbackRelative : typeof stepSize === 'number' ? undefined : stepSize.relative;
  if (relative === undefined) return tf.scalar(stepSize as number);
  return typeof threat.eps === 'number'
    ? tf.scalar(threat.eps * relative)
    : tf.tensor4d(
        threat.eps.map((e) => e * relative),
        [threat.eps.length, 1, 1, 1],
      );
}

/** The bare forward + input-gradient pass the benchmark times (ce loss, batch-summed). */
export function lossAndGradForBench(model: Classifier, x: tf.Tensor4D, y: tf.Tensor1D): tf.Tensor4D {
  const { loss, success, grad } = lossAndGrad(model, x, y, 'ce');
  tf.dispose([loss, success]);
  return grad;
}

/** One run of an iterative attack on a set of samples: its kept points, success and loss per sample. */
export interface RunResult {
  xAdv: tf.Tensor4D;
  success: Uint8Array;
  loss: Float32Array;
}

/** The samples a round attacks: all of them in the first round, the survivors after. */
export interface Survivors {
  x: tf.Tensor4D;
  y: tf.Tensor1D;
  threat: ThreatModel;
  /** Row indices into the full batch; undefined when the round attacks the whole batch. */
  rows: number[] | undefined;
  /** Rows of a per-sample tensor of the full batch (such as target labels) for this round. */
  gather<T extends tf.Tensor>(t: T): T;
}

/**
 * The rows `indices` of t along its first axis, as a new tensor. Copied row by row in JS: wasm's
 * GatherV2 took as long as a convolution of the batch (profiled on the example model), a copy of
 * the rows takes a fraction of a millisecond.
 */
export function gatherRows<T extends tf.Tensor>(t: T, indices: number[]): T {
  const rows = t.shape[0] ?? 0;
  const per = rows === 0 ? 0 : t.size / rows;
  const source = t.dataSync();
  const out = new (source.constructor as new (length: number) => typeof source)(indices.length * per);
  indices.forEach((i, j) => {
    if (!Number.isInteger(i) || i < 0 || i >= rows) throw new Error(`gatherRows: row ${i} is outside [0, ${rows})`);
    out.set(source.subarray(i * per, (i + 1) * per) as never, j * per);
  });
  return tf.tensor(out, [indices.length, ...t.shape.slice(1)], t.dtype) as T;
}

/**
 * Runs `rounds` rounds of an attack (restarts, or APGD-T's target classes); every round after
 * the first attacks only the samples not yet fooled, and a sample's kept point is replaced
 * when a round fools it or reaches a higher loss. Stops early once every sample is fooled.
 */
export async function onSurvivors(
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  threat: ThreatModel,
  rounds: number,
  run: (round: number, s: Survivors) => Promise<RunResult>,
  onAllFooled?: () => void,
): Promise<{ xAdv: tf.Tensor4D; success: boolean[]; finalLoss: Float32Array }> {
  const n = x.shape[0];
  let xAdv: tf.Tensor4D | undefined;
  const success = new Array<boolean>(n).fill(false);
  const finalLoss = new Float32Array(n).fill(-Infinity);
  try {
    for (let round = 0; round < rounds; round++) {
      const rows = round === 0 ? [...Array(n).keys()] : success.flatMap((s, i) => (s ? [] : [i]));
      if (rows.length === 0) {
        onAllFooled?.();
        break;
      }
      const whole = rows.length === n;
      const made: tf.Tensor[] = [];
      const gather = <T extends tf.Tensor>(t: T): T => {
        if (whole) return t;
        const g = gatherRows(t, rows);
        made.push(g);
        return g;
      };
      const result = await run(round, {
        x: gather(x),
        y: gather(y),
        threat: whole ? threat : subsetThreat(threat, rows),
        rows: whole ? undefined : rows,
        gather,
      }).finally(() => tf.dispose(made));
      if (!xAdv) {
        xAdv = result.xAdv;
      } else {
        // Scatter the survivors' results back where they beat what we have.
        const order = new Int32Array(n).map((_, i) => i);
        rows.forEach((row, j) => {
          if (result.success[j] || result.loss[j]! > finalLoss[row]!) order[row] = n + j;
          else {
            result.success[j] = 0;
            result.loss[j] = finalLoss[row]!;
          }
        });
        const merged = tf.tidy(() =>
          tf.gather(tf.concat([xAdv!, result.xAdv]), tf.tensor1d(order, 'int32')),
        ) as tf.Tensor4D;
        result.xAdv.dispose();
        xAdv.dispose();
        xAdv = merged;
      }
      rows.forEach((row, j) => {
        success[row] = success[row] || Boolean(result.success[j]);
        finalLoss[row] = result.loss[j]!;
      });
    }
  } catch (err) {
    xAdv?.dispose();
    throw err;
  }
  // The runner projects onto the ball and the box, once, for every attack.
  return { xAdv: xAdv!, success, finalLoss };
}
