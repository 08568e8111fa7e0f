/**
 * One L∞ PGD step as one kernel. Composed from tfjs ops, the step x' = Π(x_t + α·sign(∇)) is nine
 * element-wise kernels (sign, mul, add, sub, neg, maximum, minimum, add, clipByValue), each a pass
 * over the batch and a fresh heap buffer, and tfjs-wasm's broadcasting maximum/minimum against ε
 * are slow (1 ms each on 250 images). On wasm with our native kernels it is one SIMD pass
 * (native/kernels.c's linf_step) with the same float operations in the same order, so the iterate
 * is identical; elsewhere it is the composed ops.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { ascentDirection, epsTensor, project, type ThreatModel } from '../threat';
import { heapOffset, nativeKernels, nativeKernelsAvailable } from './native';

/** The kernel's name in tfjs's registry (registered on wasm only, by setOurKernels). */
export const LINF_STEP = 'RobustnessLabLinfStep';

interface LinfStepAttrs {
  lo: number;
  hi: number;
}

/** A per-sample operand's stride: 0 for one value, 1 for one per sample. */
function strideOf(info: tf.TensorInfo, batch: number, name: string): number {
  const size = tf.util.sizeFromShape(info.shape);
  if (size === 1) return 0;
  if (size === batch) return 1;
  throw new Error(`${LINF_STEP}: ${name} has ${size} values for a batch of ${batch}`);
}

export function linfStepWasm(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }) {
  const backend = args.backend as BackendWasm;
  const { x, current, grad, alpha, eps } = args.inputs as Record<string, tf.TensorInfo>;
  const { lo, hi } = args.attrs as unknown as LinfStepAttrs;
  const native = nativeKernels(backend);
  if (!native) throw new Error(`${LINF_STEP} needs the native kernels (native/kernels.wasm)`);
  for (const t of [x!, current!, grad!, alpha!, eps!]) {
    if (t.dtype !== 'float32') throw new Error(`${LINF_STEP}: expected float32 operands, got ${t.dtype}`);
  }
  const batch = x!.shape[0]!;
  const per = tf.util.sizeFromShape(x!.shape) / batch;
  const out = backend.makeOutput(x!.shape, 'float32');
  native.linf_step(
    heapOffset(backend, x!),
    heapOffset(backend, current!),
    heapOffset(backend, grad!),
    heapOffset(backend, alpha!),
    strideOf(alpha!, batch, 'alpha'),
    heapOffset(backend, eps!),
    strideOf(eps!, batch, 'eps'),
    heapOffset(backend, out),
    batch,
    per,
    lo,
    hi,
  );
  return out;
}

/**
 * x_t moved by α·sign(∇) and projected onto the L∞ ball of radius ε around x ∩ the box:
 * `project(threat, x, current + α·sign(grad))`. α and ε are scalars or one per sample.
 */
export function linfStep(
  threat: ThreatModel,
  x: tf.Tensor4D,
  current: tf.Tensor4D,
  grad: tf.Tensor4D,
  alpha: tf.Tensor,
): tf.Tensor4D {
  if (threat.norm !== 'linf') throw new Error(`linfStep takes an L∞ threat, got ${threat.norm}`);
  return tf.tidy(() => {
    if (tf.getBackend() === 'wasm' && tf.getKernel(LINF_STEP, 'wasm') && nativeKernelsAvailable()) {
      const attrs: LinfStepAttrs = { lo: threat.bounds[0], hi: threat.bounds[1] };
      return tf
        .engine()
        .runKernel(LINF_STEP, { x, current, grad, alpha, eps: epsTensor(threat) }, attrs as never) as tf.Tensor4D;
    }
    return project(threat, x, tf.add(current, tf.mul(alpha, ascentDirection('linf', grad))) as tf.Tensor4D);
  });
}
