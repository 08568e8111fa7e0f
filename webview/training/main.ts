/**
 * The training panel: loss, clean and robust accuracy per epoch for one or several runs
 * (overlaid for comparison), and the clean-vs-robust scatter of all of them (the trade-off).
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import {
  Chart,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  ScatterController,
  Tooltip,
} from 'chart.js';
import {
  parseTrainingHostMessage,
  type TrainingPanelState,
  type TrainingPanelToHost,
} from '../../src/protocol/messages/training-panel';
import { vscodeApi } from '../vscode-api';
import { pct } from '../../src/protocol/format';

Chart.register(LineController, ScatterController, LineElement, PointElement, LinearScale, Legend, Tooltip);

const vscode = vscodeApi<TrainingPanelToHost, TrainingPanelState>();
const palette = ['#1c7ed6', '#d9480f', '#2f9e44', '#ae3ec9', '#f08c00', '#0c8599', '#e64980'];
const css = (name: string, fallback: string) =>
  getComputedStyle(document.body).getPropertyValue(name).trim() || fallback;
const charts = new Map<string, Chart>();

function axis(title: string, percent: boolean) {
  const fg = css('--vscode-foreground', '#333');
  const grid = css('--vscode-editorWidget-border', '#ccc');
  return {
    title: { display: true, text: title, color: fg },
    grid: { color: grid },
    ticks: { color: fg, ...(percent ? { callback: (v: number | string) => pct(Number(v)) } : {}) },
    ...(percent ? { min: 0, max: 1 } : {}),
  };
}

function lineChart(
  id: string,
  title: string,
  state: TrainingPanelState,
  pick: (e: TrainingPanelState['runs'][number]['epochs'][number]) => number | undefined,
  percent: boolean,
): void {
  const datasets = state.runs.flatMap((run, i) => {
    const points = run.epochs
      .map((e) => ({ x: e.epoch, y: pick(e) }))
      .filter((p): p is { x: number; y: number } => p.y !== undefined);
    return points.length
      ? [
          {
            label: run.label,
            data: points,
            borderColor: palette[i % palette.length],
            backgroundColor: palette[i % palette.length],
          },
        ]
      : [];
  });
  const existing = charts.get(id);
  if (existing) {
    existing.data.datasets = datasets;
    existing.update('none');
    return;
  }
  const canvas = document.getElementById(id) as HTMLCanvasElement;
  charts.set(
    id,
    new Chart(canvas, {
      type: 'line',
      data: { datasets },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        parsing: false,
        scales: { x: { type: 'linear', ...axis('epoch', false) }, y: axis(title, percent) },
        plugins: { legend: { labels: { color: css('--vscode-foreground', '#333') } } },
      },
    }),
  );
}

function scatter(state: TrainingPanelState): void {
  const datasets = state.runs.flatMap((run, i) => {
    const last =
      [...run.epochs].reverse().find((e) => e.robustAccuracy !== undefined) ?? run.epochs[run.epochs.length - 1];
    return last
      ? [
          {
            label: `${run.label} (${run.method})`,
            data: [{ x: last.testAccuracy, y: last.robustAccuracy ?? 0 }],
            backgroundColor: palette[i % palette.length],
            pointRadius: 6,
          },
        ]
      : [];
  });
  const existing = charts.get('tradeoff');
  if (existing) {
    existing.data.datasets = datasets;
    existing.update('none');
    return;
  }
  charts.set(
    'tradeoff',
    new Chart(document.getElementById('tradeoff') as HTMLCanvasElement, {
      type: 'scatter',
      data: { datasets },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        scales: { x: axis('clean accuracy', true), y: axis('robust accuracy (PGD-10)', true) },
        plugins: { legend: { labels: { color: css('--vscode-foreground', '#333') } } },
      },
    }),
  );
}

function table(state: TrainingPanelState): void {
  const body = document.getElementById('runs-body')!;
  body.replaceChildren(
    ...state.runs.map((run) => {
      const last = run.epochs[run.epochs.length - 1];
      const tr = document.createElement('tr');
      tr.dataset.run = run.id;
      const cells = [
        run.label,
        run.method,
        run.status,
        last ? `${last.epoch}/${last.epochs}` : '0',
        last ? pct(last.testAccuracy) : '—',
        last?.robustAccuracy !== undefined ? pct(last.robustAccuracy) : '—',
        run.epochs.some((e) => e.event)
          ? run.epochs
              .filter((e) => e.event)
              .map((e) => `${e.event} (epoch ${e.epoch})`)
              .join('; ')
          : '',
      ];
      tr.append(...cells.map((c) => Object.assign(document.createElement('td'), { textContent: c })));
      const action = document.createElement('td');
      if (run.status === 'done') {
        const b = document.createElement('vscode-button');
        b.textContent = 'Attack final model';
        b.setAttribute('secondary', '');
        b.addEventListener('click', () => vscode.postMessage({ type: 'attack', runId: run.id }));
        action.append(b);
      }
      tr.append(action);
      return tr;
    }),
  );
}

function render(state: TrainingPanelState): void {
  table(state);
  lineChart('loss', 'training loss', state, (e) => e.loss, false);
  lineChart('clean', 'clean test accuracy', state, (e) => e.testAccuracy, true);
  lineChart('robust', 'robust accuracy (PGD-10)', state, (e) => e.robustAccuracy, true);
  scatter(state);
}

window.addEventListener('message', (event: MessageEvent) => {
  let message;
  try {
    message = parseTrainingHostMessage(event.data);
  } catch {
    return;
  }
  vscode.setState(message.state);
  render(message.state);
});

const saved = vscode.getState();
if (saved) render(saved);
vscode.postMessage({ type: 'ready' });
