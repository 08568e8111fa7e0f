/**
 * Every attack's code, joined to its catalogue entry (paper, update rule, defaults, options) in
 * src/protocol/attacks.ts: one source of truth for the CLI help, the reports, the webview and
 * the language server's hover. Each `run` is made by defineAttack (runner.ts), which keeps the
 * contract: validation, counting, abort and progress, projection and re-scoring.
 *
 * A new attack with a new option: its option (kind, range, doc) and entry in ATTACK_OPTIONS /
 * CATALOGUE (src/protocol/attacks.ts), its file here holding only the update rule, one line
 * below, and its id in experiment-spec-schema.json. The contract and closed-form suites pick it
 * up from this list.
 */
import { InputError } from '../errors';
import { apgd, apgdT } from './apgd';
import { fab, fabT } from './fab';
import { fgsm } from './fgsm';
import { miFgsm } from './mifgsm';
import { pgd } from './pgd';
import { square } from './square';
import { transfer } from './transfer';
import type { AttackEntry } from './types';
import { attackInfo, catalogueDefaults } from '../../protocol/attacks';

function info(id: string) {
  const entry = attackInfo(id);
  if (!entry) throw new Error(`attack ${id} is missing from src/protocol/attacks.ts`);
  return entry;
}

const pgdDefaults = catalogueDefaults('pgd');
const apgdDefaults = catalogueDefaults('apgd');
const apgdTDefaults = catalogueDefaults('apgd-t');
/** " EOT-20" when the gradient is averaged over several passes. */
const eotSuffix = (eot: number | undefined) => (eot !== undefined && eot > 1 ? ` EOT-${eot}` : '');
/** "-40" when the steps are not the attack's default (APGD's labels name only a changed budget). */
const stepsUnlessDefault = (steps: number | undefined, byDefault: number) =>
  steps !== undefined && steps !== byDefault ? `-${steps}` : '';

export const ATTACKS: readonly AttackEntry[] = [
  {
    ...info('fgsm'),
    label: () => 'FGSM',
    run: fgsm,
  },
  {
    ...info('pgd'),
    label: (opts) => {
      const restarts = opts.restarts ?? pgdDefaults.restarts;
      const loss = opts.loss ?? pgdDefaults.loss;
      return (
        `PGD-${opts.steps ?? pgdDefaults.steps}${restarts > 1 ? `×${restarts}` : ''}` +
        `${loss !== pgdDefaults.loss ? ` (${loss})` : ''}${eotSuffix(opts.eot)}`
      );
    },
    run: pgd,
  },
  {
    ...info('apgd'),
    label: (opts) =>
      `APGD-${(opts.loss ?? apgdDefaults.loss).toUpperCase()}${stepsUnlessDefault(opts.steps, apgdDefaults.steps)}` +
      eotSuffix(opts.eot),
    run: apgd,
  },
  {
    ...info('apgd-t'),
    label: (opts) => {
      const loss = opts.loss ?? apgdTDefaults.loss;
      const targets = opts.targetClasses ?? apgdTDefaults.targetClasses;
      return (
        `APGD-T${stepsUnlessDefault(opts.steps, apgdTDefaults.steps)} ` +
        `(${loss !== apgdTDefaults.loss ? `${loss}, ` : ''}${targets} targets)`
      );
    },
    run: apgdT,
  },
  {
    ...info('fab'),
    label: (opts) => `FAB${stepsUnlessDefault(opts.steps, catalogueDefaults('fab').steps)}`,
    run: fab,
  },
  {
    ...info('fab-t'),
    label: (opts) =>
      `FAB-T${stepsUnlessDefault(opts.steps, catalogueDefaults('fab-t').steps)} ` +
      `(${opts.targetClasses ?? catalogueDefaults('fab-t').targetClasses} targets)`,
    run: fabT,
  },
  {
    ...info('mi-fgsm'),
    label: (opts) => `MI-FGSM-${opts.steps ?? catalogueDefaults('mi-fgsm').steps}`,
    run: miFgsm,
  },
  {
    ...info('square'),
    label: (opts) => `Square-${opts.queries ?? catalogueDefaults('square').queries}`,
    run: square,
  },
  {
    ...info('transfer'),
    label: (opts) =>
      `Transfer (PGD-${opts.steps ?? catalogueDefaults('transfer').steps} on ${
        opts.surrogate ? (opts.surrogate.source.split(/[\\/]/).slice(-2, -1)[0] ?? 'surrogate') : 'surrogate'
      })`,
    run: transfer,
  },
];

export function getAttack(id: string): AttackEntry {
  const entry = ATTACKS.find((a) => a.id === id);
  if (!entry) {
    throw new InputError('--attack', '', `unknown attack "${id}"; available: ${ATTACKS.map((a) => a.id).join(', ')}`);
  }
  return entry;
}
