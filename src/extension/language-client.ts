/**
 * Starts the language server (dist/server.js, over IPC) for experiment specs and for the
 * source files and notebook cells that name models, and tells it when a run finishes so its lenses refresh.
 */
import * as vscode from 'vscode';
import {
  LanguageClient,
  TransportKind,
  type LanguageClientOptions,
  type ServerOptions,
} from 'vscode-languageclient/node';
import { DATA_WATCH_GLOBS } from '../formats/data-sources';
import { settingDataRoots } from '../experiment/workspace';
import { RunFinishedNotification, type RunFinishedParams } from '../protocol/messages/lsp';
import { SPEC_SUFFIX } from '../protocol/experiment-spec';
import { NOTEBOOK_CELL_LANGUAGES, NOTEBOOK_CELL_SCHEME, SOURCE_LANGUAGES } from '../protocol/source-documents';
import { MODEL_GLOB } from '../protocol/model-files';
import { RUN_STORE_DIR } from '../protocol/vocabulary';

export class RobustnessLanguageClient implements vscode.Disposable {
  private readonly client: LanguageClient;
  private started: Promise<void> | undefined;
  private readonly settingsWatch: vscode.Disposable;

  constructor(
    context: vscode.ExtensionContext,
    private readonly log: vscode.LogOutputChannel,
  ) {
    const module = context.asAbsolutePath('dist/server.js');
    const server: ServerOptions = {
      run: { module, transport: TransportKind.ipc },
      debug: { module, transport: TransportKind.ipc, options: { execArgv: ['--nolazy', '--inspect=6019'] } },
    };
    const options: LanguageClientOptions = {
      documentSelector: [
        { scheme: 'file', pattern: `**/*${SPEC_SUFFIX}` },
        ...SOURCE_LANGUAGES.map((language) => ({ scheme: 'file', language })),
        // Python cells of a Jupyter notebook: `torch.onnx.export(model, x, "cnn.onnx")` in a cell.
        ...NOTEBOOK_CELL_LANGUAGES.map((language) => ({ scheme: NOTEBOOK_CELL_SCHEME, language })),
      ],
      synchronize: {
        fileEvents: [
          vscode.workspace.createFileSystemWatcher(`**/${RUN_STORE_DIR}/*/run.json`),
          vscode.workspace.createFileSystemWatcher(MODEL_GLOB),
          ...DATA_WATCH_GLOBS.map((glob) => vscode.workspace.createFileSystemWatcher(glob)),
        ],
      },
      outputChannel: log,
      // The one data folder a spec may name outside its workspace folder: the one the settings name.
      initializationOptions: () => ({ dataRoots: settingsDataRoots() }),
    };
    this.client = new LanguageClient('robustnessLab', 'Robustness Lab Language Server', server, options);
    // A changed robustness.dataFolder (or workspace folders) reaches the running server: no restart.
    const resend = () => {
      if (!this.started) return;
      void this.started
        .then(() =>
          this.client.sendNotification('workspace/didChangeConfiguration', {
            settings: { dataRoots: settingsDataRoots() },
          }),
        )
        .catch((err: Error) => this.log.warn(`could not update the language server's data roots: ${err.message}`));
    };
    this.settingsWatch = vscode.Disposable.from(
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('robustness.dataFolder')) resend();
      }),
      vscode.workspace.onDidChangeWorkspaceFolders(resend),
    );
  }

  start(): Promise<void> {
    this.started ??= this.client.start().then(
      () => this.log.info('language server started'),
      (err: Error) => this.log.error(`language server failed to start: ${err.message}`),
    );
    return this.started;
  }

  /** A run's run.json is final: the server rereads the store and refreshes lenses. */
  runFinished(params: RunFinishedParams): void {
    void this.start()
      .then(() =>
        this.client.sendNotification(RunFinishedNotification.method, RunFinishedNotification.params.parse(params)),
      )
      .catch((err: Error) => this.log.warn(`could not notify the language server: ${err.message}`));
  }

  dispose(): void {
    this.settingsWatch.dispose();
    void this.client.stop().catch(() => undefined);
  }
}

/** robustness.dataFolder as data roots (src/experiment/workspace.ts's settingDataRoots): the server's and the Run lenses'. */
export function settingsDataRoots(): string[] {
  return settingDataRoots(
    vscode.workspace.getConfiguration('robustness').get<string>('dataFolder', ''),
    (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath),
  );
}
