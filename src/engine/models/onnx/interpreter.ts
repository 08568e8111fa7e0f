/**
 * An ONNX graph run as tfjs ops, so gradients flow through it (tf.grad, optimizers). Semantics are
 * ONNX's (NCHW); convolutions and pooling run NHWC, as tfjs does, so 4-D activations stay NHWC
 * between them and are laid out NCHW only where an op needs that view (Reshape, Flatten, Concat,
 * …). Convolution weights are transposed to tfjs's layout once, at load. Integer values (shapes,
 * indices: the Shape → Gather → Unsqueeze → Concat subgraph of `x.view(x.size(0), -1)`) are plain
 * JS arrays folded from the input's known shape, never tensors. Every op is checked at load: an
 * op type not in OPS is refused there with the node's name, op type and opset.
 */
import { readBounded } from '../../../formats/file-read';
import * as tf from '@tensorflow/tfjs-core';
import { onnx } from 'onnx-proto';
import { InputError } from '../../errors';
import {
  externalDataFile,
  onnxInputs,
  onnxOpset,
  valueDims,
  toNumber,
  type OnnxModel,
  type OnnxTensor,
} from '../../../formats/onnx-model';
import { makeTrainable, type OnnxParameters } from './trainable';

/** A runtime tensor, flagged when its 4-D layout is NHWC (ONNX sees it as NCHW). */
interface TensorValue {
  kind: 'tensor';
  t: tf.Tensor;
  nhwc: boolean;
}
/** An integer tensor as plain numbers (shapes, axes, indices). */
interface IntsValue {
  kind: 'ints';
  dims: number[];
  data: number[];
}
type Value = TensorValue | IntsValue;

type Attrs = Map<string, onnx.IAttributeProto>;
interface Node {
  name: string;
  op: string;
  /** "" or "ai.onnx" for ONNX's own operators; anything else is a vendor's (com.microsoft, …). */
  domain: string;
  inputs: string[];
  outputs: string[];
  attrs: Attrs;
}
type Kernel = (node: Node, args: Array<Value | undefined>, graph: OnnxGraph) => Value[];

const NCHW_TO_NHWC = [0, 2, 3, 1];
const NHWC_TO_NCHW = [0, 3, 1, 2];

const tensor = (t: tf.Tensor, nhwc = false): TensorValue => ({ kind: 'tensor', t, nhwc });

/** The NCHW (ONNX) view of a value as a float tensor. */
function nchw(value: Value): tf.Tensor {
  if (value.kind === 'ints') return tf.tensor(value.data, value.dims, 'float32');
  return value.nhwc ? tf.transpose(value.t, NHWC_TO_NCHW) : value.t;
}
/** A 4-D activation in NHWC. */
function nhwc(value: Value): tf.Tensor4D {
  if (value.kind === 'tensor' && value.nhwc) return value.t as tf.Tensor4D;
  return tf.transpose(nchw(value), NCHW_TO_NHWC) as tf.Tensor4D;
}
function shapeOf(value: Value): number[] {
  if (value.kind === 'ints') return value.dims;
  const s = value.t.shape;
  return value.nhwc ? [s[0]!, s[3]!, s[1]!, s[2]!] : s;
}
const product = (xs: number[]) => xs.reduce((a, b) => a * b, 1);

function attrInt(attrs: Attrs, name: string, fallback: number): number {
  const a = attrs.get(name);
  return a ? toNumber(a.i) : fallback;
}
function attrFloat(attrs: Attrs, name: string, fallback: number): number {
  const a = attrs.get(name);
  return a ? (a.f ?? fallback) : fallback;
}
function attrInts(attrs: Attrs, name: string): number[] | undefined {
  const a = attrs.get(name);
  return a ? (a.ints ?? []).map(toNumber) : undefined;
}
function attrString(attrs: Attrs, name: string, fallback: string): string {
  const a = attrs.get(name);
  return a?.s ? Buffer.from(a.s).toString('utf8') : fallback;
}

function ints(value: Value | undefined, node: Node, what: string): number[] {
  if (value?.kind !== 'ints') {
    throw new InputError(
      node.name,
      what,
      `must be a constant integer tensor for ${node.op} (computed values are not supported)`,
    );
  }
  return value.data;
}
const must = (value: Value | undefined, node: Node, index: number): Value => {
  if (!value) throw new InputError(node.name, `input ${index}`, `${node.op} needs it`);
  return value;
};

/** Elementwise binary op, staying NHWC when one side is an NHWC activation and the other broadcasts. */
function binary(fn: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor): Kernel {
  return (node, [a, b]) => {
    const x = must(a, node, 0);
    const y = must(b, node, 1);
    if (x.kind === 'ints' && y.kind === 'ints') {
      const out = fn(tf.tensor(x.data, x.dims), tf.tensor(y.data, y.dims));
      return [tensor(out)];
    }
    const layoutOf = (v: Value) => v.kind === 'tensor' && v.nhwc;
    if (layoutOf(x) || layoutOf(y)) {
      const other = layoutOf(x) ? y : x;
      const rank = shapeOf(other).length;
      if (layoutOf(other) || rank <= 4) {
        const asNhwc = (v: Value) => {
          if (layoutOf(v)) return (v as TensorValue).t;
          const t = nchw(v);
          const full = t.rank === 4 ? t : tf.reshape(t, [...Array(4 - t.rank).fill(1), ...t.shape]);
          return tf.transpose(full, NCHW_TO_NHWC);
        };
        return [tensor(fn(asNhwc(x), asNhwc(y)), true)];
      }
    }
    return [tensor(fn(nchw(x), nchw(y)))];
  };
}
function unary(fn: (x: tf.Tensor) => tf.Tensor): Kernel {
  return (node, [a]) => {
    const x = must(a, node, 0);
    return [tensor(fn(x.kind === 'tensor' ? x.t : nchw(x)), x.kind === 'tensor' && x.nhwc)];
  };
}

/** ONNX pads [top, left, bottom, right] (or auto_pad) as tfjs's padding. */
function padding(
  node: Node,
): 'valid' | 'same' | [[number, number], [number, number], [number, number], [number, number]] {
  const auto = attrString(node.attrs, 'auto_pad', 'NOTSET');
  if (auto === 'VALID') return 'valid';
  if (auto === 'SAME_UPPER') return 'same';
  const [t = 0, l = 0, b = 0, r = 0] = attrInts(node.attrs, 'pads') ?? [];
  return [
    [0, 0],
    [t, b],
    [l, r],
    [0, 0],
  ];
}
const pair = (xs: number[] | undefined, fallback: number): [number, number] => [
  xs?.[0] ?? fallback,
  xs?.[1] ?? fallback,
];

/** A Conv node's weights, laid out for tfjs once: per group [kh, kw, in, out], or depthwise [kh, kw, C, mult]. */
interface ConvPlan {
  depthwise: boolean;
  filters: tf.Tensor4D[];
  bias?: tf.Tensor1D;
  /**
   * A depthwise filter as a dense [kh, kw, C, C × mult] one (zero off the diagonal), for backends
   * without depthwise gradients (tfjs-wasm): built on first use there, then kept.
   */
  dense?: tf.Tensor4D;
  /** The filters are variables being trained (trainable.ts): a dense depthwise filter is rebuilt per call. */
  trainable?: boolean;
}

/** Whether the current backend has a depthwise convolution's input and filter gradients. */
function hasDepthwiseGradients(): boolean {
  const backend = tf.getBackend();
  return (
    tf.getKernel('DepthwiseConv2dNativeBackpropInput', backend) !== undefined &&
    tf.getKernel('DepthwiseConv2dNativeBackpropFilter', backend) !== undefined
  );
}

function denseDepthwise(plan: ConvPlan): tf.Tensor4D {
  const build = () => {
    const filter = plan.filters[0]!;
    const [kh, kw, channels, mult] = filter.shape;
    // dense[.., c, c·mult + j] = filter[.., c, j]: each input channel feeds only its own outputs.
    const eye = tf.reshape(tf.eye(channels), [1, 1, channels, channels, 1]);
    const spread = tf.mul(eye, tf.reshape(filter, [kh, kw, 1, channels, mult]));
    return tf.reshape(spread, [kh, kw, channels, channels * mult]) as tf.Tensor4D;
  };
  // A trained filter changes every step: built in the caller's tidy, on the gradient tape.
  if (plan.trainable) return build();
  if (!plan.dense) plan.dense = tf.keep(tf.tidy(build));
  return plan.dense;
}

/**
 * A [kh, kw, …] kernel with dilation rates [dh, dw] as the equivalent undilated one: d − 1 zeros
 * between taps, [(kh − 1)·dh + 1, (kw − 1)·dw + 1, …]. Built from tf ops (pad, reshape, slice),
 * so gradients reach the weights; tfjs has no convolution gradient for dilations above 1.
 */
export function dilateKernel(kernel: tf.Tensor4D, [dh = 1, dw = 1]: number[]): tf.Tensor4D {
  if (dh === 1 && dw === 1) return kernel;
  const [kh, kw, i, o] = kernel.shape;
  // Each tap followed by d − 1 zeros along one axis, then the trailing zeros cut.
  const spread = (t: tf.Tensor3D, d: number): tf.Tensor3D => {
    const [k, rest, inner] = t.shape;
    const padded = tf.pad(tf.reshape(t, [k, 1, rest, inner]), [
      [0, 0],
      [0, d - 1],
      [0, 0],
      [0, 0],
    ]);
    return tf.slice(tf.reshape(padded, [k * d, rest, inner]), [0, 0, 0], [(k - 1) * d + 1, rest, inner]) as tf.Tensor3D;
  };
  const rows = spread(tf.reshape(kernel, [kh, kw, i * o]) as tf.Tensor3D, dh); // [KH, kw, io]
  const KH = rows.shape[0];
  const cols = spread(tf.reshape(tf.transpose(rows, [1, 0, 2]), [kw, KH, i * o]) as tf.Tensor3D, dw); // [KW, KH, io]
  return tf.reshape(tf.transpose(cols, [1, 0, 2]), [KH, cols.shape[0], i, o]) as tf.Tensor4D;
}

/**
 * A grouped ConvTranspose weight (ONNX [in, out/groups, kh, kw]) as the dense [in, out, kh, kw]
 * one, zero where input channel and output channel are in different groups (depthwise included).
 */
export function ungroupTransposeKernel(weight: tf.Tensor4D, groups: number): tf.Tensor4D {
  if (groups === 1) return weight;
  const [inC, outPerGroup, kh, kw] = weight.shape;
  const blocks = tf.reshape(weight, [groups, inC / groups, 1, outPerGroup * kh * kw]);
  const spread = tf.mul(blocks, tf.reshape(tf.eye(groups), [groups, 1, groups, 1]));
  return tf.reshape(spread, [inC, groups * outPerGroup, kh, kw]) as tf.Tensor4D;
}

function conv(node: Node, [a]: Array<Value | undefined>, graph: OnnxGraph): Value[] {
  const plan = graph.convPlans.get(node.name)!;
  const x = nhwc(must(a, node, 0));
  const strides = pair(attrInts(node.attrs, 'strides'), 1);
  const pad = padding(node);
  let y: tf.Tensor4D;
  if (plan.depthwise) {
    y = hasDepthwiseGradients()
      ? tf.depthwiseConv2d(x, plan.filters[0]!, strides, pad)
      : tf.conv2d(x, denseDepthwise(plan), strides, pad);
  } else if (plan.filters.length === 1) y = tf.conv2d(x, plan.filters[0]!, strides, pad);
  else {
    const parts = tf.split(x, plan.filters.length, 3) as tf.Tensor4D[];
    y = tf.concat(
      parts.map((p, g) => tf.conv2d(p, plan.filters[g]!, strides, pad)),
      3,
    );
  }
  return [tensor(plan.bias ? tf.add(y, plan.bias) : y, true)];
}

/**
 * ConvTranspose: tfjs's full transposed convolution (groups and dilations are in the kernel laid out
 * at load), then ONNX's output padding and crop.
 */
function convTranspose(node: Node, [a]: Array<Value | undefined>, graph: OnnxGraph): Value[] {
  const plan = graph.convPlans.get(node.name)!;
  const x = nhwc(must(a, node, 0));
  const filter = plan.filters[0]!;
  const [kh, kw, outC] = filter.shape;
  const [sh, sw] = pair(attrInts(node.attrs, 'strides'), 1);
  const [oph, opw] = pair(attrInts(node.attrs, 'output_padding'), 0);
  const full = [sh * (x.shape[1] - 1) + kh, sw * (x.shape[2] - 1) + kw];
  const y = tf.conv2dTranspose(x, filter, [x.shape[0], full[0]!, full[1]!, outC], [sh, sw], 'valid');
  const extended =
    oph || opw
      ? tf.pad(y, [
          [0, 0],
          [0, oph],
          [0, opw],
          [0, 0],
        ])
      : y;
  const size = [full[0]! + oph, full[1]! + opw];
  const outputShape = attrInts(node.attrs, 'output_shape');
  const auto = attrString(node.attrs, 'auto_pad', 'NOTSET');
  let begin: number[];
  let out: number[];
  if (outputShape || auto === 'SAME_UPPER') {
    out = outputShape ? outputShape.slice(-2) : [x.shape[1] * sh, x.shape[2] * sw];
    // ONNX: the total padding splits with the larger half at the end for SAME_UPPER, else at the start.
    begin = out.map((o, i) => {
      const total = size[i]! - o;
      return auto === 'SAME_UPPER' ? Math.floor(total / 2) : total - Math.floor(total / 2);
    });
  } else {
    const [t = 0, l = 0, b = 0, r = 0] = attrInts(node.attrs, 'pads') ?? [];
    begin = [t, l];
    out = [size[0]! - t - b, size[1]! - l - r];
  }
  const cropped = tf.slice(extended, [0, begin[0]!, begin[1]!, 0], [-1, out[0]!, out[1]!, -1]);
  return [tensor(plan.bias ? tf.add(cropped, plan.bias) : cropped, true)];
}

/**
 * A pooling node's windows along H and W: the explicit pads [top, left, bottom, right] (auto_pad
 * resolved), the output size, and the cells past the padded input that ceil_mode's last window
 * covers. ONNX's rule: with ceil_mode the size rounds up, but a window that would start beyond
 * the input and its leading pad is dropped.
 */
function poolWindows(node: Node, input: [number, number]) {
  const kernel = pair(attrInts(node.attrs, 'kernel_shape'), 1);
  const strides = pair(attrInts(node.attrs, 'strides'), 1);
  const auto = attrString(node.attrs, 'auto_pad', 'NOTSET');
  const ceil = attrInt(node.attrs, 'ceil_mode', 0) === 1;
  const given = attrInts(node.attrs, 'pads') ?? [];
  const head = [0, 0];
  const tail = [0, 0];
  const out = [0, 0];
  const extra = [0, 0];
  for (let i = 0; i < 2; i++) {
    const [n, k, s] = [input[i]!, kernel[i]!, strides[i]!];
    if (auto === 'SAME_UPPER' || auto === 'SAME_LOWER') {
      out[i] = Math.ceil(n / s);
      const total = Math.max((out[i]! - 1) * s + k - n, 0);
      head[i] = auto === 'SAME_UPPER' ? Math.floor(total / 2) : Math.ceil(total / 2);
      tail[i] = total - head[i]!;
    } else {
      if (auto === 'NOTSET') [head[i], tail[i]] = [given[i] ?? 0, given[i + 2] ?? 0];
      const span = n + head[i]! + tail[i]! - k;
      out[i] = (ceil ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
      if (ceil && (out[i]! - 1) * s >= n + head[i]!) out[i]! -= 1;
    }
    extra[i] = Math.max((out[i]! - 1) * s + k - (n + head[i]! + tail[i]!), 0);
  }
  return { kernel, strides, head, tail, out, extra };
}

/**
 * MaxPool and AveragePool as ONNX (and onnxruntime) define them, over explicit padding: max
 * ignores pad cells, average divides each window's sum by its cells inside the input
 * (count_include_pad 0) or inside the padded input (1); ceil_mode's cells past both never count.
 */
function pool(kind: 'max' | 'avg'): Kernel {
  return (node, [a]) => {
    const x = nhwc(must(a, node, 0));
    const { kernel, strides, head, tail, out, extra } = poolWindows(node, [x.shape[1], x.shape[2]]);
    const spec = (lead: number[], trail: number[]): Array<[number, number]> => [
      [0, 0],
      [lead[0]!, trail[0]!],
      [lead[1]!, trail[1]!],
      [0, 0],
    ];
    const outer = [tail[0]! + extra[0]!, tail[1]! + extra[1]!];
    const padded = [...head, ...outer].some((p) => p > 0);
    const fit = (y: tf.Tensor4D): tf.Tensor4D =>
      y.shape[1] === out[0] && y.shape[2] === out[1] ? y : tf.slice(y, [0, 0, 0, 0], [-1, out[0]!, out[1]!, -1]);
    if (kind === 'max') {
      const input = padded ? tf.pad(x, spec(head, outer), -Infinity) : x;
      return [tensor(fit(tf.maxPool(input, kernel, strides, 'valid')), true)];
    }
    const y = fit(tf.avgPool(padded ? tf.pad(x, spec(head, outer)) : x, kernel, strides, 'valid'));
    const includePad = attrInt(node.attrs, 'count_include_pad', 0) === 1;
    const counted = includePad
      ? [x.shape[1] + head[0]! + tail[0]!, x.shape[2] + head[1]! + tail[1]!]
      : [x.shape[1], x.shape[2]];
    const excluded = includePad ? spec([0, 0], extra) : spec(head, outer);
    if (!excluded.some(([p, q]) => p || q)) return [tensor(y, true)];
    // Each window's share of counted cells (a constant), so sum / count = avgPool(x) / share.
    const ones = tf.ones([1, counted[0]!, counted[1]!, 1]) as tf.Tensor4D;
    const share = fit(tf.avgPool(tf.pad(ones, excluded), kernel, strides, 'valid'));
    return [tensor(tf.div(y, share), true)];
  };
}

function reshapeTo(shape: number[], target: number[]): number[] {
  return target.map((d, i) => (d === 0 ? shape[i]! : d));
}

/**
 * A model exported with its batch fixed at 1 reshapes to constants like [1, 256]; run on a batch
 * of n, such a target (leading 1, element count off by the factor n) keeps the batch instead.
 */
function batchedTarget(graph: OnnxGraph, shape: number[], target: number[]): number[] {
  const batch = shape[0] ?? 1;
  if (!graph.fixedBatch || batch === 1 || target[0] !== 1 || target.includes(-1)) return target;
  if (product(target) * batch !== product(shape)) return target;
  return [batch, ...target.slice(1)];
}

function unsqueezeDims(dims: number[], axes: number[]): number[] {
  const rank = dims.length + axes.length;
  const norm = axes.map((a) => (a < 0 ? a + rank : a)).sort((p, q) => p - q);
  const out = [...dims];
  for (const a of norm) out.splice(a, 0, 1);
  return out;
}

function axesOf(
  node: Node,
  args: Array<Value | undefined>,
  graph: OnnxGraph,
  inputIndex: number,
  sinceOpset: number,
): number[] | undefined {
  return graph.opset >= sinceOpset && args[inputIndex]
    ? ints(args[inputIndex], node, 'axes')
    : attrInts(node.attrs, 'axes');
}

const identity: Kernel = (node, [a]) => [must(a, node, 0)];

const OPS: Record<string, Kernel> = {
  Conv: conv,
  ConvTranspose: convTranspose,
  Gemm: (node, [a, b, c]) => {
    const transA = attrInt(node.attrs, 'transA', 0) === 1;
    const transB = attrInt(node.attrs, 'transB', 0) === 1;
    let y = tf.matMul(nchw(must(a, node, 0)) as tf.Tensor2D, nchw(must(b, node, 1)) as tf.Tensor2D, transA, transB);
    const alpha = attrFloat(node.attrs, 'alpha', 1);
    if (alpha !== 1) y = tf.mul(y, alpha);
    if (c) {
      const beta = attrFloat(node.attrs, 'beta', 1);
      y = tf.add(y, beta === 1 ? nchw(c) : tf.mul(nchw(c), beta));
    }
    return [tensor(y)];
  },
  MatMul: (node, [a, b]) => [tensor(tf.matMul(nchw(must(a, node, 0)), nchw(must(b, node, 1))))],
  Add: binary(tf.add),
  Sub: binary(tf.sub),
  Mul: binary(tf.mul),
  Div: binary(tf.div),
  Pow: binary(tf.pow),
  Sqrt: unary(tf.sqrt),
  Erf: unary(tf.erf),
  Relu: unary(tf.relu),
  Sigmoid: unary(tf.sigmoid),
  Tanh: unary(tf.tanh),
  Identity: identity,
  Dropout: identity,
  MaxPool: pool('max'),
  AveragePool: pool('avg'),
  GlobalAveragePool: (node, [a]) => [tensor(tf.mean(nhwc(must(a, node, 0)), [1, 2], true), true)],
  Flatten: (node, [a]) => {
    const x = must(a, node, 0);
    const shape = shapeOf(x);
    const axis = attrInt(node.attrs, 'axis', 1);
    const k = axis < 0 ? axis + shape.length : axis;
    return [tensor(tf.reshape(nchw(x), [product(shape.slice(0, k)), product(shape.slice(k))]))];
  },
  Reshape: (node, [a, s], graph) => {
    const x = must(a, node, 0);
    // Opset 14's allowzero 1: a 0 in the shape is a zero-length axis, not "copy the input's".
    const given = ints(s, node, 'shape');
    const target = attrInt(node.attrs, 'allowzero', 0) === 1 ? given : reshapeTo(shapeOf(x), given);
    if (x.kind === 'ints') {
      const known = product(target.filter((d) => d !== -1));
      return [{ kind: 'ints', dims: target.map((d) => (d === -1 ? x.data.length / known : d)), data: x.data }];
    }
    return [tensor(tf.reshape(nchw(x), batchedTarget(graph, shapeOf(x), target)))];
  },
  Transpose: (node, [a]) => {
    const x = must(a, node, 0);
    const perm = attrInts(node.attrs, 'perm');
    // NCHW → NHWC of an activation held NHWC (a Keras Flatten exported to ONNX): its data as it is.
    if (x.kind === 'tensor' && x.nhwc && perm?.join() === NCHW_TO_NHWC.join()) return [tensor(x.t)];
    return [tensor(tf.transpose(nchw(x), perm))];
  },
  Shape: (node, [a]) => {
    const all = shapeOf(must(a, node, 0));
    // Opset 15: start and end (negative from the back, clamped) pick a range of the dimensions.
    const at = (v: number) => Math.min(Math.max(v < 0 ? v + all.length : v, 0), all.length);
    const dims = all.slice(at(attrInt(node.attrs, 'start', 0)), at(attrInt(node.attrs, 'end', all.length)));
    return [{ kind: 'ints', dims: [dims.length], data: dims }];
  },
  Gather: (node, [a, i]) => {
    const x = must(a, node, 0);
    const indices = ints(i, node, 'indices');
    const indexDims = (i as IntsValue).dims;
    const axis = attrInt(node.attrs, 'axis', 0);
    const shape = shapeOf(x);
    const k = axis < 0 ? axis + shape.length : axis;
    const norm = indices.map((j) => (j < 0 ? j + shape[k]! : j));
    if (x.kind === 'ints' && x.dims.length === 1) {
      return [{ kind: 'ints', dims: indexDims, data: norm.map((j) => x.data[j]!) }];
    }
    const gathered = tf.gather(nchw(x), tf.tensor1d(norm, 'int32'), k);
    const outShape = [...shape.slice(0, k), ...indexDims, ...shape.slice(k + 1)];
    return [tensor(tf.reshape(gathered, outShape))];
  },
  Unsqueeze: (node, args, graph) => {
    const x = must(args[0], node, 0);
    const dims = unsqueezeDims(shapeOf(x), axesOf(node, args, graph, 1, 13) ?? []);
    if (x.kind === 'ints') return [{ kind: 'ints', dims, data: x.data }];
    return [tensor(tf.reshape(nchw(x), dims))];
  },
  Concat: (node, args) => {
    const values = args.map((v, i) => must(v, node, i));
    const axis = attrInt(node.attrs, 'axis', 0);
    if (values.every((v) => v.kind === 'ints' && v.dims.length === 1)) {
      const data = values.flatMap((v) => (v as IntsValue).data);
      return [{ kind: 'ints', dims: [data.length], data }];
    }
    const rank = shapeOf(values[0]!).length;
    return [tensor(tf.concat(values.map(nchw), axis < 0 ? axis + rank : axis))];
  },
  Constant: (node, _args, graph) => [graph.constants.get(node.outputs[0]!)!],
  Pad: (node, args, graph) => {
    const x = must(args[0], node, 0);
    const rank = shapeOf(x).length;
    const raw = graph.opset >= 11 ? ints(args[1], node, 'pads') : (attrInts(node.attrs, 'pads') ?? []);
    const value =
      graph.opset >= 11 ? (args[2] ? (nchw(args[2]).dataSync()[0] ?? 0) : 0) : attrFloat(node.attrs, 'value', 0);
    // Opset 18: an `axes` input names the axes the pads are for; otherwise they cover every axis.
    const axes =
      graph.opset >= 18 && args[3]
        ? ints(args[3], node, 'axes').map((a) => (a < 0 ? a + rank : a))
        : Array.from({ length: rank }, (_, i) => i);
    const spec: Array<[number, number]> = Array.from({ length: rank }, () => [0, 0]);
    axes.forEach((axis, i) => (spec[axis] = [raw[i] ?? 0, raw[i + axes.length] ?? 0]));
    const mode = attrString(node.attrs, 'mode', 'constant');
    const inNhwc = x.kind === 'tensor' && x.nhwc && rank === 4;
    const order = inNhwc ? NCHW_TO_NHWC : spec.map((_, i) => i);
    const layoutSpec = order.map((k) => spec[k]!);
    let t = inNhwc ? (x as TensorValue).t : nchw(x);
    // Negative pads crop.
    if (layoutSpec.some(([p, q]) => p < 0 || q < 0)) {
      t = tf.slice(
        t,
        layoutSpec.map(([p]) => Math.max(-p, 0)),
        layoutSpec.map(([p, q], k) => t.shape[k]! - Math.max(-p, 0) - Math.max(-q, 0)),
      );
    }
    const grow = layoutSpec.map(([p, q]) => [Math.max(p, 0), Math.max(q, 0)] as [number, number]);
    const y = mode === 'constant' ? tf.pad(t, grow, value) : padBorders(node, t, grow, mode);
    return [tensor(y, inNhwc)];
  },
  ReduceMean: reduce((x, axes, keep) => tf.mean(x, axes, keep), 18),
  BatchNormalization: (node, [a, scale, bias, mean, variance]) => {
    const x = must(a, node, 0);
    const eps = attrFloat(node.attrs, 'epsilon', 1e-5);
    const rank = shapeOf(x).length;
    const [g, b, m, v] = [scale, bias, mean, variance].map((p, i) => nchw(must(p, node, i + 1)));
    if (rank === 4) return [tensor(tf.batchNorm(nhwc(x), m!, v!, b, g, eps), true)];
    // [N, C] or [N, C, L…]: statistics per channel, broadcast over what follows it.
    const per = (p: tf.Tensor) => tf.reshape(p, [p.size, ...Array(Math.max(rank - 2, 0)).fill(1)]);
    return [tensor(tf.batchNorm(nchw(x), per(m!), per(v!), per(b!), per(g!), eps))];
  },
  LayerNormalization: (node, [a, scale, bias]) => {
    const x = nchw(must(a, node, 0));
    const axis = attrInt(node.attrs, 'axis', -1);
    const eps = attrFloat(node.attrs, 'epsilon', 1e-5);
    const first = axis < 0 ? axis + x.rank : axis;
    const axes = Array.from({ length: x.rank - first }, (_, i) => first + i);
    const { mean, variance } = tf.moments(x, axes, true);
    let y = tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, eps)));
    y = tf.mul(y, nchw(must(scale, node, 1)));
    return [tensor(bias ? tf.add(y, nchw(bias)) : y)];
  },
  Neg: unary(tf.neg),
  Exp: unary(tf.exp),
  Log: unary(tf.log),
  Abs: unary(tf.abs),
  Softplus: unary(tf.softplus),
  Max: variadic(tf.maximum),
  Min: variadic(tf.minimum),
  Sum: variadic(tf.add),
  LeakyRelu: (node, args, graph) => {
    const alpha = attrFloat(node.attrs, 'alpha', 0.01);
    return unary((x) => tf.leakyRelu(x, alpha))(node, args, graph);
  },
  Elu: (node, args, graph) => {
    const alpha = attrFloat(node.attrs, 'alpha', 1);
    return unary((x) => tf.where(tf.greater(x, 0), x, tf.mul(alpha, tf.sub(tf.exp(tf.minimum(x, 0)), 1))))(
      node,
      args,
      graph,
    );
  },
  Selu: (node, args, graph) => {
    const alpha = attrFloat(node.attrs, 'alpha', 1.6732632423543772);
    const gamma = attrFloat(node.attrs, 'gamma', 1.0507009873554805);
    return unary((x) =>
      tf.mul(gamma, tf.where(tf.greater(x, 0), x, tf.mul(alpha, tf.sub(tf.exp(tf.minimum(x, 0)), 1)))),
    )(node, args, graph);
  },
  HardSigmoid: (node, args, graph) => {
    const alpha = attrFloat(node.attrs, 'alpha', 0.2);
    const beta = attrFloat(node.attrs, 'beta', 0.5);
    return unary((x) => clamp01(tf.add(tf.mul(x, alpha), beta)))(node, args, graph);
  },
  HardSwish: unary((x) => tf.mul(x, clamp01(tf.add(tf.div(x, 6), 0.5)))),
  PRelu: binary((x, slope) => tf.add(tf.relu(x), tf.mul(slope, tf.minimum(x, 0)))),
  Clip: (node, args, graph) => {
    const x = must(args[0], node, 0);
    const bound = (index: number, attr: string, fallback: number): tf.Tensor | number => {
      if (graph.opset < 11) return attrFloat(node.attrs, attr, fallback);
      const v = args[index];
      return v ? nchw(v) : fallback;
    };
    const lo = bound(1, 'min', -Infinity);
    const hi = bound(2, 'max', Infinity);
    return unary((t) => tf.minimum(tf.maximum(t, lo), hi))(node, [x], graph);
  },
  GlobalMaxPool: (node, [a]) => [tensor(tf.max(nhwc(must(a, node, 0)), [1, 2], true), true)],
  ReduceSum: reduce((x, axes, keep) => tf.sum(x, axes, keep), 13),
  ReduceMax: reduce((x, axes, keep) => tf.max(x, axes, keep), 18),
  Squeeze: (node, args, graph) => {
    const x = must(args[0], node, 0);
    const shape = shapeOf(x);
    const axes = axesOf(node, args, graph, 1, 13);
    const drop = new Set(axes ? reduceAxes(axes, shape.length) : shape.flatMap((d, i) => (d === 1 ? [i] : [])));
    const dims = shape.filter((_, i) => !drop.has(i));
    if (x.kind === 'ints') return [{ kind: 'ints', dims, data: x.data }];
    return [tensor(tf.reshape(nchw(x), dims))];
  },
  Cast: (node, [a]) => {
    const x = must(a, node, 0);
    const T = onnx.TensorProto.DataType;
    const to = attrInt(node.attrs, 'to', T.FLOAT);
    const toInt = to === T.INT64 || to === T.INT32;
    if (x.kind === 'ints') return [toInt ? x : tensor(nchw(x))];
    return [toInt ? tensor(tf.cast(nchw(x), 'int32')) : x];
  },
  ConstantOfShape: (node, [s]) => {
    const dims = ints(s, node, 'input');
    const value = node.attrs.get('value')?.t;
    const T = onnx.TensorProto.DataType;
    if (value && (value.dataType === T.INT64 || value.dataType === T.INT32)) {
      const v = value.int64Data?.length ? toNumber(value.int64Data[0]) : (value.int32Data?.[0] ?? 0);
      const raw = value.rawData?.length
        ? Number(new DataView(new Uint8Array(value.rawData).buffer).getBigInt64(0, true))
        : v;
      return [{ kind: 'ints', dims, data: Array(product(dims)).fill(raw) }];
    }
    const f = value?.floatData?.length
      ? value.floatData[0]!
      : value?.rawData?.length
        ? new DataView(new Uint8Array(value.rawData).buffer).getFloat32(0, true)
        : 0;
    return [tensor(tf.fill(dims, f))];
  },
  Expand: (node, [a, s]) => {
    const x = must(a, node, 0);
    const dims = broadcastShapes(shapeOf(x), ints(s, node, 'shape'));
    return [tensor(tf.broadcastTo(nchw(x), dims))];
  },
  Slice: (node, args, graph) => {
    const x = must(args[0], node, 0);
    const shape = shapeOf(x);
    const fromInputs = graph.opset >= 10;
    const starts = fromInputs ? ints(args[1], node, 'starts') : (attrInts(node.attrs, 'starts') ?? []);
    const ends = fromInputs ? ints(args[2], node, 'ends') : (attrInts(node.attrs, 'ends') ?? []);
    const axes =
      (fromInputs ? (args[3] ? ints(args[3], node, 'axes') : undefined) : attrInts(node.attrs, 'axes')) ??
      starts.map((_, i) => i);
    const steps = fromInputs && args[4] ? ints(args[4], node, 'steps') : starts.map(() => 1);
    const begin = shape.map(() => 0);
    const end = [...shape];
    const stride = shape.map(() => 1);
    axes.forEach((axis, i) => {
      const k = axis < 0 ? axis + shape.length : axis;
      const d = shape[k]!;
      const step = steps[i]!;
      const clampIndex = (v: number, lo: number, hi: number) => Math.min(Math.max(v < 0 ? v + d : v, lo), hi);
      begin[k] = step > 0 ? clampIndex(starts[i]!, 0, d) : clampIndex(starts[i]!, -1, d - 1);
      end[k] = step > 0 ? clampIndex(ends[i]!, 0, d) : clampIndex(ends[i]!, -1, d - 1);
      stride[k] = step;
    });
    if (x.kind === 'ints' && x.dims.length === 1) {
      const data: number[] = [];
      for (let j = begin[0]!; stride[0]! > 0 ? j < end[0]! : j > end[0]!; j += stride[0]!) data.push(x.data[j]!);
      return [{ kind: 'ints', dims: [data.length], data }];
    }
    const t = nchw(x);
    if (stride.every((st) => st === 1)) {
      return [
        tensor(
          tf.slice(
            t,
            begin,
            begin.map((b, k) => Math.max(end[k]! - b, 0)),
          ),
        ),
      ];
    }
    // A negative end of -1 here means "through index 0"; stridedSlice reads it as the last index.
    const endMask = end.reduce((mask, e, k) => (e === -1 ? mask | (1 << k) : mask), 0);
    return [tensor(tf.stridedSlice(t, begin, end, stride, 0, endMask))];
  },
  Split: (node, args, graph) => {
    const x = must(args[0], node, 0);
    const shape = shapeOf(x);
    const axis = attrInt(node.attrs, 'axis', 0);
    const k = axis < 0 ? axis + shape.length : axis;
    const given =
      graph.opset >= 13 ? (args[1] ? ints(args[1], node, 'split') : undefined) : attrInts(node.attrs, 'split');
    // Opset 18's num_outputs: chunks of ceil(d / n), the last one smaller when n does not divide d.
    const count = attrInt(node.attrs, 'num_outputs', node.outputs.length);
    const chunk = Math.ceil(shape[k]! / count);
    const sizes = given ?? Array.from({ length: count }, (_, i) => Math.min(chunk, Math.max(shape[k]! - i * chunk, 0)));
    return tf.split(nchw(x), sizes, k).map((t) => tensor(t));
  },
  Softmax: (node, [a], graph) => [tensor(softmaxLike(tf.softmax, nchw(must(a, node, 0)), node, graph))],
  LogSoftmax: (node, [a], graph) => [tensor(softmaxLike(tf.logSoftmax, nchw(must(a, node, 0)), node, graph))],
};

/** Elementwise over any number of inputs (Max, Min, Sum), pairwise with broadcasting. */
function variadic(fn: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor): Kernel {
  const pair = binary(fn);
  return (node, args, graph) => [
    args
      .slice(1)
      .reduce<Value>((acc, v, i) => pair(node, [acc, must(v, node, i + 1)], graph)[0]!, must(args[0], node, 0)),
  ];
}

const clamp01 = (t: tf.Tensor) => tf.minimum(tf.maximum(t, 0), 1);

/** Normalised axes over `rank`, or every axis when none are given. */
function reduceAxes(axes: number[] | undefined, rank: number): number[] {
  return axes && axes.length > 0 ? axes.map((a) => (a < 0 ? a + rank : a)) : Array.from({ length: rank }, (_, i) => i);
}

function reduce(fn: (x: tf.Tensor, axes: number[], keep: boolean) => tf.Tensor, axesInputSince: number): Kernel {
  return (node, args, graph) => {
    const x = nchw(must(args[0], node, 0));
    const keep = attrInt(node.attrs, 'keepdims', 1) === 1;
    const axes = axesOf(node, args, graph, 1, axesInputSince);
    if ((!axes || axes.length === 0) && attrInt(node.attrs, 'noop_with_empty_axes', 0) === 1) return [tensor(x)];
    return [tensor(fn(x, reduceAxes(axes, x.rank), keep))];
  };
}

/** Bidirectional broadcast of two shapes (numpy rules), as Expand uses. */
function broadcastShapes(a: number[], b: number[]): number[] {
  const rank = Math.max(a.length, b.length);
  return Array.from({ length: rank }, (_, i) => {
    const p = a[a.length - rank + i] ?? 1;
    const q = b[b.length - rank + i] ?? 1;
    return p === 1 ? q : p;
  });
}

/**
 * Softmax or LogSoftmax over ONNX's axis: from opset 13 that one axis; before, the input coerced to
 * 2-D at the axis (every axis from it on is one row). tfjs normalises only the last axis.
 */
function softmaxLike(fn: (t: tf.Tensor) => tf.Tensor, x: tf.Tensor, node: Node, graph: OnnxGraph): tf.Tensor {
  const given = attrInt(node.attrs, 'axis', graph.opset >= 13 ? -1 : 1);
  const axis = given < 0 ? given + x.rank : given;
  if (graph.opset < 13) {
    const rows = tf.reshape(x, [product(x.shape.slice(0, axis)), product(x.shape.slice(axis))]);
    return tf.reshape(fn(rows), x.shape);
  }
  if (axis === x.rank - 1) return fn(x);
  const perm = x.shape.map((_, i) => (i === axis ? x.rank - 1 : i === x.rank - 1 ? axis : i));
  return tf.transpose(fn(tf.transpose(x, perm)), perm);
}

const PAD_MODES = ['constant', 'edge', 'reflect', 'wrap'];

/** Pad's edge, reflect and wrap modes on one layout, axis by axis (slices, reversals and tiles: differentiable). */
function padBorders(node: Node, x: tf.Tensor, spec: Array<[number, number]>, mode: string): tf.Tensor {
  if (!PAD_MODES.includes(mode)) throw new InputError(node.name, 'mode', `Pad mode "${mode}" is not supported`);
  return spec.reduce((t, [before, after], axis) => {
    if (!before && !after) return t;
    const d = t.shape[axis]!;
    const part = (start: number, size: number) =>
      tf.slice(
        t,
        t.shape.map((_, k) => (k === axis ? start : 0)),
        t.shape.map((n, k) => (k === axis ? size : n)),
      );
    const reps = (n: number) => t.shape.map((_, k) => (k === axis ? n : 1));
    const side = (count: number, atStart: boolean): tf.Tensor | undefined => {
      if (!count) return undefined;
      if (mode === 'edge') return tf.tile(part(atStart ? 0 : d - 1, 1), reps(count));
      if (mode === 'wrap') return atStart ? part(d - count, count) : part(0, count);
      return tf.reverse(atStart ? part(1, count) : part(d - 1 - count, count), axis);
    };
    const pieces = [side(before, true), t, side(after, false)].filter((p): p is tf.Tensor => p !== undefined);
    return tf.concat(pieces, axis);
  }, x);
}

/** The op types the interpreter runs. */
export const ONNX_OPS: readonly string[] = Object.keys(OPS).sort();

/** An IEEE 754 half-precision value (its 16 bits) as a number; weights in float16 load as float32. */
export function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/** A tensor's values: raw_data, the typed fields, or its external file. */
function tensorData(file: string, t: OnnxTensor): { dims: number[]; values: number[] | Float32Array; isInt: boolean } {
  const dims = (t.dims ?? []).map(toNumber);
  const T = onnx.TensorProto.DataType;
  const isInt = t.dataType === T.INT64 || t.dataType === T.INT32;
  const external = externalDataFile(file, t);
  let raw: Uint8Array | undefined = t.rawData && t.rawData.length > 0 ? t.rawData : undefined;
  if (external) {
    const entry = (key: string) => t.externalData?.find((e) => e.key === key)?.value;
    let bytes: Buffer;
    try {
      bytes = readBounded(external, 'onnx');
    } catch (err) {
      throw new InputError(file, `initializer "${t.name}"`, `external data: ${(err as Error).message}`);
    }
    const offset = Number(entry('offset') ?? 0);
    const length = entry('length') ? Number(entry('length')) : bytes.length - offset;
    raw = bytes.subarray(offset, offset + length);
  }
  const count = product(dims);
  if (raw) {
    const copy = new Uint8Array(raw);
    const view = new DataView(copy.buffer);
    const width = t.dataType === T.INT64 || t.dataType === T.DOUBLE ? 8 : t.dataType === T.FLOAT16 ? 2 : 4;
    if (copy.length !== count * width) {
      throw new InputError(
        file,
        `initializer "${t.name}"`,
        `holds ${copy.length} bytes; its shape [${dims.join(', ')}] needs ${count * width}`,
      );
    }
    const read = (i: number): number => {
      switch (t.dataType) {
        case T.FLOAT:
          return view.getFloat32(i * 4, true);
        case T.INT64:
          return Number(view.getBigInt64(i * 8, true));
        case T.INT32:
          return view.getInt32(i * 4, true);
        case T.DOUBLE:
          return view.getFloat64(i * 8, true);
        case T.FLOAT16:
          return halfToFloat(view.getUint16(i * 2, true));
        default:
          throw new InputError(file, `initializer "${t.name}"`, `has data type ${t.dataType}, which is not supported`);
      }
    };
    return { dims, values: Array.from({ length: count }, (_, i) => read(i)), isInt };
  }
  if (t.dataType === T.FLOAT) return { dims, values: Float32Array.from(t.floatData ?? []), isInt };
  if (t.dataType === T.INT64) return { dims, values: (t.int64Data ?? []).map(toNumber), isInt };
  if (t.dataType === T.INT32) return { dims, values: [...(t.int32Data ?? [])], isInt };
  if (t.dataType === T.DOUBLE) return { dims, values: [...(t.doubleData ?? [])], isInt };
  // float16 in the typed fields: one value's 16 bits per int32_data entry.
  if (t.dataType === T.FLOAT16) return { dims, values: (t.int32Data ?? []).map(halfToFloat), isInt };
  throw new InputError(file, `initializer "${t.name}"`, `has data type ${t.dataType}, which is not supported`);
}

function valueFrom(file: string, t: OnnxTensor): Value {
  const { dims, values, isInt } = tensorData(file, t);
  if (isInt) return { kind: 'ints', dims, data: [...values] };
  return tensor(tf.tensor(values, dims, 'float32'));
}

export interface OnnxGraph {
  opset: number;
  /** The graph declares its input's batch as 1 (an export with a fixed batch). */
  fixedBatch: boolean;
  convPlans: Map<string, ConvPlan>;
  constants: Map<string, Value>;
}

/** An ONNX model ready to run: weights as tensors (owned here), nodes checked. */
export interface OnnxProgram {
  /** NHWC batch in → the output (logits) [N, classes]. Runs in a tidy: only the result survives. */
  run(x: tf.Tensor4D): tf.Tensor;
  /**
   * Runs the graph on named inputs in ONNX's layout (NCHW), or NHWC for the 4-D inputs when
   * `nhwcInputs` is set; returns the named outputs (default: the model's output) in ONNX's layout.
   */
  execute(feeds: Record<string, tf.Tensor>, options?: { nhwcInputs?: boolean; outputs?: string[] }): tf.Tensor[];
  /**
   * The first node, in the graph's order, whose float output is not finite (NaN or ±∞) at this NHWC
   * batch, as `node "name" (Op)`; undefined when every output is finite.
   */
  firstNonFinite(x: tf.Tensor4D): string | undefined;
  /** The graph input's declared dimensions (numbers, or the symbolic batch name). */
  inputDims: Array<number | string | undefined> | undefined;
  warnings: string[];
  outputName: string;
  /** With `trainable`: the weights training updates, as variables (trainable.ts). */
  parameters?: OnnxParameters;
  dispose(): void;
}

/** Builds the program: converts initializers and constants, lays out conv weights, refuses unknown ops. */
/**
 * The output attacks use: the one named, the only one, or the only one declared [batch, classes];
 * an InputError naming the outputs when that leaves a choice.
 */
function chooseOutput(file: string, model: OnnxModel, requested: string | undefined, warnings: string[]): string {
  const outputs = model.graph?.output ?? [];
  const names = outputs.map((o) => o.name ?? '');
  const listed = names.map((n) => `"${n}"`).join(', ');
  if (requested !== undefined) {
    if (!names.includes(requested)) {
      throw new InputError(file, 'graph.output', `has no output "${requested}"; its outputs are ${listed}`);
    }
    return requested;
  }
  if (names.length === 1) return names[0]!;
  const matrices = outputs.filter((o) => valueDims(o)?.length === 2).map((o) => o.name ?? '');
  if (matrices.length !== 1) {
    throw new InputError(
      file,
      'graph.output',
      `has ${names.length} outputs (${listed}) and ${matrices.length} of them [batch, classes]; name the logits with --output`,
    );
  }
  warnings.push(
    `${file}: the graph has ${names.length} outputs (${listed}); attacks use "${matrices[0]}", the one shaped [batch, classes]`,
  );
  return matrices[0]!;
}

export interface CompileOptions {
  /** The graph output to use as logits when the graph has several (--output). */
  output?: string;
  /** Make the float weights variables for fine-tuning (trainable.ts); BatchNorm statistics stay constant. */
  trainable?: boolean;
}

export function compileOnnx(file: string, model: OnnxModel, options: CompileOptions = {}): OnnxProgram {
  const graph = model.graph!;
  const opset = onnxOpset(model);
  const nodes: Node[] = (graph.node ?? []).map((n, i) => ({
    name: n.name || `${n.opType}_${i}`,
    op: n.opType ?? '',
    domain: n.domain ?? '',
    inputs: n.input ?? [],
    outputs: n.output ?? [],
    attrs: new Map((n.attribute ?? []).map((a) => [a.name ?? '', a])),
  }));
  for (const node of nodes) {
    if (node.domain && node.domain !== 'ai.onnx') {
      throw new InputError(
        file,
        `node "${node.name}"`,
        `op type ${node.op} of domain ${node.domain} is not supported; Robustness Lab runs ONNX's own operators (ai.onnx)`,
      );
    }
    if (!OPS[node.op]) {
      throw new InputError(
        file,
        `node "${node.name}"`,
        `op type ${node.op} (opset ${opset}) is not supported; Robustness Lab runs ${ONNX_OPS.join(', ')}`,
      );
    }
  }
  const warnings: string[] = [];
  let outputName = chooseOutput(file, model, options.output, warnings);
  const owned: tf.Tensor[] = [];
  const keep = (v: Value) => {
    if (v.kind === 'tensor') owned.push(v.t);
    return v;
  };
  const state: OnnxGraph = {
    opset,
    fixedBatch: valueDims(onnxInputs(model)[0])?.[0] === 1,
    convPlans: new Map(),
    constants: new Map(),
  };
  const weights = new Map<string, Value>();
  let parameters: OnnxParameters | undefined;
  try {
    for (const init of graph.initializer ?? []) weights.set(init.name ?? '', keep(valueFrom(file, init)));
    for (const node of nodes.filter((n) => n.op === 'Constant')) {
      const a = node.attrs.get('value');
      const out = node.outputs[0]!;
      if (a?.t) state.constants.set(out, keep(valueFrom(file, a.t)));
      else if (node.attrs.get('value_float'))
        state.constants.set(out, keep(tensor(tf.scalar(attrFloat(node.attrs, 'value_float', 0)))));
      else if (node.attrs.get('value_ints')) {
        const data = attrInts(node.attrs, 'value_ints')!;
        state.constants.set(out, { kind: 'ints', dims: [data.length], data });
      } else if (node.attrs.get('value_int')) {
        state.constants.set(out, { kind: 'ints', dims: [], data: [attrInt(node.attrs, 'value_int', 0)] });
      } else if (node.attrs.get('value_floats')) {
        state.constants.set(out, keep(tensor(tf.tensor1d(node.attrs.get('value_floats')!.floats ?? []))));
      } else throw new InputError(file, `node "${node.name}"`, 'is a Constant without a value this importer reads');
    }
    for (const node of nodes.filter((n) => n.op === 'MaxPool' || n.op === 'AveragePool')) {
      const refuse = (what: string) => {
        throw new InputError(file, `node "${node.name}"`, `${node.op} ${what} is not supported`);
      };
      if ((attrInts(node.attrs, 'kernel_shape') ?? []).length !== 2) refuse('over other than two spatial axes');
      if ((attrInts(node.attrs, 'dilations') ?? []).some((d) => d !== 1)) refuse('with dilations');
      if (attrInt(node.attrs, 'storage_order', 0) !== 0) refuse('storage_order 1');
      if (node.outputs.length > 1 && node.outputs[1]) refuse('with an Indices output');
    }
    for (const node of nodes.filter((n) => n.op === 'Pad')) {
      const mode = attrString(node.attrs, 'mode', 'constant');
      if (!PAD_MODES.includes(mode)) {
        throw new InputError(
          file,
          `node "${node.name}"`,
          `Pad mode "${mode}" is not supported; ONNX's modes are ${PAD_MODES.join(', ')}`,
        );
      }
    }
    for (const node of nodes.filter((n) => n.op === 'BatchNormalization')) {
      if (attrInt(node.attrs, 'training_mode', 0) === 1) {
        throw new InputError(
          file,
          `node "${node.name}"`,
          'BatchNormalization training_mode 1 (batch statistics) is not supported; export the model in eval mode',
        );
      }
    }
    for (const node of nodes.filter((n) => n.op === 'ConvTranspose')) {
      const w = weights.get(node.inputs[1]!);
      const refuse = (what: string) => {
        throw new InputError(file, `node "${node.name}"`, `ConvTranspose ${what} is not supported`);
      };
      if (w?.kind !== 'tensor' || w.t.rank !== 4) refuse('without a 4-D weight initializer (2-D only)');
      if (attrString(node.attrs, 'auto_pad', 'NOTSET') === 'SAME_LOWER') refuse('auto_pad SAME_LOWER');
      const groups = attrInt(node.attrs, 'group', 1);
      const dilations = attrInts(node.attrs, 'dilations') ?? [1, 1];
      // ONNX [in, out/groups, kh, kw] → dense over groups, tfjs's [kh, kw, out, in], dilated; once.
      const layout = (weight: tf.Tensor4D) =>
        dilateKernel(tf.transpose(ungroupTransposeKernel(weight, groups), [2, 3, 1, 0]) as tf.Tensor4D, dilations);
      const plan: ConvPlan = {
        depthwise: false,
        filters: [tf.tidy(() => layout((w as TensorValue).t as tf.Tensor4D))],
      };
      const b = node.inputs[2] ? weights.get(node.inputs[2]) : undefined;
      if (b?.kind === 'tensor') plan.bias = tf.clone(b.t) as tf.Tensor1D;
      owned.push(...plan.filters, ...(plan.bias ? [plan.bias] : []));
      state.convPlans.set(node.name, plan);
    }
    for (const node of nodes.filter((n) => n.op === 'Conv')) {
      const w = weights.get(node.inputs[1]!);
      if (w?.kind !== 'tensor' || w.t.rank !== 4) {
        throw new InputError(
          file,
          `node "${node.name}"`,
          'Conv weights must be a 4-D initializer (only 2-D convolutions are supported)',
        );
      }
      const dilations = attrInts(node.attrs, 'dilations') ?? [1, 1];
      if (attrString(node.attrs, 'auto_pad', 'NOTSET') === 'SAME_LOWER') {
        throw new InputError(file, `node "${node.name}"`, 'Conv auto_pad SAME_LOWER is not supported');
      }
      const groups = attrInt(node.attrs, 'group', 1);
      const [outC, inPerGroup] = w.t.shape as number[];
      // [kh, kw, in/group, out], dilations as zeros between taps (tfjs has no dilated conv gradient).
      const hwio = tf.tidy(() => dilateKernel(tf.transpose(w.t, [2, 3, 1, 0]) as tf.Tensor4D, dilations));
      let plan: ConvPlan;
      if (groups > 1 && inPerGroup === 1) {
        // Depthwise: out = C × multiplier; tfjs wants [kh, kw, C, multiplier].
        const mult = outC! / groups;
        const f = tf.reshape(hwio, [hwio.shape[0], hwio.shape[1], groups, mult]) as tf.Tensor4D;
        plan = { depthwise: true, filters: [f] };
        hwio.dispose();
      } else if (groups > 1) {
        plan = { depthwise: false, filters: tf.split(hwio, groups, 3) as tf.Tensor4D[] };
        hwio.dispose();
      } else plan = { depthwise: false, filters: [hwio] };
      const b = node.inputs[2] ? weights.get(node.inputs[2]) : undefined;
      if (b?.kind === 'tensor') plan.bias = tf.clone(b.t) as tf.Tensor1D;
      owned.push(...plan.filters, ...(plan.bias ? [plan.bias] : []));
      state.convPlans.set(node.name, plan);
    }
    if (options.trainable) parameters = makeTrainable(file, nodes, weights, state.convPlans, owned);
  } catch (err) {
    tf.dispose(owned);
    throw err;
  }
  const inputName = (graph.input ?? []).find((i) => !weights.has(i.name ?? ''))?.name ?? '';
  let runNodes = nodes;
  const last = nodes.find((n) => n.outputs.includes(outputName));
  if (last && (last.op === 'Softmax' || last.op === 'LogSoftmax')) {
    outputName = last.inputs[0]!;
    runNodes = nodes.filter((n) => n !== last);
    warnings.push(
      `${file}: the output node "${last.name}" is a ${last.op}; attacks use its input "${outputName}" as logits (attacking probabilities masks gradients)`,
    );
  }
  const evaluate = (feeds: Map<string, Value>, outputs: string[]): tf.Tensor[] =>
    tf.tidy(() => {
      const values = new Map<string, Value>([...weights, ...feeds]);
      for (const node of runNodes) {
        const args = node.inputs.map((name) => (name ? values.get(name) : undefined));
        const outs = OPS[node.op]!(node, args, state);
        node.outputs.forEach((name, i) => outs[i] && values.set(name, outs[i]!));
      }
      return outputs.map((name) => {
        const out = values.get(name);
        if (!out) throw new InputError(file, 'graph', `output "${name}" is never computed`);
        const t = nchw(out);
        // A weight or an input passed straight through is the caller's to dispose only as a copy.
        const borrowed = owned.includes(t) || [...feeds.values()].some((f) => f.kind === 'tensor' && f.t === t);
        return borrowed ? tf.clone(t) : t;
      });
    });
  const firstNonFinite = (x: tf.Tensor4D): string | undefined => {
    let found: string | undefined;
    tf.tidy(() => {
      const values = new Map<string, Value>([...weights, [inputName, tensor(x, true)]]);
      for (const node of runNodes) {
        const args = node.inputs.map((name) => (name ? values.get(name) : undefined));
        const outs = OPS[node.op]!(node, args, state);
        node.outputs.forEach((name, i) => outs[i] && values.set(name, outs[i]!));
        const bad = outs.some(
          (out) =>
            out?.kind === 'tensor' && out.t.dtype === 'float32' && !(tf.all(tf.isFinite(out.t)).dataSync()[0] ?? 1),
        );
        if (bad) {
          found = `node "${node.name}" (${node.op})`;
          return;
        }
      }
    });
    return found;
  };
  return {
    firstNonFinite,
    inputDims: valueDims(onnxInputs(model)[0]),
    warnings,
    outputName,
    ...(parameters ? { parameters } : {}),
    run: (x) => evaluate(new Map([[inputName, tensor(x, true)]]), [outputName])[0]!,
    execute: (feeds, options = {}) =>
      evaluate(
        new Map(Object.entries(feeds).map(([name, t]) => [name, tensor(t, !!options.nhwcInputs && t.rank === 4)])),
        options.outputs ?? [outputName],
      ),
    dispose: () => {
      tf.dispose(owned);
      for (const plan of state.convPlans.values()) plan.dense?.dispose();
    },
  };
}
