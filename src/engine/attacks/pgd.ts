/**
 * Projected gradient descent (Madry et al. 2018, "Towards Deep Learning Models Resistant to
 * Adversarial Attacks"), for L∞ and L2.
 *
 * Update: x_{t+1} = Π_{B(x,ε) ∩ box}(x_t + α · d(∇ₓ L(x_t))), d = sign for L∞, g/‖g‖₂ for L2.
 * Defaults: 10 steps, α = 2.5·ε/steps, random start, 1 restart, ce loss, keep firstSuccess.
 * Restarts attack only the samples not yet fooled and keep the worst case per sample.
 */
import * as tf from '@tensorflow/tfjs-core';
import { throwIfAborted } from '../errors';
import { yieldToEventLoop } from '../scheduling';
import type { Classifier } from '../models/classifier';
import { Rng } from '../rng';
import { ascentDirection, project, randomInit, type ThreatModel } from '../threat';
import { onSurvivors, resolveStepSize, selectRows, stepPoint, validateAttack, type RunResult } from './common';
import type { AttackOptions, AttackResult, KeepPolicy } from './types';

interface RunContext {
  model: Classifier;
  threat: ThreatModel;
  opts: AttackOptions;
  steps: number;
  keep: KeepPolicy;
  rng: Rng;
  counts: { forward: number; backward: number; stepsDone: number; stepsTotal: number };
}

/** One PGD run from one start on the given samples. */
async function runOnce(ctx: RunContext, x: tf.Tensor4D, y: tf.Tensor1D, targets: tf.Tensor1D | undefined,
  randomStart: boolean): Promise<RunResult> {
  const { model, threat, opts, steps, keep, counts } = ctx;
  const loss = opts.loss ?? 'ce';
  const n = x.shape[0];
  const alpha = resolveStepSize(opts.stepSize, threat, 2.5 / steps);
  let current = randomStart ? randomInit(threat, x, ctx.rng) : tf.clone(x);
  let best = tf.clone(current);
  const bestLoss = new Float32Array(n).fill(-Infinity);
  const found = new Uint8Array(n);
  try {
    for (let step = 0; step <= steps; step++) {
      throwIfAborted(opts.signal, 'PGD');
      // The last pass only scores the final iterate.
      const scoreOnly = step === steps;
      const point = stepPoint(model, current, y, loss, targets, scoreOnly);
      counts.forward += n;
      const { loss: lossValues, success: successValues } = point;
      opts.onLosses?.(step, lossValues);
      // Which samples take `current` as their kept point; `found` is success at the kept point.
      const take = new Uint8Array(n);
      for (let i = 0; i < n; i++) {
        if (keep === 'last') take[i] = scoreOnly ? 1 : 0;
        else if (keep === 'maxLoss') take[i] = lossValues[i]! > bestLoss[i]! ? 1 : 0;
        else take[i] = !found[i] && (successValues[i] || scoreOnly) ? 1 : 0;
        if (take[i]) {
          bestLoss[i] = lossValues[i]!;
          found[i] = successValues[i]!;
        }
      }
      if (take.some((t) => t)) {
        const merged = selectRows(take, current, best);
        best.dispose();
        best = merged;
      }
      if (point.grad) {
        const grad = point.grad;
        counts.backward += n;
        const next = tf.tidy(() => {
          const moved = tf.add(current, tf.mul(alpha, ascentDirection(threat.norm, grad))) as tf.Tensor4D;
          return project(threat, x, moved);
        });
        grad.dispose();
        current.dispose();
        current = next;
        counts.stepsDone++;
        opts.onStep?.(counts.stepsDone, counts.stepsTotal);
        if (opts.signal) await yieldToEventLoop();
        if (keep === 'firstSuccess' && found.every((f) => f)) {
          counts.stepsTotal -= steps - step - 1;
          break;
        }
      }
    }
    // firstSuccess / maxLoss keep the kept point; 'last' took the final iterate above.
    const result = { xAdv: best, success: found, loss: bestLoss };
    best = current; // so that finally disposes the iterate, not the result
    return result;
  } finally {
    alpha.dispose();
    if (best !== current) best.dispose();
    current.dispose();
  }
}

export async function pgd(
  model: Classifier, x: tf.Tensor4D, y: tf.Tensor1D, threat: ThreatModel, opts: AttackOptions = {},
): Promise<AttackResult> {
  validateAttack('pgd', model, x, y, threat, opts);
  const steps = opts.steps ?? 10;
  const restarts = opts.restarts ?? 1;
  const ctx: RunContext = {
    model, threat, opts, steps, keep: opts.keep ?? 'firstSuccess', rng: new Rng(opts.seed ?? 0),
    counts: { forward: 0, backward: 0, stepsDone: 0, stepsTotal: steps * restarts },
  };
  const targets = opts.targeted ? opts.targeted.labels : undefined;
  const result = await onSurvivors(x, y, threat, restarts,
    // The first run may start at x; restarts always start at random points.
    (restart, s) => runOnce({ ...ctx, threat: s.threat }, s.x, s.y, targets && s.gather(targets), (opts.randomStart ?? true) || restart > 0),
    () => { ctx.counts.stepsTotal = ctx.counts.stepsDone; });
  return { ...result, forwardPasses: ctx.counts.forward, backwardPasses: ctx.counts.backward };
}
