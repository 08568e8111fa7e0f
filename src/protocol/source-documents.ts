/**
 * Which editor documents get model lenses and hints, as plain data shared by the extension's
 * language client (its documentSelector) and the language server: source files in these
 * languages, and the cells of a Jupyter notebook in them. A cell's URI has VS Code's
 * `vscode-notebook-cell` scheme, the notebook's path and a fragment naming the cell, so its
 * relative paths resolve against the notebook's folder (src/server/lenses.ts: documentPath).
 */

/** Language ids whose strings may name a model (`torch.onnx.export(model, x, "models/cnn.onnx")`). */
export const SOURCE_LANGUAGES = ['python', 'typescript', 'javascript', 'typescriptreact', 'javascriptreact'] as const;

/** The scheme VS Code gives each cell of an open notebook (`.ipynb`). */
export const NOTEBOOK_CELL_SCHEME = 'vscode-notebook-cell';

/** Languages of notebook cells that get lenses (Jupyter's code cells; markdown cells do not). */
export const NOTEBOOK_CELL_LANGUAGES = ['python'] as const;
