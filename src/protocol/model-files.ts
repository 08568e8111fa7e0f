/**
 * Which files are models, as plain data: the model-format registry (src/formats) takes its file
 * patterns from here, and so do the editor's globs and watchers, the language server, lenses and
 * package.json's activation event and menus (test/unit/formats.test.ts checks those agree).
 */
import { MODEL_FORMAT_IDS, type ModelFormatId } from './vocabulary';

/** The file tfjs saves a model's topology and weights manifest in (what training writes). */
export const TFJS_MODEL_FILE = 'model.json';
/** The file a model fine-tuned from an ONNX model is written back as (the same graph, new weights). */
export const ONNX_TRAINED_MODEL_FILE = 'model.onnx';

/** A format's files: exact names ("model.json") and/or extensions (".onnx", any name). */
export interface ModelFilePattern {
  names: readonly string[];
  extensions: readonly string[];
}

/**
 * The files each model format loads. Formats may share a pattern (both tfjs formats are a
 * model.json); the registry's `matches` then looks inside the file to tell them apart.
 */
export const MODEL_FORMAT_FILES: Readonly<Record<ModelFormatId, ModelFilePattern>> = {
  'tfjs-layers': { names: [TFJS_MODEL_FILE], extensions: [] },
  'tfjs-graph': { names: [TFJS_MODEL_FILE], extensions: [] },
  onnx: { names: [], extensions: ['.onnx'] },
};

const unique = (items: string[]) => [...new Set(items)];

/** Exact file names a registered model format loads, each once. */
export const MODEL_FILE_NAMES: readonly string[] = unique(
  MODEL_FORMAT_IDS.flatMap((id) => MODEL_FORMAT_FILES[id].names),
);

/** Extensions (with the dot) a registered model format loads whatever the name, each once. */
export const MODEL_FILE_EXTENSIONS: readonly string[] = unique(
  MODEL_FORMAT_IDS.flatMap((id) => MODEL_FORMAT_FILES[id].extensions),
);

const lastSegment = (filePath: string) => filePath.split(/[\\/]/).pop() ?? '';

/** True when `filePath` fits a pattern by name alone (no I/O). */
export function fitsPattern(pattern: ModelFilePattern, filePath: string): boolean {
  const base = lastSegment(filePath);
  return (
    pattern.names.includes(base) || pattern.extensions.some((ext) => base.length > ext.length && base.endsWith(ext))
  );
}

const GLOB_PARTS = [...MODEL_FILE_NAMES, ...MODEL_FILE_EXTENSIONS.map((ext) => `*${ext}`)];

/** A workspace glob matching every model file. */
export const MODEL_GLOB = GLOB_PARTS.length === 1 ? `**/${GLOB_PARTS[0]}` : `**/{${GLOB_PARTS.join(',')}}`;

/** Folders never searched for models. */
export const MODEL_SEARCH_EXCLUDE = '{**/node_modules/**,**/.robustness/**}';

/** package.json's `when` clause for commands on a model file (explorer and editor-title menus). */
export const MODEL_WHEN_CLAUSE = [
  ...MODEL_FILE_NAMES.map((name) => `resourceFilename == ${name}`),
  ...MODEL_FILE_EXTENSIONS.map((ext) => `resourceExtname == ${ext}`),
].join(' || ');

/** The activation event that wakes the extension in a workspace with a model. */
export const MODEL_ACTIVATION_EVENT = `workspaceContains:${MODEL_GLOB}`;

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A regular-expression source matching the end of a model file's path ("model\.json", "\.onnx"). */
const modelFileAlternatives = [...MODEL_FILE_NAMES, ...MODEL_FILE_EXTENSIONS].map(escapeRegExp).join('|');
export const MODEL_FILE_NAME_PATTERN = `(?:${modelFileAlternatives})`;

/** True when a path's last segment is a model file a registered format loads. */
export function isModelFile(filePath: string): boolean {
  return MODEL_FORMAT_IDS.some((id) => fitsPattern(MODEL_FORMAT_FILES[id], filePath));
}
