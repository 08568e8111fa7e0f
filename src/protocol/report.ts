/**
 * report.json: field names are a contract (design.md §7); fields may be added, never renamed.
 * Shared by the CLI, the worker, the webview and the language server; no runtime imports.
 */
export type { ExampleOutcome, NormId } from './vocabulary';
import type { ExampleOutcome, NormId } from './vocabulary';

declare const ROBUSTNESS_LAB_VERSION: string | undefined;
/**
 * package.json's version: esbuild's `define` (esbuild.mjs) writes it into every bundle, so it is
 * written once; code run unbundled (the unit tests under tsx) says "dev".
 */
export const VERSION: string = typeof ROBUSTNESS_LAB_VERSION === 'string' ? ROBUSTNESS_LAB_VERSION : 'dev';

export interface ReportThreat {
  norm: NormId;
  eps: number;
  bounds: [number, number];
}

export interface ReportAttack {
  id: string;
  label: string;
  params: Record<string, unknown>;
  robust_accuracy: number;
  /** 95% Wilson interval [lo, hi] of robust_accuracy over the report's n images (absent in older reports). */
  ci95?: [number, number];
  time_s: number;
  /** Images through the evaluated model (for transfer: the target only). */
  forward_passes: number;
  backward_passes: number;
  /** Transfer: images through the surrogate, counted apart. */
  surrogate_forward_passes?: number;
  surrogate_backward_passes?: number;
}

export interface ReportCurvePoint {
  eps: number;
  accuracy: number;
}

export interface ReportCurve {
  attack: string;
  points: ReportCurvePoint[];
}

export interface ReportDiagnostic {
  id: string;
  severity: 'info' | 'warning' | 'error';
  message: string;
  /** True when the finding means the gradients mislead attacks: the report shows a banner. */
  masking?: boolean;
  /** For findings that count points of the evaluation (so that worker slices add up): how many, and which attack. */
  count?: number;
  attack?: string;
}

/** A per-sample quantity's distribution. */
export interface ReportDistribution {
  mean: number;
  median: number;
  p90: number;
  max: number;
  values: number[];
}

/** Local geometry around the first test points (eval/geometry.ts), at the report's ε. */
export interface ReportGeometry {
  n: number;
  eps: number;
  steps: number;
  /** C in ‖f(x) − f(x')‖₂ ≤ C·ε for a hidden layer (absent for models without named layers). */
  representation?: ReportDistribution & { layer: string };
  /** γ = max over the ball of |ℓ(x+δ) − ℓ(x) − δᵀ∇ℓ(x)| (Qin et al. 2019). */
  linearity: ReportDistribution;
  /** The same medians measured on the example models, for comparison (same norm, ε and layer). */
  reference: Array<{ model: string; c_median: number | null; gamma_median: number }>;
}

/** The final check of every adversarial example an evaluation kept. */
export interface ReportChecks {
  /** Largest ‖x' − x‖ over ε (≤ 1 when every example is inside its ball). */
  max_distance_over_eps: number;
  /** Every pixel inside the bounds. */
  in_bounds: boolean;
  /** No NaN or infinity in any example. */
  finite: boolean;
}

/** Where a cancelled evaluation stopped: "cancelled after APGD-T (3 targets)", stage 2 of 6. */
export interface ReportPartial {
  /** The label of the last stage that finished ("clean" when no attack did). */
  cancelled_after: string;
  /** Stages finished after clean (attacks, diagnostics, geometry, curve), of stages_total. */
  stages_done: number;
  stages_total: number;
}

export interface ReportExample {
  index: number;
  label: string;
  clean: { prediction: string; confidence: number; png: string };
  perturbation: { png: string; scale: number };
  /**
   * The image of the attack that made it: the one that fooled the sample, else the last one that
   * ran on it (for a suite: the stage that fooled it, or the last stage). `attack` is its id
   * ("clean" when none ran: a clean mistake), `attack_label` its label ("PGD-20"; absent in
   * reports written before it was added).
   */
  adversarial: { prediction: string; confidence: number; png: string; attack: string; attack_label?: string };
  /** True only when the attack changed a correct prediction (outcome "fooled"); a clean mistake is not fooled. */
  fooled: boolean;
  /** fooled, robust, or clean-mistake (absent in reports written before it was added: see exampleOutcome). */
  outcome?: ExampleOutcome;
}

/** The model's preprocessing in force (src/protocol/preprocess.ts): what the model saw of the data's pixels. */
export interface ReportPreprocess {
  scale: [number, number];
  mean: number[];
  std: number[];
  /** The model's class names, when the preprocessing gives them (they name the predictions). */
  classes?: string[];
  /** Where each given field came from (a sidecar file, the spec, "--mean", "settings"); absent fields are defaults. */
  sources: Partial<Record<'scale' | 'mean' | 'std' | 'classes', string>>;
  /** The normalisation the ONNX graph applies to its own input: "(x − 0.286) / 0.353". */
  in_graph?: string;
}

export interface Report {
  tool: { name: 'robustness-lab'; version: string };
  command: string;
  created: string;
  model: string;
  dataset: string;
  n: number;
  threat: ReportThreat;
  backend: string;
  /** Worker threads the images were split across (1 = in-process). */
  workers: number;
  clean_accuracy: number;
  /** 95% Wilson intervals [lo, hi] of clean_accuracy and robust_accuracy over n (src/protocol/stats.ts). */
  clean_ci95?: [number, number];
  attacks: ReportAttack[];
  robust_accuracy: number;
  robust_ci95?: [number, number];
  /**
   * Per image, in the order of the n images: "1" when still correct after every attack (what
   * robust_accuracy counts), "0" otherwise, so two reports on the same images can be compared
   * image by image (McNemar's test, `robustness-lab compare`). Absent without attacks and in
   * reports written before it was added.
   */
  robust_per_image?: string;
  /** The curve of the first attack, as in the contract. */
  curve: ReportCurvePoint[];
  /** One curve per attack. */
  curves: ReportCurve[];
  diagnostics: ReportDiagnostic[];
  /** The suite that ran ("strong", "quick"), or null for a list of attacks. */
  suite?: string | null;
  /**
   * True when each attack ran only on the points still robust after the attacks before it, so
   * an attack's robust_accuracy is the accuracy after that stage; false when each ran on every
   * clean-correct point.
   */
  cascade?: boolean;
  checks?: ReportChecks;
  geometry?: ReportGeometry;
  /** A cancelled run keeps what finished: this report holds only those stages. */
  partial?: ReportPartial;
  /** Absent in reports written before it was added. */
  preprocess?: ReportPreprocess;
  class_names: string[];
  examples: ReportExample[];
  time_s: number;
  /**
   * Where n came from when it is not the editor's robustness.samples setting: an experiment spec
   * (workspace-relative) and the setting it overrode, for the header.
   */
  n_source?: { spec: string; setting: number };
}
