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
import { pct, STATUS_ICONS, statusWord } from '../../src/protocol/format';
import { TRAIN_METHOD_INFO } from '../../src/protocol/training';
import { chartLegendText, epochAxis, epochTickLabel, runMarker, translucent } from './markers';
import { codicon, statusIcon } from './status-icons';
import { cssVar, onThemeChange } from '../theme';

Chart.register(LineController, ScatterController, LineElement, PointElement, LinearScale, Legend, Tooltip);

const vscode = vscodeApi<TrainingPanelToHost, TrainingPanelState>();
const charts = new Map<string, Chart>();

function axis(title: string, percent: boolean) {
  const fg = cssVar('--vscode-foreground', '#333');
  const grid = cssVar('--vscode-editorWidget-border', '#ccc');
  return {
    title: { display: true, text: title, color: fg },
    grid: { color: grid },
    ticks: { color: fg, ...(percent ? { callback: (v: number | string) => pct(Number(v)) } : {}) },
    ...(percent ? { min: 0, max: 1 } : {}),
  };
}

/** A legend naming each run with its own marker (colour and shape). */
function legend() {
  return { labels: { color: cssVar('--vscode-foreground', '#333'), usePointStyle: true, boxHeight: 8 } };
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
    const { colour, pointStyle } = runMarker(i);
    return points.length
      ? [
          {
            label: run.label,
            data: points,
            borderColor: colour,
            backgroundColor: translucent(colour),
            pointStyle,
            // A marker at 0% or 100% is drawn whole, over the axis.
            clip: false as const,
            pointRadius: 5,
            pointHoverRadius: 7,
            pointBorderWidth: 1.5,
          },
        ]
      : [];
  });
  // The axis covers the longest run's planned epochs, in whole numbers.
  const epochs = Math.max(
    1,
    ...state.runs.flatMap((run) => [run.totalEpochs ?? 1, ...run.epochs.map((e) => e.epochs)]),
  );
  const { min, max, stepSize } = epochAxis(epochs);
  const base = axis('epoch', false);
  // offset: room at each end, so a marker on the first or last epoch is not cut in half.
  const x = {
    type: 'linear' as const,
    ...base,
    min,
    max,
    offset: true,
    ticks: { ...base.ticks, stepSize, callback: epochTickLabel },
  };
  const canvas = document.getElementById(id) as HTMLCanvasElement;
  canvas.setAttribute('aria-label', chartLegendText(`${title} per epoch`, datasets));
  const existing = charts.get(id);
  if (existing) {
    existing.data.datasets = datasets;
    existing.options.scales = { x, y: axis(title, percent) };
    existing.update('none');
    return;
  }
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
        scales: { x, y: axis(title, percent) },
        plugins: { legend: legend() },
      },
    }),
  );
}

function scatter(state: TrainingPanelState): void {
  const datasets = state.runs.flatMap((run, i) => {
    const last =
      [...run.epochs].reverse().find((e) => e.robustAccuracy !== undefined) ?? run.epochs[run.epochs.length - 1];
    const { colour, pointStyle } = runMarker(i);
    return last
      ? [
          {
            label: run.label,
            data: [{ x: last.testAccuracy, y: last.robustAccuracy ?? 0 }],
            borderColor: colour,
            backgroundColor: translucent(colour),
            pointStyle,
            // A marker at 0% or 100% is drawn whole, over the axis.
            clip: false as const,
            pointRadius: 8,
            pointHoverRadius: 10,
            pointBorderWidth: 2,
          },
        ]
      : [];
  });
  const canvas = document.getElementById('tradeoff') as HTMLCanvasElement;
  canvas.setAttribute('aria-label', chartLegendText('clean versus robust accuracy', datasets));
  const existing = charts.get('tradeoff');
  if (existing) {
    existing.data.datasets = datasets;
    existing.update('none');
    return;
  }
  charts.set(
    'tradeoff',
    new Chart(canvas, {
      type: 'scatter',
      data: { datasets },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        scales: { x: axis('clean accuracy', true), y: axis('robust accuracy (PGD-10)', true) },
        plugins: { legend: legend() },
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
        TRAIN_METHOD_INFO[run.method].label,
        '',
        last ? `${last.epoch}/${last.epochs}` : run.totalEpochs ? `0/${run.totalEpochs}` : '0',
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
      // The status: its icon and one word (a stopped run reads "stopped" under the Stop button's square).
      const status = tr.children[2] as HTMLTableCellElement;
      status.className = 'status';
      status.append(statusIcon(run.status), ` ${statusWord('training', run.status)}`);
      if (run.progress) {
        status.append(
          Object.assign(document.createElement('div'), { className: 'progress', textContent: run.progress }),
        );
      }
      const action = document.createElement('td');
      if (run.status === 'running') {
        const b = document.createElement('vscode-button');
        b.dataset.action = 'stop';
        b.title = 'Stop this run (its last finished epoch is kept for Resume)';
        b.append(codicon(STATUS_ICONS.cancelled), ' Stop');
        b.setAttribute('secondary', '');
        b.addEventListener('click', () => vscode.postMessage({ type: 'stop', runId: run.id }));
        action.append(b);
      }
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

let shown: TrainingPanelState | undefined;

function render(state: TrainingPanelState): void {
  shown = state;
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

// Canvases keep the colours they were drawn with: a theme change redraws every chart.
onThemeChange(() => {
  for (const chart of charts.values()) chart.destroy();
  charts.clear();
  if (shown) render(shown);
});

const saved = vscode.getState();
if (saved) render(saved);
vscode.postMessage({ type: 'ready' });
