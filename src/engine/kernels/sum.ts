/**
 * Sum over leading axes for the wasm backend. A layer's bias gradient sums dy over batch, height
 * and width: stock tfjs-wasm transposes dy so the reduced axes are innermost (a full copy of the
 * activation gradient) and then sums rows. Ours sums the columns in place with native/kernels.c's
 * sum_leading, adding in the same order, so the result is identical. Any other reduction, and
 * every reduction with the native kernels off, goes to the stock kernel.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { heapOffset, nativeKernels } from './native';

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };
type KernelFn = (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[];

/**
 * The number of leading axes `axis` names, when it names exactly axes 0 … k − 1 (k < rank) in
 * that order: stock tfjs-wasm adds in the order the axes are given, and ours must add as it does.
 */
function leadingAxes(axis: number | number[], rank: number): number | undefined {
  const axes = tf.util.parseAxisParam(
    axis,
    Array.from({ length: rank }, () => 1),
  );
  if (axes.length === 0 || axes.length >= rank) return undefined;
  return axes.every((a, i) => a === i) ? axes.length : undefined;
}

export function makeSumWasm(stock: KernelFn): KernelFn {
  return (args) => {
    const backend = args.backend as BackendWasm;
    const x = (args.inputs as { x: tf.TensorInfo }).x;
    const { axis, keepDims } = args.attrs as unknown as tf.SumAttrs;
    const k = x.dtype === 'float32' ? leadingAxes(axis, x.shape.length) : undefined;
    const native = k === undefined ? undefined : nativeKernels(backend);
    if (k === undefined || !native) return stock(args);
    const outer = x.shape.slice(0, k).reduce((a, b) => a * b, 1);
    const kept = x.shape.slice(k);
    const out = backend.makeOutput(keepDims ? [...x.shape.slice(0, k).map(() => 1), ...kept] : kept, 'float32');
    const inner = tf.util.sizeFromShape(kept);
    if (outer * inner > 0) native.sum_leading(heapOffset(backend, x), heapOffset(backend, out), outer, inner);
    else if (inner > 0) backend.typedArrayFromHeap(out).fill(0);
    return out;
  };
}
