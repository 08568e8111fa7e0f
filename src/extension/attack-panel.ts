/**
 * The attack panel: a webview that renders the host-owned PanelState. Nonce CSP, no remote
 * content, a ready handshake before any state is posted, every incoming message validated, and
 * a serializer so panels come back after a window reload.
 */
import * as vscode from 'vscode';
import {
  parsePanelMessage,
  type HostToPanel,
  type PanelState,
  type PanelToHost,
} from '../protocol/messages/attack-panel';
import { reportHtml } from '../store/report-files';
import { webviewHtml, webviewOptions } from './webview-html';

export const PANEL_VIEW_TYPE = 'robustness.attack';

export interface PanelHandlers {
  cancel(runId: string): void;
  log: vscode.LogOutputChannel;
}

export class AttackPanel {
  private static readonly panels = new Map<string, AttackPanel>();
  private ready = false;
  private firstPaintLogged = false;

  private constructor(
    readonly panel: vscode.WebviewPanel,
    private state: PanelState,
    extensionUri: vscode.Uri,
    private readonly handlers: PanelHandlers,
    private readonly createdAt: number,
  ) {
    panel.webview.options = webviewOptions(extensionUri);
    panel.webview.html = webviewHtml(
      panel.webview,
      extensionUri,
      'attack-panel.js',
      '<div id="toolbar"></div>\n<div id="app"><p class="meta">Starting…</p></div>',
    );
    panel.iconPath = vscode.Uri.joinPath(extensionUri, 'media', 'shield.svg');
    panel.onDidDispose(() => AttackPanel.panels.delete(this.state.runId));
    panel.webview.onDidReceiveMessage((raw: unknown) => {
      let message: PanelToHost;
      try {
        message = parsePanelMessage(raw);
      } catch (err) {
        handlers.log.warn(`attack panel: rejected a malformed message: ${(err as Error).message.slice(0, 300)}`);
        return;
      }
      void this.receive(message);
    });
    AttackPanel.panels.set(state.runId, this);
  }

  static show(extensionUri: vscode.Uri, state: PanelState, handlers: PanelHandlers): AttackPanel {
    const existing = AttackPanel.panels.get(state.runId);
    if (existing) {
      existing.panel.reveal();
      existing.update(state);
      return existing;
    }
    const panel = vscode.window.createWebviewPanel(PANEL_VIEW_TYPE, state.title, vscode.ViewColumn.Active, {
      retainContextWhenHidden: true,
    });
    return new AttackPanel(panel, state, extensionUri, handlers, Date.now());
  }

  static revive(
    panel: vscode.WebviewPanel,
    extensionUri: vscode.Uri,
    state: PanelState,
    handlers: PanelHandlers,
  ): AttackPanel {
    return new AttackPanel(panel, state, extensionUri, handlers, Date.now());
  }

  static find(runId: string): AttackPanel | undefined {
    return AttackPanel.panels.get(runId);
  }

  update(state: PanelState): void {
    this.state = state;
    this.panel.title = state.title;
    if (this.ready) void this.panel.webview.postMessage({ type: 'state', state } satisfies HostToPanel);
  }

  private async receive(message: PanelToHost): Promise<void> {
    switch (message.type) {
      case 'ready':
        this.ready = true;
        if (!this.firstPaintLogged) {
          this.firstPaintLogged = true;
          this.handlers.log.info(`attack panel ready ${Date.now() - this.createdAt} ms after it was created`);
        }
        this.update(this.state);
        return;
      case 'cancel':
        this.handlers.cancel(this.state.runId);
        return;
      case 'export': {
        const report = this.state.report;
        if (!report) return;
        const target = await vscode.window.showSaveDialog({
          defaultUri: vscode.Uri.file(`report.${message.format}`),
          filters: { [message.format.toUpperCase()]: [message.format] },
        });
        if (!target) return;
        const text = message.format === 'json' ? JSON.stringify(report, null, 2) : reportHtml(report);
        await vscode.workspace.fs.writeFile(target, Buffer.from(text, 'utf8'));
        void vscode.window.showInformationMessage(`Robustness Lab: saved ${target.fsPath}`);
        return;
      }
      case 'exportPng': {
        const target = await vscode.window.showSaveDialog({
          defaultUri: vscode.Uri.file('curve.png'),
          filters: { PNG: ['png'] },
        });
        if (!target) return;
        await vscode.workspace.fs.writeFile(target, Buffer.from(message.dataUrl.split(',')[1]!, 'base64'));
        void vscode.window.showInformationMessage(`Robustness Lab: saved ${target.fsPath}`);
      }
    }
  }
}
