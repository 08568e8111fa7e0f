/**
 * The data-source registry, cheap half: which folder holds which kind of data and its shape,
 * classes and counts, read without loading the images (for the language server). The engine's
 * half (load a split's first n images) is DATA_LOADERS in src/engine/data/sources.ts, joined by
 * id; both follow DATA_SOURCE_IDS in src/protocol/vocabulary.ts.
 *
 * A new source (a folder of PNGs, CIFAR binaries) is one entry here, its id in the vocabulary and
 * its loader; its `watch` globs reach the editor's file watchers.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  IMAGE_CHANNELS,
  type BuiltinData,
  type DataSourceId,
  type DataSplit,
  type ImageChannels,
} from '../protocol/vocabulary';
import { FormatError } from './errors';
import { parseJsonText, readTextBounded } from './file-read';
import {
  CIFAR_10,
  CIFAR_100,
  CIFAR_SHAPE,
  cifarClassNames,
  cifarFiles,
  cifarHasSplit,
  type CifarLayout,
} from './cifar';
import { imageDims, readIdxHeader } from './idx-header';
import { imageFolderClasses, imageFolderHead, imageSplitFolders, isImageFolder, readImageHeader } from './image-folder';
import { listNpzEntries } from './npz';
import {
  imageLayout,
  labelCount,
  npyArray,
  npzArray,
  npzFile,
  NUMPY_ARRAYS,
  type ImageLayout,
  type NumpyArray,
} from './numpy';

export interface DataInfo {
  /** H×W×C of one image. */
  shape: number[];
  /** Number of test images. */
  count: number;
  /** Images per split the folder holds. */
  counts: Partial<Record<DataSplit, number>>;
  /** Class names, when the data names them. */
  classes?: string[];
  /** Which source reads it (set by describeData). */
  source?: DataSourceId;
  /** Its kind in a word or two ("CIFAR-10", "NumPy"), for messages (set by describeData). */
  kind?: string;
}

export interface DataSource {
  id: DataSourceId;
  /** "IDX files (MNIST layout)": for messages. */
  label: string;
  /** "IDX", "CIFAR-10": the kind in a word or two, for messages that name a shape. */
  name: string;
  /** Workspace globs of the files `detect` looks for: the editor watches them. */
  watch: readonly string[];
  /** Whether `dir` holds this kind of data; cheap (names only). */
  detect(dir: string): boolean;
  /** Shape, classes and counts without reading the images. Throws a FormatError naming the file. */
  info(dir: string): DataInfo;
}

export const FASHION_MNIST_CLASSES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
] as const;

/** The built-in datasets: the embedded sample and the full Fashion-MNIST (both IDX folders). */
export const BUILTIN_DATA_INFO: Readonly<Record<BuiltinData, DataInfo>> = {
  embedded: {
    shape: [28, 28, 1],
    count: 2000,
    counts: { train: 10000, test: 2000 },
    classes: [...FASHION_MNIST_CLASSES],
  },
  'fashion-mnist': {
    shape: [28, 28, 1],
    count: 10000,
    counts: { train: 60000, test: 10000 },
    classes: [...FASHION_MNIST_CLASSES],
  },
};

/** The IDX files of a split, without the optional .gz. */
export const IDX_FILES: Readonly<Record<DataSplit, { images: string; labels: string }>> = {
  train: { images: 'train-images-idx3-ubyte', labels: 'train-labels-idx1-ubyte' },
  test: { images: 't10k-images-idx3-ubyte', labels: 't10k-labels-idx1-ubyte' },
};

/** The class names a data folder gives in classes.json (a JSON array of strings), if any. */
export function readClassNames(dir: string): string[] | undefined {
  const file = path.join(dir, 'classes.json');
  if (!fs.existsSync(file)) return undefined;
  const names = parseJsonText(readTextBounded(file, 'classes'), file);
  if (!Array.isArray(names)) {
    throw new FormatError(file, '', 'must be a non-empty JSON array of class names');
  }
  if (names.length === 0) throw new FormatError(file, '', 'must be a non-empty JSON array of class names');
  const bad = names.findIndex((n) => typeof n !== 'string' || n.length === 0);
  if (bad >= 0) throw new FormatError(file, `[${bad}]`, 'must be a non-empty string (a class name)');
  return names as string[];
}

/** `dir/base.gz` or `dir/base`, whichever exists. */
export function idxFile(dir: string, base: string): string {
  for (const name of [`${base}.gz`, base]) {
    const file = path.join(dir, name);
    if (fs.existsSync(file)) return file;
  }
  throw new FormatError(dir, base, `neither ${base}.gz nor ${base} exists in this folder`);
}

const idx: DataSource = {
  id: 'idx',
  label: 'IDX files (MNIST layout)',
  name: 'IDX',
  watch: [`**/${IDX_FILES.test.images}*`],
  detect: (dir) => [`${IDX_FILES.test.images}.gz`, IDX_FILES.test.images].some((f) => fs.existsSync(path.join(dir, f))),
  info(dir) {
    const testFile = idxFile(dir, IDX_FILES.test.images);
    const test = imageDims(readIdxHeader(testFile), testFile);
    const counts: DataInfo['counts'] = { test: test.count };
    const trainNames = [`${IDX_FILES.train.images}.gz`, IDX_FILES.train.images];
    const hasTrain = trainNames.some((f) => fs.existsSync(path.join(dir, f)));
    if (hasTrain) {
      const trainFile = idxFile(dir, IDX_FILES.train.images);
      counts.train = imageDims(readIdxHeader(trainFile), trainFile).count;
    }
    const classes = readClassNames(dir);
    return { shape: test.shape, count: test.count, counts, ...(classes ? { classes } : {}) };
  },
};

/** A split's NumPy arrays (a folder of .npy or an .npz), headers read. */
export function numpyArrays(dir: string, split: DataSplit): { images: NumpyArray; labels: NumpyArray } {
  const names = NUMPY_ARRAYS[split];
  const zip = npzFile(dir);
  if (zip) {
    const entries = listNpzEntries(zip);
    return { images: npzArray(zip, entries, names.images), labels: npzArray(zip, entries, names.labels) };
  }
  return {
    images: npyArray(path.join(dir, `${names.images}.npy`)),
    labels: npyArray(path.join(dir, `${names.labels}.npy`)),
  };
}

/** The image layout of a split's arrays, checked against its labels. */
export function numpySplit(arrays: ReturnType<typeof numpyArrays>): ImageLayout {
  const { images, labels } = arrays;
  const layout = imageLayout(images.header, images.label);
  const count = labelCount(labels.header, labels.label);
  if (count !== layout.count) {
    throw new FormatError(
      labels.label,
      'shape',
      `has ${count} labels for ${layout.count} images in ${path.basename(images.label)}`,
    );
  }
  return layout;
}

/** Whether a folder or .npz holds a split's arrays (names only). */
function numpyHasSplit(dir: string, split: DataSplit): boolean {
  const zip = npzFile(dir);
  if (!zip) return fs.existsSync(path.join(dir, `${NUMPY_ARRAYS[split].images}.npy`));
  return listNpzEntries(zip).has(`${NUMPY_ARRAYS[split].images}.npy`);
}

const numpy: DataSource = {
  id: 'numpy',
  label: 'NumPy arrays (x_test.npy, y_test.npy or an .npz)',
  name: 'NumPy',
  watch: ['**/x_test.npy', '**/*.npz'],
  detect(dir) {
    if (fs.existsSync(path.join(dir, 'x_test.npy'))) return true;
    try {
      return npzFile(dir) !== undefined;
    } catch {
      // Several .npz files: still NumPy data; info says which problem.
      return true;
    }
  },
  info(dir) {
    const test = numpySplit(numpyArrays(dir, 'test'));
    const counts: DataInfo['counts'] = { test: test.count };
    if (numpyHasSplit(dir, 'train')) counts.train = numpySplit(numpyArrays(dir, 'train')).count;
    const classes = readClassNames(numpyClassesDir(dir));
    return { shape: test.shape, count: test.count, counts, ...(classes ? { classes } : {}) };
  },
};

/** Where a NumPy source's classes.json sits: the folder, or the .npz file's folder. */
export function numpyClassesDir(dir: string): string {
  return fs.existsSync(dir) && fs.statSync(dir).isFile() ? path.dirname(dir) : dir;
}

/** The class names of a CIFAR folder: its classes.json, else the names file it was distributed with. */
export function cifarClasses(dir: string, layout: CifarLayout): string[] | undefined {
  return readClassNames(dir) ?? cifarClassNames(dir, layout);
}

function cifarSource(layout: CifarLayout, label: string, name: string): DataSource {
  const first = layout.files.test[0]!;
  // CIFAR-100's test.bin is a common name: its names file says which data it is.
  const marks = layout.id === 'cifar-100' ? [first, layout.namesFile] : [first];
  return {
    id: layout.id,
    label,
    name,
    // The last mark only: CIFAR-100's test.bin alone would list every folder with a test.bin.
    watch: [`**/${marks[marks.length - 1]}`],
    detect: (dir) => marks.every((f) => fs.existsSync(path.join(dir, f))),
    info(dir) {
      const count = (split: DataSplit) => cifarFiles(dir, layout, split).reduce((sum, f) => sum + f.records, 0);
      const counts: DataInfo['counts'] = { test: count('test') };
      if (cifarHasSplit(dir, layout, 'train')) counts.train = count('train');
      const classes = cifarClasses(dir, layout);
      return { shape: [...CIFAR_SHAPE], count: counts.test!, counts, ...(classes ? { classes } : {}) };
    },
  };
}

/** An image folder's class names in label order (classes.json's, else sorted folder names); at most 256 (labels are bytes). */
export function imageClasses(dir: string): string[] {
  const classes = imageFolderClasses(dir, readClassNames(dir));
  if (classes.length > 256) throw new FormatError(dir, '', `holds ${classes.length} classes; at most 256 are read`);
  return classes;
}

const imageFolder: DataSource = {
  id: 'image-folder',
  label: 'image folders (test/<class>/*.png, .jpg or .jpeg)',
  name: 'image folder',
  // None: an image's name does not say which folder is the data (PATH, not PATH/test/<class>), and
  // every folder of screenshots would be listed as data. A spec or --data names the folder.
  watch: [],
  detect: isImageFolder,
  info(dir) {
    const classes = imageClasses(dir);
    // The first image gives the shape; the rest are counted, not sorted or listed.
    const test = imageFolderHead(dir, 'test', classes, 1);
    const first = readImageHeader(test.entries[0]!.file);
    const counts: DataInfo['counts'] = { test: test.total };
    if (imageSplitFolders(dir).train) counts.train = imageFolderHead(dir, 'train', classes, 0).total;
    return { shape: [first.height, first.width, first.channels], count: test.total, counts, classes };
  },
};

/** Every data source, in the order DATA_SOURCE_IDS gives (a test checks). */
export const DATA_SOURCES: readonly DataSource[] = [
  idx,
  numpy,
  cifarSource(CIFAR_10, 'CIFAR-10 binary batches', 'CIFAR-10'),
  cifarSource(CIFAR_100, 'CIFAR-100 binary (test.bin, fine or coarse labels)', 'CIFAR-100'),
  imageFolder,
];

/** Globs of every file whose creation or deletion can change what a folder holds. */
export const DATA_WATCH_GLOBS: readonly string[] = DATA_SOURCES.flatMap((s) => s.watch);

/** The source that reads `dir`; a FormatError listing what we read when none does. */
export function dataSourceFor(dir: string): DataSource {
  const source = DATA_SOURCES.find((s) => s.detect(dir));
  if (!source) {
    const known = DATA_SOURCES.map((s) =>
      s.watch.length ? `${s.label}: ${s.watch.map((g) => g.replace(/^\*\*\//, '')).join(', ')}` : s.label,
    );
    throw new FormatError(dir, '', `holds no data Robustness Lab reads (${known.join('; ')})`);
  }
  return source;
}

/** Shape, classes and counts of any data folder; throws a FormatError naming the file and the problem. */
export function describeData(dir: string): DataInfo {
  const source = dataSourceFor(dir);
  return { ...source.info(dir), source: source.id, kind: source.name };
}

/** True when a file name is one a data source looks for (the language server's watcher filter). */
export function isDataFile(filePath: string): boolean {
  const base = filePath.split(/[\\/]/).pop() ?? '';
  return DATA_SOURCES.some((s) => s.watch.some((glob) => globBaseMatches(glob, base)));
}

/** Matches a file name against a glob's last segment, where `*` is the only wildcard. */
function globBaseMatches(glob: string, base: string): boolean {
  const last = glob.split('/').pop() ?? '';
  const pattern = last
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${pattern}$`).test(base);
}

/** Conversions asked of the data: resize to the model's input size, convert to a channel count. */
export interface ShapeConversion {
  resize?: boolean;
  channels?: number;
}

/** A channel count images convert to and from (grey ↔ RGB). */
export function isImageChannels(n: unknown): n is ImageChannels {
  return (IMAGE_CHANNELS as readonly unknown[]).includes(n);
}

/** The H×W×C images of `data` become once `conversion` is applied for a model taking `model`. */
export function convertedShape(
  data: readonly number[],
  model: readonly number[],
  conversion: ShapeConversion,
): number[] {
  const [h, w] = conversion.resize ? model : data;
  return [h!, w!, conversion.channels ?? data[2]!];
}

/**
 * Why images of shape `data` cannot feed a model taking `model` (both H×W×C) under `conversion`,
 * with the conversion that would fix it; undefined when they fit. The problem reads
 * "<subject> 32×32×3 (<kind>) but <modelName> takes 28×28×1".
 */
export function shapeMismatch(
  data: readonly number[],
  model: readonly number[],
  conversion: ShapeConversion,
  words: { subject: string; kind?: string; modelName: string },
): { problem: string; hint?: string } | undefined {
  const fitted = convertedShape(data, model, conversion);
  if (fitted.join('×') === model.join('×')) return undefined;
  const converted = fitted.join('×') !== data.join('×') ? `, ${fitted.join('×')} once converted,` : '';
  const fixes: string[] = [];
  if (fitted[0] !== model[0] || fitted[1] !== model[1]) {
    fixes.push('add "resize": true (--resize) to resize them bilinearly');
  }
  if (fitted[2] !== model[2] && isImageChannels(model[2])) {
    fixes.push(`add "channels": ${model[2]} (--channels ${model[2]}) to convert them`);
  }
  const kind = words.kind ? ` (${words.kind})` : '';
  return {
    problem: `${words.subject} ${data.join('×')}${kind}${converted} but ${words.modelName} takes ${model.join('×')}`,
    ...(fixes.length ? { hint: fixes.join(', and ') } : {}),
  };
}
