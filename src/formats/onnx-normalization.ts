/**
 * "Normalisation inside the model": an ONNX graph that starts with its own Sub/Div (or Mul/Add)
 * of small constants on the input, as `(x - mean) / std` in a PyTorch forward() exports. Read
 * from the parsed graph, without running it, so the report can say so and warn when a
 * preprocessing mean/std is given as well (normalised twice).
 */
import { onnx } from 'onnx-proto';

type OnnxModel = onnx.ModelProto;
type OnnxTensor = onnx.ITensorProto;

/** A protobuf int64 (a Long) or a plain number, as a number (onnx-model.ts imports this file, so not from there). */
const toNumber = (v: number | { toNumber(): number } | null | undefined): number =>
  v === null || v === undefined ? 0 : typeof v === 'number' ? v : v.toNumber();

export interface InGraphNormalization {
  /** The ops in graph order, each with its constant (one value, or one per channel). */
  steps: Array<{ op: 'Sub' | 'Div' | 'Mul' | 'Add'; values: number[] }>;
  /** "(x − 0.286) / 0.353" */
  expression: string;
}

/** Constants bigger than this are not a per-channel normalisation (an image-sized offset, a mask). */
const MAX_VALUES = 16;

/** A small float tensor's values, or undefined for anything else (another type, external data, too big). */
function smallFloats(t: OnnxTensor | null | undefined): number[] | undefined {
  if (!t) return undefined;
  const T = onnx.TensorProto.DataType;
  const count = (t.dims ?? []).map(toNumber).reduce((a, b) => a * b, 1);
  if (count < 1 || count > MAX_VALUES || t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) return undefined;
  if (t.rawData && t.rawData.length > 0) {
    const width = t.dataType === T.FLOAT ? 4 : t.dataType === T.DOUBLE ? 8 : 0;
    if (!width || t.rawData.length !== count * width) return undefined;
    const view = new DataView(t.rawData.buffer, t.rawData.byteOffset, t.rawData.byteLength);
    return Array.from({ length: count }, (_, i) =>
      width === 4 ? view.getFloat32(i * 4, true) : view.getFloat64(i * 8, true),
    );
  }
  if (t.dataType === T.FLOAT && t.floatData?.length === count) return [...t.floatData];
  if (t.dataType === T.DOUBLE && t.doubleData?.length === count) return [...t.doubleData];
  return undefined;
}

const shown = (values: number[]) => {
  const each = values.map((v) => String(Number(v.toPrecision(4))));
  return each.length === 1 ? each[0]! : `[${each.join(', ')}]`;
};

/**
 * The Sub/Div/Mul/Add chain of constants the graph applies to its input first, or undefined when
 * it starts with anything else. Each step must be the only consumer of the value before it.
 */
export function inGraphNormalization(model: OnnxModel): InGraphNormalization | undefined {
  const graph = model.graph;
  const weights = new Set((graph?.initializer ?? []).map((t) => t.name));
  const input = (graph?.input ?? []).find((i) => !weights.has(i.name))?.name;
  if (!graph || !input) return undefined;
  const nodes = graph.node ?? [];
  const initializers = new Map((graph.initializer ?? []).map((t) => [t.name ?? '', t]));
  const constants = new Map<string, OnnxTensor>();
  for (const node of nodes) {
    if (node.opType !== 'Constant') continue;
    const value = node.attribute?.find((a) => a.name === 'value')?.t;
    if (value && node.output?.[0]) constants.set(node.output[0], value);
  }
  const constantOf = (name: string) => smallFloats(initializers.get(name) ?? constants.get(name));
  const steps: InGraphNormalization['steps'] = [];
  let current = input;
  let expression = 'x';
  for (;;) {
    const consumers = nodes.filter((n) => (n.input ?? []).includes(current));
    const node = consumers[0];
    if (consumers.length !== 1 || !node) break;
    const op = node.opType;
    if (op !== 'Sub' && op !== 'Div' && op !== 'Mul' && op !== 'Add') break;
    const [a = '', b = ''] = node.input ?? [];
    // x − c and x / c need x first; Mul and Add commute.
    const other = a === current ? b : op === 'Mul' || op === 'Add' ? a : undefined;
    const values = other !== undefined ? constantOf(other) : undefined;
    if (!values || (node.input ?? []).length !== 2) break;
    steps.push({ op, values });
    const c = shown(values);
    expression =
      op === 'Sub'
        ? `(${expression} − ${c})`
        : op === 'Add'
          ? `(${expression} + ${c})`
          : op === 'Div'
            ? `${expression} / ${c}`
            : `${expression} · ${c}`;
    current = node.output?.[0] ?? '';
    if (!current) break;
  }
  if (steps.length === 0) return undefined;
  // The outer brackets of a final − or + go: "x − 0.5", "(x − 0.286) / 0.353".
  const last = steps[steps.length - 1]!.op;
  return { steps, expression: last === 'Sub' || last === 'Add' ? expression.slice(1, -1) : expression };
}
