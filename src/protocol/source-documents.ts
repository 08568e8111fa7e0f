/**
 * Which editor documents get model lenses and hints, as plain data shared by the extension's
 * language client (its documentSelector) and the language server: source files in these
 * languages, and the cells of a Jupyter notebook in them. A cell's URI has VS Code's
 * `vscode-notebook-cell` scheme, the notebook's path and a fragment naming the cell, so its
 * relative paths resolve against the notebook's folder.
 */
import { fileURLToPath } from 'node:url';

/** Language ids whose strings may name a model (`torch.onnx.export(model, x, "models/cnn.onnx")`). */
export const SOURCE_LANGUAGES = ['python', 'typescript', 'javascript', 'typescriptreact', 'javascriptreact'] as const;

/** The scheme VS Code gives each cell of an open notebook (`.ipynb`). */
export const NOTEBOOK_CELL_SCHEME = 'vscode-notebook-cell';

/** Languages of notebook cells that get lenses (Jupyter's code cells; markdown cells do not). */
export const NOTEBOOK_CELL_LANGUAGES = ['python'] as const;

/**
 * The scheme of the notebook a cell belongs to, from the cell URI's fragment: VS Code writes it as
 * `W…` (the cell's handle in base 7, padded with W) + `s` + the scheme in URL-safe base64.
 */
export function cellNotebookScheme(fragment: string): string | undefined {
  const m = /^W*[0-6]+s([A-Za-z0-9_+/-]+=*)$/.exec(decodeURIComponent(fragment.replace(/^#/, '')));
  return m ? Buffer.from(m[1]!, 'base64url').toString('utf8') : undefined;
}

/**
 * The file a document's relative paths resolve against: a file's own path, a notebook cell's
 * notebook; any other URI (an unsaved `untitled:` buffer) as written. A cell keeps its notebook's
 * authority: a network share's server for a `file:` notebook (kept), or, for a notebook opened
 * through a remote (code-server, SSH: `vscode-remote://host/…`), the remote's name (dropped: the
 * server runs beside the extension host, where the path is local).
 */
export function documentPath(uri: string): string {
  try {
    if (uri.startsWith('file:')) return fileURLToPath(uri);
    if (uri.startsWith(`${NOTEBOOK_CELL_SCHEME}:`)) {
      const cell = new URL(uri);
      const host = cellNotebookScheme(cell.hash) === 'file' ? cell.host : '';
      return fileURLToPath(`file://${host}${cell.pathname}`);
    }
  } catch {
    // A URI no file path can be made of (a remote authority on this platform): kept as written.
  }
  return uri;
}
