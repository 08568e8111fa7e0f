/**
 * Positioned reads of a file, written once for the readers that take only the bytes they need
 * (.npy headers and records, .npz directories and entries): a file that cannot be opened is a
 * FormatError naming it.
 */
import * as fs from 'node:fs';
import { FormatError } from './errors';

/** Up to `length` bytes at `offset` (fewer at the end of the file). */
export function readAt(fd: number, offset: number, length: number): Buffer {
  const bytes = Buffer.alloc(length);
  const got = fs.readSync(fd, bytes, 0, length, offset);
  return bytes.subarray(0, got);
}

/** Opens `file`, runs `read` on its descriptor and size, and closes it. */
export function withFile<T>(file: string, read: (fd: number, size: number) => T): T {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (err) {
    throw new FormatError(file, '', `cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    return read(fd, fs.fstatSync(fd).size);
  } finally {
    fs.closeSync(fd);
  }
}
