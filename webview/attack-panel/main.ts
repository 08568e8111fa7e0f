/**
 * The attack panel's front end: renders the host's PanelState (progress, then the report) with
 * vscode-elements controls and the shared report renderer. It persists the last state with
 * setState, so a reload shows the last result before the host answers the ready handshake.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-progress-ring/index.js';
import { parseHostMessage, type PanelState, type PanelToHost } from '../../src/protocol/messages/attack-panel';
import { vscodeApi } from '../vscode-api';
import type { Report } from '../../src/protocol/report';
import { curvePng, renderReport, renderRun } from '../report/render';
import { randomised, runningStage } from '../../src/protocol/suites';

const vscode = vscodeApi<PanelToHost, PanelState>();
const toolbar = document.getElementById('toolbar')!;
const app = document.getElementById('app')!;
let renderedReport: Report | undefined;

function button(label: string, onClick: () => void, secondary = false): HTMLElement {
  const b = document.createElement('vscode-button');
  b.textContent = label;
  if (secondary) b.setAttribute('secondary', '');
  b.addEventListener('click', onClick);
  return b;
}

function exportPng(): void {
  const dataUrl = curvePng();
  if (dataUrl) vscode.postMessage({ type: 'exportPng', dataUrl });
}

// The toolbar is built once and updated in place: progress arrives many times a second, and
// re-creating the buttons would swallow clicks.
const ring = document.createElement('vscode-progress-ring');
const status = document.createElement('span');
status.id = 'run-status';
const cancel = button('Cancel', () => vscode.postMessage({ type: 'cancel' }), true);
const exports = [
  button('Export PNG', exportPng, true),
  button('Export JSON', () => vscode.postMessage({ type: 'export', format: 'json' }), true),
  button('Export HTML', () => vscode.postMessage({ type: 'export', format: 'html' }), true),
];
// A model random at inference (the randomness diagnostic fired): evaluate it again with EOT, in one click.
const runRand = button('Evaluate (rand): EOT over 20 passes', () =>
  vscode.postMessage({ type: 'runSuite', suite: 'rand' }),
);
runRand.id = 'run-rand';
runRand.title = 'APGD-CE → APGD-DLR, each averaging 20 passes of the model (AutoAttack rand version)';
toolbar.replaceChildren(ring, status, cancel, runRand, ...exports);

function show(element: HTMLElement, visible: boolean): void {
  element.style.display = visible ? '' : 'none';
}

function render(state: PanelState): void {
  const running = state.status === 'running';
  const p = state.progress;
  status.className = `status ${state.status}`;
  const ended: Record<PanelState['status'], string> = {
    running: '',
    done: 'Done',
    cancelled: 'Cancelled',
    failed: 'Failed',
  };
  const stage = running ? runningStage(state.stages ?? []) : undefined;
  const partial = state.status === 'cancelled' ? state.report?.partial : undefined;
  status.textContent = running
    ? p
      ? `${stage ? `${stage} · ` : ''}${p.label}: ${p.done}/${p.total}`
      : 'Starting the engine…'
    : partial
      ? `Cancelled after ${partial.cancelled_after} · ${partial.stages_done} of ${partial.stages_total} stages kept`
      : ended[state.status];
  show(ring, running);
  show(cancel, running);
  for (const b of exports) show(b, Boolean(state.report));
  show(runRand, !running && state.report?.suite !== 'rand' && randomised(state.report?.diagnostics));
  if (state.report && state.report !== renderedReport) {
    renderReport(app, state.report, state.dataLabel ? { dataLabel: state.dataLabel } : {});
    renderedReport = state.report;
  } else if (!state.report && state.status === 'failed') {
    const note = document.createElement('p');
    note.className = 'banner error';
    note.textContent = `The run failed: ${state.error ?? 'unknown error'}`;
    app.replaceChildren(note);
  } else if (!state.report) {
    // While it runs: what this panel does, the stage running, and each finished stage.
    renderRun(app, state);
  }
}

window.addEventListener('message', (event: MessageEvent) => {
  let message;
  try {
    message = parseHostMessage(event.data);
  } catch {
    return; // not ours, or malformed: ignore
  }
  vscode.setState(message.state);
  render(message.state);
});

const saved = vscode.getState();
if (saved) render(saved);
vscode.postMessage({ type: 'ready' });
