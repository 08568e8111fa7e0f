/**
 * IDX files (the MNIST format), plain or gzip. Checks the magic number, the dims and the
 * data length, and names the file in every error.
 */
import * as fs from 'node:fs';
import * as zlib from 'node:zlib';
import { InputError } from '../errors';

export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

const UBYTE = 0x08;

export function parseIdx(bytes: Uint8Array, file: string): IdxArray {
  let raw = bytes;
  if (raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b) {
    try {
      raw = zlib.gunzipSync(raw);
    } catch (err) {
      throw new InputError(file, 'gzip', `cannot be decompressed (${(err as Error).message}); the file is truncated or corrupt`);
    }
  }
  if (raw.length < 4) throw new InputError(file, 'header', `is ${raw.length} bytes long; an IDX header needs at least 4`);
  if (raw[0] !== 0 || raw[1] !== 0) {
    throw new InputError(file, 'magic number',
      `starts with 0x${[raw[0], raw[1], raw[2], raw[3]].map((b) => b!.toString(16).padStart(2, '0')).join('')}; IDX files start with 0x0000`);
  }
  if (raw[2] !== UBYTE) {
    throw new InputError(file, 'magic number', `declares element type 0x${raw[2]!.toString(16)}; only unsigned bytes (0x08) are supported`);
  }
  const rank = raw[3]!;
  if (rank < 1 || rank > 4) throw new InputError(file, 'dims', `declares ${rank} dimensions; expected 1 to 4`);
  const headerLength = 4 + 4 * rank;
  if (raw.length < headerLength) {
    throw new InputError(file, 'dims', `header declares ${rank} dimensions but the file ends after ${raw.length} bytes`);
  }
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i, false));
  const expected = dims.reduce((a, b) => a * b, 1);
  const found = raw.length - headerLength;
  if (found < expected) {
    throw new InputError(file, 'data', `is truncated: dims ${dims.join('×')} need ${expected} bytes, found ${found}`);
  }
  if (found > expected) {
    throw new InputError(file, 'data', `has ${found - expected} bytes after the ${dims.join('×')} data the header declares`);
  }
  return { dims, data: raw.subarray(headerLength) };
}

export function readIdx(file: string): IdxArray {
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    throw new InputError(file, '', `cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return parseIdx(bytes, file);
}

/** Writes an unsigned-byte IDX file, gzip-compressed when the name ends in .gz. */
export function encodeIdx(dims: number[], data: Uint8Array, gzip: boolean): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header[2] = UBYTE;
  header[3] = dims.length;
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  const raw = Buffer.concat([header, data]);
  return gzip ? zlib.gzipSync(raw, { level: 9 }) : raw;
}
