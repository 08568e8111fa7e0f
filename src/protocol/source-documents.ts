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
 * The file a document's relative paths resolve against: a file's own path, a notebook cell's
 * notebook; any other URI (an unsaved `untitled:` buffer) as written.
 */
export function documentPath(uri: string): string {
  try {
    if (uri.startsWith('file:')) return fileURLToPath(uri);
    if (uri.startsWith(`${NOTEBOOK_CELL_SCHEME}:`)) {
      const cell = new URL(uri);
      return fileURLToPath(`file://${cell.host}${cell.pathname}`);
    }
  } catch {
    // A URI no file path can be made of (a remote authority on this platform): kept as written.
  }
  return uri;
}
