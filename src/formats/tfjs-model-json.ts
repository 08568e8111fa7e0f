/**
 * The one reader of tfjs model.json files (Layers and Graph): parsing, the manifest checks, and
 * the topology questions both the cheap describe and the engine's loaders ask (which kind, which
 * layer is the output, what the input shape is). Plain Node: no tfjs.
 */
import * as fs from 'node:fs';
import { FormatError } from './errors';
import { parseJsonText, readTextBounded } from './file-read';

export interface WeightEntry {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string; [key: string]: unknown };
  [key: string]: unknown;
}

export interface ModelJson {
  format?: string;
  modelTopology: Record<string, unknown>;
  weightsManifest: Array<{ paths: string[]; weights: WeightEntry[] }>;
  [key: string]: unknown;
}

export interface KerasLayer {
  class_name: string;
  config: {
    name?: string;
    activation?: string;
    batch_input_shape?: Array<number | null>;
    units?: number;
    [k: string]: unknown;
  };
}

export interface GraphNode {
  name: string;
  op: string;
  input?: string[];
  attr?: { shape?: { shape?: { dim?: Array<{ size?: string }> } } };
}

export type TfjsKind = 'layers' | 'graph';

/** A model.json's text: a regular file within READ_LIMITS.modelJson (src/formats/file-read.ts). */
export function readModelJsonText(file: string): string {
  return readTextBounded(file, 'modelJson');
}

/** Parses a model.json with the topology check only (what describe needs); throws a FormatError. */
export function parseTopology(
  text: string,
  file: string,
): { json: Record<string, unknown>; topology: Record<string, unknown> } {
  const json = parseJsonText(text, file);
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new FormatError(file, '', 'must be a JSON object');
  }
  const topology = (json as { modelTopology?: unknown }).modelTopology;
  if (typeof topology !== 'object' || topology === null || Array.isArray(topology)) {
    throw new FormatError(file, 'modelTopology', 'is missing', 'this is not a tfjs model.json');
  }
  return { json: json as Record<string, unknown>, topology: topology as Record<string, unknown> };
}

/** Reads a model.json with every check the loaders need (the weights manifest too); throws a FormatError. */
export function readModelJson(file: string): ModelJson {
  const { json } = parseTopology(readModelJsonText(file), file);
  if (!Array.isArray(json.weightsManifest)) {
    throw new FormatError(file, 'weightsManifest', 'is missing or not an array');
  }
  json.weightsManifest.forEach((group: unknown, g: number) => {
    const entry = group as { paths?: unknown; weights?: unknown };
    if (!Array.isArray(entry?.paths) || !entry.paths.every((p) => typeof p === 'string')) {
      throw new FormatError(file, `weightsManifest[${g}].paths`, 'must be an array of file names');
    }
    if (!Array.isArray(entry.weights)) throw new FormatError(file, `weightsManifest[${g}].weights`, 'must be an array');
  });
  return json as ModelJson;
}

/** Graph models carry a list of nodes (or say so in `format`); everything else is a Keras (Layers) topology. */
function tfjsKind(json: Record<string, unknown>, topology: Record<string, unknown>): TfjsKind {
  return json.format === 'graph-model' || Array.isArray(topology.node) ? 'graph' : 'layers';
}

/**
 * The kind of the model.json at `file`, or undefined when it cannot be read or parsed. Cached by
 * modification time and size, since the registry asks before every describe and load.
 */
const kindCache = new Map<string, { stamp: string; kind: TfjsKind | undefined }>();
export function peekTfjsKind(file: string): TfjsKind | undefined {
  let stamp: string;
  try {
    const stat = fs.statSync(file);
    stamp = `${stat.mtimeMs}:${stat.size}`;
  } catch {
    return undefined;
  }
  const cached = kindCache.get(file);
  if (cached?.stamp === stamp) return cached.kind;
  let kind: TfjsKind | undefined;
  try {
    const { json, topology } = parseTopology(readModelJsonText(file), file);
    kind = tfjsKind(json, topology);
  } catch {
    kind = undefined;
  }
  if (kindCache.size > 500) kindCache.clear();
  kindCache.set(file, { stamp, kind });
  return kind;
}

/** The layers of a Keras topology (Sequential or functional, with or without model_config). */
export function kerasLayers(topology: Record<string, unknown>): KerasLayer[] {
  const modelConfig = (topology.model_config ?? topology) as { config?: { layers?: KerasLayer[] } | KerasLayer[] };
  const config = modelConfig.config;
  return (Array.isArray(config) ? config : config?.layers) ?? [];
}

/** The layer producing the model's (single) output: the last one, or a functional model's output_layers[0]. */
export function kerasOutputLayer(topology: Record<string, unknown>): KerasLayer | undefined {
  const modelConfig = (topology.model_config ?? topology) as { class_name?: string; config?: unknown };
  const layers = kerasLayers(topology);
  if (layers.length === 0) return undefined;
  if (modelConfig.class_name === 'Sequential' || Array.isArray(modelConfig.config)) return layers[layers.length - 1];
  const outName = (modelConfig.config as { output_layers?: unknown[][] } | undefined)?.output_layers?.[0]?.[0];
  return layers.find((l) => l.config?.name === outName) ?? layers[layers.length - 1];
}

/** The input shape [H, W, C] of a Keras topology, as far as it says. */
export function kerasInputShape(layers: KerasLayer[]): number[] | undefined {
  const first = layers.find((l) => l.config?.batch_input_shape) ?? layers[0];
  const shape = first?.config?.batch_input_shape?.slice(1).filter((d): d is number => typeof d === 'number');
  return shape?.length ? shape : undefined;
}

/** The "softmax", "linear", … of a Keras output layer (a Softmax layer counts as softmax). */
export function kerasActivation(layer: KerasLayer | undefined): string | undefined {
  return layer?.class_name === 'Softmax' ? 'softmax' : layer?.config?.activation;
}

export function graphNodes(topology: Record<string, unknown>): GraphNode[] {
  return Array.isArray(topology.node) ? (topology.node as GraphNode[]) : [];
}

/** The input shape [H, W, C] of a graph's first Placeholder, when every size is known. */
export function graphInputShape(nodes: GraphNode[]): number[] | undefined {
  const input = nodes.find((n) => n.op === 'Placeholder');
  const dims = input?.attr?.shape?.shape?.dim?.map((d) => Number(d.size)).slice(1);
  return dims && dims.length > 0 && dims.every((d) => d > 0) ? dims : undefined;
}

/** The last computing node of a graph (Identity and NoOp pass through). */
export function graphOutputNode(nodes: GraphNode[]): GraphNode | undefined {
  return nodes.filter((n) => n.op !== 'NoOp' && n.op !== 'Identity').at(-1);
}
