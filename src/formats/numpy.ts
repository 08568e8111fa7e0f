/**
 * NumPy arrays, read once for both halves: the .npy header (magic, version 1/2/3, the dict with
 * descr, fortran_order and shape), the layout of an image array (NHWC or NCHW, decided from the
 * shape) and the arrays of an .npz (src/formats/npz.ts). The cheap info reads headers only;
 * the engine's loader (src/engine/data/numpy.ts) then reads the bytes of the first n images.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DataSplit } from '../protocol/vocabulary';
import { FormatError } from './errors';
import { readNpzEntryHead, type NpzEntry } from './npz';
import { readAt, withFile } from './file-read';

/** The element types we read: little-endian unsigned/signed integers and floats. */
export interface NpyDtype {
  kind: 'u' | 'i' | 'f';
  /** Bytes an element. */
  size: number;
}

export interface NpyHeader {
  descr: string;
  dtype: NpyDtype;
  shape: number[];
  /** Bytes before the first element. */
  dataOffset: number;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const SUPPORTED: Readonly<Record<string, NpyDtype>> = {
  u1: { kind: 'u', size: 1 },
  i1: { kind: 'i', size: 1 },
  u2: { kind: 'u', size: 2 },
  i2: { kind: 'i', size: 2 },
  u4: { kind: 'u', size: 4 },
  i4: { kind: 'i', size: 4 },
  i8: { kind: 'i', size: 8 },
  f4: { kind: 'f', size: 4 },
  f8: { kind: 'f', size: 8 },
};

/** The array names a split is stored under, in a folder (`x_test.npy`) or an .npz (`x_test`). */
export const NUMPY_ARRAYS: Readonly<Record<DataSplit, { images: string; labels: string }>> = {
  train: { images: 'x_train', labels: 'y_train' },
  test: { images: 'x_test', labels: 'y_test' },
};

/** Bytes the preamble takes before the header dict: magic, version and the dict's length. */
export function npyPreambleLength(bytes: Uint8Array, file: string): number {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new FormatError(file, 'magic', 'does not start with \\x93NUMPY; this is not a .npy array');
  }
  const major = bytes[6]!;
  if (major === 1) return 10;
  if (major === 2 || major === 3) return 12;
  throw new FormatError(file, 'version', `is ${major}.${bytes[7]}; .npy versions 1, 2 and 3 are read`);
}

/** Parses a .npy header from bytes holding at least all of it; throws a FormatError naming the file. */
export function parseNpyHeader(bytes: Uint8Array, file: string): NpyHeader {
  const preamble = npyPreambleLength(bytes, file);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < preamble) throw new FormatError(file, 'header', 'is truncated');
  const dictLength = preamble === 10 ? view.getUint16(8, true) : view.getUint32(8, true);
  const dataOffset = preamble + dictLength;
  if (bytes.length < dataOffset) {
    throw new FormatError(file, 'header', `is truncated: it declares ${dictLength} bytes, the file holds fewer`);
  }
  const dict = Buffer.from(bytes.subarray(preamble, dataOffset)).toString(bytes[6] === 3 ? 'utf8' : 'latin1');
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(dict)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(dict)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(dict)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw new FormatError(file, 'header', `"${dict.trim()}" lacks descr, fortran_order or shape`);
  }
  if (fortran === 'True') {
    throw new FormatError(file, 'fortran_order', 'is True; save the array in C order (np.ascontiguousarray)');
  }
  if (descr.startsWith('>')) {
    throw new FormatError(
      file,
      'descr',
      `"${descr}" is big-endian; save it little-endian (arr.astype("<${descr.slice(1)}"))`,
    );
  }
  const code = descr.replace(/^[<|=]/, '');
  const dtype = SUPPORTED[code];
  if (!dtype) {
    const what = code === 'O' ? 'an object array' : `"${descr}"`;
    throw new FormatError(file, 'descr', `is ${what}; uint8, int8 to int64, float32 and float64 are read`);
  }
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => Number(s.replace(/L$/, '')));
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new FormatError(file, 'shape', `(${shapeText}) is not a tuple of sizes`);
  }
  return { descr, dtype, shape, dataOffset };
}

/** Bytes the array's data takes. */
export const npyDataLength = (header: NpyHeader): number => header.shape.reduce((a, b) => a * b, 1) * header.dtype.size;

/** The header of a .npy file, reading its first bytes only; checks the file holds all the data it declares. */
export function readNpyFileHeader(file: string): NpyHeader {
  return withFile(file, (fd, size) => {
    const head = readAt(fd, 0, 12);
    const preamble = npyPreambleLength(head, file);
    const dictLength = preamble === 10 ? head.readUInt16LE(8) : head.readUInt32LE(8);
    const header = parseNpyHeader(readAt(fd, 0, preamble + dictLength), file);
    checkComplete(header, size, file);
    return header;
  });
}

/** Throws when `length` bytes cannot hold the header and the data it declares. */
export function checkComplete(header: NpyHeader, length: number, file: string): void {
  const need = header.dataOffset + npyDataLength(header);
  if (length < need) {
    throw new FormatError(
      file,
      'data',
      `is truncated: shape (${header.shape.join(', ')}) of ${header.descr} needs ${need} bytes, found ${length}`,
    );
  }
}

export interface ImageLayout {
  count: number;
  /** H×W×C of one image. */
  shape: [number, number, number];
  /** True for N×C×H×W, false for N×H×W×C (or N×H×W, one channel). */
  channelsFirst: boolean;
}

/**
 * How an image array is laid out: N×H×W is one channel; of N×A×B×D, channels last when D is 1 or 3
 * (NHWC, as Keras saves), else channels first when A is 1 or 3 (NCHW, as PyTorch saves).
 */
export function imageLayout(header: NpyHeader, file: string): ImageLayout {
  const [count, a, b, d] = header.shape;
  if (header.shape.length === 3) return { count: count!, shape: [a!, b!, 1], channelsFirst: false };
  if (header.shape.length === 4) {
    if (d === 1 || d === 3) return { count: count!, shape: [a!, b!, d], channelsFirst: false };
    if (a === 1 || a === 3) return { count: count!, shape: [b!, d!, a], channelsFirst: true };
  }
  throw new FormatError(
    file,
    'shape',
    `is (${header.shape.join(', ')}); images need N×H×W, N×H×W×C or N×C×H×W with C = 1 or 3`,
  );
}

/** The label array's count; it must be one-dimensional and of an integer type. */
export function labelCount(header: NpyHeader, file: string): number {
  if (header.shape.length !== 1) {
    throw new FormatError(file, 'shape', `is (${header.shape.join(', ')}); labels need one dimension (N,)`);
  }
  if (header.dtype.kind === 'f') {
    throw new FormatError(file, 'descr', `is ${header.descr}; labels need an integer type (uint8, int32, int64)`);
  }
  return header.shape[0]!;
}

/** The .npz file a path names: the path itself, or the one .npz in a folder; undefined when neither. */
export function npzFile(dir: string): string | undefined {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(dir);
  } catch {
    return undefined;
  }
  if (stat.isFile()) return dir.toLowerCase().endsWith('.npz') ? dir : undefined;
  const found = fs.readdirSync(dir).filter((f) => f.toLowerCase().endsWith('.npz'));
  if (found.length > 1) {
    throw new FormatError(
      dir,
      '',
      `holds ${found.length} .npz files (${found.sort().join(', ')}); name one with --data`,
    );
  }
  return found.length === 1 ? path.join(dir, found[0]!) : undefined;
}

/** One array of a split: a .npy file, or an entry of an .npz (named `file.npz:x_test.npy` in messages). */
export interface NumpyArray {
  header: NpyHeader;
  /** The name messages give it. */
  label: string;
  file: string;
  entry?: NpzEntry;
}

/** A .npy file's array, its header read and checked complete. */
export function npyArray(file: string): NumpyArray {
  return { header: readNpyFileHeader(file), label: file, file };
}

/** An .npz entry's array (`name` without .npy), reading its header only, checked complete. */
export function npzArray(zip: string, entries: Map<string, NpzEntry>, name: string): NumpyArray {
  const entry = entries.get(`${name}.npy`);
  if (!entry) throw new FormatError(zip, '', `holds no array "${name}" (${name}.npy)`);
  const label = `${zip}:${name}.npy`;
  const first = readNpzEntryHead(zip, entry, 12).bytes;
  const preamble = npyPreambleLength(first, label);
  const dictLength =
    preamble === 10 ? first[8]! | (first[9]! << 8) : new DataView(first.buffer, first.byteOffset).getUint32(8, true);
  const header = parseNpyHeader(readNpzEntryHead(zip, entry, preamble + dictLength).bytes, label);
  checkComplete(header, entry.size, label);
  return { header, label, file: zip, entry };
}
