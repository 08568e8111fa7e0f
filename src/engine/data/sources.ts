/**
 * The data-source registry, engine half: loads the first n images of a split. The cheap half
 * (detect, info) is src/formats/data-sources.ts; the lists are joined by id.
 */
import * as path from 'node:path';
import { z } from 'zod';
import { CIFAR_10, CIFAR_100, CIFAR_SHAPE, cifarFiles, cifarLabelLayout, type CifarLayout } from '../../formats/cifar';
import { imageFolderHead } from '../../formats/image-folder';
import {
  cifarClasses,
  IDX_FILES,
  imageClasses,
  idxFile,
  numpyClassesDir,
  numpyArrays,
  numpySplit,
  readClassNames,
} from '../../formats/data-sources';
import { imageDims } from '../../formats/idx-header';
import { DATA_LABEL_SETS, type DataSourceId, type DataSplit } from '../../protocol/vocabulary';
import { InputError, withInputErrors } from '../errors';
import { readCifarHead } from './cifar';
import { readIdxHead } from './idx';
import { readImageHead } from './image-folder';
import { npyImages, npyLabels, npyRecords } from './numpy';
import type { Split } from './types';

/** The first images of one split of a data folder. */
export interface LoadedSplit {
  source: DataSourceId;
  /** The folder, for reports. */
  location: string;
  /** The file the images come from (the first image of an image folder): what a shape error names. */
  file: string;
  shape: [number, number, number];
  classNames: string[];
  /** The classes.json that named the classes, when one did: the model must then have exactly that many. */
  classesFile?: string;
  split: DataSplit;
  /** The images loaded (the first n, in file order). */
  samples: Split;
  /** Images the split holds in all. */
  available: number;
  /** Bytes read from the split's files (compressed bytes for .gz): tests check the rest is left unread. */
  bytesRead: number;
}

/** How a loader reads a split; validated by loadOptionsSchema before any file is opened. */
export const loadOptionsSchema = z.strictObject({
  /** The first n images (all when omitted), reading no more of the files than they need. */
  n: z.number().int().min(0).optional(),
  /**
   * Names the caller already knows (a built-in dataset's); without them the folder's own (its
   * classes.json, a CIFAR names file), else `class 0` … up to the largest label.
   */
  classNames: z.array(z.string()).min(1).optional(),
  /** The label set of data that has several (CIFAR-100); fine when omitted. Coarse elsewhere is an error. */
  labels: z.enum(DATA_LABEL_SETS).optional(),
});
export type LoadOptions = z.infer<typeof loadOptionsSchema>;

export interface DataLoader {
  id: DataSourceId;
  /** The first `options.n` images of `split` (all when n is omitted), reading no more of the files than they need. */
  load(dir: string, split: DataSplit, options: LoadOptions): Promise<LoadedSplit>;
}

const idx: DataLoader = {
  id: 'idx',
  async load(dir, split, { n, classNames: knownNames }) {
    const imagesFile = withInputErrors(() => idxFile(dir, IDX_FILES[split].images));
    const labelsFile = withInputErrors(() => idxFile(dir, IDX_FILES[split].labels));
    const images = await readIdxHead(imagesFile, n);
    const {
      count: available,
      shape: [h, w, c],
    } = withInputErrors(() => imageDims({ dims: images.dims, headerLength: 0 }, imagesFile));
    const named = knownNames ? [...knownNames] : withInputErrors(() => readClassNames(dir));
    // With the classes named, the labels of the images loaded (one byte an image); without, all of
    // them: the class count must not depend on n.
    const labels = await readIdxHead(labelsFile, named ? images.records : undefined);
    if (labels.dims.length !== 1) {
      throw new InputError(labelsFile, 'dims', `are ${labels.dims.join('×')}; labels need N`);
    }
    if (labels.dims[0] !== images.dims[0]) {
      throw new InputError(
        labelsFile,
        'dims',
        `has ${labels.dims[0]} labels for ${images.dims[0]} images in ${path.basename(imagesFile)}`,
      );
    }
    const loaded = labels.data.subarray(0, images.records);
    const classNames = checkClasses(named, loaded, labels.data, labelsFile);
    return {
      source: 'idx',
      location: dir,
      file: imagesFile,
      shape: [h, w, c],
      classNames,
      ...(named && !knownNames ? { classesFile: path.join(dir, 'classes.json') } : {}),
      split,
      available,
      samples: { images: images.data, labels: loaded, count: images.records },
      bytesRead: images.bytesRead + labels.bytesRead,
    };
  },
};

/**
 * The class names: `named` (each loaded label checked against them), else `class 0` … up to the
 * largest of `all` (every label of the split: the class count must not depend on n).
 */
function checkClasses(named: string[] | undefined, loaded: Uint8Array, all: Uint8Array, labelsFile: string): string[] {
  if (!named) {
    const maxLabel = all.reduce((max, label) => Math.max(max, label), 0);
    return Array.from({ length: maxLabel + 1 }, (_, i) => `class ${i}`);
  }
  const outside = loaded.findIndex((label) => label >= named.length);
  if (outside >= 0) {
    throw new InputError(
      labelsFile,
      `[${outside}]`,
      `is ${loaded[outside]}, but the data names ${named.length} classes (labels 0 to ${named.length - 1})`,
    );
  }
  return named;
}

const numpy: DataLoader = {
  id: 'numpy',
  async load(dir, split, { n, classNames: knownNames }) {
    const arrays = withInputErrors(() => numpyArrays(dir, split));
    const layout = withInputErrors(() => numpySplit(arrays));
    const count = Math.min(n ?? layout.count, layout.count);
    const per = layout.shape[0] * layout.shape[1] * layout.shape[2];
    const pixels = npyRecords(arrays.images, count * per);
    const images = npyImages(arrays.images.header, layout, pixels.bytes, count, arrays.images.label);
    const named = knownNames ? [...knownNames] : withInputErrors(() => readClassNames(numpyClassesDir(dir)));
    // With the classes named, the labels of the images loaded; without, all of them (as for IDX).
    const labelCount = named ? count : layout.count;
    const labelBytes = npyRecords(arrays.labels, labelCount);
    const all = npyLabels(arrays.labels.header, labelBytes.bytes, labelCount, arrays.labels.label);
    const loaded = all.subarray(0, count);
    return {
      source: 'numpy',
      location: dir,
      file: arrays.images.label,
      shape: layout.shape,
      classNames: checkClasses(named, loaded, all, arrays.labels.label),
      ...(named && !knownNames ? { classesFile: path.join(numpyClassesDir(dir), 'classes.json') } : {}),
      split,
      available: layout.count,
      samples: { images, labels: loaded, count },
      bytesRead: pixels.bytesRead + labelBytes.bytesRead,
    };
  },
};

function cifarLoader(distributed: CifarLayout): DataLoader {
  return {
    id: distributed.id,
    async load(dir, split, { n, classNames: knownNames, labels }) {
      const layout = withInputErrors(() => cifarLabelLayout(distributed, labels, dir));
      const files = withInputErrors(() => cifarFiles(dir, layout, split));
      const available = files.reduce((sum, f) => sum + f.records, 0);
      const head = readCifarHead(layout, files, Math.min(n ?? available, available));
      const named = knownNames ? [...knownNames] : withInputErrors(() => cifarClasses(dir, layout));
      const classNames = named ?? Array.from({ length: layout.classCount }, (_, i) => `class ${i}`);
      return {
        source: layout.id,
        location: dir,
        file: files[0]!.file,
        shape: [...CIFAR_SHAPE],
        classNames: checkClasses(classNames, head.labels, head.labels, files[0]!.file),
        split,
        available,
        samples: { images: head.images, labels: head.labels, count: head.count },
        bytesRead: head.bytesRead,
      };
    },
  };
}

const imageFolder: DataLoader = {
  id: 'image-folder',
  async load(dir, split, { n, classNames: knownNames }) {
    const classes = withInputErrors(() => imageClasses(dir));
    // At least one entry: with n = 0 the first image still gives the shape.
    const limit = n === undefined ? undefined : Math.max(1, n);
    const { entries, total } = withInputErrors(() => imageFolderHead(dir, split, classes, limit));
    const head = readImageHead(entries, Math.min(n ?? entries.length, entries.length));
    return {
      source: 'image-folder',
      location: dir,
      file: entries[0]!.file,
      shape: head.shape,
      classNames: checkClasses(knownNames ? [...knownNames] : classes, head.labels, head.labels, dir),
      split,
      available: total,
      samples: { images: head.images, labels: head.labels, count: head.labels.length },
      bytesRead: head.bytesRead,
    };
  },
};

/** One loader per data source, in the order of DATA_SOURCES (a test checks the ids agree). */
export const DATA_LOADERS: readonly DataLoader[] = [
  idx,
  numpy,
  cifarLoader(CIFAR_10),
  cifarLoader(CIFAR_100),
  imageFolder,
];
