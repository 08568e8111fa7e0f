/**
 * Writing ONNX models with onnx-proto's protobufjs types. Fine-tuning writes its weights back into
 * the graph it started from: a copy of the ModelProto with the same nodes, opset, inputs and outputs
 * (a final Softmax the engine strips for attacks included), only the named float initializers
 * holding new values, written inline as little-endian raw_data in their own data type. The Layers
 * exporter (src/engine/models/onnx/from-layers.ts) builds its tensors with `floatTensor`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { onnx } from 'onnx-proto';
import { writeFileAtomic } from '../common/atomic-write';
import { FormatError } from './errors';
import { toNumber, type OnnxModel, type OnnxTensor } from './onnx-model';

const T = onnx.TensorProto.DataType;

/** A float's nearest IEEE 754 half-precision value, as its 16 bits (round to nearest even). */
export function floatToHalf(value: number): number {
  const f32 = new Float32Array([value]);
  const bits = new Uint32Array(f32.buffer)[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  let mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  const e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - e;
    const half = mantissa >>> shift;
    const rest = mantissa & ((1 << shift) - 1);
    const midpoint = 1 << (shift - 1);
    return sign | (half + (rest > midpoint || (rest === midpoint && half & 1) ? 1 : 0));
  }
  const half = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  return sign | (half + (rest > 0x1000 || (rest === 0x1000 && half & 1) ? 1 : 0));
}

/** Values as raw_data bytes of `dataType` (FLOAT, FLOAT16 or DOUBLE), little-endian as ONNX stores them. */
function rawBytes(values: ArrayLike<number>, dataType: number): Uint8Array {
  const width = dataType === T.DOUBLE ? 8 : dataType === T.FLOAT16 ? 2 : 4;
  const bytes = new Uint8Array(values.length * width);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) {
    if (dataType === T.DOUBLE) view.setFloat64(i * 8, values[i]!, true);
    else if (dataType === T.FLOAT16) view.setUint16(i * 2, floatToHalf(values[i]!), true);
    else view.setFloat32(i * 4, values[i]!, true);
  }
  return bytes;
}

/** A float32 initializer (or Constant value) with its data in raw_data. */
export function floatTensor(name: string, dims: number[], values: ArrayLike<number>): onnx.TensorProto {
  const count = dims.reduce((a, b) => a * b, 1);
  if (values.length !== count) {
    throw new Error(`tensor "${name}": ${values.length} values do not fill its shape [${dims.join(', ')}]`);
  }
  return onnx.TensorProto.create({ name, dims, dataType: T.FLOAT, rawData: rawBytes(values, T.FLOAT) });
}

export interface ReplaceOptions {
  /**
   * Write every replaced initializer as FLOAT whatever its type was (a checkpoint that must read
   * back bit for bit); by default each keeps its own type (FLOAT16 and DOUBLE weights stay so).
   */
  float32?: boolean;
  /** Key/value pairs set in the model's metadata_props (a key already there is replaced). */
  metadata?: Record<string, string>;
}

/**
 * The model's bytes with the named initializers replaced: the same graph (nodes, opset, inputs,
 * outputs), new weights. An initializer of external data is written inline. A name the graph has
 * no float initializer for, or a value count that does not fill its shape, is an Error.
 */
export function replaceInitializers(
  model: OnnxModel,
  values: ReadonlyMap<string, ArrayLike<number>>,
  options: ReplaceOptions = {},
): Uint8Array {
  const copy = onnx.ModelProto.decode(onnx.ModelProto.encode(model).finish());
  const initializers = new Map((copy.graph?.initializer ?? []).map((t) => [t.name ?? '', t]));
  for (const [name, data] of values) {
    const init = initializers.get(name);
    if (!init) throw new Error(`the graph has no initializer "${name}" to write`);
    if (init.dataType !== T.FLOAT && init.dataType !== T.FLOAT16 && init.dataType !== T.DOUBLE) {
      throw new Error(`initializer "${name}" has data type ${init.dataType}, not a float type`);
    }
    const dims = (init.dims ?? []).map(toNumber);
    const count = dims.reduce((a, b) => a * b, 1);
    if (data.length !== count) {
      throw new Error(`initializer "${name}": ${data.length} values do not fill its shape [${dims.join(', ')}]`);
    }
    if (options.float32) init.dataType = T.FLOAT;
    init.rawData = rawBytes(data, init.dataType);
    init.floatData = [];
    init.doubleData = [];
    init.int32Data = [];
    init.externalData = [];
    init.dataLocation = onnx.TensorProto.DataLocation.DEFAULT;
  }
  if (options.metadata) {
    const keys = new Set(Object.keys(options.metadata));
    copy.metadataProps = [
      ...(copy.metadataProps ?? []).filter((p) => !keys.has(p.key ?? '')),
      ...Object.entries(options.metadata).map(([key, value]) => onnx.StringStringEntryProto.create({ key, value })),
    ];
  }
  return onnx.ModelProto.encode(copy).finish();
}

/** Writes ONNX bytes to `file` atomically, making its folder. */
export function writeOnnxFile(file: string, bytes: Uint8Array): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  writeFileAtomic(file, bytes);
}

/**
 * The FLOAT initializers of a model `replaceInitializers` wrote with `float32` (a checkpoint), by
 * name; a FormatError naming the file for one in another type or without its data inline.
 */
export function floatInitializers(file: string, model: OnnxModel): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const t of model.graph?.initializer ?? []) {
    if (t.dataType !== T.FLOAT) continue;
    out.set(t.name ?? '', floatValues(file, t));
  }
  return out;
}

function floatValues(file: string, t: OnnxTensor): Float32Array {
  const count = (t.dims ?? []).map(toNumber).reduce((a, b) => a * b, 1);
  if (t.rawData && t.rawData.length > 0) {
    if (t.rawData.length !== count * 4) {
      throw new FormatError(file, `initializer "${t.name}"`, `holds ${t.rawData.length} bytes; needs ${count * 4}`);
    }
    const view = new DataView(t.rawData.buffer, t.rawData.byteOffset, t.rawData.byteLength);
    return Float32Array.from({ length: count }, (_, i) => view.getFloat32(i * 4, true));
  }
  if ((t.floatData ?? []).length !== count) {
    throw new FormatError(file, `initializer "${t.name}"`, `holds no inline data for its ${count} values`);
  }
  return Float32Array.from(t.floatData!);
}
