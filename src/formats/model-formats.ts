/**
 * The model-format registry, cheap half: which file is which format and what it holds, read
 * without tfjs for the Models view, the language server and lenses. The engine's half (load →
 * Classifier) is MODEL_LOADERS in src/engine/models/load.ts, joined by id; both follow
 * MODEL_FORMAT_IDS in src/protocol/vocabulary.ts.
 *
 * A new format (ONNX, say) is one entry here whose describe reads the file's header, its file
 * pattern in src/protocol/model-files.ts, its id in the vocabulary, and its loader.
 */
import { fitsPattern, MODEL_FILE_EXTENSIONS, MODEL_FILE_NAMES, MODEL_FORMAT_FILES } from '../protocol/model-files';
import type { ModelFormatId } from '../protocol/vocabulary';
import { FormatError } from './errors';
import {
  graphInputShape,
  graphNodes,
  graphOutputNode,
  kerasActivation,
  kerasInputShape,
  kerasLayers,
  kerasOutputLayer,
  parseTopology,
  peekTfjsKind,
  readModelJsonText,
} from './tfjs-model-json';
import { summarizeOnnx } from './onnx-model';

export interface ModelInfo {
  format: ModelFormatId;
  /** [H, W, C] when the file says. */
  inputShape?: number[];
  classes?: number;
  /** The output's activation ("softmax", "linear", …), or "softmax" for a graph ending in Softmax. */
  outputActivation?: string;
  /** The tool that wrote the file and its version ("pytorch 1.13.0"), when the file says. */
  producer?: string;
  /** The operator set a graph format uses (ONNX). */
  opset?: number;
  /** The normalisation an ONNX graph applies to its own input first: "(x − 0.286) / 0.353". */
  inputNormalization?: string;
}

export interface ModelFormat {
  id: ModelFormatId;
  /** "Layers model": for hovers and lists. */
  label: string;
  /** What a file that fails describe is not ("tfjs model"): shared by formats sharing a file name. */
  noun: string;
  /**
   * Whether this format reads the file: by name first (MODEL_FORMAT_FILES); formats that
   * share a name may peek inside. Never throws.
   */
  matches(file: string): boolean;
  /** Cheap and tfjs-free: reads only what the summary needs. Throws a FormatError naming the file. */
  describe(file: string): ModelInfo;
}

const hasName = (id: ModelFormatId, file: string) => fitsPattern(MODEL_FORMAT_FILES[id], file);

function readTopology(file: string): Record<string, unknown> {
  return parseTopology(readModelJsonText(file), file).topology;
}

const tfjsLayers: ModelFormat = {
  id: 'tfjs-layers',
  label: 'Layers model',
  noun: 'tfjs model',
  // Also claims a model.json it cannot parse, so the user reads the tfjs reader's complaint.
  matches: (file) => hasName('tfjs-layers', file) && peekTfjsKind(file) !== 'graph',
  describe(file) {
    const topology = readTopology(file);
    const layers = kerasLayers(topology);
    if (layers.length === 0) throw new FormatError(file, 'modelTopology', 'has no layers');
    const inputShape = kerasInputShape(layers);
    const output = kerasOutputLayer(topology);
    const classes = output?.config?.units;
    const activation = kerasActivation(output);
    return {
      format: 'tfjs-layers',
      ...(inputShape ? { inputShape } : {}),
      ...(classes ? { classes } : {}),
      ...(activation ? { outputActivation: activation } : {}),
    };
  },
};

const tfjsGraph: ModelFormat = {
  id: 'tfjs-graph',
  label: 'Graph model',
  noun: 'tfjs model',
  matches: (file) => hasName('tfjs-graph', file) && peekTfjsKind(file) === 'graph',
  describe(file) {
    const nodes = graphNodes(readTopology(file));
    if (nodes.length === 0) throw new FormatError(file, 'modelTopology', 'has no nodes');
    const inputShape = graphInputShape(nodes);
    return {
      format: 'tfjs-graph',
      ...(inputShape ? { inputShape } : {}),
      ...(graphOutputNode(nodes)?.op === 'Softmax' ? { outputActivation: 'softmax' } : {}),
    };
  },
};

const onnxFormat: ModelFormat = {
  id: 'onnx',
  label: 'ONNX model',
  noun: 'ONNX model',
  matches: (file) => hasName('onnx', file),
  describe(file) {
    const { inputShape, classes, opset, producer, outputActivation, inputNormalization } = summarizeOnnx(file);
    return {
      format: 'onnx',
      // ONNX declares [C, H, W]; ModelInfo speaks [H, W, C] like the tfjs formats.
      ...(inputShape ? { inputShape: [inputShape[1]!, inputShape[2]!, inputShape[0]!] } : {}),
      ...(classes ? { classes } : {}),
      ...(outputActivation ? { outputActivation } : {}),
      ...(producer ? { producer } : {}),
      opset,
      ...(inputNormalization ? { inputNormalization } : {}),
    };
  },
};

/** Every model format, in the order MODEL_FORMAT_IDS gives (a test checks). */
export const MODEL_FORMATS: readonly ModelFormat[] = [tfjsLayers, tfjsGraph, onnxFormat];

export function modelFormat(id: ModelFormatId): ModelFormat {
  const format = MODEL_FORMATS.find((f) => f.id === id);
  if (!format) throw new Error(`no model format "${id}" is registered`);
  return format;
}

/** The format that reads `file`; a FormatError naming the file names we load when none does. */
export function modelFormatFor(file: string): ModelFormat {
  const format = MODEL_FORMATS.find((f) => f.matches(file));
  if (!format) {
    const names = [...MODEL_FILE_NAMES, ...MODEL_FILE_EXTENSIONS.map((ext) => `*${ext}`)].join(', ');
    const labels = MODEL_FORMATS.map((f) => f.label).join(', ');
    throw new FormatError(file, '', `is not a model file Robustness Lab reads (${labels}: ${names})`);
  }
  return format;
}

/** The summary of any model file; throws a FormatError naming the file and the problem. */
export function describeModel(file: string): ModelInfo {
  return modelFormatFor(file).describe(file);
}

/**
 * "28×28×1 → 10", "28×28×1", or "Graph model" when the file gives no shape; prefixed by the
 * producer and opset when the file names them ("pytorch 1.13.0 · opset 13 · 28×28×1 → 10").
 */
export function formatModelInfo(info: ModelInfo): string {
  const input = info.inputShape?.join('×');
  const shape = !input ? modelFormat(info.format).label : info.classes ? `${input} → ${info.classes}` : input;
  const origin = [info.producer, info.opset ? `opset ${info.opset}` : undefined].filter(Boolean);
  return [...origin, shape].join(' · ');
}
