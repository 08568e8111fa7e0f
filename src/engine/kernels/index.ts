/**
 * Our kernels for the wasm backend, registered over (or beside) the stock ones.
 * `setOurKernels(false)` restores the stock registry, which the benchmark uses to
 * measure what they buy.
 */
import * as tf from '@tensorflow/tfjs-core';
import { makeClipByValueWasm, makeFusedWasm, relu6Wasm } from './activation';
import { conv2DBackpropFilterWasm, conv2DBackpropInputWasm } from './conv-grads';
import { APGD_LINF_STEP, apgdLinfStepWasm, LINF_STEP, linfStepWasm } from './fused';
import { identityWasm } from './identity';
import { makeBatchMatMulWasm } from './matmul';
import { signWasm } from './sign';
import { makeSumWasm } from './sum';

export { APGD_LINF_STEP, apgdLinfStep, LINF_STEP, linfStep } from './fused';
export { nativeKernelsAvailable, setNativeKernels } from './native';

const BACKEND = 'wasm';
type KernelFn = tf.KernelConfig['kernelFunc'];

const stockKernels = new Map<string, tf.KernelConfig | undefined>();

function ours(): Array<[string, KernelFn]> {
  const stockMatMul = stockKernels.get(tf.BatchMatMul);
  const list: Array<[string, KernelFn]> = [
    [tf.Conv2DBackpropFilter, conv2DBackpropFilterWasm as KernelFn],
    [tf.Conv2DBackpropInput, conv2DBackpropInputWasm as KernelFn],
    [tf.Sign, signWasm as KernelFn],
    [LINF_STEP, linfStepWasm as KernelFn],
    [APGD_LINF_STEP, apgdLinfStepWasm as KernelFn],
    [tf.Identity, identityWasm as KernelFn],
  ];
  if (stockMatMul) list.push([tf.BatchMatMul, makeBatchMatMulWasm(stockMatMul.kernelFunc as never) as KernelFn]);
  const stockSum = stockKernels.get(tf.Sum);
  if (stockSum) list.push([tf.Sum, makeSumWasm(stockSum.kernelFunc as never) as KernelFn]);
  // NaN kept through relu and relu6 (activation.ts).
  for (const name of [tf._FusedMatMul, tf.FusedConv2D, tf.FusedDepthwiseConv2D]) {
    const stock = stockKernels.get(name);
    if (stock) list.push([name, makeFusedWasm(stock.kernelFunc as never) as KernelFn]);
  }
  list.push([tf.Relu6, relu6Wasm as KernelFn]);
  const stockClip = stockKernels.get(tf.ClipByValue);
  if (stockClip) list.push([tf.ClipByValue, makeClipByValueWasm(stockClip.kernelFunc as never) as KernelFn]);
  return list;
}

/** The kernel names we replace or add on wasm, for reports and tests. */
export const OUR_WASM_KERNELS = [
  tf.Conv2DBackpropFilter,
  tf.Conv2DBackpropInput,
  tf.BatchMatMul,
  tf.Sign,
  LINF_STEP,
  APGD_LINF_STEP,
  tf.Identity,
  tf.Sum,
  tf._FusedMatMul,
  tf.FusedConv2D,
  tf.FusedDepthwiseConv2D,
  tf.Relu6,
  tf.ClipByValue,
] as const;

function replace(name: string, config: tf.KernelConfig | undefined): void {
  if (tf.getKernel(name, BACKEND)) tf.unregisterKernel(name, BACKEND);
  if (config) tf.registerKernel(config);
}

let active = false;

export function setOurKernels(enabled: boolean): void {
  if (enabled === active) return;
  if (enabled) {
    for (const name of OUR_WASM_KERNELS) stockKernels.set(name, tf.getKernel(name, BACKEND));
    // The stock setupFunc stays: our BatchMatMul calls the stock one on its fast path.
    for (const [kernelName, kernelFunc] of ours()) {
      const setupFunc = stockKernels.get(kernelName)?.setupFunc;
      replace(kernelName, { kernelName, backendName: BACKEND, kernelFunc, ...(setupFunc ? { setupFunc } : {}) });
    }
  } else {
    for (const name of OUR_WASM_KERNELS) replace(name, stockKernels.get(name));
  }
  active = enabled;
}

export function ourKernelsActive(): boolean {
  return active;
}
