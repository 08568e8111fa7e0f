/** Builds report.json (src/protocol/report.ts) from an evaluation and curves. */
import type {
  ExampleOutcome,
  Report,
  ReportCurve,
  ReportDiagnostic,
  ReportExample,
  ReportGeometry,
  ReportPreprocess,
} from '../../protocol/report';
import { nearChanceMessage } from '../../protocol/preprocess';
import { evaluationDiagnostics, suiteDiagnostics } from '../eval/diagnostics';
import { REFERENCE_GEOMETRY, type GeometryProbe } from '../eval/geometry';
import type { Evaluation } from '../eval/evaluate';
import { imagePng, perturbationPng } from './png';
import { attackInfo } from '../../protocol/attacks';
import { pct } from '../../protocol/format';
import { accuracyCi95 } from '../../protocol/stats';

export interface ReportContext {
  command: string;
  version: string;
  model: string;
  modelWarnings: string[];
  dataset: string;
  backend: string;
  classNames: string[];
  shape: [number, number, number];
  curves: ReportCurve[];
  seconds: number;
  /** The suite that ran, if any. */
  suite?: string | null;
  /** Findings of the diagnostics' probes (eval/diagnostics.ts). */
  probes?: ReportDiagnostic[];
  /** The report is one shard of a run, to be merged (src/worker/pool.ts, src/cluster). */
  shard?: boolean;
  geometry?: GeometryProbe;
  /** The model's preprocessing in force (its class names, when given, are already in classNames). */
  preprocess?: ReportPreprocess;
}

/** The report's geometry section, with the example models' medians measured at the same setting. */
export function geometrySection(g: GeometryProbe, norm: string): ReportGeometry {
  const layer = g.representation?.layer;
  const reference = REFERENCE_GEOMETRY.filter(
    (r) => r.norm === norm && r.eps === g.eps && (!layer || r.layer === layer),
  ).map((r) => ({ model: r.model, c_median: layer ? r.c_median : null, gamma_median: r.gamma_median }));
  return {
    n: g.n,
    eps: g.eps,
    steps: g.steps,
    linearity: g.linearity,
    ...(g.representation ? { representation: g.representation } : {}),
    reference,
  };
}

export function modelDiagnostics(modelWarnings: string[]): ReportDiagnostic[] {
  return modelWarnings.map((warning) => ({
    id: 'softmax-output',
    severity: 'warning',
    masking: true,
    message: `${warning}. Export the model with logits outputs to be sure the attack sees what you deploy.`,
  }));
}

/**
 * What the preprocessing says of itself: the graph's own normalisation (info), or that normalisation
 * twice (warning) when a mean/std is given as well.
 */
export function preprocessDiagnostics(p: ReportPreprocess | undefined): ReportDiagnostic[] {
  if (!p?.in_graph) return [];
  const given = [p.sources.mean, p.sources.std].filter((s): s is string => Boolean(s));
  if (given.length === 0) {
    return [
      {
        id: 'normalisation-in-graph',
        severity: 'info',
        message: `normalisation inside the model: ${p.in_graph}; give no preprocessing mean/std for it`,
      },
    ];
  }
  return [
    {
      id: 'doubled-normalisation',
      severity: 'warning',
      message:
        `the model normalises its own input (${p.in_graph}) and a preprocessing mean/std is given as well ` +
        `(from ${[...new Set(given)].join(', ')}): the input is normalised twice; remove the mean/std`,
    },
  ];
}

/** "1" per image still correct after every attack (each attack's fooled mask includes the clean mistakes). */
function robustPerImage(attacks: Evaluation['attacks']): string {
  const n = attacks[0]!.fooled.length;
  let bits = '';
  for (let i = 0; i < n; i++) bits += attacks.some((a) => a.fooled[i]) ? '0' : '1';
  return bits;
}

/** The near-chance warning of a report's clean accuracy (the sign of missing or doubled normalisation). */
export function nearChanceDiagnostics(
  report: Pick<Report, 'clean_accuracy' | 'n' | 'class_names'>,
): ReportDiagnostic[] {
  const message = nearChanceMessage(report.clean_accuracy, report.n, report.class_names.length);
  return message ? [{ id: 'near-chance', severity: 'warning', message }] : [];
}

/** One finding per id (the first, which comes from the stronger source), errors first. */
export function mergeDiagnostics(all: ReportDiagnostic[]): ReportDiagnostic[] {
  const rank = { error: 0, warning: 1, info: 2 } as const;
  const seen = new Set<string>();
  return all.filter((d) => !seen.has(d.id) && seen.add(d.id)).sort((a, b) => rank[a.severity] - rank[b.severity]);
}

/** Checks that need no extra model queries: they read the accuracies the evaluation measured. */
export function attackDiagnostics(report: Pick<Report, 'attacks' | 'n'>): ReportDiagnostic[] {
  const found: ReportDiagnostic[] = [];
  // Single-step or iterative as the catalogue says (an attack not in it, e.g. a renamed one, counts as iterative).
  const isIterative = (id: string) => attackInfo(id)?.iterative ?? true;
  const single = report.attacks.filter((a) => !isIterative(a.id));
  const iterative = report.attacks.filter((a) => isIterative(a.id));
  for (const s of single) {
    for (const it of iterative) {
      if (s.robust_accuracy < it.robust_accuracy - 1 / Math.max(1, report.n)) {
        found.push({
          id: 'single-step-beats-iterative',
          severity: 'warning',
          masking: true,
          message:
            `${s.label} (${pct(s.robust_accuracy)}) beats ${it.label} (${pct(it.robust_accuracy)}): ` +
            'the iterative attack is not converging, ' +
            'a sign of gradient masking or a too-small step size. Raise the steps or restarts, ' +
            'and do not trust the higher number.',
        });
      }
    }
  }
  return found;
}

function examplesOf(evaluation: Evaluation, ctx: ReportContext): ReportExample[] {
  const { bounds, norm, eps } = { ...evaluation.threat, eps: evaluation.threat.eps };
  return evaluation.examples.map((ex) => {
    const delta = ex.advPixels.map((v, i) => v - ex.cleanPixels[i]!);
    const maxAbs = delta.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    // L∞: ±ε maps to full colour, so images compare across rows; L2: each row's own max.
    const scale = norm === 'linf' && typeof eps === 'number' && eps > 0 ? eps : maxAbs;
    const name = (k: number) => ctx.classNames[k] ?? `class ${k}`;
    // Fooled means an attack changed a correct prediction; a clean mistake was never attacked.
    const outcome: ExampleOutcome =
      ex.cleanPrediction !== ex.label ? 'clean-mistake' : ex.advPrediction !== ex.label ? 'fooled' : 'robust';
    return {
      index: ex.index,
      label: name(ex.label),
      clean: {
        prediction: name(ex.cleanPrediction),
        confidence: ex.cleanConfidence,
        png: imagePng(ex.cleanPixels, ctx.shape, bounds),
      },
      perturbation: { png: perturbationPng(delta, ctx.shape, scale), scale },
      adversarial: {
        prediction: name(ex.advPrediction),
        confidence: ex.advConfidence,
        png: imagePng(ex.advPixels, ctx.shape, bounds),
        attack: ex.attackId,
        attack_label: ex.attackLabel,
      },
      fooled: outcome === 'fooled',
      outcome,
    };
  });
}

export function buildReport(evaluation: Evaluation, ctx: ReportContext): Report {
  const eps = evaluation.threat.eps;
  const report: Report = {
    tool: { name: 'robustness-lab', version: ctx.version },
    command: ctx.command,
    created: new Date().toISOString(),
    model: ctx.model,
    dataset: ctx.dataset,
    n: evaluation.n,
    threat: {
      norm: evaluation.threat.norm,
      eps: typeof eps === 'number' ? eps : eps.reduce((max, e) => Math.max(max, e), 0),
      bounds: evaluation.threat.bounds,
    },
    backend: ctx.backend,
    workers: 1,
    clean_accuracy: evaluation.cleanAccuracy,
    clean_ci95: accuracyCi95(evaluation.cleanAccuracy, evaluation.n),
    attacks: evaluation.attacks.map((a) => ({
      id: a.id,
      label: a.label,
      params: a.params,
      robust_accuracy: a.robustAccuracy,
      ci95: accuracyCi95(a.robustAccuracy, evaluation.n),
      time_s: a.timeSeconds,
      forward_passes: a.forwardPasses,
      backward_passes: a.backwardPasses,
      ...(a.surrogatePasses
        ? { surrogate_forward_passes: a.surrogatePasses.forward, surrogate_backward_passes: a.surrogatePasses.backward }
        : {}),
    })),
    robust_accuracy: evaluation.robustAccuracy,
    robust_ci95: accuracyCi95(evaluation.robustAccuracy, evaluation.n),
    ...(evaluation.attacks.length > 0 ? { robust_per_image: robustPerImage(evaluation.attacks) } : {}),
    curve: ctx.curves[0]?.points ?? [],
    curves: ctx.curves,
    diagnostics: [],
    suite: ctx.suite ?? null,
    cascade: evaluation.cascade,
    checks: {
      max_distance_over_eps: evaluation.checks.maxDistanceOverEps,
      in_bounds: evaluation.checks.inBounds,
      finite: evaluation.checks.finite,
    },
    ...(ctx.geometry ? { geometry: geometrySection(ctx.geometry, evaluation.threat.norm) } : {}),
    ...(ctx.preprocess ? { preprocess: ctx.preprocess } : {}),
    class_names: ctx.classNames,
    examples: examplesOf(evaluation, ctx),
    time_s: ctx.seconds,
  };
  report.diagnostics = mergeDiagnostics([
    ...modelDiagnostics(ctx.modelWarnings),
    ...preprocessDiagnostics(ctx.preprocess),
    ...nearChanceDiagnostics(report),
    ...(evaluation.cascade ? [] : attackDiagnostics(report)),
    ...evaluationDiagnostics(evaluation, ctx.shard),
    ...suiteDiagnostics(report),
    ...(ctx.probes ?? []),
  ]);
  return report;
}
