/**
 * The trainable weights of an imported ONNX graph (compileOnnx with `trainable`), for adversarial
 * fine-tuning. Which float initializers train:
 * - the weights and biases of Conv, ConvTranspose, Gemm and MatMul, the scale and bias of
 *   BatchNormalization and LayerNormalization, PRelu's slope;
 * - any other non-scalar float initializer of a node that computes on a learned value (one
 *   downstream of those layers): a LayerNorm exported as ReduceMean/Sub/…/Mul/Add trains its Mul
 *   and Add weights, a Linear exported as MatMul + Add its bias.
 * Everything else stays constant: BatchNormalization's running mean and variance (training uses
 * the inference statistics, frozen), Constant nodes, scalars (epsilons, exponents), and
 * initializers applied to the raw input before any layer (a Sub/Div normalisation inside the model).
 *
 * A convolution's variables are its filters as laid out for tfjs at load (NHWC kernels), so a
 * training step runs exactly the inference graph with no per-step relayout; the ONNX layout is
 * recomputed only when the weights are read out (`read`, to write model.onnx) and laid out again
 * when assigned (`write`, a checkpoint's weights). Both are permutations, so a round trip is exact.
 */
import * as tf from '@tensorflow/tfjs-core';
import { InputError } from '../../errors';

/** What this file reads of the interpreter's nodes, values and conv plans (structurally: no import cycle). */
interface OnnxNode {
  name: string;
  op: string;
  inputs: string[];
  outputs: string[];
}
type OnnxValue = { kind: 'tensor'; t: tf.Tensor; nhwc: boolean } | { kind: 'ints'; dims: number[]; data: number[] };
interface ConvPlan {
  depthwise: boolean;
  filters: tf.Tensor4D[];
  bias?: tf.Tensor1D;
  trainable?: boolean;
}

/** The trainable initializers of a compiled graph, and their variables. */
export interface OnnxParameters {
  /** Initializer names, in graph order. */
  names: string[];
  /** Every variable the optimiser updates, in a fixed order (names' order, a grouped conv's groups in turn). */
  variables: tf.Variable[];
  /** The variables weight decay penalises: convolution and matrix weights, not biases or norm scales. */
  kernels: tf.Variable[];
  /** The current values in ONNX's layout, by initializer name. */
  read(): Map<string, { dims: number[]; values: Float32Array }>;
  /** Assigns values given in ONNX's layout (by initializer name; names not given keep theirs). */
  write(values: ReadonlyMap<string, Float32Array>): void;
}

/** Which inputs of which ops are trainable weights, and which of those are kernels (weight decay). */
const TRAINABLE_INPUTS: Readonly<Record<string, readonly number[]>> = {
  Conv: [1, 2],
  ConvTranspose: [1, 2],
  Gemm: [1, 2],
  MatMul: [0, 1],
  BatchNormalization: [1, 2],
  LayerNormalization: [1, 2],
  PRelu: [1],
};
const KERNEL_INPUTS: Readonly<Record<string, readonly number[]>> = {
  Conv: [1],
  ConvTranspose: [1],
  Gemm: [1],
  MatMul: [0, 1],
};

interface Param {
  name: string;
  dims: number[];
  kernel: boolean;
  variables: tf.Variable[];
  toOnnx(): tf.Tensor;
  assign(onnxValue: tf.Tensor): void;
}

let programs = 0;

/**
 * Turns the graph's trainable initializers into variables in place: `weights` entries and the
 * conv plans' filters and biases are replaced (the tensors they held are disposed and dropped
 * from `owned`, the variables added to it).
 */
export function makeTrainable(
  file: string,
  nodes: readonly OnnxNode[],
  weights: Map<string, OnnxValue>,
  convPlans: Map<string, ConvPlan>,
  owned: tf.Tensor[],
): OnnxParameters {
  // Not integer-like, so the optimiser's name-keyed gradients keep the variables' order.
  const prefix = `onnx${++programs}/`;
  const uses = new Map<string, number>();
  for (const node of nodes) for (const name of node.inputs) uses.set(name, (uses.get(name) ?? 0) + 1);
  const isFloat = (name: string) => {
    const w = weights.get(name);
    return w?.kind === 'tensor' && w.t.dtype === 'float32';
  };
  const wanted = new Map<string, boolean>(); // name → kernel
  const learned = new Set<string>(); // values downstream of a layer with weights
  for (const node of nodes) {
    const direct = (TRAINABLE_INPUTS[node.op] ?? []).filter((slot) => isFloat(node.inputs[slot] ?? ''));
    const onLearned = node.inputs.some((i) => learned.has(i));
    const frozen = node.op === 'BatchNormalization' ? [3, 4] : [];
    const slots = new Set(direct);
    if (onLearned) {
      node.inputs.forEach((name, slot) => {
        if (!frozen.includes(slot) && isFloat(name) && (weights.get(name) as { t: tf.Tensor }).t.size > 1)
          slots.add(slot);
      });
    }
    for (const slot of slots) {
      const name = node.inputs[slot]!;
      wanted.set(name, (wanted.get(name) ?? false) || (KERNEL_INPUTS[node.op] ?? []).includes(slot));
    }
    if (direct.length > 0 || onLearned) node.outputs.forEach((o) => learned.add(o));
  }
  const drop = (t: tf.Tensor) => {
    const i = owned.indexOf(t);
    if (i >= 0) owned.splice(i, 1);
    t.dispose();
  };
  const variable = (t: tf.Tensor, name: string) => {
    const v = tf.variable(t, true, prefix + name);
    owned.push(v);
    return v;
  };
  const convOf = new Map<string, OnnxNode>();
  for (const node of nodes) {
    if ((node.op === 'Conv' || node.op === 'ConvTranspose') && node.inputs[1]) convOf.set(node.inputs[1], node);
  }
  const params: Param[] = [];
  for (const [name, kernel] of wanted) {
    const value = weights.get(name) as Extract<OnnxValue, { kind: 'tensor' }>;
    const dims = value.t.shape;
    const conv = convOf.get(name);
    if (conv) {
      if ((uses.get(name) ?? 0) > 1) {
        throw new InputError(
          file,
          `initializer "${name}"`,
          `feeds ${uses.get(name)} nodes; a convolution weight shared between nodes cannot be trained`,
        );
      }
      params.push(convParam(file, name, dims, conv, convPlans.get(conv.name)!, drop, variable));
      continue;
    }
    const v = variable(value.t, name);
    drop(value.t);
    weights.set(name, { kind: 'tensor', t: v, nhwc: false });
    params.push({
      name,
      dims,
      kernel,
      variables: [v],
      toOnnx: () => v,
      assign: (t) => v.assign(t),
    });
  }
  // A conv's bias is a clone of its initializer in the plan: the plan uses the variable instead.
  for (const node of nodes) {
    const plan = (node.op === 'Conv' || node.op === 'ConvTranspose') && convPlans.get(node.name);
    const bias = node.inputs[2] ? weights.get(node.inputs[2]) : undefined;
    if (plan && plan.bias && bias?.kind === 'tensor' && bias.t instanceof tf.Variable) {
      drop(plan.bias);
      plan.bias = bias.t as tf.Tensor1D;
    }
  }
  const byName = new Map(params.map((p) => [p.name, p]));
  return {
    names: params.map((p) => p.name),
    variables: params.flatMap((p) => p.variables),
    kernels: params.filter((p) => p.kernel).flatMap((p) => p.variables),
    read: () =>
      new Map(
        params.map((p) => {
          const t = tf.tidy(() => tf.clone(p.toOnnx()));
          const values = t.dataSync() as Float32Array;
          t.dispose();
          return [p.name, { dims: p.dims, values }];
        }),
      ),
    write: (values) => {
      for (const [name, data] of values) {
        const p = byName.get(name);
        if (!p) continue;
        tf.tidy(() => p.assign(tf.tensor(data, p.dims, 'float32')));
      }
    },
  };
}

/** A Conv or ConvTranspose weight: its plan's filters become the variables, in tfjs's layout. */
function convParam(
  file: string,
  name: string,
  dims: number[],
  node: OnnxNode,
  plan: ConvPlan,
  drop: (t: tf.Tensor) => void,
  variable: (t: tf.Tensor, name: string) => tf.Variable,
): Param {
  // The layout must be a permutation of the ONNX weight (a kernel dilated with zeros at load, say, is not).
  const [d0, d1, kh, kw] = dims;
  const laidOut = plan.filters[0]?.shape ?? [];
  const expected = plan.depthwise
    ? [kh, kw, plan.filters.length * laidOut[2]!, d0! / (plan.filters.length * laidOut[2]!)]
    : [kh, kw, d1, d0! / plan.filters.length];
  if (plan.filters.some((f) => f.shape.join() !== expected.join())) {
    throw new InputError(
      file,
      `node "${node.name}"`,
      `its weights run as [${laidOut.join(', ')}], not a layout of the ONNX weight [${dims.join(', ')}]; ` +
        `this ${node.op} cannot be trained`,
    );
  }
  const filters = plan.filters.map((f, g) => variable(f, plan.filters.length > 1 ? `${name}/group${g}` : name));
  plan.filters.forEach(drop);
  plan.filters = filters as unknown as tf.Tensor4D[];
  plan.trainable = true;
  const shapes = filters.map((f) => f.shape);
  // ONNX Conv [out, in/group, kh, kw] and ConvTranspose [in, out, kh, kw] both lay out as
  // transpose [2, 3, 1, 0]; depthwise then reshapes [kh, kw, 1, C·mult] to [kh, kw, C, mult].
  return {
    name,
    dims,
    kernel: true,
    variables: filters,
    toOnnx: () => {
      const joined =
        plan.depthwise && node.op === 'Conv'
          ? tf.reshape(filters[0]!, [shapes[0]![0]!, shapes[0]![1]!, 1, shapes[0]![2]! * shapes[0]![3]!])
          : filters.length > 1
            ? tf.concat(filters, 3)
            : filters[0]!;
      return tf.transpose(joined, [3, 2, 0, 1]);
    },
    assign: (t) => {
      const hwio = tf.transpose(t, [2, 3, 1, 0]);
      const parts = plan.depthwise ? [tf.reshape(hwio, shapes[0]!)] : tf.split(hwio, filters.length, 3);
      filters.forEach((f, g) => f.assign(parts[g]!));
    },
  };
}
