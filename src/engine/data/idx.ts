/**
 * IDX files (the MNIST format), plain or gzip. The header is parsed by src/formats/idx-header.ts
 * (shared with the language server's cheap info); this file reads the first n records (the idx
 * data loader in sources.ts is its one caller in the engine). Every error is an InputError naming the file.
 */
import type * as fs from 'node:fs';
import * as zlib from 'node:zlib';
import { openReadStream, openRegularHandle } from '../../formats/file-read';
import { IDX_UBYTE, isGzip, parseIdxHeader, type IdxHeader } from '../../formats/idx-header';
import { InputError, withInputErrors } from '../errors';

/** The first records of an IDX file: `dims` is the header's (all records), `data` holds `records` of them. */
export interface IdxHead {
  dims: number[];
  data: Uint8Array;
  records: number;
  /** Bytes read from the file (compressed bytes for .gz): a test checks the rest is left unread. */
  bytesRead: number;
}

function unreadable(file: string, err: unknown): InputError {
  return new InputError(file, '', `cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
}

/** withInputErrors for an async reader. */
async function asInputError<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (err) {
    return withInputErrors(() => {
      throw err;
    });
  }
}

const recordBytes = (header: IdxHeader) => header.dims.slice(1).reduce((a, b) => a * b, 1);

/** The header once `bytes` hold all of it, else undefined; throws on a bad header. */
function headerOnceComplete(bytes: Uint8Array, file: string): IdxHeader | undefined {
  if (bytes.length < 4) return undefined;
  const rank = bytes[3]!;
  if (rank >= 1 && rank <= 4 && bytes.length < 4 + 4 * rank) return undefined;
  return withInputErrors(() => parseIdxHeader(bytes, file));
}

/**
 * The first `count` records (all when undefined) of an IDX file, reading the header and then only
 * the bytes those records need: a positioned read for a plain file, a gunzip stream stopped as
 * soon as it has inflated enough for a .gz. A file cut off after those records still loads.
 */
export async function readIdxHead(file: string, count?: number): Promise<IdxHead> {
  let first: Buffer;
  // A regular file inside the data folder only (a FIFO or a device is refused, never waited on).
  const handle = await asInputError(() => openRegularHandle(file));
  try {
    first = Buffer.alloc(20);
    const { bytesRead } = await handle.read(first, 0, first.length, 0);
    first = first.subarray(0, bytesRead);
    if (!isGzip(first)) return await readPlainHead(handle, first, file, count);
  } finally {
    await handle.close();
  }
  return readGzipHead(file, count);
}

function wanted(header: IdxHeader, count: number | undefined): { records: number; bytes: number } {
  const records = Math.max(0, Math.min(count ?? header.dims[0]!, header.dims[0]!));
  return { records, bytes: header.headerLength + records * recordBytes(header) };
}

function truncated(file: string, header: IdxHeader, records: number, found: number): InputError {
  const need = records * recordBytes(header);
  return new InputError(
    file,
    'data',
    `is truncated: the first ${records} of ${header.dims.join('×')} records need ${need} bytes, ` +
      `found ${Math.max(0, found)}`,
  );
}

function trailing(file: string, header: IdxHeader, extra: number): InputError {
  return new InputError(
    file,
    'data',
    `has ${extra} bytes after the ${header.dims.join('×')} ` + 'data the header declares',
  );
}

async function readPlainHead(
  handle: fs.promises.FileHandle,
  first: Buffer,
  file: string,
  count?: number,
): Promise<IdxHead> {
  // `first` holds 20 bytes: the longest header (rank 4), so this parses it or says what is wrong.
  const header = withInputErrors(() => parseIdxHeader(first, file));
  const { records, bytes } = wanted(header, count);
  const data = Buffer.alloc(bytes - header.headerLength);
  const { bytesRead } = await handle.read(data, 0, data.length, header.headerLength);
  if (bytesRead < data.length) throw truncated(file, header, records, bytesRead);
  if (records === header.dims[0]) {
    const extra = (await handle.stat()).size - bytes;
    if (extra > 0) throw trailing(file, header, extra);
  }
  return { dims: header.dims, data, records, bytesRead: header.headerLength + bytesRead };
}

function incompleteHeader(bytes: Uint8Array, file: string): Error {
  try {
    withInputErrors(() => parseIdxHeader(bytes, file));
  } catch (err) {
    return err as Error;
  }
  return new InputError(file, 'header', 'is incomplete');
}

function readGzipHead(file: string, count?: number): Promise<IdxHead> {
  return new Promise((resolve, reject) => {
    let input: fs.ReadStream;
    try {
      input = withInputErrors(() => openReadStream(file));
    } catch (err) {
      return reject(err as Error);
    }
    const gunzip = zlib.createGunzip();
    const chunks: Buffer[] = [];
    let inflated = 0;
    let header: IdxHeader | undefined;
    let need: { records: number; bytes: number } | undefined;
    let settled = false;
    const finish = (error?: Error) => {
      if (settled) return;
      settled = true;
      input.unpipe(gunzip);
      input.destroy();
      gunzip.destroy();
      if (error) return reject(error);
      const bytes = Buffer.concat(chunks);
      if (!header) return reject(incompleteHeader(bytes, file));
      const { records, bytes: total } = need!;
      if (bytes.length < total) return reject(truncated(file, header, records, bytes.length - header.headerLength));
      const whole = records === header.dims[0];
      if (whole && bytes.length > total) return reject(trailing(file, header, bytes.length - total));
      const data = bytes.subarray(header.headerLength, total);
      resolve({ dims: header.dims, data, records, bytesRead: input.bytesRead });
    };
    gunzip.on('data', (chunk: Buffer) => {
      if (settled) return;
      chunks.push(chunk);
      inflated += chunk.length;
      try {
        header ??= headerOnceComplete(Buffer.concat(chunks), file);
      } catch (err) {
        return finish(err as Error);
      }
      if (header) need ??= wanted(header, count);
      // The whole file waits for the end of the stream, where gunzip checks the CRC.
      if (need && inflated >= need.bytes && need.records < header!.dims[0]!) finish();
    });
    gunzip.on('end', () => finish());
    gunzip.on('error', (err) =>
      finish(new InputError(file, 'gzip', `cannot be decompressed (${err.message}); the file is truncated or corrupt`)),
    );
    input.on('error', (err) => finish(unreadable(file, err)));
    input.pipe(gunzip);
  });
}

/** Writes an unsigned-byte IDX file, gzip-compressed when the name ends in .gz. */
export function encodeIdx(dims: number[], data: Uint8Array, gzip: boolean): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header[2] = IDX_UBYTE;
  header[3] = dims.length;
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  const raw = Buffer.concat([header, data]);
  return gzip ? zlib.gzipSync(raw, { level: 9 }) : raw;
}
