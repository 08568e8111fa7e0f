/**
 * Sign for the wasm backend. Stock tfjs-wasm 4.22 returns 0 for every |x| ≤ FLT_EPSILON
 * (1.19e-7), not only for 0: measured, sign(1.1e-7) = 0 on wasm and 1 on cpu. L∞ attacks step
 * along sign(∇), so each pixel whose gradient is that small stayed put, and an attack on a
 * confident or flat model (TRADES' KL term near x, where the gradient vanishes) lost most of
 * its steps. Ours is the exact sign: −1, 0 or 1, and 0 for NaN as on the cpu backend; one pass
 * over the wasm heap (native/kernels.c's sign_f32, or a JS loop when the native kernels are off).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { heapOffset, nativeKernels } from './native';

export function signWasm({ inputs, backend }: { inputs: tf.UnaryInputs; backend: BackendWasm }): tf.TensorInfo {
  const x = inputs.x as tf.TensorInfo;
  const out = backend.makeOutput(x.shape, x.dtype);
  const size = tf.util.sizeFromShape(x.shape);
  const native = x.dtype === 'float32' ? nativeKernels(backend) : undefined;
  if (native) {
    native.sign_f32(heapOffset(backend, x), heapOffset(backend, out), size);
    return out;
  }
  // Views are taken after the allocation: a heap growth detaches older views.
  const src = backend.typedArrayFromHeap(x);
  const dst = backend.typedArrayFromHeap(out);
  for (let i = 0; i < src.length; i++) {
    const v = src[i]!;
    dst[i] = v > 0 ? 1 : v < 0 ? -1 : 0;
  }
  return out;
}
