/**
 * The attack panel: a webview that renders the host-owned PanelState. Nonce CSP, no remote
 * content, a ready handshake before any state is posted, every incoming message validated, and
 * a serializer so panels come back after a window reload.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import {
  parsePanelMessage,
  type HostToPanel,
  type PanelState,
  type PanelToHost,
} from '../protocol/messages/attack-panel';
import { SPEC_SUFFIX } from '../protocol/experiment-spec';
import type { SuiteId } from '../protocol/vocabulary';
import type { Report } from '../protocol/report';
import { datasetLabel, exportFileName } from '../protocol/report-text';
import { reportHtml } from '../store/report-files';
import { RunStore } from '../store/runs';
import { webviewHtml, webviewOptions } from './webview-html';

export const PANEL_VIEW_TYPE = 'robustness.attack';

export interface PanelHandlers {
  cancel(runId: string): void;
  /** Evaluates the run's model, data and threat model again with `suite` (the panel's one click). */
  runSuite(runId: string, suite: SuiteId): void;
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
    const panel = vscode.window.createWebviewPanel(PANEL_VIEW_TYPE, state.title, panelColumn(state), {
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
    // The host names the data: the webview knows neither the workspace nor the install path.
    const shown: PanelState = state.report ? { ...state, dataLabel: dataLabel(state.report.dataset) } : state;
    if (this.ready) void this.panel.webview.postMessage({ type: 'state', state: shown } satisfies HostToPanel);
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
      case 'runSuite':
        this.handlers.runSuite(this.state.runId, message.suite);
        return;
      case 'export': {
        const report = this.state.report;
        if (report) await exportReport(report, message.format, this.state.runId);
        return;
      }
      case 'exportPng': {
        const report = this.state.report;
        const name = report ? exportFileName(report, 'png') : 'curve.png';
        const target = await vscode.window.showSaveDialog({
          defaultUri: vscode.Uri.file(path.join(exportFolder(this.state.runId) ?? '', name)),
          filters: { PNG: ['png'] },
          title: 'Export the accuracy curve as PNG',
        });
        if (!target) return;
        await vscode.workspace.fs.writeFile(target, Buffer.from(message.dataUrl.split(',')[1]!, 'base64'));
        await announceSaved(target);
      }
    }
  }
}

/**
 * A spec's run opens beside the spec, and a stored run opened from Runs beside the text editor in
 * front, so the report never takes their place; anything else (an attack from the explorer or the
 * Models view) opens in the active group, as editors do.
 */
function panelColumn(state: PanelState): vscode.ViewColumn {
  const editor = vscode.window.activeTextEditor;
  if (!editor) return vscode.ViewColumn.Active;
  const fromSpec = state.status === 'running' && editor.document.uri.path.endsWith(SPEC_SUFFIX);
  const openedFromRuns = state.status !== 'running';
  return fromSpec || openedFromRuns ? vscode.ViewColumn.Beside : vscode.ViewColumn.Active;
}

/** A report's dataset as the header names it: built-in sets by name, workspace folders relative. */
function dataLabel(dataset: string): string {
  return datasetLabel(dataset, (absolute) => {
    if (!path.isAbsolute(absolute)) return undefined;
    const folder = vscode.workspace.getWorkspaceFolder(vscode.Uri.file(absolute));
    return folder ? path.relative(folder.uri.fsPath, absolute).split(path.sep).join('/') : undefined;
  });
}

/** The folder an export proposes: the run's own (.robustness/runs/<id>/), else the first workspace folder. */
export function exportFolder(runId: string): string | undefined {
  const folders = (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath);
  for (const folder of folders) {
    const store = new RunStore(folder);
    if (store.has(runId)) return store.dir(runId);
  }
  return folders[0];
}

/** Asks where to save a report as JSON or HTML (proposing "<model>-<attack>-eps<ε>.<ext>" in the run's folder), then saves it. */
export async function exportReport(report: Report, format: 'json' | 'html', runId: string): Promise<void> {
  const name = exportFileName(report, format);
  const target = await vscode.window.showSaveDialog({
    defaultUri: vscode.Uri.file(path.join(exportFolder(runId) ?? '', name)),
    filters: { [format.toUpperCase()]: [format] },
    title: `Export the report as ${format.toUpperCase()}`,
  });
  if (!target) return;
  const text = format === 'json' ? JSON.stringify(report, null, 2) : reportHtml(report);
  await vscode.workspace.fs.writeFile(target, Buffer.from(text, 'utf8'));
  await announceSaved(target);
}

/** "saved <path>" with Open (in the editor) and Reveal (in the explorer inside the workspace, else the OS). */
async function announceSaved(target: vscode.Uri): Promise<void> {
  const shown = vscode.workspace.asRelativePath(target, false);
  const choice = await vscode.window.showInformationMessage(`Robustness Lab: saved ${shown}`, 'Open', 'Reveal');
  if (choice === 'Open') await vscode.commands.executeCommand('vscode.open', target);
  else if (choice === 'Reveal') {
    const inside = vscode.workspace.getWorkspaceFolder(target) !== undefined;
    await vscode.commands.executeCommand(inside ? 'revealInExplorer' : 'revealFileInOS', target);
  }
}

/** The Runs view's Export…: a finished evaluation's stored report as HTML or JSON, named as the panel's export. */
export async function exportStoredRun(store: RunStore, runId: string): Promise<void> {
  const picked = await vscode.window.showQuickPick(
    [
      { label: 'HTML', description: 'a self-contained report page', format: 'html' as const },
      { label: 'JSON', description: 'report.json, as the CLI writes it', format: 'json' as const },
    ],
    { title: `Export run ${runId}`, placeHolder: 'Export as…' },
  );
  if (!picked) return;
  let report: Report;
  try {
    report = store.readReport(runId);
  } catch (err) {
    void vscode.window.showErrorMessage(
      `Robustness Lab: run ${runId} has no readable report: ${(err as Error).message}`,
    );
    return;
  }
  await exportReport(report, picked.format, runId);
}
