/**
 * A minimal LSP client over stdio for the server tests and the latency benchmark: spawns
 * dist/server.js, initializes it on a workspace folder, and collects what it publishes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  createMessageConnection,
  StreamMessageReader,
  StreamMessageWriter,
  type MessageConnection,
} from 'vscode-jsonrpc/node';

export interface Diagnostic {
  range: { start: { line: number; character: number }; end: { line: number; character: number } };
  severity: number;
  message: string;
  code?: string;
  source?: string;
}

export interface CodeLens {
  range: { start: { line: number; character: number }; end: { line: number; character: number } };
  command?: { title: string; command: string; arguments?: unknown[] };
}

export const uriOf = (file: string) => pathToFileURL(file).href;

const SOURCE_LANGUAGES = ['python', 'typescript', 'javascript', 'typescriptreact', 'javascriptreact'];

export class LspClient {
  readonly connection: MessageConnection;
  private readonly child: ChildProcess;
  private readonly waiters: Array<{ uri: string; version?: number; resolve: (d: Diagnostic[]) => void }> = [];
  readonly diagnostics = new Map<string, Diagnostic[]>();
  /** Times the server asked for a lens refresh. */
  lensRefreshes = 0;
  private versions = new Map<string, number>();

  constructor(serverJs = path.join(__dirname, '..', '..', 'dist', 'server.js')) {
    this.child = spawn(process.execPath, [serverJs, '--stdio'], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.connection = createMessageConnection(
      new StreamMessageReader(this.child.stdout!),
      new StreamMessageWriter(this.child.stdin!),
    );
    this.connection.onNotification(
      'textDocument/publishDiagnostics',
      (p: { uri: string; version?: number; diagnostics: Diagnostic[] }) => {
        this.diagnostics.set(p.uri, p.diagnostics);
        for (const w of [...this.waiters]) {
          if (w.uri === p.uri && (w.version === undefined || p.version === w.version)) {
            this.waiters.splice(this.waiters.indexOf(w), 1);
            w.resolve(p.diagnostics);
          }
        }
      },
    );
    this.connection.onNotification('window/logMessage', () => undefined);
    this.connection.onRequest('workspace/codeLens/refresh', () => {
      this.lensRefreshes++;
      return null;
    });
    this.connection.listen();
  }

  /** One workspace folder, or several (a multi-root workspace, whose folders may change later). */
  async initialize(folder: string | string[]): Promise<unknown> {
    const folders = typeof folder === 'string' ? [folder] : folder;
    const result = await this.connection.sendRequest('initialize', {
      processId: process.pid,
      rootUri: uriOf(folders[0]!),
      workspaceFolders: folders.map((f) => ({ uri: uriOf(f), name: path.basename(f) })),
      capabilities: {
        workspace: { codeLens: { refreshSupport: true }, workspaceFolders: typeof folder !== 'string' },
        textDocument: { hover: { contentFormat: ['markdown'] } },
      },
    });
    await this.connection.sendNotification('initialized', {});
    return result;
  }

  /** The diagnostics published for this version of the document. */
  private nextDiagnostics(uri: string, version: number, timeoutMs = 5000): Promise<Diagnostic[]> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no diagnostics for ${uri} v${version} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.waiters.push({
        uri,
        version,
        resolve: (d) => {
          clearTimeout(timer);
          resolve(d);
        },
      });
    });
  }

  async open(file: string, text: string, languageId = 'jsonc'): Promise<Diagnostic[] | undefined> {
    const uri = uriOf(file);
    this.versions.set(uri, 1);
    // The server publishes for specs and for source files (hints on model paths that name no file).
    const published =
      file.endsWith('.robustness.json') || SOURCE_LANGUAGES.includes(languageId)
        ? this.nextDiagnostics(uri, 1)
        : undefined;
    await this.connection.sendNotification('textDocument/didOpen', {
      textDocument: { uri, languageId, version: 1, text },
    });
    return published;
  }

  /** Replaces the whole text; resolves with the diagnostics of the new version. */
  async change(file: string, text: string): Promise<Diagnostic[]> {
    const uri = uriOf(file);
    const version = (this.versions.get(uri) ?? 1) + 1;
    this.versions.set(uri, version);
    const published = this.nextDiagnostics(uri, version);
    await this.connection.sendNotification('textDocument/didChange', {
      textDocument: { uri, version },
      contentChanges: [{ text }],
    });
    return published;
  }

  async close(file: string): Promise<void> {
    await this.connection.sendNotification('textDocument/didClose', { textDocument: { uri: uriOf(file) } });
  }

  hover(
    file: string,
    line: number,
    character: number,
  ): Promise<{ contents: { value: string }; range: Diagnostic['range'] } | null> {
    return this.connection.sendRequest('textDocument/hover', {
      textDocument: { uri: uriOf(file) },
      position: { line, character },
    });
  }

  completion(
    file: string,
    line: number,
    character: number,
  ): Promise<
    Array<{
      label: string;
      detail?: string;
      textEdit?: { newText: string; range: Diagnostic['range'] };
      additionalTextEdits?: Array<{ newText: string; range: Diagnostic['range'] }>;
    }>
  > {
    return this.connection.sendRequest('textDocument/completion', {
      textDocument: { uri: uriOf(file) },
      position: { line, character },
    });
  }

  codeLens(file: string): Promise<CodeLens[]> {
    return this.connection.sendRequest('textDocument/codeLens', { textDocument: { uri: uriOf(file) } });
  }

  async stop(): Promise<void> {
    try {
      await this.connection.sendRequest('shutdown');
      await this.connection.sendNotification('exit');
    } catch {
      // already gone
    }
    this.connection.dispose();
    this.child.kill();
  }
}

/** Line and character of the first occurrence of `needle` (plus `delta` characters) in `text`. */
export function positionOf(text: string, needle: string, delta = 0): { line: number; character: number } {
  const offset = text.indexOf(needle);
  if (offset < 0) throw new Error(`"${needle}" is not in the text`);
  const before = text.slice(0, offset + delta);
  const line = before.split('\n').length - 1;
  return { line, character: before.length - (before.lastIndexOf('\n') + 1) };
}
