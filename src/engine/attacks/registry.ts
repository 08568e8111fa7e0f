/**
 * Every attack, with its paper, update rule and defaults: one source of truth for the CLI
 * help, the reports, the webview and the language server's hover.
 */
import { InputError } from '../errors';
import { apgd, apgdT } from './apgd';
import { fgsm } from './fgsm';
import { miFgsm } from './mifgsm';
import { pgd } from './pgd';
import { square } from './square';
import { transfer } from './transfer';
import type { AttackEntry } from './types';

export const ATTACKS: readonly AttackEntry[] = [
  {
    id: 'fgsm',
    name: 'FGSM',
    norms: ['linf', 'l2'],
    iterative: false,
    access: 'white-box',
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
    access: 'white-box',
    doc: {
      paper: 'Madry, Makelov, Schmidt, Tsipras & Vladu 2018, "Towards Deep Learning Models Resistant to Adversarial Attacks" (ICLR)',
      update: 'x_{t+1} = Π_{B(x,ε)∩[lo,hi]}(x_t + α·sign(∇ₓL(x_t)))  (L2: α·∇ₓL/‖∇ₓL‖₂)',
      defaults: 'steps 10; α = 2.5·ε/steps; random start; restarts 1 (on survivors only); loss ce; keep firstSuccess',
    },
    label: (opts) => `PGD-${opts.steps ?? 10}${(opts.restarts ?? 1) > 1 ? `×${opts.restarts}` : ''}${opts.loss && opts.loss !== 'ce' ? ` (${opts.loss})` : ''}`,
    run: pgd,
  },
  {
    id: 'apgd',
    name: 'APGD',
    norms: ['linf', 'l2'],
    iterative: true,
    access: 'white-box',
    doc: {
      paper: 'Croce & Hein 2020, "Reliable evaluation of adversarial robustness with an ensemble of diverse parameter-free attacks" (ICML)',
      update: 'z = Π(x_k + η·sign(∇ₓL(x_k))); x_{k+1} = Π(x_k + 0.75·(z − x_k) + 0.25·(x_k − x_{k−1})); η halved at checkpoints when progress stalls',
      defaults: 'steps 100; η₀ = 2ε; momentum 0.75; ρ = 0.75; random start; restarts 1; loss ce (or dlr, margin)',
    },
    label: (opts) => `APGD-${(opts.loss ?? 'ce').toUpperCase()}${opts.steps && opts.steps !== 100 ? `-${opts.steps}` : ''}`,
    run: apgd,
  },
  {
    id: 'apgd-t',
    name: 'APGD-T',
    norms: ['linf', 'l2'],
    iterative: true,
    access: 'white-box',
    doc: {
      paper: 'Croce & Hein 2020, "Reliable evaluation of adversarial robustness with an ensemble of diverse parameter-free attacks" (ICML)',
      update: 'APGD on the targeted dlr loss −(z_y − z_t)/(z_π1 − (z_π3 + z_π4)/2), once per target t among the top-k classes, on survivors',
      defaults: 'steps 100; 9 target classes (at most classes − 1); loss dlr (needs ≥ 4 classes); random start',
    },
    label: (opts) => `APGD-T${opts.steps && opts.steps !== 100 ? `-${opts.steps}` : ''} (${opts.targetClasses ?? 9} targets)`,
    run: apgdT,
  },
  {
    id: 'mi-fgsm',
    name: 'MI-FGSM',
    norms: ['linf', 'l2'],
    iterative: true,
    access: 'white-box',
    doc: {
      paper: 'Dong, Liao, Pang, Su, Zhu, Hu & Li 2018, "Boosting Adversarial Attacks with Momentum" (CVPR)',
      update: 'g_{t+1} = μ·g_t + ∇ₓL/‖∇ₓL‖₁; x_{t+1} = Π(x_t + α·sign(g_{t+1}))',
      defaults: 'steps 10; α = ε/steps; μ = 1; no random start; loss ce',
    },
    label: (opts) => `MI-FGSM-${opts.steps ?? 10}`,
    run: miFgsm,
  },
  {
    id: 'square',
    name: 'Square',
    norms: ['linf', 'l2'],
    iterative: true,
    access: 'black-box',
    doc: {
      paper: 'Andriushchenko, Croce, Flammarion & Hein 2020, "Square Attack: a query-efficient black-box adversarial attack via random search" (ECCV)',
      update: 'random search: change δ in one random s×s window (L∞: ±ε per channel; L2: a centred-square pattern, mass moved between windows); keep if the margin loss rises',
      defaults: 'queries 1000; p_init 0.8, halved on a fixed schedule; margin loss; score-based (no gradients)',
    },
    label: (opts) => `Square-${opts.queries ?? 1000}`,
    run: square,
  },
  {
    id: 'transfer',
    name: 'Transfer',
    norms: ['linf', 'l2'],
    iterative: true,
    access: 'transfer',
    doc: {
      paper: 'Papernot, McDaniel & Goodfellow 2016, "Transferability in Machine Learning: from Phenomena to Black-Box Attacks"',
      update: "x' = PGD on a surrogate model's loss; scored on the target (no target gradients)",
      defaults: 'PGD-20 on the surrogate; α = 2.5·ε/steps; random start; loss ce; needs --surrogate',
    },
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
