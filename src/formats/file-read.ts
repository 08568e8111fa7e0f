/**
 * Every read of a user's file goes through here, written once: stat before reading, refuse anything
 * that is not a regular file (a FIFO, a device such as /dev/zero, a folder) with a message naming the
 * file, open without blocking, and read at most a stated number of bytes (READ_LIMITS). A refusal
 * never quotes the file's content nor, for a file over its limit, its size (a symlink to a system
 * file must not reveal it). JSON is parsed by parseJsonText, whose errors give a line and column,
 * never the text at fault. Also: positioned reads for the readers that take only the bytes they need
 * (.npy headers and records, .npz directories and entries).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import * as fs from 'node:fs';
import { isInside } from '../common/containment';
import { FormatError } from './errors';

const MIB = 1024 * 1024;

/** The most bytes read of each kind of file (README, "Limits"). */
export const READ_LIMITS = {
  /** A tfjs model.json (the topology and the weights manifest; the weights are in their own files). */
  modelJson: 32 * MIB,
  /** An experiment spec (*.robustness.json). */
  spec: 1 * MIB,
  /** A data folder's classes.json. */
  classes: 1 * MIB,
  /** A model's preprocessing sidecar (<model>.preprocess.json). */
  sidecar: 1 * MIB,
  /** An ONNX model file. */
  onnx: 2048 * MIB,
  /** A CIFAR names file (batches.meta.txt and the like). */
  names: 1 * MIB,
  /** One image of an image folder (PNG or JPEG). */
  image: 64 * MIB,
  /** A run store's run.json. */
  runRecord: 1 * MIB,
  /** A run's report.json (its example images are data URIs). */
  report: 256 * MIB,
} as const;

export type ReadKind = keyof typeof READ_LIMITS;

/** "32 MiB", "1 MiB", "512 KiB". */
export function formatLimit(bytes: number): string {
  return bytes >= MIB ? `${bytes / MIB} MiB` : `${Math.round(bytes / 1024)} KiB`;
}

/** What a non-regular file is, in words. */
function kindOf(stat: fs.Stats): string {
  if (stat.isDirectory()) return 'a folder';
  if (stat.isFIFO()) return 'a FIFO (named pipe)';
  if (stat.isCharacterDevice() || stat.isBlockDevice()) return 'a device';
  if (stat.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** "cannot be read: ENOENT", keeping the system's error code (`code`) for callers that tell a missing file apart. */
function cannotRead(file: string, err: unknown): FormatError {
  const code = (err as NodeJS.ErrnoException).code;
  return Object.assign(new FormatError(file, '', `cannot be read: ${code ?? (err as Error).message}`), { code });
}

/** The data folder the reads of the current (async) call must stay inside; see insideDataFolder. */
const dataFolder = new AsyncLocalStorage<string>();

/**
 * Runs `read` (and everything it awaits) with one more rule on every file opened or stat'ed here:
 * it must lie inside `folder` once symlinks are resolved on both sides (src/common/containment.ts).
 * The engine loads a data set inside this, so a symlink in a data folder that leads out of it is
 * refused before its size or content is looked at, whichever reader (header, records, images) opens it.
 */
export function insideDataFolder<T>(folder: string, read: () => T): T {
  return dataFolder.run(folder, read);
}

/** Refuses `file` when a data folder is in force and the file, symlinks resolved, lies outside it. */
function checkDataFolder(file: string): void {
  const folder = dataFolder.getStore();
  if (folder !== undefined && !isInside(file, folder)) {
    throw new FormatError(
      file,
      '',
      `lies outside the data folder ${folder} once symlinks are resolved; a data file must stay inside its folder, ` +
        'so it is not read',
    );
  }
}

/**
 * The stat of `file` when it is a regular file (inside the data folder in force, if any); a
 * FormatError naming it otherwise (nothing is opened).
 */
export function statRegularFile(file: string): fs.Stats {
  checkDataFolder(file);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch (err) {
    throw cannotRead(file, err);
  }
  if (!stat.isFile()) throw new FormatError(file, '', `is ${kindOf(stat)}, not a regular file; it is not read`);
  return stat;
}

/** O_NONBLOCK where the platform has it: opening a FIFO that slipped past the stat cannot hang. */
const OPEN_FLAGS = fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0);

/** Opens a regular file without blocking (stat first, fstat after: a file swapped in between is refused too). */
function openRegular(file: string): { fd: number; size: number } {
  statRegularFile(file);
  let fd: number;
  try {
    fd = fs.openSync(file, OPEN_FLAGS);
  } catch (err) {
    throw cannotRead(file, err);
  }
  const stat = fs.fstatSync(fd);
  if (!stat.isFile()) {
    fs.closeSync(fd);
    throw new FormatError(file, '', `is ${kindOf(stat)}, not a regular file; it is not read`);
  }
  return { fd, size: stat.size };
}

/** openRegular for async readers: a FileHandle on a regular file, opened without blocking. */
export async function openRegularHandle(file: string): Promise<fs.promises.FileHandle> {
  statRegularFile(file);
  let handle: fs.promises.FileHandle;
  try {
    handle = await fs.promises.open(file, OPEN_FLAGS);
  } catch (err) {
    throw cannotRead(file, err);
  }
  const stat = await handle.stat();
  if (!stat.isFile()) {
    await handle.close();
    throw new FormatError(file, '', `is ${kindOf(stat)}, not a regular file; it is not read`);
  }
  return handle;
}

/** A read stream over a regular file from its start, opened here (so the checks above apply); it closes itself. */
export function openReadStream(file: string, highWaterMark = 64 * 1024): fs.ReadStream {
  const { fd } = openRegular(file);
  return fs.createReadStream(file, { fd, highWaterMark, autoClose: true });
}

function tooLarge(file: string, what: string, limit: number): FormatError {
  return new FormatError(file, '', `is larger than the ${formatLimit(limit)} limit for ${what}; it is not read`);
}

/**
 * The bytes of a regular file, at most `limit` of them (a file over it is refused, its size unsaid).
 * Reads until the end rather than trusting the stat's size, so a file that reports 0 bytes
 * (/proc) or grows while read still stops at the limit.
 */
export function readFileBounded(file: string, limit: number, what = 'this kind of file'): Buffer {
  const { fd, size } = openRegular(file);
  try {
    if (size > limit) throw tooLarge(file, what, limit);
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.alloc(Math.min(Math.max(size - total, 64 * 1024), limit + 1 - total));
      if (chunk.length === 0) throw tooLarge(file, what, limit);
      let got: number;
      try {
        got = fs.readSync(fd, chunk, 0, chunk.length, null);
      } catch (err) {
        throw cannotRead(file, err);
      }
      if (got === 0) break;
      chunks.push(chunk.subarray(0, got));
      total += got;
      if (total > limit) throw tooLarge(file, what, limit);
    }
    return Buffer.concat(chunks, total);
  } finally {
    fs.closeSync(fd);
  }
}

const WHAT: Record<ReadKind, string> = {
  modelJson: 'a model.json',
  spec: 'an experiment spec',
  classes: 'a classes.json',
  sidecar: 'a preprocessing sidecar',
  onnx: 'an ONNX model',
  names: 'a class names file',
  image: 'an image',
  runRecord: 'a run.json',
  report: 'a report.json',
};

/** A file of a known kind, bounded by its READ_LIMITS entry. */
export function readBounded(file: string, kind: ReadKind): Buffer {
  return readFileBounded(file, READ_LIMITS[kind], WHAT[kind]);
}

/** A text file of a known kind as UTF-8, bounded; a leading byte-order mark is dropped. */
export function readTextBounded(file: string, kind: ReadKind): string {
  return stripBom(readBounded(file, kind).toString('utf8'));
}

/** The text without a leading byte-order mark (U+FEFF), which JSON.parse refuses. */
export function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** Line and column (1-based) of an offset into `text`. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let start = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      start = i + 1;
    }
  }
  return { line, column: offset - start + 1 };
}

/**
 * The first place where `text` stops being JSON (RFC 8259), and what is wrong there: one linear scan
 * with an explicit stack (no recursion, whatever the nesting). Undefined when it is JSON.
 */
export function firstJsonError(text: string): { offset: number; problem: string } | undefined {
  const stack: number[] = []; // 123 '{' or 91 '['
  type Expect = 'value' | 'valueOrEnd' | 'key' | 'keyOrEnd' | 'colon' | 'next' | 'done';
  let expect: Expect = 'value';
  let i = 0;
  const after = (): Expect => (stack.length > 0 ? 'next' : 'done');
  const number = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
  const fail = (problem: string) => ({ offset: i, problem });
  const string = (): { offset: number; problem: string } | undefined => {
    for (i++; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 34) {
        i++;
        return undefined;
      }
      if (c < 32) return fail('control character in a string');
      if (c === 92) {
        const e = text[++i];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 1, i + 5))) return fail('invalid unicode escape');
          i += 4;
        } else if (e === undefined || !'"\\/bfnrt'.includes(e)) return fail('invalid escape character');
      }
    }
    return fail('unexpected end');
  };
  for (;;) {
    while (i < text.length && /[ \t\n\r]/.test(text[i]!)) i++;
    if (i >= text.length) return expect === 'done' ? undefined : fail('unexpected end');
    const c = text.charCodeAt(i);
    switch (expect) {
      case 'done':
        return fail('end of file expected');
      case 'valueOrEnd':
      case 'value': {
        if (expect === 'valueOrEnd' && c === 93) {
          stack.pop();
          i++;
          expect = after();
        } else if (c === 123 || c === 91) {
          stack.push(c);
          i++;
          expect = c === 123 ? 'keyOrEnd' : 'valueOrEnd';
        } else if (c === 34) {
          const bad = string();
          if (bad) return bad;
          expect = after();
        } else {
          number.lastIndex = i;
          const literal = ['true', 'false', 'null'].find((w) => text.startsWith(w, i));
          const digits = number.exec(text);
          if (literal) i += literal.length;
          else if (digits) i += digits[0].length;
          else return fail(/[\]},:]/.test(text[i]!) ? 'value expected' : 'unexpected character');
          expect = after();
        }
        break;
      }
      case 'keyOrEnd':
      case 'key': {
        if (expect === 'keyOrEnd' && c === 125) {
          stack.pop();
          i++;
          expect = after();
        } else if (c === 34) {
          const bad = string();
          if (bad) return bad;
          expect = 'colon';
        } else return fail('property name expected');
        break;
      }
      case 'colon':
        if (c !== 58) return fail('colon expected');
        i++;
        expect = 'value';
        break;
      case 'next': {
        const open = stack[stack.length - 1];
        if (c === 44) {
          i++;
          expect = open === 123 ? 'key' : 'value';
        } else if (c === (open === 123 ? 125 : 93)) {
          stack.pop();
          i++;
          expect = after();
        } else return fail(open === 123 ? 'comma or } expected' : 'comma or ] expected');
        break;
      }
    }
  }
}

/**
 * JSON.parse with an error that names the file and the place (line and column) and the kind of
 * problem, but never quotes the text: V8's messages include the characters at fault, which for a
 * file that is not JSON (/etc/shadow) are its first bytes. The place comes from firstJsonError, run
 * only when JSON.parse fails.
 */
export function parseJsonText(text: string, file: string): unknown {
  const body = stripBom(text);
  try {
    return JSON.parse(body);
  } catch {
    const first = firstJsonError(body);
    if (!first) throw new FormatError(file, '', 'is not valid JSON');
    const { line, column } = lineColumn(body, first.offset);
    throw new FormatError(file, '', `is not valid JSON (${first.problem} at line ${line}, column ${column})`);
  }
}

/** Up to `length` bytes at `offset` (fewer at the end of the file). */
export function readAt(fd: number, offset: number, length: number): Buffer {
  const bytes = Buffer.alloc(length);
  const got = fs.readSync(fd, bytes, 0, length, offset);
  return bytes.subarray(0, got);
}

/** Opens a regular `file` (anything else is refused), runs `read` on its descriptor and size, and closes it. */
export function withFile<T>(file: string, read: (fd: number, size: number) => T): T {
  const { fd, size } = openRegular(file);
  try {
    return read(fd, size);
  } finally {
    fs.closeSync(fd);
  }
}
