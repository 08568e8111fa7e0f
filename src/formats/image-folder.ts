/**
 * Image folders as torchvision's ImageFolder reads them: `PATH/test/<class>/*.png|jpg|jpeg` (and
 * `PATH/train/…`), or `PATH/<class>/…` as the test split. Classes are numbered by sorted folder
 * name unless PATH/classes.json gives the order; images come class by class, each class's files in
 * sorted name order. This half lists files and reads image headers (PNG IHDR, JPEG SOF) without
 * decoding; the engine's loader (src/engine/data/image-folder.ts) decodes the first n.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DataSplit } from '../protocol/vocabulary';
import { FormatError } from './errors';
import { readBounded } from './file-read';

export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg'] as const;

const isImage = (name: string): boolean => IMAGE_EXTENSIONS.some((ext) => name.toLowerCase().endsWith(ext));
/** Code-point order, as Python's sorted() (torchvision) orders names. */
const byCodePoint = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function subfolders(dir: string): string[] {
  try {
    return fs
      .readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort(byCodePoint);
  } catch {
    return [];
  }
}

/**
 * The image files of a folder, in sorted name order when `sorted` (else only their number matters).
 * Symlinks count: reading one goes through the data-folder rule (file-read.ts), which refuses a link
 * out of the folder by name rather than leaving the image out of the split unsaid.
 */
function imageFiles(dir: string, sorted = true): string[] {
  const names = fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((e) => (e.isFile() || e.isSymbolicLink()) && isImage(e.name))
    .map((e) => e.name);
  return sorted ? names.sort(byCodePoint) : names;
}

/** The folder of each split: PATH/test and PATH/train when PATH/test exists, else PATH as the test split. */
export function imageSplitFolders(dir: string): Partial<Record<DataSplit, string>> {
  const nested = path.join(dir, 'test');
  if (fs.existsSync(nested) && fs.statSync(nested).isDirectory()) {
    const train = path.join(dir, 'train');
    return { test: nested, ...(fs.existsSync(train) ? { train } : {}) };
  }
  return { test: dir };
}

/** Whether `dir` looks like an image folder: a class folder (of PATH/test, else of PATH) holding an image. Names only. */
export function isImageFolder(dir: string): boolean {
  const test = imageSplitFolders(dir).test!;
  return subfolders(test).some((c) => {
    try {
      return fs.readdirSync(path.join(test, c)).some(isImage);
    } catch {
      return false;
    }
  });
}

/**
 * Whether `dir` looks like an image dataset to list for completion: its test split (PATH/test, else
 * PATH) holds at least two class folders and every folder there holds images. Stricter than
 * isImageFolder, so a folder of screenshots next to source folders is not offered as data.
 */
export function looksLikeImageDataset(dir: string): boolean {
  const test = imageSplitFolders(dir).test!;
  const classes = subfolders(test);
  return (
    classes.length >= 2 &&
    classes.every((c) => {
      try {
        return fs.readdirSync(path.join(test, c)).some(isImage);
      } catch {
        return false;
      }
    })
  );
}

/**
 * The class names in label order: PATH/classes.json's order when there is one (it must name every
 * class folder), else the sorted class folders of both splits.
 */
export function imageFolderClasses(dir: string, classesJson: string[] | undefined): string[] {
  const folders = new Set(Object.values(imageSplitFolders(dir)).flatMap((f) => subfolders(f)));
  if (!classesJson) return [...folders].sort(byCodePoint);
  const unnamed = [...folders].filter((f) => !classesJson.includes(f)).sort(byCodePoint);
  if (unnamed.length > 0) {
    throw new FormatError(
      path.join(dir, 'classes.json'),
      '',
      `does not name the class folder${unnamed.length > 1 ? 's' : ''} ${unnamed.map((u) => `"${u}"`).join(', ')}`,
    );
  }
  return classesJson;
}

export interface ImageEntry {
  file: string;
  label: number;
}

/**
 * The first `limit` images of a split in ImageFolder order (all when omitted) and how many the split
 * holds: the class folders past the first `limit` images are counted, not sorted or turned into
 * entries, so the first 1,000 of 50,000 cost little more than listing the names.
 */
export function imageFolderHead(
  dir: string,
  split: DataSplit,
  classes: readonly string[],
  limit = Infinity,
): { entries: ImageEntry[]; total: number } {
  const folder = imageSplitFolders(dir)[split];
  if (!folder) throw new FormatError(dir, '', `has no ${split}/ folder`);
  const entries: ImageEntry[] = [];
  let total = 0;
  for (const name of subfolders(folder)) {
    const label = classes.indexOf(name);
    const classDir = path.join(folder, name);
    const files = imageFiles(classDir, entries.length < limit);
    if (files.length === 0) {
      throw new FormatError(classDir, '', `holds no image (${IMAGE_EXTENSIONS.join(', ')})`);
    }
    total += files.length;
    for (const file of files) {
      if (entries.length >= limit) break;
      entries.push({ file: path.join(classDir, file), label });
    }
  }
  if (total === 0) throw new FormatError(folder, '', 'holds no class folders of images');
  return { entries, total };
}

export interface ImageHeader {
  width: number;
  height: number;
  /** 1 (grey, with or without alpha) or 3 (colour: RGB, RGBA or palette; alpha dropped). */
  channels: 1 | 3;
}

/** Width, height and channels from a PNG's IHDR or a JPEG's start-of-frame, without decoding. */
export function imageHeader(file: string, bytes: Uint8Array): ImageHeader {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length >= 26 && buf.readUInt32BE(0) === 0x89504e47 && buf.toString('latin1', 12, 16) === 'IHDR') {
    const colorType = buf[25]!;
    return {
      width: buf.readUInt32BE(16),
      height: buf.readUInt32BE(20),
      channels: colorType === 0 || colorType === 4 ? 1 : 3,
    };
  }
  if (buf.length >= 4 && buf[0] === 0xff && buf[1] === 0xd8) {
    let at = 2;
    while (at + 9 < buf.length && buf[at] === 0xff) {
      const marker = buf[at + 1]!;
      const length = buf.readUInt16BE(at + 2);
      // SOF0-SOF15 but DHT (C4), JPG (C8) and DAC (CC).
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
        const components = buf[at + 9]!;
        if (components !== 1 && components !== 3) {
          throw new FormatError(file, '', `is a JPEG with ${components} colour components; 1 (grey) or 3 are read`);
        }
        return { height: buf.readUInt16BE(at + 5), width: buf.readUInt16BE(at + 7), channels: components };
      }
      at += 2 + length;
    }
    throw new FormatError(file, '', 'is a JPEG without a start-of-frame header: it is truncated or corrupt');
  }
  throw new FormatError(file, '', 'is neither a PNG nor a JPEG');
}

/** The header of an image file. */
export function readImageHeader(file: string): ImageHeader {
  return imageHeader(file, readBounded(file, 'image'));
}
