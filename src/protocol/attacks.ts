/**
 * The attack catalogue as plain data: id, paper, update rule, defaults and the options each
 * attack takes. The engine's registry takes its docs from here and its runner derives option
 * validation (names, types, ranges, defaults) from it, so the CLI help, the reports and the
 * language server's hovers and completions share one source of truth without the server
 * loading tfjs.
 */
import { KEEP_POLICIES, LOSSES, type NormId } from './vocabulary';

export interface AttackDoc {
  paper: string;
  update: string;
  defaults: string;
}

/** What values an option takes; the engine maps each kind to a TypeScript type and a check. */
export type OptionKind = 'integer' | 'number' | 'boolean' | 'loss' | 'keep' | 'stepSize' | 'model';

export interface OptionInfo {
  kind: OptionKind;
  /** Smallest allowed value (integer and number kinds). */
  min?: number;
  /** When true, `min` itself is not allowed (0 < p). */
  minExclusive?: boolean;
  max?: number;
  /** Shown in hovers, CLI help and in the error that rejects a bad value. */
  doc: string;
}

/**
 * Every option any attack takes, by name. An attack lists the ones it takes (with its own
 * default) in its catalogue entry; the runner rejects any other, naming it.
 */
export const ATTACK_OPTIONS = {
  steps: { kind: 'integer', min: 1, doc: 'gradient steps per run' },
  stepSize: { kind: 'stepSize', min: 0, minExclusive: true, doc: 'step size α, absolute or { relative } to ε' },
  restarts: { kind: 'integer', min: 1, doc: 'runs from random starts, each on the samples not yet fooled' },
  loss: { kind: 'loss', doc: `the loss maximised: ${LOSSES.join(', ')}` },
  randomStart: { kind: 'boolean', doc: 'start the first run at a uniform random point of the ball' },
  keep: { kind: 'keep', doc: `which iterate a sample returns: ${KEEP_POLICIES.join(', ')}` },
  queries: { kind: 'integer', min: 1, doc: 'query budget per sample' },
  pInit: { kind: 'number', min: 0, minExclusive: true, max: 1, doc: 'initial fraction of pixels a window covers' },
  decay: { kind: 'number', min: 0, doc: 'momentum decay μ' },
  targetClasses: { kind: 'integer', min: 1, doc: 'target classes, ranked by the clean logits (at most classes − 1)' },
  eot: {
    kind: 'integer',
    min: 1,
    doc: 'expectation over transformation: passes per step whose loss and gradient are averaged (randomised models)',
  },
  surrogate: { kind: 'model', doc: 'a surrogate model (--surrogate <model.json>) to craft the examples on' },
} as const satisfies Record<string, OptionInfo>;

export type AttackOptionName = keyof typeof ATTACK_OPTIONS;

/** A default: the value, or null when it depends on other options (see `doc.defaults`) or must be given. */
export type OptionDefault = number | boolean | string | null;

/** The parameters a spec's attack object (and the CLI) may set; the rest are engine options. */
export const SPEC_PARAMS = [
  'steps',
  'stepSize',
  'restarts',
  'loss',
  'randomStart',
  'queries',
  'eot',
] as const satisfies readonly AttackOptionName[];
export type AttackParam = (typeof SPEC_PARAMS)[number];

interface CatalogueEntry {
  id: string;
  name: string;
  norms: readonly NormId[];
  /** True when the attack takes several steps (gradient steps, or queries). */
  iterative: boolean;
  /**
   * What it needs of the model: gradients (white-box), only logits (black-box), or a surrogate's
   * gradients (transfer).
   */
  access: 'white-box' | 'black-box' | 'transfer';
  doc: AttackDoc;
  /** The options it takes, each with its default. */
  options: Partial<Record<AttackOptionName, OptionDefault>>;
  /** Whether it accepts target labels (APGD-T chooses its own targets). */
  targetable: boolean;
  /** Fewest classes the attack works with (APGD-T's targeted dlr needs a 4th class). */
  minClasses?: number;
}

export interface AttackInfo extends CatalogueEntry {
  /** The spec parameters it takes (derived from `options`). */
  params: readonly AttackParam[];
  /** Default number of steps (iterative gradient attacks; derived from `options`). */
  defaultSteps?: number;
}

const CATALOGUE = [
  {
    id: 'fgsm',
    name: 'FGSM',
    norms: ['linf', 'l2'],
    iterative: false,
    access: 'white-box',
    targetable: true,
    options: { loss: 'ce' },
    doc: {
      paper: 'Goodfellow, Shlens & Szegedy 2015, "Explaining and Harnessing Adversarial Examples" (ICLR)',
      update: "x' = Π(x + ε·sign(∇ₓL(x)))  (L2: ε·∇ₓL/‖∇ₓL‖₂)",
      defaults: 'loss ce; one step of size ε; untargeted unless target labels are given',
    },
  },
  {
    id: 'pgd',
    name: 'PGD',
    norms: ['linf', 'l2'],
    iterative: true,
    access: 'white-box',
    targetable: true,
    options: { steps: 10, stepSize: null, restarts: 1, loss: 'ce', randomStart: true, keep: 'firstSuccess', eot: 1 },
    doc: {
      paper:
        'Madry, Makelov, Schmidt, Tsipras & Vladu 2018, "Towards Deep Learning Models Resistant to Adversarial ' +
        'Attacks" (ICLR)',
      update: 'x_{t+1} = Π_{B(x,ε)∩[lo,hi]}(x_t + α·sign(∇ₓL(x_t)))  (L2: α·∇ₓL/‖∇ₓL‖₂)',
      defaults:
        'steps 10; α = 2.5·ε/steps; random start; restarts 1 (on survivors only); loss ce; keep firstSuccess; ' +
        'eot 1 (k > 1: loss and gradient averaged over k passes, Athalye et al. 2018)',
    },
  },
  {
    id: 'apgd',
    name: 'APGD',
    norms: ['linf', 'l2'],
    iterative: true,
    access: 'white-box',
    targetable: true,
    options: { steps: 100, restarts: 1, loss: 'ce', randomStart: true, eot: 1 },
    doc: {
      paper:
        'Croce & Hein 2020, "Reliable evaluation of adversarial robustness with an ensemble of diverse ' +
        'parameter-free attacks" (ICML)',
      update:
        'z = Π(x_k + η·sign(∇ₓL(x_k))); x_{k+1} = Π(x_k + 0.75·(z − x_k) + 0.25·(x_k − x_{k−1})); ' +
        'η halved at checkpoints when progress stalls',
      defaults:
        'steps 100; η₀ = 2ε; momentum 0.75; ρ = 0.75; random start; restarts 1; loss ce (or dlr, margin); ' +
        'eot 1 (k > 1: loss and gradient averaged over k passes)',
    },
  },
  {
    id: 'apgd-t',
    name: 'APGD-T',
    norms: ['linf', 'l2'],
    iterative: true,
    access: 'white-box',
    targetable: false,
    minClasses: 4,
    options: { steps: 100, loss: 'dlr', randomStart: true, targetClasses: 9 },
    doc: {
      paper:
        'Croce & Hein 2020, "Reliable evaluation of adversarial robustness with an ensemble of diverse ' +
        'parameter-free attacks" (ICML)',
      update:
        'APGD on the targeted dlr loss −(z_y − z_t)/(z_π1 − (z_π3 + z_π4)/2), ' +
        'once per target t among the top-k classes, on survivors',
      defaults: 'steps 100; 9 target classes (at most classes − 1); loss dlr (needs ≥ 4 classes); random start',
    },
  },
  {
    id: 'fab',
    name: 'FAB',
    norms: ['linf', 'l2'],
    iterative: true,
    access: 'white-box',
    targetable: true,
    options: { steps: 100, restarts: 1 },
    doc: {
      paper:
        'Croce & Hein 2020, "Minimally distorted adversarial examples with a fast adaptive boundary attack" (ICML)',
      update:
        'δ_i, δ_0 = projections of x_i and x onto the linearised boundary ∩ box; α = min(‖δ_i‖/(‖δ_i‖+‖δ_0‖), α_max); ' +
        'x_{i+1} = (1−α)(x_i + η·δ_i) + α(x + η·δ_0); adversarial: keep if nearest, x_{i+1} = x + β(x_{i+1} − x)',
      defaults:
        'steps 100; α_max 0.1, η 1.05, β 0.9; restarts 1 (later ones from random points at ε/2); ' +
        'nearest boundary (or the given target); final bisection; minimises the norm, success within ε',
    },
  },
  {
    id: 'fab-t',
    name: 'FAB-T',
    norms: ['linf', 'l2'],
    iterative: true,
    access: 'white-box',
    targetable: false,
    options: { steps: 100, restarts: 1, targetClasses: 9 },
    doc: {
      paper:
        'Croce & Hein 2020, "Minimally distorted adversarial examples with a fast adaptive boundary attack" (ICML)',
      update: 'FAB on the boundary between y and target t, once per target among the top-k classes, on survivors',
      defaults: 'steps 100; 9 target classes (at most classes − 1); α_max 0.1, η 1.05, β 0.9; restarts 1 per target',
    },
  },
  {
    id: 'mi-fgsm',
    name: 'MI-FGSM',
    norms: ['linf', 'l2'],
    iterative: true,
    access: 'white-box',
    targetable: true,
    options: { steps: 10, stepSize: null, loss: 'ce', decay: 1 },
    doc: {
      paper: 'Dong, Liao, Pang, Su, Zhu, Hu & Li 2018, "Boosting Adversarial Attacks with Momentum" (CVPR)',
      update: 'g_{t+1} = μ·g_t + ∇ₓL/‖∇ₓL‖₁; x_{t+1} = Π(x_t + α·sign(g_{t+1}))',
      defaults: 'steps 10; α = ε/steps; μ = 1; no random start; loss ce',
    },
  },
  {
    id: 'square',
    name: 'Square',
    norms: ['linf', 'l2'],
    iterative: true,
    access: 'black-box',
    targetable: true,
    options: { queries: 1000, pInit: 0.8 },
    doc: {
      paper:
        'Andriushchenko, Croce, Flammarion & Hein 2020, "Square Attack: a query-efficient black-box adversarial ' +
        'attack via random search" (ECCV)',
      update:
        'random search: change δ in one random s×s window (L∞: ±ε per channel; L2: a centred-square pattern, ' +
        'mass moved between windows); keep if the margin loss rises',
      defaults: 'queries 1000; p_init 0.8, halved on a fixed schedule; margin loss; score-based (no gradients)',
    },
  },
  {
    id: 'transfer',
    name: 'Transfer',
    norms: ['linf', 'l2'],
    iterative: true,
    access: 'transfer',
    targetable: true,
    options: { steps: 20, stepSize: null, restarts: 1, loss: 'ce', randomStart: true, surrogate: null },
    doc: {
      paper:
        'Papernot, McDaniel & Goodfellow 2016, "Transferability in Machine Learning: ' +
        'from Phenomena to Black-Box Attacks"',
      update: "x' = PGD on a surrogate model's loss; scored on the target (no target gradients)",
      defaults: 'PGD-20 on the surrogate; α = 2.5·ε/steps; random start; loss ce; needs a surrogate model',
    },
  },
] as const satisfies readonly CatalogueEntry[];

export type AttackId = (typeof CATALOGUE)[number]['id'];

/** The option names attack `Id` takes, from its catalogue entry (the runner's per-attack option type). */
export type OptionsOf<Id extends AttackId> = keyof CatalogueDefaults<Id> & AttackOptionName;

/** Attack `Id`'s options and their defaults, as typed data. */
export type CatalogueDefaults<Id extends AttackId> = Extract<(typeof CATALOGUE)[number], { id: Id }>['options'];

export const ATTACK_INFO: readonly AttackInfo[] = CATALOGUE.map((entry: CatalogueEntry): AttackInfo => {
  const steps = entry.options.steps;
  return {
    ...entry,
    params: SPEC_PARAMS.filter((p) => p in entry.options),
    ...(typeof steps === 'number' && entry.iterative ? { defaultSteps: steps } : {}),
  };
});

/** Attack `id`'s options and their defaults, typed (the registry's labels read them). */
export function catalogueDefaults<Id extends AttackId>(id: Id): CatalogueDefaults<Id> {
  return CATALOGUE.find((entry) => entry.id === id)!.options as CatalogueDefaults<Id>;
}

export function attackInfo(id: string): AttackInfo | undefined {
  return ATTACK_INFO.find((a) => a.id === id);
}

/** The dlr loss compares the top class with the 2nd and 3rd: it needs at least 3 classes. */
export const DLR_MIN_CLASSES = 3;
