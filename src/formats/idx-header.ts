/**
 * The IDX header (the MNIST format), read once for both halves: the cheap info reads it from the
 * first bytes of a file (plain or gzip), the engine's reader before it reads any records.
 */
import * as zlib from 'node:zlib';
import { FormatError } from './errors';
import { readAt, withFile } from './file-read';

/** The element type we read: unsigned bytes. */
export const IDX_UBYTE = 0x08;

export interface IdxHeader {
  dims: number[];
  /** Bytes before the first record: 4 + 4 · rank. */
  headerLength: number;
}

export const isGzip = (bytes: Uint8Array): boolean => bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;

/** Parses the header at the start of (decompressed) IDX bytes; throws a FormatError naming the file and the field. */
export function parseIdxHeader(raw: Uint8Array, file: string): IdxHeader {
  if (raw.length < 4) {
    throw new FormatError(file, 'header', `is ${raw.length} bytes long; an IDX header needs at least 4`);
  }
  if (raw[0] !== 0 || raw[1] !== 0) {
    const magic = [raw[0], raw[1], raw[2], raw[3]].map((b) => b!.toString(16).padStart(2, '0')).join('');
    throw new FormatError(file, 'magic number', `starts with 0x${magic}; IDX files start with 0x0000`);
  }
  if (raw[2] !== IDX_UBYTE) {
    throw new FormatError(
      file,
      'magic number',
      `declares element type 0x${raw[2]!.toString(16)}; only unsigned bytes (0x08) are supported`,
    );
  }
  const rank = raw[3]!;
  if (rank < 1 || rank > 4) throw new FormatError(file, 'dims', `declares ${rank} dimensions; expected 1 to 4`);
  const headerLength = 4 + 4 * rank;
  if (raw.length < headerLength) {
    throw new FormatError(
      file,
      'dims',
      `header declares ${rank} dimensions but the file ends after ${raw.length} bytes`,
    );
  }
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  return { dims: Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i, false)), headerLength };
}

/** The header of an IDX file from its first 4 KB (a gzip prefix inflates up to where it stops). */
export function readIdxHeader(file: string): IdxHeader {
  // A regular file only (withFile refuses a FIFO or a device before reading).
  let bytes: Uint8Array = withFile(file, (fd) => readAt(fd, 0, 4096));
  if (isGzip(bytes)) {
    try {
      bytes = zlib.gunzipSync(bytes, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
    } catch (err) {
      throw new FormatError(file, 'gzip', `cannot be decompressed (${(err as Error).message}); the file is corrupt`);
    }
  }
  return parseIdxHeader(bytes, file);
}

/** An images header's N and [H, W, C]; throws unless it has 3 (N×H×W) or 4 (N×H×W×C) dims. */
export function imageDims(header: IdxHeader, file: string): { count: number; shape: [number, number, number] } {
  const dims = header.dims;
  if (dims.length !== 3 && dims.length !== 4) {
    throw new FormatError(file, 'dims', `are ${dims.join('×')}; images need N×H×W or N×H×W×C`);
  }
  const [count, h, w, c = 1] = dims as [number, number, number, number?];
  return { count, shape: [h, w, c] };
}
