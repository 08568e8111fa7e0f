/**
 * ONNX models, cheap half: reads a ModelProto with `onnx-proto` (ONNX's own onnx.proto compiled
 * for protobufjs; no tfjs), checks it is a model (a graph with nodes and an image input), and
 * resolves external weight files only inside the model's folder. The engine's interpreter
 * (src/engine/models/onnx/) builds on what this returns.
 */
import { onnx } from 'onnx-proto';
import { FormatError } from './errors';
import { readBounded } from './file-read';
import { besideModel } from '../common/containment';
import { inGraphNormalization } from './onnx-normalization';

export type OnnxModel = onnx.ModelProto;
export type OnnxTensor = onnx.ITensorProto;

/** A protobuf int64 (a Long) or a plain number, as a number. */
export function toNumber(value: number | { toNumber(): number } | null | undefined): number {
  if (value === null || value === undefined) return 0;
  return typeof value === 'number' ? value : value.toNumber();
}

/** The default (ai.onnx) opset the model imports. */
export function onnxOpset(model: OnnxModel): number {
  const entry = model.opsetImport.find((o) => !o.domain || o.domain === 'ai.onnx');
  return entry ? toNumber(entry.version) : 0;
}

/** Reads and checks an ONNX file; a FormatError naming the file when it is not a model. */
export function readOnnxModel(file: string): OnnxModel {
  const bytes = readBounded(file, 'onnx');
  let model: OnnxModel;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (err) {
    throw new FormatError(file, '', `is not an ONNX model (${(err as Error).message})`);
  }
  const graph = model.graph;
  if (!graph?.node || graph.node.length === 0)
    throw new FormatError(file, 'graph', 'has no nodes; this is not an ONNX model');
  if (!onnxOpset(model)) throw new FormatError(file, 'opset_import', 'names no ai.onnx opset');
  for (const tensor of graph.initializer ?? []) externalDataFile(file, tensor);
  return model;
}

/** The graph inputs that are not initializers (the model's real inputs). */
export function onnxInputs(model: OnnxModel): onnx.IValueInfoProto[] {
  const weights = new Set((model.graph?.initializer ?? []).map((t) => t.name));
  return (model.graph?.input ?? []).filter((i) => !weights.has(i.name));
}

/** A value's declared dimensions: numbers, or the symbolic name ("batch") / undefined. */
export function valueDims(value: onnx.IValueInfoProto | undefined): Array<number | string | undefined> | undefined {
  const dims = value?.type?.tensorType?.shape?.dim;
  if (!dims) return undefined;
  return dims.map((d) =>
    d.dimValue !== null && d.dimValue !== undefined && toNumber(d.dimValue) > 0
      ? toNumber(d.dimValue)
      : (d.dimParam ?? undefined),
  );
}

/**
 * The external file holding a tensor's data, or undefined when the data is inline. A location
 * outside the model's folder (an absolute path, `../`) is refused, as model.json's weight paths are.
 */
export function externalDataFile(file: string, tensor: OnnxTensor): string | undefined {
  if (tensor.dataLocation !== onnx.TensorProto.DataLocation.EXTERNAL) return undefined;
  const location = tensor.externalData?.find((e) => e.key === 'location')?.value;
  if (!location) throw new FormatError(file, `initializer "${tensor.name}"`, 'is external data without a location');
  const resolved = besideModel(file, location);
  if (!resolved) {
    throw new FormatError(
      file,
      `initializer "${tensor.name}"`,
      `external data location "${location}" leaves the model's folder; weight files must sit beside the model`,
    );
  }
  return resolved;
}

export interface OnnxSummary {
  /** [C, H, W] as the model declares it (batch left out), when it declares four dimensions. */
  inputShape?: number[];
  classes?: number;
  opset: number;
  /** "pytorch 1.13.0" */
  producer?: string;
  /** "softmax" / "logsoftmax" when the graph ends in one. */
  outputActivation?: string;
  /** The normalisation the graph applies to its own input first: "(x − 0.286) / 0.353". */
  inputNormalization?: string;
}

export function summarizeOnnx(file: string): OnnxSummary {
  const model = readOnnxModel(file);
  const graph = model.graph!;
  const input = valueDims(onnxInputs(model)[0]);
  const chw = input?.length === 4 ? input.slice(1) : undefined;
  const output = valueDims(graph.output?.[0]);
  const classes = output?.[output.length - 1];
  const outputName = graph.output?.[0]?.name ?? '';
  const last = (graph.node ?? []).find((n) => (n.output ?? []).includes(outputName));
  const producer = [model.producerName, model.producerVersion].filter(Boolean).join(' ');
  const normalization = inGraphNormalization(model);
  return {
    ...(chw?.every((d) => typeof d === 'number') ? { inputShape: chw as number[] } : {}),
    ...(typeof classes === 'number' ? { classes } : {}),
    opset: onnxOpset(model),
    ...(producer ? { producer } : {}),
    ...(last?.opType === 'Softmax' || last?.opType === 'LogSoftmax'
      ? { outputActivation: last.opType.toLowerCase() }
      : {}),
    ...(normalization ? { inputNormalization: normalization.expression } : {}),
  };
}
