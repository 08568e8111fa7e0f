/**
 * Which files are models, as plain data: the model-format registry (src/formats) takes its file
 * names from here, and so do the editor's globs and watchers, the language server and
 * package.json's menus (test/unit/formats.test.ts checks those agree).
 */
import { MODEL_FORMAT_IDS, type ModelFormatId } from './vocabulary';

/** The file tfjs saves a model's topology and weights manifest in (what training writes). */
export const TFJS_MODEL_FILE = 'model.json';

/**
 * The file names each model format loads. Formats may share a name (both tfjs formats are a
 * model.json); the registry's `matches` then looks inside the file to tell them apart.
 */
export const MODEL_FORMAT_FILE_NAMES: Readonly<Record<ModelFormatId, readonly string[]>> = {
  'tfjs-layers': [TFJS_MODEL_FILE],
  'tfjs-graph': [TFJS_MODEL_FILE],
};

/** File names a registered model format loads, each once. */
export const MODEL_FILE_NAMES: readonly string[] = [...new Set(MODEL_FORMAT_IDS.flatMap((id) => MODEL_FORMAT_FILE_NAMES[id]))];

/** A workspace glob matching every model file. */
export const MODEL_GLOB = MODEL_FILE_NAMES.length === 1 ? `**/${MODEL_FILE_NAMES[0]}` : `**/{${MODEL_FILE_NAMES.join(',')}}`;

/** Folders never searched for models. */
export const MODEL_SEARCH_EXCLUDE = '{**/node_modules/**,**/.robustness/**}';

/** package.json's `when` clause for commands on a model file (explorer and editor-title menus). */
export const MODEL_WHEN_CLAUSE = MODEL_FILE_NAMES.map((name) => `resourceFilename == ${name}`).join(' || ');

/** The activation event that wakes the extension in a workspace with a model. */
export const MODEL_ACTIVATION_EVENT = `workspaceContains:${MODEL_GLOB}`;

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A regular-expression source matching a model file name at the end of a path ("model\.json"). */
export const MODEL_FILE_NAME_PATTERN = `(?:${MODEL_FILE_NAMES.map(escapeRegExp).join('|')})`;

/** True when a path's last segment is a model file a registered format loads. */
export function isModelFile(filePath: string): boolean {
  const base = filePath.split(/[\\/]/).pop() ?? '';
  return MODEL_FILE_NAMES.includes(base);
}
