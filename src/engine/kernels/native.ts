/**
 * Our native kernels (native/kernels.c, wasm32 + SIMD128, built by scripts/build-kernels.sh),
 * instantiated on tfjs-wasm's own linear memory: the module imports that memory, so it reads and
 * writes tensors in place at their heap offsets, with no copy. It owns no memory itself (the build
 * checks it has no data section and no stack frame), so sharing the heap is safe, and a heap
 * growth needs nothing from us: both instances see the one Memory.
 *
 * The binary is found next to the bundle (esbuild.mjs copies it to dist/) or in the repository's
 * native/ folder. Without it, or with `setNativeKernels(false)`, the kernels fall back to their
 * JavaScript loops (the benchmark and scripts/profile-step.ts use the switch for A/B timing).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/** The file name of the binary next to a bundle. */
export const NATIVE_KERNELS_FILE = 'robustness-kernels.wasm';

/**
 * Conv geometry in the order native/kernels.c takes it, after the two pointers: batch, inH, inW,
 * c, outH, outW, kH, kW, strideH, strideW, dilationH, dilationW, padTop, padLeft.
 */
export type ConvArgs = [
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
];

export interface NativeKernels {
  col2im(cols: number, image: number, ...g: ConvArgs): void;
  im2col_t(image: number, colsT: number, ...g: ConvArgs): void;
  sign_f32(x: number, out: number, n: number): void;
  clamp_f32(x: number, out: number, n: number, lo: number, hi: number): void;
  linf_step(
    x: number,
    cur: number,
    grad: number,
    alpha: number,
    alphaStride: number,
    eps: number,
    epsStride: number,
    out: number,
    batch: number,
    per: number,
    lo: number,
    hi: number,
  ): void;
  sum_leading(x: number, out: number, outer: number, inner: number): void;
  apgd_linf_step(
    x: number,
    cur: number,
    prev: number,
    grad: number,
    eta: number,
    etaStride: number,
    eps: number,
    epsStride: number,
    out: number,
    batch: number,
    per: number,
    lo: number,
    hi: number,
    momentum: number,
    momentumRest: number,
    first: number,
  ): void;
}

/** The slice of the WebAssembly JS API we use (the project's TypeScript libs declare no WebAssembly). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
  Memory: abstract new (...args: never[]) => WasmMemory;
}
const wasmApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

let enabled = true;
let module: object | null | undefined;
const instances = new WeakMap<WasmMemory, NativeKernels>();

function findBinary(): string | undefined {
  const here = typeof __dirname === 'string' ? __dirname : process.cwd();
  const candidates = [
    path.join(here, NATIVE_KERNELS_FILE),
    path.join(here, '..', '..', '..', 'native', 'kernels.wasm'),
    path.join(process.cwd(), 'native', 'kernels.wasm'),
  ];
  return candidates.find((file) => fs.existsSync(file));
}

function compiled(): object | null {
  if (module === undefined) {
    const file = findBinary();
    module = file ? new wasmApi.Module(fs.readFileSync(file)) : null;
  }
  return module;
}

/** The tfjs-wasm instance's memory (its Emscripten module exports it as `asm.memory`). */
function memoryOf(backend: BackendWasm): WasmMemory | undefined {
  const asm = (backend.wasm as unknown as { asm?: { memory?: unknown } }).asm;
  return asm?.memory instanceof wasmApi.Memory ? asm.memory : undefined;
}

/** Our kernels on this backend's heap, or undefined when switched off or unavailable. */
export function nativeKernels(backend: BackendWasm): NativeKernels | undefined {
  if (!enabled) return undefined;
  const memory = memoryOf(backend);
  const mod = compiled();
  if (!memory || !mod) return undefined;
  let kernels = instances.get(memory);
  if (!kernels) {
    kernels = new wasmApi.Instance(mod, { env: { memory } }).exports as NativeKernels;
    instances.set(memory, kernels);
  }
  return kernels;
}

/** The byte offset of a tensor's data in the wasm heap. */
export function heapOffset(backend: BackendWasm, info: tf.TensorInfo): number {
  const entry = backend.dataIdMap.get(info.dataId) as { memoryOffset: number } | undefined;
  if (!entry) throw new Error('tensor is not on the wasm backend');
  return entry.memoryOffset;
}

/**
 * Switches the native kernels on or off, for A/B timing. Off: the JavaScript loops, the composed
 * PGD step and the copying Identity, i.e. our kernels as they were before the native ones.
 */
export function setNativeKernels(on: boolean): void {
  enabled = on;
}

/** Whether the native kernels are switched on (whether or not their binary was found). */
export function nativeKernelsEnabled(): boolean {
  return enabled;
}

/** Whether the native kernels are switched on and their binary was found. */
export function nativeKernelsAvailable(): boolean {
  return enabled && compiled() !== null;
}
