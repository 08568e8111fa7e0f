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
import { fgsm } from './fgsm';
import { miFgsm } from './mifgsm';
import { pgd } from './pgd';
import { square } from './square';
import { transfer } from './transfer';
import type { AttackEntry } from './types';
import { attackInfo } from '../../protocol/attacks';

function info(id: string) {
  const entry = attackInfo(id);
  if (!entry) throw new Error(`attack ${id} is missing from src/protocol/attacks.ts`);
  return entry;
}

export const ATTACKS: readonly AttackEntry[] = [
  {
    ...info('fgsm'),
    label: () => 'FGSM',
    run: fgsm,
  },
  {
    ...info('pgd'),
    label: (opts) => `PGD-${opts.steps ?? 10}${(opts.restarts ?? 1) > 1 ? `×${opts.restarts}` : ''}${opts.loss && opts.loss !== 'ce' ? ` (${opts.loss})` : ''}`,
    run: pgd,
  },
  {
    ...info('apgd'),
    label: (opts) => `APGD-${(opts.loss ?? 'ce').toUpperCase()}${opts.steps && opts.steps !== 100 ? `-${opts.steps}` : ''}`,
    run: apgd,
  },
  {
    ...info('apgd-t'),
    label: (opts) => `APGD-T${opts.steps && opts.steps !== 100 ? `-${opts.steps}` : ''} (${opts.targetClasses ?? 9} targets)`,
    run: apgdT,
  },
  {
    ...info('mi-fgsm'),
    label: (opts) => `MI-FGSM-${opts.steps ?? 10}`,
    run: miFgsm,
  },
  {
    ...info('square'),
    label: (opts) => `Square-${opts.queries ?? 1000}`,
    run: square,
  },
  {
    ...info('transfer'),
    label: (opts) => `Transfer (PGD-${opts.steps ?? 20} on ${opts.surrogate ? opts.surrogate.source.split(/[\\/]/).slice(-2, -1)[0] ?? 'surrogate' : 'surrogate'})`,
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
