/**
 * Activations that keep NaN on the wasm backend. Stock tfjs-wasm 4.22 runs a fused product's relu
 * and relu6 (and the Relu6 and ClipByValue kernels) as XNNPACK's output clamp, which turns NaN into
 * a bound: measured, fused.matMul with relu gives 0 where the cpu backend gives NaN, relu6 and
 * clipByValue likewise. A Layers model whose activations overflow float32 (∞ − ∞ in the next
 * layer) then ended in finite, all-zero logits on wasm, and the clean pass's non-finite check
 * (src/engine/eval/accuracy.ts) could not see it. Ours run the stock product with a linear
 * activation, then clamp in place keeping NaN (native/kernels.c's clamp_f32, or a JS loop when the
 * native kernels are off): the cpu backend's numbers, NaN included.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { heapOffset, nativeKernels } from './native';

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };
type KernelFn = (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[];

/** The bounds of the clamping activations; the others the stock kernels run as the cpu backend does. */
const CLAMPS: Readonly<Record<string, readonly [number, number]>> = {
  relu: [0, Infinity],
  relu6: [0, 6],
};

/** min(max(x, lo), hi) with NaN kept, from `x` into `out` (the same tensor allowed). */
function clampInto(backend: BackendWasm, x: tf.TensorInfo, out: tf.TensorInfo, lo: number, hi: number): void {
  const size = tf.util.sizeFromShape(x.shape);
  const native = nativeKernels(backend);
  if (native) {
    native.clamp_f32(heapOffset(backend, x), heapOffset(backend, out), size, lo, hi);
    return;
  }
  // Views are taken after the allocation: a heap growth detaches older views.
  const src = backend.typedArrayFromHeap(x) as Float32Array;
  const dst = backend.typedArrayFromHeap(out) as Float32Array;
  for (let i = 0; i < size; i++) {
    const v = src[i]!;
    dst[i] = v < lo ? lo : v > hi ? hi : v;
  }
}

/**
 * A fused kernel (_FusedMatMul, FusedConv2D, FusedDepthwiseConv2D) whose relu or relu6 keeps NaN:
 * the stock kernel with a linear activation (the bias still fused), then the clamp in place.
 */
export function makeFusedWasm(stock: KernelFn): KernelFn {
  return (args) => {
    const bounds = CLAMPS[String(args.attrs?.activation)];
    if (!bounds) return stock(args);
    const out = stock({ ...args, attrs: { ...args.attrs, activation: 'linear' } }) as tf.TensorInfo;
    clampInto(args.backend as BackendWasm, out, out, bounds[0], bounds[1]);
    return out;
  };
}

function clampKernel(x: tf.TensorInfo, backend: BackendWasm, lo: number, hi: number): tf.TensorInfo {
  const out = backend.makeOutput(x.shape, x.dtype);
  clampInto(backend, x, out, lo, hi);
  return out;
}

/** Relu6 keeping NaN. */
export function relu6Wasm({ inputs, backend }: { inputs: tf.UnaryInputs; backend: BackendWasm }): tf.TensorInfo {
  return clampKernel(inputs.x as tf.TensorInfo, backend, 0, 6);
}

/** ClipByValue keeping NaN (float32; other dtypes as the stock kernel). */
export function makeClipByValueWasm(stock: KernelFn): KernelFn {
  return (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    if (x.dtype !== 'float32') return stock(args);
    const { clipValueMin, clipValueMax } = args.attrs as unknown as tf.ClipByValueAttrs;
    return clampKernel(x, args.backend as BackendWasm, clipValueMin, clipValueMax);
  };
}
