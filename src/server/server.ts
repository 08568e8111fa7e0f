/**
 * Robustness Lab's language server (started by the extension over IPC, or with --stdio by the
 * tests and the benchmark). Experiment specs get diagnostics, completion, hover and Run/Train
 * lenses; TypeScript, JavaScript and Python files, and Python cells of notebooks, get a lens on
 * every line naming a model file (resolved against the file's folder, a cell's notebook's folder,
 * then the workspace folders) and a faint hint on a model path that names no file. Results come
 * from the run store and refresh on robustness/runFinished or when a run.json changes on disk (runs
 * started from the CLI).
 */
import * as path from 'node:path';
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
import { NOTEBOOK_CELL_LANGUAGES, NOTEBOOK_CELL_SCHEME, SOURCE_LANGUAGES } from '../protocol/source-documents';
import { VERSION } from '../protocol/report';
import { analyzeSpec, type Analysis, type Severity, type SpecFix } from '../experiment/analysis';
import { modelMarkdown, specCompletions, specHover, type CompletionKind } from './features';
import {
  collectRuns,
  documentPath,
  lastEvaluation,
  resultTitle,
  sourceHints,
  sourceLenses,
  specLenses,
  type KnownRun,
  type Lens,
} from './lenses';
import { dataRootsOption, WorkspaceIndex } from '../experiment/workspace';
import { Describer } from './describer';

const connection = createConnection(ProposedFeatures.all);
const documents = new TextDocuments(TextDocument);
const index = new WorkspaceIndex([]);
/**
 * Model files and data folders are read in a worker (dist/describe-worker.js), never here: a miss
 * schedules the read and the analysis shows "being read" until it lands (validate waits for it).
 */
const describer = new Describer(path.join(__dirname, 'describe-worker.js'));
const reads = new Map<string, Promise<void>>();
index.onMiss = (job, stamp) => {
  const key = `${job.kind}:${job.kind === 'model' ? job.file : path.resolve(job.dir, job.id)}:${stamp}`;
  if (!reads.has(key)) {
    reads.set(
      key,
      describer
        .describe(job)
        .then((result) => index.remember(job, stamp, result))
        .finally(() => reads.delete(key)),
    );
  }
  return { problem: `${job.kind === 'model' ? job.shown : `data "${job.id}"`} is being read` };
};
/**
 * The workspace listing (model files and data folders, for completion and "did you mean") is walked
 * asynchronously, a folder a step, never blocking an answer; when a walk completes, the open specs
 * are analysed again so their suggestions see it.
 */
index.onListed = () => {
  analyses.clear();
  for (const doc of documents.all()) validate(doc);
};
connection.onShutdown(() => describer.stop());
let runs: KnownRun[] | undefined;
let canRefreshLenses = false;
let clientSendsFolderChanges = false;

const SOURCES = new Set<string>(SOURCE_LANGUAGES);
const CELLS = new Set<string>(NOTEBOOK_CELL_LANGUAGES);
const isSpec = (uri: string) => uri.endsWith(SPEC_SUFFIX);
/** A source file, or a code cell of a notebook (whose paths resolve against the notebook's folder). */
const isSource = (doc: TextDocument) =>
  doc.uri.startsWith(`${NOTEBOOK_CELL_SCHEME}:`)
    ? CELLS.has(doc.languageId)
    : !isSpec(doc.uri) && SOURCES.has(doc.languageId);
const fsPath = documentPath;

function knownRuns(): KnownRun[] {
  runs ??= collectRuns(index.folders);
  return runs;
}

connection.onInitialize((params): InitializeResult => {
  const folders =
    params.workspaceFolders?.map((f) => fsPath(f.uri)) ?? (params.rootUri ? [fsPath(params.rootUri)] : []);
  index.folders = folders;
  // Data folders elsewhere that specs may name: only what the settings give (robustness.dataFolder).
  index.dataRoots = dataRootsOption(params.initializationOptions);
  canRefreshLenses = params.capabilities.workspace?.codeLens?.refreshSupport === true;
  clientSendsFolderChanges = params.capabilities.workspace?.workspaceFolders === true;
  return {
    capabilities: {
      textDocumentSync: TextDocumentSyncKind.Incremental,
      completionProvider: { triggerCharacters: ['"', ':'] },
      hoverProvider: true,
      codeLensProvider: { resolveProvider: false },
      codeActionProvider: { codeActionKinds: [CodeActionKind.QuickFix] },
      workspace: { workspaceFolders: { supported: true, changeNotifications: true } },
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
  let analysis: Analysis;
  try {
    analysis = analyzeSpec(doc.getText(), index.factsFor(fsPath(doc.uri)));
  } catch (err) {
    // A fault of the analysis itself must not cost the document its answers: it is one diagnostic.
    connection.console.error(`analysis of ${doc.uri} failed: ${(err as Error).stack ?? String(err)}`);
    analysis = {
      problems: [
        {
          start: 0,
          end: Math.min(1, doc.getText().length),
          severity: 'error',
          code: 'analysis-failed',
          message: `Robustness Lab could not analyse this spec (${(err as Error).message}); see the server log`,
        },
      ],
    };
  }
  analyses.set(doc.uri, { version: doc.version, analysis });
  return analysis;
}

/** Source files: a faint hint on each model path that names no file. */
function validateSource(doc: TextDocument): void {
  const diagnostics: Diagnostic[] = sourceHints(doc.getText(), fsPath(doc.uri), index.folders).map((h) => ({
    range: { start: doc.positionAt(h.start), end: doc.positionAt(h.end) },
    severity: DiagnosticSeverity.Hint,
    message: h.message,
    code: 'model-missing',
    source: 'robustness',
  }));
  void connection.sendDiagnostics({ uri: doc.uri, version: doc.version, diagnostics });
}

/** The analysis once every model and data folder it names has been read (in the worker). */
async function settledAnalysis(doc: TextDocument): Promise<Analysis> {
  let analysis = analysisOf(doc);
  // A read may name no further file, but a changed file may need a second look: a few rounds at most.
  for (let round = 0; round < 3 && reads.size > 0; round++) {
    await Promise.all(reads.values());
    analyses.delete(doc.uri);
    analysis = analysisOf(doc);
  }
  return analysis;
}

function validate(doc: TextDocument): void {
  if (isSource(doc)) return validateSource(doc);
  if (!isSpec(doc.uri)) return;
  void settledAnalysis(doc).then(({ problems }) => {
    // A newer version has its own validation under way.
    if (documents.get(doc.uri)?.version !== doc.version) return;
    publish(doc, problems);
  });
}

function publish(doc: TextDocument, problems: Analysis['problems']): void {
  const diagnostics: Diagnostic[] = problems.map((p) => ({
    range: { start: doc.positionAt(p.start), end: doc.positionAt(p.end) },
    severity: SEVERITY[p.severity],
    message: p.message,
    code: p.code,
    source: 'robustness',
    ...(p.replacement || p.fixes
      ? { data: { ...(p.replacement ? { replacement: p.replacement } : {}), ...(p.fixes ? { fixes: p.fixes } : {}) } }
      : {}),
  }));
  void connection.sendDiagnostics({ uri: doc.uri, version: doc.version, diagnostics });
}

documents.onDidChangeContent((e) => validate(e.document));
documents.onDidClose((e) => {
  analyses.delete(e.document.uri);
  if (isSpec(e.document.uri) || isSource(e.document))
    void connection.sendDiagnostics({ uri: e.document.uri, diagnostics: [] });
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
    filterText: c.filterText,
    ...(c.detail ? { detail: c.detail } : {}),
    ...(c.documentation ? { documentation: { kind: MarkupKind.Markdown, value: c.documentation } } : {}),
    textEdit: { range: { start: doc.positionAt(c.start), end: doc.positionAt(c.end) }, newText: c.insert },
    ...(c.additionalEdits
      ? {
          additionalTextEdits: c.additionalEdits.map((e) => ({
            range: { start: doc.positionAt(e.start), end: doc.positionAt(e.end) },
            newText: e.newText,
          })),
        }
      : {}),
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

/**
 * Quick fixes carried by the diagnostic: "did you mean" ("Change to …") and titled fixes ("Use ε = 0.1");
 * the first is preferred.
 */
connection.onCodeAction((params): CodeAction[] => {
  if (!isSpec(params.textDocument.uri)) return [];
  return params.context.diagnostics.flatMap((d) => {
    if (d.source !== 'robustness') return [];
    const data = d.data as { replacement?: unknown; fixes?: unknown } | undefined;
    const fixes: SpecFix[] = [
      ...(typeof data?.replacement === 'string'
        ? [{ title: `Change to ${data.replacement}`, replacement: data.replacement }]
        : []),
      ...(Array.isArray(data?.fixes) ? (data.fixes as unknown[]).filter(isFix) : []),
    ];
    return fixes.map((fix, i) => ({
      title: fix.title,
      kind: CodeActionKind.QuickFix,
      diagnostics: [d],
      isPreferred: i === 0,
      edit: { changes: { [params.textDocument.uri]: [{ range: d.range, newText: fix.replacement }] } },
    }));
  });
});

function isFix(value: unknown): value is SpecFix {
  const fix = value as Partial<SpecFix> | null;
  return typeof fix?.title === 'string' && typeof fix.replacement === 'string';
}

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
  } else if (isSource(doc)) {
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

/** Folders added to or removed from a multi-root workspace: their run stores and models join or leave. */
connection.onInitialized(() => {
  // Start the listing walk now, so completion usually finds it done.
  index.models();
  if (!clientSendsFolderChanges) return;
  connection.workspace.onDidChangeWorkspaceFolders((e) => {
    const removed = new Set(e.removed.map((f) => fsPath(f.uri)));
    index.folders = [...index.folders.filter((f) => !removed.has(f)), ...e.added.map((f) => fsPath(f.uri))];
    index.invalidateModels();
    index.models();
    analyses.clear();
    for (const doc of documents.all()) validate(doc);
    runsChanged();
  });
});

/** robustness.dataFolder changed: the client sends the new data roots (as at initialization); specs are checked again. */
connection.onDidChangeConfiguration((params) => {
  index.dataRoots = dataRootsOption(params.settings);
  analyses.clear();
  for (const doc of documents.all()) validate(doc);
});

documents.listen(connection);
connection.listen();
