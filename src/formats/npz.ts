/**
 * The entries of an .npz (a zip archive of .npy files, as np.savez and np.savez_compressed write
 * it): the central directory (zip64 included, as NumPy forces it for large arrays) read from the
 * end of the file, then the first bytes of one entry, stored or deflated (inflated with fflate's
 * streaming Inflate, stopped once it has enough). Nothing else of the archive is read.
 */
import { Inflate } from 'fflate';
import { FormatError } from './errors';
import { readAt, withFile } from './file-read';

export interface NpzEntry {
  name: string;
  /** 0 stored, 8 deflated. */
  method: number;
  compressedSize: number;
  /** Uncompressed bytes. */
  size: number;
  /** Where the local header starts; the data follows it. */
  localHeader: number;
}

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const MAX32 = 0xffffffff;
const CHUNK = 64 * 1024;

const notZip = (file: string, why: string) => new FormatError(file, '', `is not a readable .npz (zip) archive: ${why}`);

/** The archive's entries by name, from its central directory. */
export function listNpzEntries(file: string): Map<string, NpzEntry> {
  return withFile(file, (fd, size) => {
    // The end-of-central-directory record: 22 bytes and a comment of up to 65535.
    const tailStart = Math.max(0, size - 22 - 65535);
    const tail = readAt(fd, tailStart, size - tailStart);
    let eocd = -1;
    for (let at = tail.length - 22; at >= 0; at--) {
      if (tail.readUInt32LE(at) === EOCD) {
        eocd = at;
        break;
      }
    }
    if (eocd < 0) throw notZip(file, 'no end-of-central-directory record');
    let count = tail.readUInt16LE(eocd + 10);
    let cdSize = tail.readUInt32LE(eocd + 12);
    let cdOffset = tail.readUInt32LE(eocd + 16);
    if (cdOffset === MAX32 || cdSize === MAX32 || count === 0xffff) {
      const locator = eocd - 20;
      if (locator < 0 || tail.readUInt32LE(locator) !== ZIP64_LOCATOR) throw notZip(file, 'no zip64 locator');
      const record = readAt(fd, Number(tail.readBigUInt64LE(locator + 8)), 56);
      if (record.length < 56 || record.readUInt32LE(0) !== ZIP64_EOCD) throw notZip(file, 'no zip64 directory record');
      count = Number(record.readBigUInt64LE(32));
      cdSize = Number(record.readBigUInt64LE(40));
      cdOffset = Number(record.readBigUInt64LE(48));
    }
    const cd = readAt(fd, cdOffset, cdSize);
    const entries = new Map<string, NpzEntry>();
    let at = 0;
    for (let i = 0; i < count; i++) {
      if (at + 46 > cd.length || cd.readUInt32LE(at) !== CENTRAL)
        throw notZip(file, `central directory entry ${i} is corrupt`);
      const nameLength = cd.readUInt16LE(at + 28);
      const extraLength = cd.readUInt16LE(at + 30);
      const commentLength = cd.readUInt16LE(at + 32);
      const name = cd.toString('utf8', at + 46, at + 46 + nameLength);
      let compressedSize = cd.readUInt32LE(at + 20);
      let size = cd.readUInt32LE(at + 24);
      let localHeader = cd.readUInt32LE(at + 42);
      // Zip64 extra field: the 64-bit values of those that are 0xFFFFFFFF, in this order.
      let extra = at + 46 + nameLength;
      const extraEnd = extra + extraLength;
      while (extra + 4 <= extraEnd) {
        const id = cd.readUInt16LE(extra);
        const length = cd.readUInt16LE(extra + 2);
        if (id === 0x0001) {
          let field = extra + 4;
          const next = (): number => {
            const value = Number(cd.readBigUInt64LE(field));
            field += 8;
            return value;
          };
          if (size === MAX32) size = next();
          if (compressedSize === MAX32) compressedSize = next();
          if (localHeader === MAX32) localHeader = next();
        }
        extra += 4 + length;
      }
      entries.set(name, { name, method: cd.readUInt16LE(at + 10), compressedSize, size, localHeader });
      at = extraEnd + commentLength;
    }
    return entries;
  });
}

/** The first `length` uncompressed bytes of an entry (fewer when it is shorter) and the bytes read from the file. */
export function readNpzEntryHead(
  file: string,
  entry: NpzEntry,
  length: number,
): { bytes: Uint8Array; bytesRead: number } {
  const label = `${file}:${entry.name}`;
  return withFile(file, (fd) => {
    const local = readAt(fd, entry.localHeader, 30);
    if (local.length < 30 || local.readUInt32LE(0) !== LOCAL)
      throw notZip(file, `${entry.name}'s local header is corrupt`);
    const dataStart = entry.localHeader + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
    const want = Math.min(length, entry.size);
    if (entry.method === 0) {
      const bytes = readAt(fd, dataStart, want);
      if (bytes.length < want)
        throw new FormatError(label, 'data', `is truncated: ${want} bytes needed, found ${bytes.length}`);
      return { bytes, bytesRead: 30 + bytes.length };
    }
    if (entry.method !== 8) {
      throw new FormatError(
        label,
        '',
        `is compressed with zip method ${entry.method}; stored (0) and deflated (8) are read`,
      );
    }
    const out = new Uint8Array(want);
    let filled = 0;
    let consumed = 0;
    const inflate = new Inflate((chunk) => {
      const take = Math.min(chunk.length, want - filled);
      out.set(chunk.subarray(0, take), filled);
      filled += take;
    });
    try {
      while (filled < want && consumed < entry.compressedSize) {
        const chunk = readAt(fd, dataStart + consumed, Math.min(CHUNK, entry.compressedSize - consumed));
        if (chunk.length === 0) break;
        consumed += chunk.length;
        inflate.push(chunk, consumed >= entry.compressedSize);
      }
    } catch (err) {
      throw new FormatError(label, '', `cannot be inflated: ${(err as Error).message}`);
    }
    if (filled < want) throw new FormatError(label, 'data', `is truncated: ${want} bytes needed, inflated ${filled}`);
    return { bytes: out, bytesRead: 30 + consumed };
  });
}
