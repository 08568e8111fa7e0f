/**
 * The attack contract, in one place no attack can bypass (Foolbox's `@final __call__`,
 * adv-lib's `run_attack`): `defineAttack(id, { run })` turns an update rule into an `Attack`
 * that
 *   1. validates the inputs and the options once, from the catalogue entry of `id`
 *      (src/protocol/attacks.ts), rejecting an option the attack does not take, by name;
 *   2. fills in the catalogue's defaults and hands the rule typed options (`OptionsOf<id>`);
 *   3. refuses a model without gradients to an attack that needs them (the catalogue's `access`);
 *   4. owns the step loop (`ctx.steps`): abort before each step, progress and a yield to the
 *      event loop after it, so no rule can forget them;
 *   5. counts forward and backward passes with a counting wrapper around the model (and,
 *      apart, around a surrogate): every gradient through it is counted, so no attack counts by hand;
 *   6. projects the rule's xAdv onto the ε-ball ∩ box, and re-scores success and the loss
 *      from one forward pass of the attacked model: an attack's own flags are never trusted.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  ATTACK_INFO,
  ATTACK_OPTIONS,
  attackInfo,
  type AttackId,
  type AttackInfo,
  type AttackOptionName,
  type CatalogueDefaults,
  type OptionInfo,
  type OptionsOf,
} from '../../protocol/attacks';
import { KEEP_POLICIES, LOSSES, type LossId } from '../../protocol/vocabulary';
import { InputError, throwIfAborted } from '../errors';
import { countingClassifier, type Classifier, type CountingClassifier } from '../models/classifier';
import { minClassesFor } from '../losses';
import { yieldToEventLoop } from '../scheduling';
import { project, validateThreat, type ThreatModel } from '../threat';
import { evaluatePoint, onSurvivors, type RunResult, type Survivors } from './common';
import type { Attack, AttackOptions, AttackResult, OptionValue, RunControls } from './types';

/**
 * Attack `Id`'s options with the defaults filled in: an option whose catalogue default is null
 * may be undefined (its default depends on others, like α on the steps), except a model, which
 * is required.
 */
export type ResolvedOptions<Id extends AttackId> = {
  [P in OptionsOf<Id>]: null extends CatalogueDefaults<Id>[P]
    ? (typeof ATTACK_OPTIONS)[P]['kind'] extends 'model'
      ? OptionValue<P>
      : OptionValue<P> | undefined
    : OptionValue<P>;
};

/** What an update rule sees: validated inputs, typed options, and the runner's services. */
export interface AttackContext<Id extends AttackId> {
  /** The attacked model, wrapped to count passes (a surrogate option is wrapped too). */
  model: Classifier;
  x: tf.Tensor4D;
  y: tf.Tensor1D;
  threat: ThreatModel;
  options: ResolvedOptions<Id>;
  /** Target labels of a targeted attack. */
  targets: tf.Tensor1D | undefined;
  seed: number;
  /** The run controls to hand an attack run inside this one (transfer's PGD on the surrogate). */
  controls: RunControls;
  onLosses: RunControls['onLosses'];
  /** Sets the number of steps progress counts toward (over every run of the attack). */
  planSteps(total: number): void;
  /**
   * The step loop: runs `step(0)` … `step(count − 1)`, checking the abort signal before each
   * (AbortError, naming the attack) and, after each, reporting progress and yielding to the event
   * loop so a cancel message gets in. A step returns true to stop the loop (every sample fooled);
   * the steps left are then taken off the progress total. Resolves to false when a step stopped
   * the loop, true otherwise.
   */
  steps(count: number, step: (index: number) => boolean | void | Promise<boolean | void>): Promise<boolean>;
  /** Steps planned but not to be run (every sample fooled before the loop). */
  skipSteps(count: number): void;
  /**
   * Runs `count` rounds of `stepsEach` steps (restarts, or APGD-T's target classes), each after
   * the first on the samples not yet fooled, keeping each sample's worst case; plans the steps and
   * ends progress early once every sample is fooled. Resolves to the kept points.
   */
  rounds(
    count: number,
    stepsEach: number,
    run: (round: number, survivors: Survivors) => Promise<RunResult>,
  ): Promise<tf.Tensor4D>;
}

export interface AttackDefinition<Id extends AttackId> {
  /** The loss to re-score with when the attack takes no loss option (Square: margin). */
  scoreLoss?: LossId;
  /** Yield to the event loop every this many steps (default 1); cheap steps (Square's queries) batch it. */
  yieldEvery?: number;
  /** The update rule: returns xAdv (the runner projects it, re-scores it and disposes it). */
  run(ctx: AttackContext<Id>): Promise<tf.Tensor4D>;
}

function describeRange(name: string, info: OptionInfo & { max?: number }): string {
  const kind = info.kind === 'integer' ? 'an integer' : 'a number';
  if (info.min === undefined) return `need ${kind}`;
  const low = info.minExclusive ? `> ${info.min}` : `≥ ${info.min}`;
  if (info.max === undefined) return `need ${kind} ${low}`;
  return `need ${kind} with ${info.min} ${info.minExclusive ? '<' : '≤'} ${name} ≤ ${info.max}`;
}

const shapeOf = (m: Classifier) => `${m.inputShape.join('×')} → ${m.numClasses}`;

/** Checks one option value against its kind and range; returns it (a model option: counted). */
function checkOption(source: string, name: AttackOptionName, value: unknown, target: Classifier): unknown {
  const info: OptionInfo & { max?: number } = ATTACK_OPTIONS[name];
  const fail = (problem: string): never => {
    throw new InputError(source, name, problem);
  };
  switch (info.kind) {
    case 'integer':
    case 'number': {
      const v = value as number;
      const ok =
        typeof v === 'number' &&
        Number.isFinite(v) &&
        (info.kind === 'number' || Number.isInteger(v)) &&
        (info.min === undefined || (info.minExclusive ? v > info.min : v >= info.min)) &&
        (info.max === undefined || v <= info.max);
      return ok ? v : fail(`${String(value)} is invalid; ${describeRange(name, info)}`);
    }
    case 'stepSize': {
      const v = typeof value === 'object' && value !== null ? (value as { relative: unknown }).relative : value;
      const ok = typeof v === 'number' && Number.isFinite(v) && v > 0;
      return ok ? value : fail(`${String(v)} is invalid; need a number > 0 (or { relative: r > 0 }, α = r·ε)`);
    }
    case 'boolean':
      return typeof value === 'boolean' ? value : fail(`${String(value)} is invalid; need true or false`);
    case 'loss':
      return LOSSES.includes(value as LossId)
        ? value
        : fail(`"${String(value)}" is not a loss; use one of ${LOSSES.join(', ')}`);
    case 'keep':
      return (KEEP_POLICIES as readonly unknown[]).includes(value)
        ? value
        : fail(`"${String(value)}" is not a keep policy; use one of ${KEEP_POLICIES.join(', ')}`);
    case 'model': {
      const model = value as Classifier;
      if (typeof model?.predictLogits !== 'function') fail(`needs ${info.doc}`);
      if (shapeOf(model) !== shapeOf(target)) {
        fail(`${model.source} is ${shapeOf(model)} but the target is ${shapeOf(target)}`);
      }
      return countingClassifier(model);
    }
  }
}

/** Rejects options the attack does not take, and resolves the ones it does with their defaults. */
function resolveOptions(info: AttackInfo, given: Record<string, unknown>, target: Classifier): Record<string, unknown> {
  const source = `${info.id} attack`;
  const taken = Object.keys(info.options);
  for (const [name, value] of Object.entries(given)) {
    // An undefined value is "not given" (callers spread optional settings).
    if (value !== undefined && !taken.includes(name)) {
      throw new InputError(
        source,
        '',
        `option "${name}" is not taken by ${info.id}; it takes ${taken.join(', ') || 'no options'}`,
      );
    }
  }
  const resolved: Record<string, unknown> = {};
  for (const name of taken as AttackOptionName[]) {
    const value = given[name] ?? info.options[name];
    if (value === null || value === undefined) {
      if (ATTACK_OPTIONS[name].kind === 'model') checkOption(source, name, undefined, target);
      continue;
    }
    resolved[name] = checkOption(source, name, value, target);
  }
  return resolved;
}

/**
 * Refuses a model without gradients to an attack that needs them: a white-box attack needs the
 * attacked model's, transfer its surrogate's (the error names that model's file and the attack).
 */
export function checkGradientAccess(info: AttackInfo, model: Classifier, surrogate: Classifier | undefined): void {
  const crafted = info.access === 'white-box' ? model : info.access === 'transfer' ? surrogate : undefined;
  if (!crafted || crafted.gradients) return;
  const blackBox = ATTACK_INFO.filter((a) => a.access === 'black-box')
    .map((a) => a.id)
    .join(', ');
  const why =
    info.access === 'transfer'
      ? 'crafts its examples on this surrogate and needs its gradients'
      : 'is white-box and needs the gradients of this model';
  throw new InputError(
    crafted.source,
    'gradients',
    `the ${info.name} attack (${info.id}) ${why}, which its format does not give; ` +
      `use a black-box attack (${blackBox})`,
  );
}

function validateInputs(
  info: AttackInfo,
  model: Classifier,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  threat: ThreatModel,
  controls: RunControls,
  loss: LossId,
  surrogate: Classifier | undefined,
): void {
  const source = `${info.id} attack`;
  checkGradientAccess(info, model, surrogate);
  if (x.rank !== 4) throw new InputError(source, 'x', `expected a 4-D NHWC batch, got shape [${x.shape.join(', ')}]`);
  const [, h, w, c] = x.shape;
  const [mh, mw, mc] = model.inputShape;
  if (h !== mh || w !== mw || c !== mc) {
    throw new InputError(
      source,
      'x',
      `shape [${x.shape.join(', ')}] does not match the model input [${mh}, ${mw}, ${mc}]`,
    );
  }
  if (y.shape[0] !== x.shape[0]) throw new InputError(source, 'y', `has ${y.shape[0]} labels for ${x.shape[0]} images`);
  validateThreat(threat, x.shape[0], h * w * c, source);
  if (controls.targeted && !info.targetable) {
    throw new InputError(
      source,
      'targeted',
      `${info.name} chooses its own targets; use apgd with target labels instead`,
    );
  }
  if (controls.targeted && controls.targeted.labels.shape[0] !== x.shape[0]) {
    throw new InputError(
      source,
      'targeted.labels',
      `has ${controls.targeted.labels.shape[0]} labels for ${x.shape[0]} images`,
    );
  }
  // An attack that takes no target labels chooses its own targets (APGD-T): its loss is targeted.
  const targetedLoss = Boolean(controls.targeted) || !info.targetable;
  const needed = Math.max(minClassesFor(loss, targetedLoss), info.minClasses ?? 2);
  if (model.numClasses < needed) {
    throw new InputError(
      source,
      'loss',
      `${loss}${targetedLoss ? ' (targeted)' : ''} needs at least ${needed} classes; ` +
        `the model has ${model.numClasses}`,
    );
  }
}

/** The attacks made by defineAttack: the evaluator runs only these. */
const KEEPS_CONTRACT = new WeakSet<Attack>();

/** Whether `attack` came from defineAttack (so its result is projected and re-scored). */
export function keepsContract(attack: Attack): boolean {
  return KEEPS_CONTRACT.has(attack);
}

/** Turns an update rule into an Attack that keeps the contract (see the file comment). */
export function defineAttack<Id extends AttackId>(id: Id, definition: AttackDefinition<Id>): Attack {
  const info = attackInfo(id);
  if (!info) throw new Error(`attack ${id} is missing from src/protocol/attacks.ts`);
  const attack: Attack = async (model, x, y, threat, opts: AttackOptions = {}): Promise<AttackResult> => {
    const { targeted, seed, signal, onStep, onLosses, ...given } = opts;
    const controls: RunControls = {
      ...(targeted ? { targeted } : {}),
      ...(signal ? { signal } : {}),
      ...(onStep ? { onStep } : {}),
    };
    const options = resolveOptions(info, given, model);
    const loss = (options.loss as LossId | undefined) ?? definition.scoreLoss ?? 'ce';
    const surrogate = options.surrogate as CountingClassifier | undefined;
    validateInputs(info, model, x, y, threat, controls, loss, surrogate);
    throwIfAborted(signal, info.name);
    const counted = countingClassifier(model);
    const progress = { done: 0, total: 1 };
    const targets = targeted ? targeted.labels : undefined;
    const ctx: AttackContext<Id> = {
      model: counted,
      x,
      y,
      threat,
      options: options as ResolvedOptions<Id>,
      targets,
      seed: seed ?? 0,
      controls: { ...controls, seed: seed ?? 0 },
      onLosses,
      planSteps: (total) => {
        progress.total = total;
      },
      steps: async (count, step) => {
        for (let index = 0; index < count; index++) {
          throwIfAborted(signal, info.name);
          const stop = await step(index);
          progress.done++;
          onStep?.(progress.done, progress.total);
          if (signal && progress.done % (definition.yieldEvery ?? 1) === 0) await yieldToEventLoop();
          if (stop === true) {
            progress.total -= count - index - 1;
            return false;
          }
        }
        return true;
      },
      skipSteps: (count) => {
        progress.total -= count;
      },
      rounds: async (count, stepsEach, run) => {
        progress.total = count * stepsEach;
        const result = await onSurvivors(x, y, threat, count, run, () => {
          progress.total = progress.done;
        });
        return result.xAdv;
      },
    };
    const raw = await definition.run(ctx);
    if (raw.shape.join() !== x.shape.join()) {
      raw.dispose();
      throw new Error(`${id} attack returned shape [${raw.shape.join(', ')}] for a batch of [${x.shape.join(', ')}]`);
    }
    const xAdv = project(threat, x, raw);
    // A rule that returns its input unchanged must not lose the caller's batch.
    if (raw !== x) raw.dispose();
    try {
      // One forward pass of the attacked model decides success and the loss, whatever the rule claimed.
      const scored = evaluatePoint(counted, xAdv, y, loss, targets);
      const success = Array.from(scored.success.dataSync(), Boolean);
      const finalLoss = scored.loss.dataSync() as Float32Array;
      tf.dispose([scored.loss, scored.success]);
      return {
        xAdv,
        success,
        finalLoss,
        forwardPasses: counted.passes.forward,
        backwardPasses: counted.passes.backward,
        ...(surrogate ? { surrogatePasses: { ...surrogate.passes } } : {}),
      };
    } catch (err) {
      xAdv.dispose();
      throw err;
    }
  };
  KEEPS_CONTRACT.add(attack);
  return attack;
}
