/**
 * report.json: field names are a contract (design.md §7); fields may be added, never renamed.
 * Shared by the CLI, the worker, the webview and the language server; no runtime imports.
 */
export type NormId = 'linf' | 'l2';

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
  time_s: number;
  forward_passes: number;
  backward_passes: number;
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
}

export interface ReportExample {
  index: number;
  label: string;
  clean: { prediction: string; confidence: number; png: string };
  perturbation: { png: string; scale: number };
  adversarial: { prediction: string; confidence: number; png: string; attack: string };
  fooled: boolean;
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
  attacks: ReportAttack[];
  robust_accuracy: number;
  /** The curve of the first attack, as in the contract. */
  curve: ReportCurvePoint[];
  /** One curve per attack. */
  curves: ReportCurve[];
  diagnostics: ReportDiagnostic[];
  class_names: string[];
  examples: ReportExample[];
  time_s: number;
}
