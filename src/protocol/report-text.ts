/**
 * What a person reads of a report, written once for the attack panel, report.html and the
 * extension's export: each example's outcome and counts, the attack that made an image, the
 * confidence drop, the dataset's name, where n came from, and the file name an export proposes.
 * Pure: no node:, no DOM (the webviews bundle it).
 */
import type { ExampleOutcome, Report, ReportExample } from './report';
import { BUILTIN_DATA, type BuiltinData } from './vocabulary';
import { describePreprocess } from './preprocess';

/** An example's outcome; reports written before `outcome` existed derive it from the predictions. */
export function exampleOutcome(ex: ReportExample): ExampleOutcome {
  if (ex.outcome) return ex.outcome;
  if (ex.clean.prediction !== ex.label) return 'clean-mistake';
  return ex.adversarial.prediction !== ex.label ? 'fooled' : 'robust';
}

export interface OutcomeCounts {
  fooled: number;
  robust: number;
  cleanMistakes: number;
  /** The examples an attack ran on (clean-correct ones): the M of "N of M fooled". */
  attacked: number;
}

export function outcomeCounts(examples: readonly ReportExample[]): OutcomeCounts {
  const count = (o: ExampleOutcome) => examples.filter((ex) => exampleOutcome(ex) === o).length;
  const fooled = count('fooled');
  const robust = count('robust');
  return { fooled, robust, cleanMistakes: count('clean-mistake'), attacked: fooled + robust };
}

/** "23 of 52 fooled · 12 already wrong" (clean mistakes are not in the 52). */
export function samplesSummary(examples: readonly ReportExample[]): string {
  const c = outcomeCounts(examples);
  const wrong = c.cleanMistakes ? ` · ${c.cleanMistakes} already wrong` : '';
  return `${c.fooled} of ${c.attacked} fooled${wrong}`;
}

/** The label of the attack whose image an example shows ("PGD-20"); older reports have only its id. */
export function exampleAttack(ex: ReportExample): string {
  return ex.adversarial.attack_label ?? ex.adversarial.attack;
}

/** What a grid row says about its attack: "fooled by PGD-20", "robust to APGD-T", "already wrong". */
export function exampleVerdict(ex: ReportExample): string {
  const outcome = exampleOutcome(ex);
  if (outcome === 'clean-mistake') return 'already wrong';
  return `${outcome === 'fooled' ? 'fooled by' : 'robust to'} ${exampleAttack(ex)}`;
}

/**
 * How much the attack took from the clean prediction's confidence: the whole of it when the
 * prediction changed, else the difference (0 for a clean mistake, which no attack ran on).
 */
export function confidenceDrop(ex: ReportExample): number {
  const kept = ex.adversarial.prediction === ex.clean.prediction ? ex.adversarial.confidence : 0;
  return ex.clean.confidence - kept;
}

/** A confidence drop in percentage points: 0.834 → "−83 pts" (a rise reads "+2 pts"). */
export function dropText(drop: number): string {
  const points = Math.round(drop * 100);
  return points > 0 ? `−${points} pts` : points < 0 ? `+${-points} pts` : '0 pts';
}

const BUILTIN_DATA_NAMES: Readonly<Record<BuiltinData, string>> = {
  embedded: 'embedded Fashion-MNIST sample',
  'fashion-mnist': 'Fashion-MNIST',
};

/**
 * A report's dataset ("<id> (<location>)", as the engine writes it) for a header: a built-in set
 * by name, never its install path; a folder relative to the workspace when `relative` places it
 * there, else by its last path segment, so no absolute path outside the workspace is shown.
 */
export function datasetLabel(
  dataset: string,
  relative: (absolute: string) => string | undefined = () => undefined,
): string {
  const match = /^(.*) \((.*)\)$/.exec(dataset);
  const id = match ? match[1]! : dataset;
  const location = match ? match[2]! : dataset;
  const builtin = (BUILTIN_DATA as readonly string[]).includes(id) ? BUILTIN_DATA_NAMES[id as BuiltinData] : undefined;
  if (builtin) return builtin;
  const inside = relative(location);
  if (inside !== undefined) return inside || '.';
  const isAbsolute = /^(\/|[A-Za-z]:[\\/]|\\\\)/.test(location);
  return isAbsolute ? (location.split(/[\\/]/).filter(Boolean).pop() ?? location) : location;
}

/** "n = 500 from the spec x.robustness.json; robustness.samples is 300", or "" when n is the setting's. */
export function nSourceText(report: Pick<Report, 'n' | 'n_source'>): string {
  const source = report.n_source;
  if (!source || source.setting === report.n) return '';
  return `n = ${report.n} from the spec ${source.spec}; robustness.samples is ${source.setting}`;
}

/** The name a model goes by: its folder for a model.json, else its file name without the extension. */
export function modelName(model: string): string {
  const parts = model.split(/[\\/]/).filter(Boolean);
  const file = parts[parts.length - 1] ?? model;
  if (/^model\.json$/i.test(file) && parts.length > 1) return parts[parts.length - 2]!;
  return file.replace(/\.[^.]+$/, '') || file;
}

/** What ran: the suite, the one attack, or the strongest of several (as the Runs view names it). */
function attackName(report: Pick<Report, 'suite' | 'attacks'>): string {
  if (report.suite) return report.suite;
  const strongest = [...report.attacks].sort((a, b) => a.robust_accuracy - b.robust_accuracy)[0];
  return strongest?.label ?? 'clean';
}

/** Letters, digits, '.', '_' and '-' only; runs of anything else become one '-'. */
function sanitise(part: string): string {
  return part
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^[-.]+|[-.]+$/g, '');
}

/**
 * The file name an export proposes: "<model>-<attack or suite>-eps<ε>.<ext>", e.g.
 * "smallcnn-pgd-20-eps0.1.html" or "smallcnn-distilled-strong-eps0.1.json"; safe on every file system.
 */
export function exportFileName(
  report: Pick<Report, 'model' | 'suite' | 'attacks' | 'threat'>,
  extension: 'html' | 'json' | 'png',
): string {
  const model = sanitise(modelName(report.model)) || 'model';
  const attack = sanitise(attackName(report).toLowerCase()) || 'attack';
  const eps = sanitise(String(+report.threat.eps.toPrecision(3)));
  return `${model}-${attack}-eps${eps}.${extension}`;
}

/**
 * The preprocessing in force, one line: "mean [0.286] std [0.353] scale [0, 1] · from cnn.preprocess.json",
 * then the graph's own normalisation when it has one; undefined for reports written before it existed.
 */
export function preprocessText(report: Pick<Report, 'preprocess'>): string | undefined {
  const p = report.preprocess;
  if (!p) return undefined;
  const inGraph = p.in_graph ? ` · normalisation inside the model: ${p.in_graph}` : '';
  return `preprocessing: ${describePreprocess(p)}${inGraph}`;
}
