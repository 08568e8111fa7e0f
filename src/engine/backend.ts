/**
 * Picks the tensor backend: tensorflow (tfjs-node, when it resolves) > wasm with our
 * kernels > cpu, and says which one runs. `wasm-stock` is wasm without our kernels, for
 * the benchmark.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { setOurKernels } from './kernels';

import { TENSOR_BACKENDS, type BackendChoice, type TensorBackend } from '../protocol/vocabulary';

export { BACKEND_CHOICES, type BackendChoice } from '../protocol/vocabulary';

export interface BackendInfo {
  /** The tfjs backend that runs: tensorflow, wasm or cpu. */
  name: TensorBackend;
  /** Whether our wasm kernels are registered (always false off wasm). */
  customKernels: boolean;
  /** Why a preferred backend was skipped, when one was. */
  notes: string[];
}

export interface BackendOptions {
  /** Folder holding tfjs-backend-wasm*.wasm; defaults to next to this bundle, then node_modules. */
  wasmDir?: string;
}

let current: BackendInfo | undefined;

function findWasmDir(explicit?: string): string | undefined {
  const candidates = [explicit, typeof __dirname === 'string' ? __dirname : undefined];
  for (const dir of candidates) {
    if (dir && fs.existsSync(path.join(dir, 'tfjs-backend-wasm-simd.wasm'))) return dir;
  }
  try {
    const req = createRequire(path.join(process.cwd(), 'index.js'));
    return path.dirname(req.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm'));
  } catch {
    return undefined;
  }
}

/**
 * tfjs-node registers its backend into the tfjs-core it resolves, which is not the copy
 * bundled into us; hand its factory and kernels over to ours.
 */
function tryTensorflow(notes: string[]): boolean {
  try {
    const req = createRequire(path.join(process.cwd(), 'index.js'));
    const nodePkg = req.resolve('@tensorflow/tfjs-node');
    const theirCore = createRequire(nodePkg)('@tensorflow/tfjs-core') as typeof tf;
    createRequire(nodePkg)('@tensorflow/tfjs-node');
    if (theirCore !== (tf as unknown)) {
      const factory = theirCore.findBackendFactory('tensorflow');
      if (!factory) throw new Error('tfjs-node loaded but registered no "tensorflow" backend');
      tf.registerBackend('tensorflow', factory, 3);
      for (const kernel of theirCore.getKernelsForBackend('tensorflow')) {
        if (!tf.getKernel(kernel.kernelName, 'tensorflow')) tf.registerKernel(kernel);
      }
    }
    return true;
  } catch (err) {
    notes.push(`tensorflow (tfjs-node) unavailable: ${(err as Error).message.split('\n')[0]}`);
    return false;
  }
}

async function trySet(name: string, notes: string[]): Promise<boolean> {
  try {
    const ok = await tf.setBackend(name);
    if (!ok) notes.push(`${name} backend failed to initialise`);
    return ok;
  } catch (err) {
    notes.push(`${name} backend failed: ${(err as Error).message}`);
    return false;
  }
}

export async function initBackend(choice: BackendChoice = 'auto', options: BackendOptions = {}): Promise<BackendInfo> {
  const notes: string[] = [];
  const order: readonly TensorBackend[] =
    choice === 'auto' ? TENSOR_BACKENDS : choice === 'wasm-stock' ? ['wasm'] : [choice];
  for (const name of order) {
    if (name === 'tensorflow' && !tryTensorflow(notes)) continue;
    if (name === 'wasm') {
      const dir = findWasmDir(options.wasmDir);
      if (dir) setWasmPaths(dir + path.sep);
      else notes.push('tfjs-backend-wasm .wasm files not found; wasm may fail');
      // Registering our kernels after the backend is up keeps the stock setup functions.
      setOurKernels(false);
    }
    if (!(await trySet(name, notes))) continue;
    // Our own output names the backend and why; the cpu backend's "install tfjs-node" banner is noise.
    if (name === 'cpu') (tf.backend() as unknown as { firstUse: boolean }).firstUse = false;
    const customKernels = name === 'wasm' && choice !== 'wasm-stock';
    if (customKernels) setOurKernels(true);
    current = { name, customKernels, notes };
    return current;
  }
  throw new Error(`no tfjs backend could start for --backend ${choice}: ${notes.join('; ')}`);
}

export function backendInfo(): BackendInfo {
  if (!current) throw new Error('initBackend() has not run');
  return current;
}

/** "wasm (our kernels)", "wasm (stock kernels)", "cpu", "tensorflow". */
export function describeBackend(info: BackendInfo = backendInfo()): string {
  if (info.name !== 'wasm') return info.name;
  return `wasm (${info.customKernels ? 'our kernels' : 'stock kernels'})`;
}
