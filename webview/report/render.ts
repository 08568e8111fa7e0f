/**
 * Renders a report.json into the page: summary table, diagnostics banner, accuracy-vs-ε
 * chart (Chart.js) and the image grid. The same code draws the standalone report.html and
 * the editor's attack panel; colours come from --vscode-* variables with light fallbacks.
 */
import {
  CategoryScale, Chart, Legend, LinearScale, LineController, LineElement, PointElement, Tooltip,
} from 'chart.js';
import type { Report, ReportExample } from '../../src/protocol/report';

Chart.register(LineController, LineElement, PointElement, LinearScale, CategoryScale, Legend, Tooltip);

const pct = (v: number) => `${(v * 100).toFixed(1)}%`;

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: Array<Node | string>): HTMLElementTagNameMap[K] {
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
    el('tr', {}, el('td', {}, 'Clean'), el('td', { class: 'num' }, pct(report.clean_accuracy)), el('td', {}, ''), el('td', {}, ''), el('td', {}, '')),
    ...report.attacks.map((a) => el('tr', {},
      el('td', {}, a.label), el('td', { class: 'num' }, pct(a.robust_accuracy)), el('td', { class: 'num' }, `${a.time_s.toFixed(2)} s`),
      el('td', { class: 'num' }, a.forward_passes.toLocaleString('en')), el('td', { class: 'num' }, a.backward_passes.toLocaleString('en')))),
    el('tr', { class: 'total' }, el('td', {}, 'Worst case over attacks'), el('td', { class: 'num' }, pct(report.robust_accuracy)), el('td', {}, ''), el('td', {}, ''), el('td', {}, '')),
  ];
  // A suite runs each attack on the points still robust: its rows are accuracies after each stage.
  const caption = report.suite
    ? el('caption', {}, `${report.suite} suite: each attack runs only on the points still robust; accuracy after each stage`)
    : el('caption', {}, 'each attack on every clean-correct point; worst case per sample');
  const checks = report.checks
    ? el('tfoot', {}, el('tr', {}, el('td', { colspan: '5', class: 'checks', id: 'checks' },
      `Final check of every example: max ‖x′−x‖/ε ${report.checks.max_distance_over_eps.toFixed(4)} · in bounds ${report.checks.in_bounds ? 'yes' : 'NO'} · finite ${report.checks.finite ? 'yes' : 'NO'}`)))
    : '';
  return el('table', { class: 'summary', id: 'summary', 'data-clean': String(report.clean_accuracy), 'data-robust': String(report.robust_accuracy) },
    caption,
    el('thead', {}, el('tr', {}, el('th', {}, report.cascade ? 'Stage' : 'Attack'), el('th', {}, report.cascade ? 'Accuracy after' : 'Accuracy'),
      el('th', {}, 'Time'), el('th', {}, 'Forward'), el('th', {}, 'Backward'))),
    el('tbody', {}, ...rows), checks);
}

function chart(report: Report): HTMLElement {
  const canvas = el('canvas', { id: 'curve-canvas', 'aria-label': 'Accuracy versus epsilon' });
  const pointCount = Math.min(...report.curves.map((c) => c.points.length));
  const box = el('div', { class: 'chart', id: 'curve', 'data-points': String(report.curves.length ? pointCount : 0), 'data-series': String(report.curves.length) }, canvas);
  const palette = ['#d9480f', '#1c7ed6', '#2f9e44', '#ae3ec9', '#f08c00'];
  const grid = [...new Set(report.curves.flatMap((c) => c.points.map((p) => p.eps)))].sort((a, b) => a - b);
  const fg = cssVar('--vscode-foreground', '#333');
  const line = cssVar('--vscode-editorWidget-border', '#ccc');
  queueMicrotask(() => new Chart(canvas, {
    type: 'line',
    data: {
      labels: grid.map(String),
      datasets: [
        ...report.curves.map((c, i) => ({
          label: c.attack, data: grid.map((e) => c.points.find((p) => p.eps === e)?.accuracy ?? null),
          borderColor: palette[i % palette.length], backgroundColor: palette[i % palette.length], tension: 0, spanGaps: true,
        })),
        { label: 'clean', data: grid.map(() => report.clean_accuracy), borderColor: fg, borderDash: [4, 4], pointRadius: 0, backgroundColor: fg },
      ],
    },
    options: {
      animation: false, responsive: true, maintainAspectRatio: false,
      scales: {
        x: { title: { display: true, text: `ε (${report.threat.norm === 'linf' ? 'L∞' : 'L2'})`, color: fg }, ticks: { color: fg }, grid: { color: line } },
        y: { min: 0, max: 1, title: { display: true, text: 'accuracy', color: fg }, ticks: { color: fg, callback: (v) => pct(Number(v)) }, grid: { color: line } },
      },
      plugins: { legend: { labels: { color: fg } }, tooltip: { callbacks: { label: (ctx) => `${ctx.dataset.label}: ${pct(Number(ctx.parsed.y))}` } } },
    },
  }));
  return box;
}

function cell(src: string, caption: string, cls: string): HTMLElement {
  return el('figure', { class: cls }, el('img', { src, alt: caption, width: '84', height: '84' }), el('figcaption', {}, caption));
}

function row(ex: ReportExample): HTMLElement {
  const mark = ex.fooled ? ' ✗' : ' ✓';
  return el('div', { class: `row ${ex.fooled ? 'fooled' : 'held'}`, 'data-index': String(ex.index) },
    cell(ex.clean.png, `${ex.label} · ${ex.clean.prediction} ${pct(ex.clean.confidence)}`, 'clean'),
    cell(ex.perturbation.png, `δ: ±${+ex.perturbation.scale.toFixed(4)} shown as ±1`, 'delta'),
    cell(ex.adversarial.png, `${ex.adversarial.prediction} ${pct(ex.adversarial.confidence)}${mark}`, 'adv'));
}

function grid(report: Report): HTMLElement {
  const rows = el('div', { class: 'rows', id: 'grid' });
  const fooledOnly = el('input', { type: 'checkbox', id: 'fooled-only' });
  const sort = el('select', { id: 'sort' }, el('option', { value: 'index' }, 'dataset order'), el('option', { value: 'drop' }, 'confidence drop'));
  const draw = () => {
    let shown = report.examples.filter((e) => !fooledOnly.checked || e.fooled);
    if (sort.value === 'drop') {
      const drop = (e: ReportExample) => e.clean.confidence - (e.adversarial.prediction === e.clean.prediction ? e.adversarial.confidence : 0);
      shown = [...shown].sort((a, b) => drop(b) - drop(a));
    }
    rows.replaceChildren(...shown.map(row));
  };
  fooledOnly.addEventListener('change', draw);
  sort.addEventListener('change', draw);
  draw();
  const fooledCount = report.examples.filter((e) => e.fooled).length;
  return el('section', {},
    el('h2', {}, `Samples (${fooledCount} of ${report.examples.length} fooled)`),
    el('div', { class: 'controls' }, el('label', {}, fooledOnly, ' fooled only'), el('label', {}, ' sort by ', sort)),
    el('div', { class: 'row head' }, el('span', {}, 'clean · true · predicted'), el('span', {}, 'perturbation (amplified)'), el('span', {}, 'adversarial')),
    rows);
}

export function renderReport(root: HTMLElement, report: Report): void {
  const eps = report.threat.eps;
  const banners = report.diagnostics.map((d) => el('div', { class: `banner ${d.severity}`, role: 'alert', 'data-id': d.id }, `${d.severity.toUpperCase()} · ${d.id}: ${d.message}`));
  const masking = report.diagnostics.filter((d) => d.masking);
  // Gradient masking heads the report: every gradient-attack number below it is an upper bound.
  const maskingBanner = masking.length
    ? [el('div', { class: 'masking', id: 'masking-banner', role: 'alert' },
      el('strong', {}, 'Gradient masking detected. '),
      `${masking.length} check${masking.length > 1 ? 's' : ''} (${masking.map((d) => d.id).join(', ')}) say this model's gradients mislead attacks. ` +
      `Gradient-attack accuracies overstate its robustness; trust only the worst case of the strong suite (Robustness: Evaluate (strong)).`)]
    : [];
  root.replaceChildren(
    el('header', {},
      el('h1', {}, `Robustness of ${report.model}`),
      el('p', { class: 'meta' },
        `${report.dataset} · first ${report.n} test images · ${report.threat.norm === 'linf' ? 'L∞' : 'L2'} ε=${eps} (${+(eps * 255).toFixed(2)}/255) · bounds [${report.threat.bounds.join(', ')}] · backend ${report.backend} · ${report.time_s.toFixed(1)} s`)),
    ...maskingBanner,
    ...banners,
    el('div', { class: 'top' }, summary(report), chart(report)),
    grid(report),
  );
}
