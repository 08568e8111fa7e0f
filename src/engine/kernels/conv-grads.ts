/**
 * Convolution gradients for the wasm backend, written as im2col/col2im over the
 * wasm heap plus one XNNPACK matrix product.
 *
 * Stock tfjs-wasm has no Conv2DBackpropFilter at all (training a convnet throws) and its
 * Conv2DBackpropInput is a naive loop (86 ms of a 147 ms input gradient for the example
 * network). Both gradients are one GEMM once the patches are laid out:
 *   dW[k, co] = Σ_m cols[m, k] · dy[m, co]      (k = kh·kw·ci patch index, m = n·oh·ow)
 *   cols[m, k] = Σ_co dy[m, co] · W[k, co]  then scatter-add cols into dx   (col2im)
 * The patch copies run in our native kernels (native/kernels.c, SIMD over the ci floats that are
 * contiguous in NHWC) directly on the wasm heap, or as plain JS loops on heap views when those are
 * off; the products run in XNNPACK without transpose flags, which is its fast path.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { heapOffset, nativeKernels, type ConvArgs } from './native';

type ConvInfo = tf.backend_util.Conv2DInfo;

interface PatchGeometry {
  batch: number;
  inH: number;
  inW: number;
  inC: number;
  outH: number;
  outW: number;
  outC: number;
  kH: number;
  kW: number;
  strideH: number;
  strideW: number;
  dilationH: number;
  dilationW: number;
  padTop: number;
  padLeft: number;
}

function convArgs(g: PatchGeometry): ConvArgs {
  return [
    g.batch,
    g.inH,
    g.inW,
    g.inC,
    g.outH,
    g.outW,
    g.kH,
    g.kW,
    g.strideH,
    g.strideW,
    g.dilationH,
    g.dilationW,
    g.padTop,
    g.padLeft,
  ];
}

function geometry(info: ConvInfo): PatchGeometry {
  if (info.dataFormat !== 'channelsLast') {
    throw new Error(`robustness-lab wasm conv kernels support NHWC only, got ${info.dataFormat}`);
  }
  return {
    batch: info.batchSize,
    inH: info.inHeight,
    inW: info.inWidth,
    inC: info.inChannels,
    outH: info.outHeight,
    outW: info.outWidth,
    outC: info.outChannels,
    kH: info.filterHeight,
    kW: info.filterWidth,
    strideH: info.strideHeight,
    strideW: info.strideWidth,
    dilationH: info.dilationHeight,
    dilationW: info.dilationWidth,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
  };
}

/**
 * The (output position, kernel tap) pairs whose input pixel lies inside the image: the flat
 * offset of the ci-long run in the image, the output row m, and the patch index k of its first
 * channel (k = (kh·kW + kw)·ci). Cached per geometry: every PGD step and every training batch
 * of a given layer reuses one table, and the copy loops below stay tight and monomorphic.
 */
interface TapTable {
  image: Int32Array;
  row: Int32Array;
  patch: Int32Array;
  length: number;
}

const tapCache = new Map<string, TapTable>();

function tapTable(g: PatchGeometry): TapTable {
  const key = Object.values(g).join(',');
  const cached = tapCache.get(key);
  if (cached) return cached;
  const capacity = g.batch * g.outH * g.outW * g.kH * g.kW;
  const table: TapTable = {
    image: new Int32Array(capacity),
    row: new Int32Array(capacity),
    patch: new Int32Array(capacity),
    length: 0,
  };
  let m = 0;
  let t = 0;
  for (let n = 0; n < g.batch; n++) {
    const imageBase = n * g.inH * g.inW * g.inC;
    for (let oh = 0; oh < g.outH; oh++) {
      for (let ow = 0; ow < g.outW; ow++, m++) {
        for (let kh = 0; kh < g.kH; kh++) {
          const ih = oh * g.strideH + kh * g.dilationH - g.padTop;
          if (ih < 0 || ih >= g.inH) continue;
          for (let kw = 0; kw < g.kW; kw++) {
            const iw = ow * g.strideW + kw * g.dilationW - g.padLeft;
            if (iw < 0 || iw >= g.inW) continue;
            table.image[t] = imageBase + (ih * g.inW + iw) * g.inC;
            table.row[t] = m;
            table.patch[t] = (kh * g.kW + kw) * g.inC;
            t++;
          }
        }
      }
    }
  }
  table.length = t;
  if (tapCache.size >= 32) tapCache.delete(tapCache.keys().next().value!);
  tapCache.set(key, table);
  return table;
}

/**
 * Patches as a [K, M] matrix (K = kH·kW·ci, M = n·oh·ow). This layout makes the filter
 * gradient colsᵀ·dy with dy as XNNPACK's right operand: it repacks that operand on every
 * call, and dy ([M, co]) is 8× smaller than the patches.
 */
function im2colTransposed(image: Float32Array, colsT: Float32Array, g: PatchGeometry, rows: number): void {
  colsT.fill(0);
  const c = g.inC;
  const { image: src, row, patch, length } = tapTable(g);
  for (let t = 0; t < length; t++) {
    const from = src[t]!;
    const to = patch[t]! * rows + row[t]!;
    for (let i = 0; i < c; i++) colsT[to + i * rows] = image[from + i]!;
  }
}

/** Scatter-adds patch rows ([M, K]) back into an NHWC image. */
function col2im(cols: Float32Array, image: Float32Array, g: PatchGeometry): void {
  image.fill(0);
  const c = g.inC;
  const patchLen = g.kH * g.kW * c;
  const { image: dst, row, patch, length } = tapTable(g);
  for (let t = 0; t < length; t++) {
    const to = dst[t]!;
    const from = row[t]! * patchLen + patch[t]!;
    for (let i = 0; i < c; i++) image[to + i]! += cols[from + i]!;
  }
}

function heapView(backend: BackendWasm, info: tf.TensorInfo): Float32Array {
  return backend.typedArrayFromHeap(info) as Float32Array;
}

/** Allocates a float32 tensor on the wasm heap and lets `fill` write it in place. */
function makeFilled(backend: BackendWasm, shape: number[], fill: (out: tf.TensorInfo) => void): tf.Tensor {
  const info = backend.makeOutput(shape, 'float32');
  // Views and offsets are taken after the allocation: a heap growth detaches older views.
  fill(info);
  return tf.engine().makeTensorFromTensorInfo(info, backend);
}

function asTensor(backend: BackendWasm, info: tf.TensorInfo): tf.Tensor {
  // Borrow an input as a Tensor for composite ops; the engine keeps ownership of it.
  backend.incRef(info.dataId);
  return tf.engine().makeTensorFromTensorInfo(info, backend);
}

function dilationsOf(attrs: { dilations?: number | [number, number] }): [number, number] {
  const d = attrs.dilations ?? 1;
  return typeof d === 'number' ? [d, d] : d;
}

export function conv2DBackpropFilterWasm(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}): tf.TensorInfo {
  const backend = args.backend as BackendWasm;
  const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const attrs = args.attrs as unknown as tf.Conv2DBackpropFilterAttrs & { dilations?: number | [number, number] };
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    attrs.filterShape,
    attrs.strides,
    dilationsOf(attrs),
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    tf.backend_util.convertConv2DDataFormat(attrs.dataFormat),
  );
  const g = geometry(info);
  const rows = g.batch * g.outH * g.outW;
  const patchLen = g.kH * g.kW * g.inC;
  return tf.tidy(() => {
    const colsT = makeFilled(backend, [patchLen, rows], (out) => {
      const native = nativeKernels(backend);
      if (native) native.im2col_t(heapOffset(backend, x), heapOffset(backend, out), ...convArgs(g));
      else im2colTransposed(heapView(backend, x), heapView(backend, out), g, rows);
    });
    // [K, M] × [M, co] → [K, co], which is the filter layout.
    return tf.reshape(tf.matMul(colsT, tf.reshape(asTensor(backend, dy), [rows, g.outC])), attrs.filterShape);
  });
}

export function conv2DBackpropInputWasm(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}): tf.TensorInfo {
  const backend = args.backend as BackendWasm;
  const { dy, filter } = args.inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
  const attrs = args.attrs as unknown as tf.Conv2DBackpropInputAttrs;
  const info = tf.backend_util.computeConv2DInfo(
    attrs.inputShape,
    filter.shape as [number, number, number, number],
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    tf.backend_util.convertConv2DDataFormat(attrs.dataFormat),
  );
  const g = geometry(info);
  const rows = g.batch * g.outH * g.outW;
  const patchLen = g.kH * g.kW * g.inC;
  return tf.tidy(() => {
    const weightsT = tf.transpose(tf.reshape(asTensor(backend, filter), [patchLen, g.outC]));
    const cols = tf.matMul(tf.reshape(asTensor(backend, dy), [rows, g.outC]), weightsT);
    return makeFilled(backend, attrs.inputShape, (out) => {
      const native = nativeKernels(backend);
      if (native) native.col2im(heapOffset(backend, cols), heapOffset(backend, out), ...convArgs(g));
      else col2im(heapView(backend, cols), heapView(backend, out), g);
    });
  });
}
