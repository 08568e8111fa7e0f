/**
 * CIFAR-10 and CIFAR-100 binary batches as distributed (cifar-10-batches-bin, cifar-100-binary):
 * fixed-size records of label bytes then 3072 pixel bytes, 32×32 per channel (R, G, B planes). The
 * cheap info counts records from file sizes; the engine's loader (src/engine/data/cifar.ts) reads
 * the first n records at their offsets.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DataLabelSet, DataSplit } from '../protocol/vocabulary';
import { FormatError } from './errors';
import { readTextBounded, statRegularFile } from './file-read';

export const CIFAR_PIXELS = 32 * 32 * 3;
export const CIFAR_SHAPE: [number, number, number] = [32, 32, 3];

export interface CifarLayout {
  id: 'cifar-10' | 'cifar-100';
  /** Label bytes before each record's pixels: 1 (CIFAR-10), 2 (CIFAR-100: coarse, fine). */
  labelBytes: number;
  /** Which of them is the label read: CIFAR-100's fine label (1) or its coarse label (0). */
  labelIndex: number;
  classCount: number;
  /** The file whose lines name the classes. */
  namesFile: string;
  /** The split's files, in order (CIFAR-10's five training batches). */
  files: Readonly<Record<DataSplit, readonly string[]>>;
}

export const CIFAR_10: CifarLayout = {
  id: 'cifar-10',
  labelBytes: 1,
  labelIndex: 0,
  classCount: 10,
  namesFile: 'batches.meta.txt',
  files: {
    train: [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`),
    test: ['test_batch.bin'],
  },
};

export const CIFAR_100: CifarLayout = {
  id: 'cifar-100',
  labelBytes: 2,
  labelIndex: 1,
  classCount: 100,
  namesFile: 'fine_label_names.txt',
  files: { train: ['train.bin'], test: ['test.bin'] },
};

/** CIFAR-100 read with its coarse labels: the first label byte, 20 superclasses, coarse_label_names.txt. */
export const CIFAR_100_COARSE: CifarLayout = {
  ...CIFAR_100,
  labelIndex: 0,
  classCount: 20,
  namesFile: 'coarse_label_names.txt',
};

/** The layout that reads `labels` (fine by default); a FormatError naming `dir` when the data has no such label set. */
export function cifarLabelLayout(layout: CifarLayout, labels: DataLabelSet | undefined, dir: string): CifarLayout {
  if (labels === undefined || labels === 'fine') return layout;
  if (layout.id !== 'cifar-100') {
    throw new FormatError(
      dir,
      'labels',
      `"${labels}" asks for CIFAR-100's coarse labels, but this is ${layout.id} data`,
    );
  }
  return CIFAR_100_COARSE;
}

export const recordBytes = (layout: CifarLayout): number => layout.labelBytes + CIFAR_PIXELS;

/** The split's files that exist with their record counts; a FormatError when there are none or one is not whole records. */
export function cifarFiles(dir: string, layout: CifarLayout, split: DataSplit): { file: string; records: number }[] {
  const found: { file: string; records: number }[] = [];
  for (const name of layout.files[split]) {
    const file = path.join(dir, name);
    let size: number;
    try {
      // A regular file (inside the data folder in force): its size is not said of anything else.
      size = statRegularFile(file).size;
    } catch (err) {
      // CIFAR-10's training batches: as many as are there, from the first.
      if ((err as { code?: string }).code === 'ENOENT') break;
      throw err;
    }
    const bytes = recordBytes(layout);
    if (size % bytes !== 0) {
      throw new FormatError(
        file,
        '',
        `is ${size} bytes, not a whole number of ${bytes}-byte records ` +
          `(${layout.labelBytes} label byte${layout.labelBytes > 1 ? 's' : ''} and ${CIFAR_PIXELS} pixels each)`,
      );
    }
    found.push({ file, records: size / bytes });
  }
  if (found.length === 0)
    throw new FormatError(dir, '', `holds no ${layout.files[split][0]} (${layout.id} ${split} split)`);
  return found;
}

/** Whether the folder holds the split (names only). */
export const cifarHasSplit = (dir: string, layout: CifarLayout, split: DataSplit): boolean =>
  fs.existsSync(path.join(dir, layout.files[split][0]!));

/** The class names of the names file (one a line, blank lines dropped), if there is one. */
export function cifarClassNames(dir: string, layout: CifarLayout): string[] | undefined {
  const file = path.join(dir, layout.namesFile);
  if (!fs.existsSync(file)) return undefined;
  const names = readTextBounded(file, 'names')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '');
  if (names.length !== layout.classCount) {
    throw new FormatError(file, '', `names ${names.length} classes; ${layout.id} has ${layout.classCount}`);
  }
  return names;
}
