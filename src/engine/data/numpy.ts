/**
 * The first n images and labels of NumPy arrays (headers parsed by src/formats/numpy.ts): a
 * positioned read of those records from a .npy file, or the head of an .npz entry. Pixels become the
 * engine's uint8 N×H×W×C: uint8 as they are, floats in [0, 1] times 255, rounded (an image saved as
 * uint8 / 255 comes back exactly). Every error is an InputError naming the file.
 */
import { readAt, withFile } from '../../formats/file-read';
import { readNpzEntryHead } from '../../formats/npz';
import type { ImageLayout, NpyHeader, NumpyArray } from '../../formats/numpy';
import { InputError, withInputErrors } from '../errors';

/** The first `elements` elements of an array: a positioned read of a .npy file, the head of an .npz entry. */
export function npyRecords(array: NumpyArray, elements: number): { bytes: Uint8Array; bytesRead: number } {
  const { header, file, entry, label } = array;
  const length = elements * header.dtype.size;
  if (entry) {
    const head = withInputErrors(() => readNpzEntryHead(file, entry, header.dataOffset + length));
    return { bytes: head.bytes.subarray(header.dataOffset), bytesRead: head.bytesRead };
  }
  const bytes = withInputErrors(() => withFile(file, (fd) => readAt(fd, header.dataOffset, length)));
  if (bytes.length < length) {
    throw new InputError(label, 'data', `is truncated: ${length} bytes needed, found ${bytes.length}`);
  }
  return { bytes, bytesRead: header.dataOffset + length };
}

/** Element i of little-endian bytes as a number. */
function elementReader(header: NpyHeader, bytes: Uint8Array): (i: number) => number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const { kind, size } = header.dtype;
  if (kind === 'f') return size === 4 ? (i) => view.getFloat32(i * 4, true) : (i) => view.getFloat64(i * 8, true);
  if (size === 1) return kind === 'u' ? (i) => view.getUint8(i) : (i) => view.getInt8(i);
  if (size === 2) return kind === 'u' ? (i) => view.getUint16(i * 2, true) : (i) => view.getInt16(i * 2, true);
  if (size === 4) return kind === 'u' ? (i) => view.getUint32(i * 4, true) : (i) => view.getInt32(i * 4, true);
  return (i) => Number(view.getBigInt64(i * 8, true));
}

/** `count` images of the array as uint8 N×H×W×C. */
export function npyImages(
  header: NpyHeader,
  layout: ImageLayout,
  bytes: Uint8Array,
  count: number,
  file: string,
): Uint8Array {
  const [h, w, c] = layout.shape;
  const read = elementReader(header, bytes);
  const isFloat = header.dtype.kind === 'f';
  const out = new Uint8Array(count * h * w * c);
  const plane = h * w;
  for (let n = 0; n < count; n++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        for (let ch = 0; ch < c; ch++) {
          const src = layout.channelsFirst
            ? n * c * plane + ch * plane + y * w + x
            : n * plane * c + (y * w + x) * c + ch;
          const value = read(src);
          const pixel = isFloat ? value * 255 : value;
          if (!(pixel >= 0 && pixel <= 255)) {
            const range = isFloat ? '[0, 1]' : '[0, 255]';
            throw new InputError(
              file,
              `[${n}]`,
              `holds ${value} at pixel ${src - n * plane * c}; pixels must lie in ${range}`,
            );
          }
          out[((n * h + y) * w + x) * c + ch] = Math.round(pixel);
        }
      }
    }
  }
  return out;
}

/** `count` labels as uint8; each must lie in [0, 255]. */
export function npyLabels(header: NpyHeader, bytes: Uint8Array, count: number, file: string): Uint8Array {
  const read = elementReader(header, bytes);
  const out = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const label = read(i);
    if (label < 0 || label > 255) throw new InputError(file, `[${i}]`, `is ${label}; labels must lie in 0 to 255`);
    out[i] = label;
  }
  return out;
}
