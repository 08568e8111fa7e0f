/**
 * Every attack, with its paper, update rule and defaults: one source of truth for the CLI
 * help, the reports, the webview and the language server's hover.
 */
import { InputError } from '../errors';
import { fgsm } from './fgsm';
import { pgd } from './pgd';
import type { AttackEntry } from './types';

export const ATTACKS: readonly AttackEntry[] = [
  {
    id: 'fgsm',
    name: 'FGSM',
    norms: ['linf', 'l2'],
    iterative: false,
    doc: {
      paper: 'Goodfellow, Shlens & Szegedy 2015, "Explaining and Harnessing Adversarial Examples" (ICLR)',
      update: "x' = Π(x + ε·sign(∇ₓL(x)))  (L2: ε·∇ₓL/‖∇ₓL‖₂)",
      defaults: 'loss ce; one step of size ε; untargeted unless target labels are given',
    },
    label: () => 'FGSM',
    run: fgsm,
  },
  {
    id: 'pgd',
    name: 'PGD',
    norms: ['linf', 'l2'],
    iterative: true,
    doc: {
      paper: 'Madry, Makelov, Schmidt, Tsipras & Vladu 2018, "Towards Deep Learning Models Resistant to Adversarial Attacks" (ICLR)',
      update: 'x_{t+1} = Π_{B(x,ε)∩[lo,hi]}(x_t + α·sign(∇ₓL(x_t)))  (L2: α·∇ₓL/‖∇ₓL‖₂)',
      defaults: 'steps 10; α = 2.5·ε/steps; random start; restarts 1 (on survivors only); loss ce; keep firstSuccess',
    },
    label: (opts) => `PGD-${opts.steps ?? 10}${(opts.restarts ?? 1) > 1 ? `×${opts.restarts}` : ''}${opts.loss && opts.loss !== 'ce' ? ` (${opts.loss})` : ''}`,
    run: pgd,
  },
];

export function getAttack(id: string): AttackEntry {
  const entry = ATTACKS.find((a) => a.id === id);
  if (!entry) {
    throw new InputError('--attack', '', `unknown attack "${id}"; available: ${ATTACKS.map((a) => a.id).join(', ')}`);
  }
  return entry;
}
