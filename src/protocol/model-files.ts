/**
 * Which files are models, as plain data: the model-format registry (src/formats) takes its file
 * names from here, and so do the editor's globs and watchers, the language server and
 * package.json's menus (a test checks those agree).
 */

/** File names a registered model format loads. */
export const MODEL_FILE_NAMES = ['model.json'] as const;

/** A workspace glob matching every model file. */
export const MODEL_GLOB = MODEL_FILE_NAMES.length === 1 ? `**/${MODEL_FILE_NAMES[0]}` : `**/{${MODEL_FILE_NAMES.join(',')}}`;

/** Folders never searched for models. */
export const MODEL_SEARCH_EXCLUDE = '{**/node_modules/**,**/.robustness/**}';

/** True when a path's last segment is a model file a registered format loads. */
export function isModelFile(filePath: string): boolean {
  const base = filePath.split(/[\\/]/).pop() ?? '';
  return (MODEL_FILE_NAMES as readonly string[]).includes(base);
}
