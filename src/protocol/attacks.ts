/**
 * The attack catalogue as plain data: id, paper, update rule, defaults and what each attack
 * accepts. The engine's registry takes its docs from here (and a test checks both list the same
 * ids), so the CLI help, the reports and the language server's hovers and completions share one
 * source of truth without the server loading tfjs.
 */
import type { NormId } from './report';

export type LossName = import('./vocabulary').LossId;
export const LOSS_NAMES: readonly LossName[] = ['ce', 'margin', 'dlr'];

export interface AttackDoc {
  paper: string;
  update: string;
  defaults: string;
}

/** A parameter an attack takes in a spec (and on the CLI). */
export type AttackParam = 'steps' | 'stepSize' | 'restarts' | 'loss' | 'randomStart' | 'queries';

export interface AttackInfo {
  id: string;
  name: string;
  norms: readonly NormId[];
  /** True when the attack takes several steps (gradient steps, or queries). */
  iterative: boolean;
  /** What it needs of the model: gradients (white-box), only logits (black-box), or a surrogate's gradients (transfer). */
  access: 'white-box' | 'black-box' | 'transfer';
  doc: AttackDoc;
  params: readonly AttackParam[];
  /** Default number of steps (iterative gradient attacks). */
  defaultSteps?: number;
  /** Fewest classes the attack works with (APGD-T's targeted dlr needs a 4th class). */
  minClasses?: number;
}

const GRADIENT: readonly AttackParam[] = ['steps', 'stepSize', 'restarts', 'loss', 'randomStart'];

export const ATTACK_INFO: readonly AttackInfo[] = [
  {
    id: 'fgsm', name: 'FGSM', norms: ['linf', 'l2'], iterative: false, access: 'white-box', params: ['loss'],
    doc: {
      paper: 'Goodfellow, Shlens & Szegedy 2015, "Explaining and Harnessing Adversarial Examples" (ICLR)',
      update: "x' = Π(x + ε·sign(∇ₓL(x)))  (L2: ε·∇ₓL/‖∇ₓL‖₂)",
      defaults: 'loss ce; one step of size ε; untargeted unless target labels are given',
    },
  },
  {
    id: 'pgd', name: 'PGD', norms: ['linf', 'l2'], iterative: true, access: 'white-box', params: GRADIENT, defaultSteps: 10,
    doc: {
      paper: 'Madry, Makelov, Schmidt, Tsipras & Vladu 2018, "Towards Deep Learning Models Resistant to Adversarial Attacks" (ICLR)',
      update: 'x_{t+1} = Π_{B(x,ε)∩[lo,hi]}(x_t + α·sign(∇ₓL(x_t)))  (L2: α·∇ₓL/‖∇ₓL‖₂)',
      defaults: 'steps 10; α = 2.5·ε/steps; random start; restarts 1 (on survivors only); loss ce; keep firstSuccess',
    },
  },
  {
    id: 'apgd', name: 'APGD', norms: ['linf', 'l2'], iterative: true, access: 'white-box', params: GRADIENT, defaultSteps: 100,
    doc: {
      paper: 'Croce & Hein 2020, "Reliable evaluation of adversarial robustness with an ensemble of diverse parameter-free attacks" (ICML)',
      update: 'z = Π(x_k + η·sign(∇ₓL(x_k))); x_{k+1} = Π(x_k + 0.75·(z − x_k) + 0.25·(x_k − x_{k−1})); η halved at checkpoints when progress stalls',
      defaults: 'steps 100; η₀ = 2ε; momentum 0.75; ρ = 0.75; random start; restarts 1; loss ce (or dlr, margin)',
    },
  },
  {
    id: 'apgd-t', name: 'APGD-T', norms: ['linf', 'l2'], iterative: true, access: 'white-box', params: GRADIENT, defaultSteps: 100, minClasses: 4,
    doc: {
      paper: 'Croce & Hein 2020, "Reliable evaluation of adversarial robustness with an ensemble of diverse parameter-free attacks" (ICML)',
      update: 'APGD on the targeted dlr loss −(z_y − z_t)/(z_π1 − (z_π3 + z_π4)/2), once per target t among the top-k classes, on survivors',
      defaults: 'steps 100; 9 target classes (at most classes − 1); loss dlr (needs ≥ 4 classes); random start',
    },
  },
  {
    id: 'mi-fgsm', name: 'MI-FGSM', norms: ['linf', 'l2'], iterative: true, access: 'white-box', params: GRADIENT, defaultSteps: 10,
    doc: {
      paper: 'Dong, Liao, Pang, Su, Zhu, Hu & Li 2018, "Boosting Adversarial Attacks with Momentum" (CVPR)',
      update: 'g_{t+1} = μ·g_t + ∇ₓL/‖∇ₓL‖₁; x_{t+1} = Π(x_t + α·sign(g_{t+1}))',
      defaults: 'steps 10; α = ε/steps; μ = 1; no random start; loss ce',
    },
  },
  {
    id: 'square', name: 'Square', norms: ['linf', 'l2'], iterative: true, access: 'black-box', params: ['queries'],
    doc: {
      paper: 'Andriushchenko, Croce, Flammarion & Hein 2020, "Square Attack: a query-efficient black-box adversarial attack via random search" (ECCV)',
      update: 'random search: change δ in one random s×s window (L∞: ±ε per channel; L2: a centred-square pattern, mass moved between windows); keep if the margin loss rises',
      defaults: 'queries 1000; p_init 0.8, halved on a fixed schedule; margin loss; score-based (no gradients)',
    },
  },
  {
    id: 'transfer', name: 'Transfer', norms: ['linf', 'l2'], iterative: true, access: 'transfer', params: GRADIENT, defaultSteps: 20,
    doc: {
      paper: 'Papernot, McDaniel & Goodfellow 2016, "Transferability in Machine Learning: from Phenomena to Black-Box Attacks"',
      update: "x' = PGD on a surrogate model's loss; scored on the target (no target gradients)",
      defaults: 'PGD-20 on the surrogate; α = 2.5·ε/steps; random start; loss ce; needs a surrogate model',
    },
  },
];

export function attackInfo(id: string): AttackInfo | undefined {
  return ATTACK_INFO.find((a) => a.id === id);
}

/** The dlr loss compares the top class with the 2nd and 3rd: it needs at least 3 classes. */
export const DLR_MIN_CLASSES = 3;
