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
import { accuracyCi95, ciText, pctCi } from '../../src/protocol/stats';
import {
  attackSkipped,
  maskingAdvice,
  runningStage,
  SKIPPED_ALL_FOOLED,
  stagePosition,
  stageResult,
  SUITE_TABLE,
} from '../../src/protocol/suites';
import {
  confidenceDrop,
  datasetLabel,
  dropText,
  exampleAttack,
  exampleOutcome,
  exampleVerdict,
  nSourceText,
  outcomeCounts,
  preprocessText,
  samplesSummary,
} from '../../src/protocol/report-text';
import { NORM_LABELS, SUITES, type ExampleOutcome, type SuiteId } from '../../src/protocol/vocabulary';
import { cssVar, onThemeChange } from '../theme';

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

/**
 * The charts on the page, each with the function that draws it: canvases cannot read CSS
 * variables, so a theme change (VS Code swaps the body's vscode-light/-dark/-high-contrast class
 * and the --vscode-* variables) destroys and redraws each with the new colours.
 */
const themedCharts = new Map<HTMLCanvasElement, { chart?: Chart; draw: () => Chart }>();

function themedChart(canvas: HTMLCanvasElement, draw: () => Chart): void {
  const entry: { chart?: Chart; draw: () => Chart } = { draw };
  themedCharts.set(canvas, entry);
  queueMicrotask(() => {
    if (themedCharts.get(canvas) === entry) entry.chart = draw();
  });
}

function redrawCharts(): void {
  for (const [canvas, entry] of themedCharts) {
    if (!canvas.isConnected) {
      entry.chart?.destroy();
      themedCharts.delete(canvas);
      continue;
    }
    entry.chart?.destroy();
    entry.chart = entry.draw();
  }
}

let themeWatched = false;

function watchTheme(): void {
  if (themeWatched) return;
  themeWatched = true;
  onThemeChange(redrawCharts);
}

const SVG = 'http://www.w3.org/2000/svg';

/** A short line in the series' colour (dashed for the clean reference), as the curve draws it. */
function swatch(color: string, dashed: boolean): SVGSVGElement {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('class', 'swatch');
  svg.setAttribute('width', '30');
  svg.setAttribute('height', '10');
  svg.setAttribute('viewBox', '0 0 30 10');
  svg.setAttribute('aria-hidden', 'true');
  const line = document.createElementNS(SVG, 'line');
  for (const [k, v] of Object.entries({ x1: '1', y1: '5', x2: '29', y2: '5', 'stroke-width': '2' }))
    line.setAttribute(k, v);
  line.setAttribute('stroke', color);
  if (dashed) line.setAttribute('stroke-dasharray', '5 4');
  svg.append(line);
  return svg;
}

function summary(report: Report): HTMLElement {
  const rows = [
    el(
      'tr',
      {},
      el('td', {}, 'Clean'),
      el('td', { class: 'num' }, pct(report.clean_accuracy)),
      ciCell(report.clean_accuracy, report.n),
      el('td', {}, ''),
      el('td', {}, ''),
      el('td', {}, ''),
    ),
    ...report.attacks.map((a) => attackRow(a, report.n)),
    el(
      'tr',
      { class: 'total' },
      el('td', {}, 'Worst case over attacks'),
      el('td', { class: 'num' }, pct(report.robust_accuracy)),
      ciCell(report.robust_accuracy, report.n),
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
            { colspan: '6', class: 'checks', id: 'checks' },
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
        el('th', { title: '95% Wilson score interval over the n images' }, '95% CI'),
        el('th', {}, 'Time'),
        el('th', {}, 'Forward'),
        el('th', {}, 'Backward'),
      ),
    ),
    el('tbody', {}, ...rows),
    checks,
  );
}

/** An accuracy's 95% Wilson interval: "± 2.8" (the larger side), with [lo, hi] in its tooltip. */
function ciCell(accuracy: number, n: number): HTMLElement {
  const [lo, hi] = accuracyCi95(accuracy, n);
  return el('td', { class: 'ci', title: `95% Wilson interval [${pct(lo)}, ${pct(hi)}]` }, ciText(accuracy, n));
}

/** One attack's row; a stage that had no point left to attack says so instead of "0.00 s 0 0". */
function attackRow(a: ReportAttack, n: number): HTMLElement {
  const cells = attackSkipped(a)
    ? [el('td', { colspan: '3', class: 'skipped' }, SKIPPED_ALL_FOOLED)]
    : [
        el('td', { class: 'num' }, duration(a.time_s, 2)),
        el('td', { class: 'num' }, a.forward_passes.toLocaleString('en')),
        el('td', { class: 'num' }, a.backward_passes.toLocaleString('en')),
      ];
  return el(
    'tr',
    {},
    el('td', {}, a.label),
    el('td', { class: 'num' }, pct(a.robust_accuracy)),
    ciCell(a.robust_accuracy, n),
    ...cells,
  );
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
      el('td', { class: 'num' }, pctCi(stage.accuracy ?? 0, stage.n)),
      el('td', { colspan: '3', class: 'skipped' }, SKIPPED_ALL_FOOLED),
    );
  }
  if (stage.kind === 'clean' || stage.kind === 'attack') {
    const passes = (v: number | undefined) => (v === undefined ? '' : v.toLocaleString('en'));
    return el(
      'tr',
      attrs,
      label,
      el('td', { class: 'num' }, `${pctCi(stage.accuracy ?? 0, stage.n)} (${stage.robust ?? 0}/${stage.n})`),
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
            !stages.length
              ? 'The run was cancelled; nothing was kept.'
              : state.keepsPartial === false
                ? `Cancelled after ${stages[stages.length - 1]!.label}; the run was split across workers, so no ` +
                  'report was kept.'
                : `Cancelled after ${stages[stages.length - 1]!.label}; no attack stage had finished, so no report ` +
                  'was kept.',
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
  const palette = ['#d9480f', '#1c7ed6', '#2f9e44', '#ae3ec9', '#f08c00'];
  const grid = [...new Set(report.curves.flatMap((c) => c.points.map((p) => p.eps)))].sort((a, b) => a - b);
  const series = [
    ...report.curves.map((c, i) => ({ label: c.attack, color: palette[i % palette.length]!, dashed: false })),
    { label: 'clean', color: 'currentColor', dashed: true },
  ];
  // Chart.js draws a dashed series' legend box as a dashed rectangle (a scribble at this size):
  // the legend is HTML, with a short line per series, and toggles the series as Chart.js's would.
  const hidden = new Set<number>();
  const legend = el('ul', { class: 'legend', id: 'curve-legend' });
  const box = el(
    'div',
    {
      class: 'chart curve',
      id: 'curve',
      'data-points': String(report.curves.length ? pointCount : 0),
      'data-series': String(report.curves.length),
    },
    el('div', { class: 'chart-canvas' }, canvas),
    legend,
  );
  let current: Chart | undefined;
  legend.append(
    ...series.map((s, i) => {
      const item = el('button', { type: 'button', 'aria-pressed': 'true', 'data-series': s.label });
      item.append(swatch(s.color, s.dashed), s.label);
      item.addEventListener('click', () => {
        if (hidden.has(i)) hidden.delete(i);
        else hidden.add(i);
        item.setAttribute('aria-pressed', String(!hidden.has(i)));
        current?.setDatasetVisibility(i, !hidden.has(i));
        current?.update();
      });
      return el('li', {}, item);
    }),
  );
  themedChart(canvas, () => {
    const fg = cssVar('--vscode-foreground', '#333');
    const line = cssVar('--vscode-editorWidget-border', '#ccc');
    box.dataset.fg = fg;
    current = new Chart(canvas, {
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
            borderDash: [5, 4],
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
          legend: { display: false },
          tooltip: { callbacks: { label: (ctx) => `${ctx.dataset.label}: ${pct(Number(ctx.parsed.y))}` } },
        },
      },
    });
    for (const i of hidden) current.setDatasetVisibility(i, false);
    current.update();
    return current;
  });
  return box;
}

/**
 * The curve as a PNG for export: the chart, then its legend (HTML on the page, so drawn here with
 * the same dashes), on the page's background so the file reads on its own.
 */
export function curvePng(): string | undefined {
  const canvas = document.getElementById('curve-canvas') as HTMLCanvasElement | null;
  if (!canvas || canvas.width === 0) return undefined;
  const scale = canvas.clientWidth > 0 ? canvas.width / canvas.clientWidth : 1;
  const band = Math.round(28 * scale);
  const out = document.createElement('canvas');
  out.width = canvas.width;
  out.height = canvas.height + band;
  const ctx = out.getContext('2d');
  if (!ctx) return undefined;
  const page = getComputedStyle(document.body);
  ctx.fillStyle = page.backgroundColor || '#ffffff';
  ctx.fillRect(0, 0, out.width, out.height);
  ctx.drawImage(canvas, 0, 0);
  const items = [...document.querySelectorAll<HTMLButtonElement>('#curve-legend button[aria-pressed="true"]')].map(
    (button) => {
      const line = button.querySelector('line');
      return {
        label: button.textContent ?? '',
        stroke: line?.getAttribute('stroke') ?? page.color,
        dash: (line?.getAttribute('stroke-dasharray') ?? '').split(' ').filter(Boolean).map(Number),
      };
    },
  );
  ctx.font = `${Math.round(12 * scale)}px ${page.fontFamily || 'sans-serif'}`;
  ctx.textBaseline = 'middle';
  const swatchWidth = 30 * scale;
  const gap = 6 * scale;
  const spacing = 16 * scale;
  const widths = items.map((item) => swatchWidth + gap + ctx.measureText(item.label).width);
  let x = (out.width - (widths.reduce((a, b) => a + b, 0) + spacing * Math.max(0, items.length - 1))) / 2;
  const y = canvas.height + band / 2;
  items.forEach((item, i) => {
    ctx.strokeStyle = item.stroke === 'currentColor' ? page.color : item.stroke;
    ctx.lineWidth = 2 * scale;
    ctx.setLineDash(item.dash.map((d) => d * scale));
    ctx.beginPath();
    ctx.moveTo(x, y);
    ctx.lineTo(x + swatchWidth, y);
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.fillStyle = page.color;
    ctx.fillText(item.label, x + swatchWidth + gap, y);
    x += widths[i]! + spacing;
  });
  return out.toDataURL('image/png');
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
    themedChart(canvas, () => {
      const fg = cssVar('--vscode-foreground', '#333');
      return new Chart(canvas, {
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
      });
    });
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

/**
 * One sample: its number, what the attack did and which attack did it, then the triplet (clean,
 * perturbation, adversarial). A clean mistake shows its clean image marked ✗ and no attack.
 */
function row(ex: ReportExample, showDrop: boolean): HTMLElement {
  const outcome = exampleOutcome(ex);
  const head = el(
    'div',
    { class: 'row-head' },
    el('span', { class: 'index' }, `#${ex.index}`),
    el('span', { class: 'verdict' }, exampleVerdict(ex)),
    ...(showDrop ? [el('span', { class: 'drop' }, dropText(confidenceDrop(ex)))] : []),
  );
  const cleanMark = outcome === 'clean-mistake' ? ' ✗' : ' ✓';
  const clean = cell(
    ex.clean.png,
    `true ${ex.label}\n${ex.clean.prediction} ${pct(ex.clean.confidence)}${cleanMark}`,
    'clean',
  );
  const rest =
    outcome === 'clean-mistake'
      ? [
          el(
            'p',
            { class: 'already-wrong' },
            'already wrong: the model misclassifies the clean image, so no attack ran',
          ),
        ]
      : [
          cell(ex.perturbation.png, `δ: ±${+ex.perturbation.scale.toFixed(4)} shown as ±1`, 'delta'),
          cell(
            ex.adversarial.png,
            `${ex.adversarial.prediction} ${pct(ex.adversarial.confidence)}${outcome === 'fooled' ? ' ✗' : ' ✓'}`,
            'adv',
          ),
        ];
  return el(
    'div',
    {
      class: `row ${outcome}`,
      'data-index': String(ex.index),
      'data-outcome': outcome,
      'data-attack': outcome === 'clean-mistake' ? '' : exampleAttack(ex),
    },
    head,
    clean,
    ...rest,
  );
}

/** The filters of the grid: every sample, or one outcome. */
const FILTERS: ReadonlyArray<{ value: 'all' | ExampleOutcome; label: string }> = [
  { value: 'all', label: 'all' },
  { value: 'fooled', label: 'fooled only' },
  { value: 'robust', label: 'robust' },
  { value: 'clean-mistake', label: 'clean mistakes' },
];

function grid(report: Report): HTMLElement {
  const rows = el('div', { class: 'rows', id: 'grid' });
  const counts = outcomeCounts(report.examples);
  const countOf: Record<'all' | ExampleOutcome, number> = {
    all: report.examples.length,
    fooled: counts.fooled,
    robust: counts.robust,
    'clean-mistake': counts.cleanMistakes,
  };
  let filter: 'all' | ExampleOutcome = 'all';
  const filters = el('div', { class: 'filters', role: 'radiogroup', 'aria-label': 'Show' });
  const sort = el(
    'select',
    { id: 'sort' },
    el('option', { value: 'index' }, 'dataset order'),
    el('option', { value: 'drop' }, 'confidence drop'),
  );
  const draw = () => {
    let shown = report.examples.filter((e) => filter === 'all' || exampleOutcome(e) === filter);
    const byDrop = sort.value === 'drop';
    if (byDrop) shown = [...shown].sort((a, b) => confidenceDrop(b) - confidenceDrop(a));
    rows.dataset.filter = filter;
    rows.replaceChildren(...shown.map((ex) => row(ex, byDrop)));
  };
  for (const f of FILTERS) {
    const input = el('input', { type: 'radio', name: 'show', id: `filter-${f.value}`, value: f.value });
    input.checked = f.value === filter;
    input.addEventListener('change', () => {
      if (!input.checked) return;
      filter = f.value;
      draw();
    });
    filters.append(el('label', {}, input, ` ${f.label} (${countOf[f.value]})`));
  }
  sort.addEventListener('change', draw);
  draw();
  return el(
    'section',
    { class: 'samples' },
    el(
      'h2',
      {
        id: 'samples-heading',
        'data-fooled': String(counts.fooled),
        'data-attacked': String(counts.attacked),
        'data-clean-mistakes': String(counts.cleanMistakes),
      },
      `Samples (${samplesSummary(report.examples)})`,
    ),
    el('div', { class: 'controls' }, filters, el('label', {}, 'sort by ', sort)),
    rows,
  );
}

/** What the page knows beyond the report: the host's name for the data (workspace-relative). */
export interface RenderOptions {
  dataLabel?: string;
}

export function renderReport(root: HTMLElement, report: Report, options: RenderOptions = {}): void {
  const eps = report.threat.eps;
  const banner = (d: Report['diagnostics'][number]) =>
    el(
      'div',
      { class: `banner ${d.severity}`, role: 'alert', 'data-id': d.id },
      `${d.severity.toUpperCase()} · ${d.id}: ${d.message}`,
    );
  const masking = report.diagnostics.filter((d) => d.masking);
  // The masking findings fold under their banner (closed), so the stages table stays above the fold.
  const findings = masking.length
    ? [
        el(
          'details',
          { class: 'findings', id: 'masking-findings' },
          el('summary', {}, `The ${masking.length} finding${masking.length > 1 ? 's' : ''} behind this banner`),
          ...masking.map(banner),
        ),
      ]
    : [];
  const banners = report.diagnostics.filter((d) => !d.masking).map(banner);
  // Gradient masking heads the report: every gradient-attack number below it is an upper bound.
  const maskingBanner = masking.length
    ? [
        el(
          'div',
          { class: 'masking', id: 'masking-banner', role: 'alert' },
          el('strong', {}, 'Gradient masking detected. '),
          `${masking.length} check${masking.length > 1 ? 's' : ''} (${masking.map((d) => d.id).join(', ')}) ` +
            `say this model's gradients mislead attacks. ` +
            `Gradient-attack accuracies overstate its robustness. ${maskingAdvice(report.suite, report.diagnostics)}`,
        ),
      ]
    : [];
  const nSource = nSourceText(report);
  const preprocess = preprocessText(report);
  for (const entry of themedCharts.values()) entry.chart?.destroy();
  themedCharts.clear();
  watchTheme();
  root.replaceChildren(
    el(
      'header',
      {},
      el('h1', {}, `Robustness of ${report.model}`),
      el(
        'p',
        { class: 'meta', id: 'report-meta' },
        `${options.dataLabel ?? datasetLabel(report.dataset)} · first ${report.n} test images · ` +
          `${NORM_LABELS[report.threat.norm]} ε=${eps} ` +
          `(${+(eps * 255).toFixed(2)}/255) · bounds [${report.threat.bounds.join(', ')}] ` +
          `· backend ${report.backend} · ${duration(report.time_s)}`,
      ),
      ...(nSource ? [el('p', { class: 'meta', id: 'n-source' }, nSource)] : []),
      // The model's preprocessing in force and where it came from (absent in older reports).
      ...(preprocess ? [el('p', { class: 'meta', id: 'preprocess' }, preprocess)] : []),
    ),
    ...maskingBanner,
    ...findings,
    ...banners,
    // A report with no curve (a partial one, or a run without a grid) has no empty chart.
    el('div', { class: 'top' }, summary(report), ...(report.curves.length ? [chart(report)] : [])),
    ...(report.geometry ? [geometry(report.geometry)] : []),
    grid(report),
  );
}
