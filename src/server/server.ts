/**
 * Robustness Lab's language server (started by the extension over IPC, or with --stdio by the
 * tests and the benchmark). Experiment specs get diagnostics, completion, hover and Run/Train
 * lenses; TypeScript, JavaScript and Python files get a lens on every line naming a workspace
 * model. Results come from the run store and refresh on robustness/runFinished or when a
 * run.json changes on disk (runs started from the CLI).
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CodeAction,
  CodeActionKind,
  CodeLens,
  CompletionItem,
  CompletionItemKind,
  createConnection,
  Diagnostic,
  DiagnosticSeverity,
  FileChangeType,
  MarkupKind,
  ProposedFeatures,
  TextDocuments,
  TextDocumentSyncKind,
  type InitializeResult,
} from 'vscode-languageserver/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { isDataFile } from '../formats/data-sources';
import { RunFinishedNotification } from '../protocol/messages/lsp';
import { isModelFile } from '../protocol/model-files';
import { SPEC_SUFFIX } from '../protocol/experiment-spec';
import { VERSION } from '../protocol/report';
import { analyzeSpec, type Analysis, type Severity } from '../experiment/analysis';
import { modelMarkdown, specCompletions, specHover, type CompletionKind } from './features';
import { collectRuns, lastEvaluation, resultTitle, sourceLenses, specLenses, type KnownRun, type Lens } from './lenses';
import { WorkspaceIndex } from '../experiment/workspace';

const connection = createConnection(ProposedFeatures.all);
const documents = new TextDocuments(TextDocument);
const index = new WorkspaceIndex([]);
let runs: KnownRun[] | undefined;
let canRefreshLenses = false;

const SOURCE_LANGUAGES = new Set(['typescript', 'javascript', 'typescriptreact', 'javascriptreact', 'python']);
const isSpec = (uri: string) => uri.endsWith(SPEC_SUFFIX);
const fsPath = (uri: string) => (uri.startsWith('file:') ? fileURLToPath(uri) : uri);

function knownRuns(): KnownRun[] {
  runs ??= collectRuns(index.folders);
  return runs;
}

connection.onInitialize((params): InitializeResult => {
  const folders =
    params.workspaceFolders?.map((f) => fsPath(f.uri)) ?? (params.rootUri ? [fsPath(params.rootUri)] : []);
  index.folders = folders;
  canRefreshLenses = params.capabilities.workspace?.codeLens?.refreshSupport === true;
  return {
    capabilities: {
      textDocumentSync: TextDocumentSyncKind.Incremental,
      completionProvider: { triggerCharacters: ['"', ':'] },
      hoverProvider: true,
      codeLensProvider: { resolveProvider: false },
      codeActionProvider: { codeActionKinds: [CodeActionKind.QuickFix] },
    },
    serverInfo: { name: 'robustness-lab', version: VERSION },
  };
});

const SEVERITY: Record<Severity, DiagnosticSeverity> = {
  error: DiagnosticSeverity.Error,
  warning: DiagnosticSeverity.Warning,
  information: DiagnosticSeverity.Information,
};

/** The analysis of each open spec's current version: diagnostics, hover and lenses share it. */
const analyses = new Map<string, { version: number; analysis: Analysis }>();

function analysisOf(doc: TextDocument): Analysis {
  const cached = analyses.get(doc.uri);
  if (cached?.version === doc.version) return cached.analysis;
  const analysis = analyzeSpec(doc.getText(), index.factsFor(fsPath(doc.uri)));
  analyses.set(doc.uri, { version: doc.version, analysis });
  return analysis;
}

function validate(doc: TextDocument): void {
  if (!isSpec(doc.uri)) return;
  const { problems } = analysisOf(doc);
  const diagnostics: Diagnostic[] = problems.map((p) => ({
    range: { start: doc.positionAt(p.start), end: doc.positionAt(p.end) },
    severity: SEVERITY[p.severity],
    message: p.message,
    code: p.code,
    source: 'robustness',
    ...(p.replacement ? { data: { replacement: p.replacement } } : {}),
  }));
  void connection.sendDiagnostics({ uri: doc.uri, version: doc.version, diagnostics });
}

documents.onDidChangeContent((e) => validate(e.document));
documents.onDidClose((e) => {
  analyses.delete(e.document.uri);
  if (isSpec(e.document.uri)) void connection.sendDiagnostics({ uri: e.document.uri, diagnostics: [] });
});

const COMPLETION_KIND: Record<CompletionKind, CompletionItemKind> = {
  property: CompletionItemKind.Property,
  value: CompletionItemKind.EnumMember,
  attack: CompletionItemKind.Function,
  file: CompletionItemKind.File,
  data: CompletionItemKind.Folder,
};

connection.onCompletion((params): CompletionItem[] => {
  const doc = documents.get(params.textDocument.uri);
  if (!doc || !isSpec(doc.uri)) return [];
  const facts = index.factsFor(fsPath(doc.uri));
  return specCompletions(doc.getText(), doc.offsetAt(params.position), {
    models: () => facts.models?.() ?? [],
    dataFolders: () => facts.dataFolders?.() ?? [],
  }).map((c, i) => ({
    label: c.label,
    kind: COMPLETION_KIND[c.kind],
    sortText: String(i).padStart(4, '0'),
    ...(c.detail ? { detail: c.detail } : {}),
    ...(c.documentation ? { documentation: { kind: MarkupKind.Markdown, value: c.documentation } } : {}),
    textEdit: { range: { start: doc.positionAt(c.start), end: doc.positionAt(c.end) }, newText: c.insert },
  }));
});

connection.onHover((params) => {
  const doc = documents.get(params.textDocument.uri);
  if (!doc || !isSpec(doc.uri)) return null;
  const file = fsPath(doc.uri);
  const facts = index.factsFor(file);
  const modelOf = (relative: string) => {
    const r = facts.model(relative);
    return 'info' in r ? r.info : undefined;
  };
  const analysis = analysisOf(doc);
  const main = typeof analysis.spec?.model === 'string' ? modelOf(analysis.spec.model) : undefined;
  const hover = specHover(doc.getText(), doc.offsetAt(params.position), {
    ...(main?.inputShape ? { pixels: main.inputShape.reduce((a, b) => a * b, 1) } : {}),
    model: (relative) => {
      const info = modelOf(relative);
      if (!info) return undefined;
      const last = lastEvaluation(knownRuns(), path.resolve(path.dirname(file), relative));
      return modelMarkdown(relative, info, last ? resultTitle(last.record, Date.now()) : undefined);
    },
  });
  return hover
    ? {
        contents: { kind: MarkupKind.Markdown, value: hover.markdown },
        range: { start: doc.positionAt(hover.start), end: doc.positionAt(hover.end) },
      }
    : null;
});

/** "Did you mean" as a quick fix: the diagnostic carries its replacement text. */
connection.onCodeAction((params): CodeAction[] => {
  if (!isSpec(params.textDocument.uri)) return [];
  return params.context.diagnostics.flatMap((d) => {
    const replacement = (d.data as { replacement?: unknown } | undefined)?.replacement;
    if (d.source !== 'robustness' || typeof replacement !== 'string') return [];
    return [
      {
        title: `Change to ${replacement}`,
        kind: CodeActionKind.QuickFix,
        diagnostics: [d],
        isPreferred: true,
        edit: { changes: { [params.textDocument.uri]: [{ range: d.range, newText: replacement }] } },
      },
    ];
  });
});

connection.onCodeLens((params): CodeLens[] => {
  const doc = documents.get(params.textDocument.uri);
  if (!doc) return [];
  const file = fsPath(doc.uri);
  const now = Date.now();
  let lenses: Lens[] = [];
  if (isSpec(doc.uri)) {
    const analysis = analysisOf(doc);
    if (!analysis.root) return [];
    lenses = specLenses(
      file,
      analysis.spec,
      { start: analysis.root.offset, end: analysis.root.offset + 1 },
      knownRuns(),
      now,
      doc.uri,
    );
  } else if (SOURCE_LANGUAGES.has(doc.languageId)) {
    lenses = sourceLenses(doc.getText(), file, index.folders, knownRuns(), now);
  }
  return lenses.map((l) => ({
    range: { start: doc.positionAt(l.start), end: doc.positionAt(l.end) },
    command: l.command,
  }));
});

let refreshTimer: NodeJS.Timeout | undefined;
/** Rereads the run store and asks the client for new lenses (coalesced: a run writes run.json several times). */
function runsChanged(): void {
  runs = undefined;
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => {
    if (canRefreshLenses) void connection.sendRequest('workspace/codeLens/refresh').catch(() => undefined);
  }, 100);
}

connection.onNotification(RunFinishedNotification.method, (raw: unknown) => {
  const parsed = RunFinishedNotification.params.safeParse(raw);
  if (!parsed.success) {
    connection.console.warn(`robustness/runFinished with bad params: ${parsed.error.message}`);
    return;
  }
  connection.console.info(`run ${parsed.data.runId} ${parsed.data.status}: refreshing lenses`);
  runsChanged();
});

connection.onDidChangeWatchedFiles((params) => {
  let specsStale = false;
  for (const change of params.changes) {
    const file = fsPath(change.uri);
    if (path.basename(file) === 'run.json') runsChanged();
    else if (isModelFile(file) || isDataFile(file)) {
      if (change.type !== FileChangeType.Changed) index.invalidateModels();
      specsStale = true;
    }
  }
  if (specsStale) {
    analyses.clear();
    for (const doc of documents.all()) validate(doc);
  }
});

documents.listen(connection);
connection.listen();
