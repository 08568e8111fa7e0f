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
import type { Report, ReportExample, ReportGeometry } from '../../src/protocol/report';
import { duration, pct } from '../../src/protocol/format';
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
    ...report.attacks.map((a) =>
      el(
        'tr',
        {},
        el('td', {}, a.label),
        el('td', { class: 'num' }, pct(a.robust_accuracy)),
        el('td', { class: 'num' }, duration(a.time_s, 2)),
        el('td', { class: 'num' }, a.forward_passes.toLocaleString('en')),
        el('td', { class: 'num' }, a.backward_passes.toLocaleString('en')),
      ),
    ),
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
            'Gradient-attack accuracies overstate its robustness; trust only the worst case of the strong suite ' +
            '(Robustness: Evaluate (strong)).',
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
    el('div', { class: 'top' }, summary(report), chart(report)),
    ...(report.geometry ? [geometry(report.geometry)] : []),
    grid(report),
  );
}
