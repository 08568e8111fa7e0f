/**
 * Identity for the wasm backend without a copy. tfjs's engine clones every tensor a gradient
 * saves for the backward pass (engine.saveTensorsForBackwardMode → Identity), and stock tfjs-wasm
 * copies the data each time: 30 copies per PGD step of the example network, 8 MB of memcpy and
 * as many heap allocations. Tensors are immutable, so the clone can share the buffer, as tfjs-wasm's
 * own Reshape and the cpu backend's Identity do: one more reference on the data, freed with the last.
 * `setNativeKernels(false)` brings the copy back (A/B timing of this work as a whole).
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { nativeKernelsEnabled } from './native';

export function identityWasm({ inputs, backend }: { inputs: tf.UnaryInputs; backend: BackendWasm }): tf.TensorInfo {
  const x = inputs.x as tf.TensorInfo;
  if (!nativeKernelsEnabled()) {
    // The copy of stock tfjs-wasm, for A/B timing against the kernels as they were.
    const out = backend.makeOutput(x.shape, x.dtype);
    backend.typedArrayFromHeap(out).set(backend.typedArrayFromHeap(x));
    return out;
  }
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}
