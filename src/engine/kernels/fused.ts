/**
 * One L∞ PGD step, and one L∞ APGD step, as one kernel each. Composed from tfjs ops, the PGD step
 * x' = Π(x_t + α·sign(∇)) is nine element-wise kernels (sign, mul, add, sub, neg, maximum, minimum,
 * add, clipByValue), each a pass over the batch and a fresh heap buffer, and tfjs-wasm's
 * broadcasting maximum/minimum against ε are slow (1 ms each on 250 images); APGD's step with its
 * momentum is twenty. On wasm with our native kernels each is one SIMD pass (native/kernels.c's
 * linf_step and apgd_linf_step) with the same float operations in the same order, so the iterate
 * is identical; elsewhere, or with the native kernels off, it is the composed ops.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { ascentDirection, epsTensor, project, type ThreatModel } from '../threat';
import { heapOffset, nativeKernels, nativeKernelsAvailable } from './native';

/** The kernels' names in tfjs's registry (registered on wasm only, by setOurKernels). */
export const LINF_STEP = 'RobustnessLabLinfStep';
export const APGD_LINF_STEP = 'RobustnessLabApgdLinfStep';

interface LinfStepAttrs {
  lo: number;
  hi: number;
}

interface ApgdStepAttrs extends LinfStepAttrs {
  momentum: number;
  first: boolean;
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
  const { native, batch, per } = operands(backend, LINF_STEP, [x!, current!, grad!], [alpha!, eps!]);
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
 * The operands of a fused step, checked (the kernel reads the heap at their offsets, so a short
 * operand would read another tensor's memory): float32, the batch-sized ones all of x's shape.
 * Throws when the native kernels are off.
 */
function operands(backend: BackendWasm, name: string, batchSized: tf.TensorInfo[], perSample: tf.TensorInfo[]) {
  const native = nativeKernels(backend);
  if (!native) throw new Error(`${name} needs the native kernels (native/kernels.wasm)`);
  const x = batchSized[0]!;
  for (const t of [...batchSized, ...perSample]) {
    if (t.dtype !== 'float32') throw new Error(`${name}: expected float32 operands, got ${t.dtype}`);
  }
  for (const t of batchSized) {
    if (t.shape.join() !== x.shape.join()) {
      throw new Error(`${name}: operand of shape [${t.shape.join(', ')}] for x of [${x.shape.join(', ')}]`);
    }
  }
  const batch = x.shape[0]!;
  return { native, batch, per: tf.util.sizeFromShape(x.shape) / batch };
}

export function apgdLinfStepWasm(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }) {
  const backend = args.backend as BackendWasm;
  const { x, current, previous, grad, eta, eps } = args.inputs as Record<string, tf.TensorInfo>;
  const { lo, hi, momentum, first } = args.attrs as unknown as ApgdStepAttrs;
  const { native, batch, per } = operands(backend, APGD_LINF_STEP, [x!, current!, previous!, grad!], [eta!, eps!]);
  const out = backend.makeOutput(x!.shape, 'float32');
  native.apgd_linf_step(
    heapOffset(backend, x!),
    heapOffset(backend, current!),
    heapOffset(backend, previous!),
    heapOffset(backend, grad!),
    heapOffset(backend, eta!),
    strideOf(eta!, batch, 'eta'),
    heapOffset(backend, eps!),
    strideOf(eps!, batch, 'eps'),
    heapOffset(backend, out),
    batch,
    per,
    lo,
    hi,
    momentum,
    // The composed ops multiply by the float32 scalar made from the double 1 − m.
    1 - momentum,
    first ? 1 : 0,
  );
  return out;
}

function fusedOnWasm(name: string): boolean {
  return tf.getBackend() === 'wasm' && tf.getKernel(name, 'wasm') !== undefined && nativeKernelsAvailable();
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
    if (fusedOnWasm(LINF_STEP)) {
      const attrs: LinfStepAttrs = { lo: threat.bounds[0], hi: threat.bounds[1] };
      return tf
        .engine()
        .runKernel(LINF_STEP, { x, current, grad, alpha, eps: epsTensor(threat) }, attrs as never) as tf.Tensor4D;
    }
    return project(threat, x, tf.add(current, tf.mul(alpha, ascentDirection('linf', grad))) as tf.Tensor4D);
  });
}

/**
 * One L∞ APGD step: z = Π(x_k + η·sign(∇)), then (after the first step, k > 0) the momentum step
 * Π(x_k + m·(z − x_k) + (1 − m)·(x_k − x_{k−1})), as src/engine/attacks/apgd.ts composes it.
 * `eta` is the absolute step size η·ε, a scalar or one per sample.
 */
export function apgdLinfStep(
  threat: ThreatModel,
  x: tf.Tensor4D,
  current: tf.Tensor4D,
  previous: tf.Tensor4D,
  grad: tf.Tensor4D,
  eta: tf.Tensor,
  momentum: number,
  first: boolean,
): tf.Tensor4D {
  if (threat.norm !== 'linf') throw new Error(`apgdLinfStep takes an L∞ threat, got ${threat.norm}`);
  return tf.tidy(() => {
    if (fusedOnWasm(APGD_LINF_STEP)) {
      const attrs: ApgdStepAttrs = { lo: threat.bounds[0], hi: threat.bounds[1], momentum, first };
      const inputs = { x, current, previous, grad, eta, eps: epsTensor(threat) };
      return tf.engine().runKernel(APGD_LINF_STEP, inputs, attrs as never) as tf.Tensor4D;
    }
    const z = project(threat, x, tf.add(current, tf.mul(eta, ascentDirection('linf', grad))) as tf.Tensor4D);
    if (first) return z;
    const moved = tf.add(
      tf.add(current, tf.mul(momentum, tf.sub(z, current))),
      tf.mul(1 - momentum, tf.sub(current, previous)),
    );
    return project(threat, x, moved as tf.Tensor4D);
  });
}
