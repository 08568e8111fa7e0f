/**
 * The training panel: a webview rendering the host-owned TrainingPanelState (loss, clean and robust
 * accuracy per epoch, the trade-off scatter). A ready handshake before any state is posted, and
 * every incoming message validated.
 */
import * as vscode from 'vscode';
import {
  trainingPanelToHost,
  type HostToTrainingPanel,
  type TrainingPanelState,
  type TrainingPanelToHost,
} from '../protocol/messages/training-panel';
import { webviewHtml, webviewOptions } from './webview-html';

export const TRAINING_VIEW_TYPE = 'robustness.training';
/** The tab's title before it shows a run (then the run's name, or how many runs it compares). */
export const TRAINING_PANEL_TITLE = 'Robustness: Training';

const TRAINING_PANEL_BODY =
  `
<style>
.status-icon { display: inline-block; width: 14px; height: 14px; vertical-align: -2px; }
.status-icon svg { width: 14px; height: 14px; }
.status-icon.spin svg { animation: training-spin 1.5s linear infinite; }
@keyframes training-spin { to { transform: rotate(360deg); } }
td.status .progress { opacity: 0.8; font-size: 0.9em; }
vscode-button .status-icon { margin-right: 4px; }
</style>
<h1>Training</h1>
<table class="runs"><thead><tr><th>run</th><th>method</th><th>status</th><th>epoch</th><th>clean</th><th>robust</th>` +
  `<th>events</th><th></th></tr></thead><tbody id="runs-body"></tbody></table>
<div class="training-grid">
  <div class="chart"><canvas id="loss" aria-label="training loss per epoch"></canvas></div>
  <div class="chart"><canvas id="clean" aria-label="clean accuracy per epoch"></canvas></div>
  <div class="chart"><canvas id="robust" aria-label="robust accuracy per epoch"></canvas></div>
  <div class="chart"><canvas id="tradeoff" aria-label="clean versus robust accuracy of every run"></canvas></div>
</div>`;

export interface TrainingPanelHandlers {
  /** The panel asks for its first state, or a fresh one after a reload. */
  ready(): void;
  /** The panel's Attack button on a run. */
  attack(runId: string): void;
  /** The panel's Stop button on a running run. */
  stop(runId: string): void;
  log: vscode.LogOutputChannel;
}

export class TrainingPanel {
  private ready = false;

  private constructor(
    readonly panel: vscode.WebviewPanel,
    extensionUri: vscode.Uri,
    handlers: TrainingPanelHandlers,
    onDispose: (closed: TrainingPanel) => void,
  ) {
    panel.webview.options = webviewOptions(extensionUri);
    panel.webview.html = webviewHtml(panel.webview, extensionUri, 'training.js', TRAINING_PANEL_BODY);
    panel.onDidDispose(() => onDispose(this));
    panel.webview.onDidReceiveMessage((raw: unknown) => {
      const parsed = trainingPanelToHost.safeParse(raw);
      if (!parsed.success) return handlers.log.warn('training panel: rejected a malformed message');
      this.receive(parsed.data, handlers);
    });
  }

  static create(
    extensionUri: vscode.Uri,
    handlers: TrainingPanelHandlers,
    onDispose: (closed: TrainingPanel) => void,
  ): TrainingPanel {
    const panel = vscode.window.createWebviewPanel(TRAINING_VIEW_TYPE, TRAINING_PANEL_TITLE, vscode.ViewColumn.Active, {
      retainContextWhenHidden: true,
    });
    return new TrainingPanel(panel, extensionUri, handlers, onDispose);
  }

  /** Takes over a panel VS Code restored after a window reload. */
  static revive(
    panel: vscode.WebviewPanel,
    extensionUri: vscode.Uri,
    handlers: TrainingPanelHandlers,
    onDispose: (closed: TrainingPanel) => void,
  ): TrainingPanel {
    return new TrainingPanel(panel, extensionUri, handlers, onDispose);
  }

  reveal(): void {
    this.panel.reveal();
  }

  /** The tab's title: the run's name, or how many runs it compares. */
  setTitle(title: string): void {
    if (this.panel.title !== title) this.panel.title = title;
  }

  /** Posts the state once the webview has said it is ready; earlier states are dropped (ready asks again). */
  post(state: TrainingPanelState): void {
    if (this.ready) void this.panel.webview.postMessage({ type: 'training', state } satisfies HostToTrainingPanel);
  }

  private receive(message: TrainingPanelToHost, handlers: TrainingPanelHandlers): void {
    switch (message.type) {
      case 'ready':
        this.ready = true;
        handlers.ready();
        return;
      case 'attack':
        handlers.attack(message.runId);
        return;
      case 'stop':
        handlers.stop(message.runId);
    }
  }
}
