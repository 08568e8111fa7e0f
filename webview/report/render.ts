/**
 * Renders a report.json into the page: summary table, diagnostics banner, accuracy-vs-ε
 * chart (Chart.js) and the image grid. The same code draws the standalone report.html and
 * the editor's attack panel; colours come from --vscode-* variables with light fallbacks.
 */
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
} from 'chart.js';
import type { Report, ReportAttack, ReportExample, ReportGeometry } from '../../src/protocol/report';
import type { PanelState } from '../../src/protocol/messages/attack-panel';
import type { FinishedStage } from '../../src/protocol/messages/worker';
import { duration, pct } from '../../src/protocol/format';
import {
  attackSkipped,
  maskingAdvice,
  runningStage,
  SKIPPED_ALL_FOOLED,
  stagePosition,
  stageResult,
  SUITE_TABLE,
} from '../../src/protocol/suites';
import { SUITES, type SuiteId } from '../../src/protocol/vocabulary';
import { NORM_LABELS } from '../../src/protocol/vocabulary';

Chart.register(
  LineController,
  LineElement,
  PointElement,
  BarController,
  BarElement,
  LinearScale,
  CategoryScale,
  Legend,
  Tooltip,
);

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: Array<Node | string>
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  node.append(...children);
  return node;
}

function cssVar(name: string, fallback: string): string {
  return getComputedStyle(document.body).getPropertyValue(name).trim() || fallback;
}

function summary(report: Report): HTMLElement {
  const rows = [
    el(
      'tr',
      {},
      el('td', {}, 'Clean'),
      el('td', { class: 'num' }, pct(report.clean_accuracy)),
      el('td', {}, ''),
      el('td', {}, ''),
      el('td', {}, ''),
    ),
    ...report.attacks.map(attackRow),
    el(
      'tr',
      { class: 'total' },
      el('td', {}, 'Worst case over attacks'),
      el('td', { class: 'num' }, pct(report.robust_accuracy)),
      el('td', {}, ''),
      el('td', {}, ''),
      el('td', {}, ''),
    ),
  ];
  // A suite runs each attack on the points still robust: its rows are accuracies after each stage.
  const caption = report.suite
    ? el(
        'caption',
        {},
        `${report.suite} suite: each attack runs only on the points still robust; accuracy after each stage`,
      )
    : el('caption', {}, 'each attack on every clean-correct point; worst case per sample');
  if (report.partial) {
    const { cancelled_after, stages_done, stages_total } = report.partial;
    caption.prepend(
      el(
        'strong',
        { class: 'partial', id: 'partial' },
        `Partial: cancelled after ${cancelled_after} (${stages_done} of ${stages_total} stages). `,
      ),
    );
  }
  const checks = report.checks
    ? el(
        'tfoot',
        {},
        el(
          'tr',
          {},
          el(
            'td',
            { colspan: '5', class: 'checks', id: 'checks' },
            `Final check of every example: max ‖x′−x‖/ε ${report.checks.max_distance_over_eps.toFixed(4)} ` +
              `· in bounds ${report.checks.in_bounds ? 'yes' : 'NO'} · finite ${report.checks.finite ? 'yes' : 'NO'}`,
          ),
        ),
      )
    : '';
  return el(
    'table',
    {
      class: 'summary',
      id: 'summary',
      'data-clean': String(report.clean_accuracy),
      'data-robust': String(report.robust_accuracy),
    },
    caption,
    el(
      'thead',
      {},
      el(
        'tr',
        {},
        el('th', {}, report.cascade ? 'Stage' : 'Attack'),
        el('th', {}, report.cascade ? 'Accuracy after' : 'Accuracy'),
        el('th', {}, 'Time'),
        el('th', {}, 'Forward'),
        el('th', {}, 'Backward'),
      ),
    ),
    el('tbody', {}, ...rows),
    checks,
  );
}

/** One attack's row; a stage that had no point left to attack says so instead of "0.00 s 0 0". */
function attackRow(a: ReportAttack): HTMLElement {
  const cells = attackSkipped(a)
    ? [el('td', { colspan: '3', class: 'skipped' }, SKIPPED_ALL_FOOLED)]
    : [
        el('td', { class: 'num' }, duration(a.time_s, 2)),
        el('td', { class: 'num' }, a.forward_passes.toLocaleString('en')),
        el('td', { class: 'num' }, a.backward_passes.toLocaleString('en')),
      ];
  return el('tr', {}, el('td', {}, a.label), el('td', { class: 'num' }, pct(a.robust_accuracy)), ...cells);
}

/** What this panel does: the suite's cascade, or an attack list with its curve. */
export function helpLine(suite: string | undefined): string {
  if (suite && (SUITES as readonly string[]).includes(suite)) {
    // The editor's runs have no surrogate model: the summary's optional transfer stage is left out.
    const stages = SUITE_TABLE[suite as SuiteId].summary.replace(/ \(→ [^)]*\)$/, '');
    return (
      `The ${suite} suite (${stages}): clean accuracy first, then each stage ` +
      'attacks only the points still robust after the stages before it, so accuracy falls stage by stage; ' +
      'the lowest, after the last stage, is the robust accuracy. Then the gradient-masking diagnostics ' +
      'and the local geometry.'
    );
  }
  return 'Clean accuracy first, then each attack on every clean-correct point, then the accuracy-vs-ε curve.';
}

/** One finished stage: an attack's numbers, or what the diagnostics, geometry or curve found. */
function stageRow(stage: FinishedStage): HTMLElement {
  const attrs = {
    'data-kind': stage.kind,
    'data-index': String(stage.index),
    ...(stage.accuracy !== undefined ? { 'data-accuracy': String(stage.accuracy) } : {}),
    ...(stage.skipped ? { 'data-skipped': 'true' } : {}),
  };
  const label = el('td', {}, stage.index === 0 ? 'Clean' : `${stage.index}. ${stage.label}`);
  if (stage.skipped) {
    return el(
      'tr',
      attrs,
      label,
      el('td', { class: 'num' }, pct(stage.accuracy ?? 0)),
      el('td', { colspan: '3', class: 'skipped' }, SKIPPED_ALL_FOOLED),
    );
  }
  if (stage.kind === 'clean' || stage.kind === 'attack') {
    const passes = (v: number | undefined) => (v === undefined ? '' : v.toLocaleString('en'));
    return el(
      'tr',
      attrs,
      label,
      el('td', { class: 'num' }, `${pct(stage.accuracy ?? 0)} (${stage.robust ?? 0}/${stage.n})`),
      el('td', { class: 'num' }, duration(stage.seconds, 2)),
      el('td', { class: 'num' }, passes(stage.forwardPasses)),
      el('td', { class: 'num' }, passes(stage.backwardPasses)),
    );
  }
  return el(
    'tr',
    attrs,
    label,
    el('td', { colspan: '1' }, stageResult(stage)),
    el('td', { class: 'num' }, duration(stage.seconds, 2)),
    el('td', {}, ''),
    el('td', {}, ''),
  );
}

/**
 * The panel while a run runs (or after it ended with no report): what the panel does, the
 * stage running, and each finished stage as it came (clean first).
 */
export function renderRun(root: HTMLElement, state: PanelState): void {
  const stages = state.stages ?? [];
  const help = el('p', { class: 'meta', id: 'panel-help' }, helpLine(state.suite));
  // While it runs, the toolbar's status is the progress line; once cancelled, this says what is left.
  const line =
    state.status === 'cancelled'
      ? [
          el(
            'p',
            { class: 'stage-progress', id: 'stage-progress' },
            stages.length
              ? `Cancelled after ${stages[stages.length - 1]!.label}; no attack stage had finished, so no report was kept.`
              : 'The run was cancelled; nothing was kept.',
          ),
        ]
      : [];
  const last = stages[stages.length - 1];
  const table = stages.length
    ? [
        el(
          'table',
          {
            class: 'summary stages',
            id: 'stages',
            'data-done': String(last && last.index),
            'data-total': String(last?.total ?? 0),
          },
          el(
            'caption',
            {},
            state.status !== 'running'
              ? 'the stages that finished'
              : last && last.index > 0
                ? `${stagePosition(last)} done` +
                  (runningStage(stages) ? `, ${runningStage(stages)} running` : '') +
                  (state.suite ? '; accuracy after each stage' : '')
                : 'clean accuracy known; the first stage is running',
          ),
          el(
            'thead',
            {},
            el(
              'tr',
              {},
              el('th', {}, 'Stage'),
              el('th', {}, state.suite ? 'Accuracy after' : 'Accuracy'),
              el('th', {}, 'Time'),
              el('th', {}, 'Forward'),
              el('th', {}, 'Backward'),
            ),
          ),
          el('tbody', {}, ...stages.map(stageRow)),
        ),
      ]
    : [];
  root.replaceChildren(help, ...line, ...table);
}

function chart(report: Report): HTMLElement {
  const canvas = el('canvas', { id: 'curve-canvas', 'aria-label': 'Accuracy versus epsilon' });
  const pointCount = Math.min(...report.curves.map((c) => c.points.length));
  const box = el(
    'div',
    {
      class: 'chart',
      id: 'curve',
      'data-points': String(report.curves.length ? pointCount : 0),
      'data-series': String(report.curves.length),
    },
    canvas,
  );
  const palette = ['#d9480f', '#1c7ed6', '#2f9e44', '#ae3ec9', '#f08c00'];
  const grid = [...new Set(report.curves.flatMap((c) => c.points.map((p) => p.eps)))].sort((a, b) => a - b);
  const fg = cssVar('--vscode-foreground', '#333');
  const line = cssVar('--vscode-editorWidget-border', '#ccc');
  queueMicrotask(
    () =>
      new Chart(canvas, {
        type: 'line',
        data: {
          labels: grid.map(String),
          datasets: [
            ...report.curves.map((c, i) => ({
              label: c.attack,
              data: grid.map((e) => c.points.find((p) => p.eps === e)?.accuracy ?? null),
              borderColor: palette[i % palette.length],
              backgroundColor: palette[i % palette.length],
              tension: 0,
              spanGaps: true,
            })),
            {
              label: 'clean',
              data: grid.map(() => report.clean_accuracy),
              borderColor: fg,
              borderDash: [4, 4],
              pointRadius: 0,
              backgroundColor: fg,
            },
          ],
        },
        options: {
          animation: false,
          responsive: true,
          maintainAspectRatio: false,
          scales: {
            x: {
              title: { display: true, text: `ε (${NORM_LABELS[report.threat.norm]})`, color: fg },
              ticks: { color: fg },
              grid: { color: line },
            },
            y: {
              min: 0,
              max: 1,
              title: { display: true, text: 'accuracy', color: fg },
              ticks: { color: fg, callback: (v) => pct(Number(v)) },
              grid: { color: line },
            },
          },
          plugins: {
            legend: { labels: { color: fg } },
            tooltip: { callbacks: { label: (ctx) => `${ctx.dataset.label}: ${pct(Number(ctx.parsed.y))}` } },
          },
        },
      }),
  );
  return box;
}

/** Counts of `values` in `bins` equal-width bins from 0 to the maximum. */
function histogram(values: number[], bins: number): { labels: string[]; counts: number[] } {
  const max = Math.max(...values, 1e-12);
  const width = max / bins;
  const counts = new Array<number>(bins).fill(0);
  for (const v of values) counts[Math.min(bins - 1, Math.floor(v / width))]!++;
  const fmt = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 1 ? v.toFixed(1) : v.toPrecision(2));
  return { labels: counts.map((_, i) => `${fmt(i * width)}–${fmt((i + 1) * width)}`), counts };
}

/** C (robust representations) and γ (local linearity): quantiles, the example models' medians, and C's histogram. */
function geometry(g: ReportGeometry): HTMLElement {
  const f = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toPrecision(3));
  const stat = (label: string, d: { mean: number; median: number; p90: number; max: number }) =>
    el('tr', {}, el('td', {}, label), ...[d.median, d.p90, d.max, d.mean].map((v) => el('td', { class: 'num' }, f(v))));
  const cLabel = (layer: string) => `C, layer ${layer}: ‖f(x)−f(x′)‖₂ / ε`;
  const rows = [
    ...(g.representation ? [stat(cLabel(g.representation.layer), g.representation)] : []),
    stat('γ: max |ℓ(x+δ) − ℓ(x) − δᵀ∇ℓ(x)|', g.linearity),
  ];
  const refs = g.reference.map((r) =>
    el(
      'li',
      {},
      `${r.model}: ${r.c_median === null ? '' : `C median ${f(r.c_median)} · `}γ median ${f(r.gamma_median)}`,
    ),
  );
  const section = el(
    'section',
    {
      class: 'geometry',
      id: 'geometry',
      'data-c-median': String(g.representation?.median ?? ''),
      'data-gamma-median': String(g.linearity.median),
    },
    el('h2', {}, `Local geometry (first ${g.n} test images, ε = ${g.eps}, PGD-${g.steps} in input space)`),
    el(
      'table',
      { class: 'summary' },
      el(
        'thead',
        {},
        el(
          'tr',
          {},
          el('th', {}, 'Quantity'),
          el('th', {}, 'Median'),
          el('th', {}, 'p90'),
          el('th', {}, 'Max'),
          el('th', {}, 'Mean'),
        ),
      ),
      el('tbody', {}, ...rows),
    ),
    el(
      'p',
      { class: 'meta' },
      'C bounds how far a hidden representation moves inside the ball (robust training shrinks it); ' +
        "γ is how far the loss strays from its gradient's prediction (large or exactly zero γ where gradients " +
        'vanish means gradient attacks cannot be trusted).',
    ),
    ...(refs.length
      ? [el('p', { class: 'meta' }, 'The example models at the same setting:'), el('ul', { class: 'meta' }, ...refs)]
      : []),
  );
  if (g.representation && g.representation.values.length) {
    const canvas = el('canvas', { id: 'c-histogram', 'aria-label': 'Histogram of C over samples' });
    section.append(el('div', { class: 'chart small' }, canvas));
    const h = histogram(g.representation.values, 12);
    const fg = cssVar('--vscode-foreground', '#333');
    queueMicrotask(
      () =>
        new Chart(canvas, {
          type: 'bar',
          data: {
            labels: h.labels,
            datasets: [
              { label: `C per sample (layer ${g.representation!.layer})`, data: h.counts, backgroundColor: '#1c7ed6' },
            ],
          },
          options: {
            animation: false,
            responsive: true,
            maintainAspectRatio: false,
            scales: {
              x: { ticks: { color: fg } },
              y: { title: { display: true, text: 'samples', color: fg }, ticks: { color: fg } },
            },
            plugins: { legend: { labels: { color: fg } } },
          },
        }),
    );
  }
  return section;
}

function cell(src: string, caption: string, cls: string): HTMLElement {
  return el(
    'figure',
    { class: cls },
    el('img', { src, alt: caption, width: '84', height: '84' }),
    el('figcaption', {}, caption),
  );
}

function row(ex: ReportExample): HTMLElement {
  const mark = ex.fooled ? ' ✗' : ' ✓';
  return el(
    'div',
    { class: `row ${ex.fooled ? 'fooled' : 'held'}`, 'data-index': String(ex.index) },
    cell(ex.clean.png, `${ex.label} · ${ex.clean.prediction} ${pct(ex.clean.confidence)}`, 'clean'),
    cell(ex.perturbation.png, `δ: ±${+ex.perturbation.scale.toFixed(4)} shown as ±1`, 'delta'),
    cell(ex.adversarial.png, `${ex.adversarial.prediction} ${pct(ex.adversarial.confidence)}${mark}`, 'adv'),
  );
}

function grid(report: Report): HTMLElement {
  const rows = el('div', { class: 'rows', id: 'grid' });
  const fooledOnly = el('input', { type: 'checkbox', id: 'fooled-only' });
  const sort = el(
    'select',
    { id: 'sort' },
    el('option', { value: 'index' }, 'dataset order'),
    el('option', { value: 'drop' }, 'confidence drop'),
  );
  const draw = () => {
    let shown = report.examples.filter((e) => !fooledOnly.checked || e.fooled);
    if (sort.value === 'drop') {
      const drop = (e: ReportExample) =>
        e.clean.confidence - (e.adversarial.prediction === e.clean.prediction ? e.adversarial.confidence : 0);
      shown = [...shown].sort((a, b) => drop(b) - drop(a));
    }
    rows.replaceChildren(...shown.map(row));
  };
  fooledOnly.addEventListener('change', draw);
  sort.addEventListener('change', draw);
  draw();
  const fooledCount = report.examples.filter((e) => e.fooled).length;
  return el(
    'section',
    {},
    el('h2', {}, `Samples (${fooledCount} of ${report.examples.length} fooled)`),
    el('div', { class: 'controls' }, el('label', {}, fooledOnly, ' fooled only'), el('label', {}, ' sort by ', sort)),
    el(
      'div',
      { class: 'row head' },
      el('span', {}, 'clean · true · predicted'),
      el('span', {}, 'perturbation (amplified)'),
      el('span', {}, 'adversarial'),
    ),
    rows,
  );
}

export function renderReport(root: HTMLElement, report: Report): void {
  const eps = report.threat.eps;
  const banners = report.diagnostics.map((d) =>
    el(
      'div',
      { class: `banner ${d.severity}`, role: 'alert', 'data-id': d.id },
      `${d.severity.toUpperCase()} · ${d.id}: ${d.message}`,
    ),
  );
  const masking = report.diagnostics.filter((d) => d.masking);
  // Gradient masking heads the report: every gradient-attack number below it is an upper bound.
  const maskingBanner = masking.length
    ? [
        el(
          'div',
          { class: 'masking', id: 'masking-banner', role: 'alert' },
          el('strong', {}, 'Gradient masking detected. '),
          `${masking.length} check${masking.length > 1 ? 's' : ''} (${masking.map((d) => d.id).join(', ')}) ` +
            `say this model's gradients mislead attacks. ` +
            `Gradient-attack accuracies overstate its robustness. ${maskingAdvice(report.suite)}`,
        ),
      ]
    : [];
  root.replaceChildren(
    el(
      'header',
      {},
      el('h1', {}, `Robustness of ${report.model}`),
      el(
        'p',
        { class: 'meta' },
        `${report.dataset} · first ${report.n} test images · ${NORM_LABELS[report.threat.norm]} ε=${eps} ` +
          `(${+(eps * 255).toFixed(2)}/255) · bounds [${report.threat.bounds.join(', ')}] ` +
          `· backend ${report.backend} · ${duration(report.time_s)}`,
      ),
    ),
    ...maskingBanner,
    ...banners,
    // A report with no curve (a partial one, or a run without a grid) has no empty chart.
    el('div', { class: 'top' }, summary(report), ...(report.curves.length ? [chart(report)] : [])),
    ...(report.geometry ? [geometry(report.geometry)] : []),
    grid(report),
  );
}
