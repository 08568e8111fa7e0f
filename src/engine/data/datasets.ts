/**
 * Datasets: the embedded Fashion-MNIST sample, the full set from Debian's
 * dataset-fashion-mnist (or $FMNIST_DIR), or any folder of MNIST-style IDX files.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { findAsset } from '../assets';
import { InputError } from '../errors';
import { readIdx } from './idx';

export const FASHION_MNIST_CLASSES = [
  'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot',
] as const;

export const DEBIAN_FMNIST_DIR = '/usr/share/datasets/fashion-mnist';

export interface Split {
  /** uint8 pixels, N×H×W×C. */
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
}

export interface Dataset {
  id: string;
  /** Where the files are, for reports. */
  location: string;
  shape: [number, number, number];
  classNames: string[];
  train: Split;
  test: Split;
}

const FILES = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
};

function locate(dir: string, base: string): string {
  for (const name of [`${base}.gz`, base]) {
    const file = path.join(dir, name);
    if (fs.existsSync(file)) return file;
  }
  throw new InputError(dir, base, `neither ${base}.gz nor ${base} exists in this folder`);
}

function readSplit(dir: string, imagesBase: string, labelsBase: string): { split: Split; shape: [number, number, number] } {
  const imagesFile = locate(dir, imagesBase);
  const labelsFile = locate(dir, labelsBase);
  const images = readIdx(imagesFile);
  const labels = readIdx(labelsFile);
  if (images.dims.length !== 3 && images.dims.length !== 4) {
    throw new InputError(imagesFile, 'dims', `are ${images.dims.join('×')}; images need N×H×W or N×H×W×C`);
  }
  if (labels.dims.length !== 1) throw new InputError(labelsFile, 'dims', `are ${labels.dims.join('×')}; labels need N`);
  if (labels.dims[0] !== images.dims[0]) {
    throw new InputError(labelsFile, 'dims', `has ${labels.dims[0]} labels for ${images.dims[0]} images in ${path.basename(imagesFile)}`);
  }
  const [count, h, w, c = 1] = images.dims as [number, number, number, number?];
  return { split: { images: images.data, labels: labels.data, count }, shape: [h, w, c] };
}

export function loadIdxFolder(dir: string, id: string, classNames?: string[]): Dataset {
  if (!fs.existsSync(dir)) throw new InputError(dir, '', 'dataset folder does not exist');
  const train = readSplit(dir, FILES.trainImages, FILES.trainLabels);
  const test = readSplit(dir, FILES.testImages, FILES.testLabels);
  const maxLabel = Math.max(...test.split.labels, ...train.split.labels.subarray(0, 1000));
  const names = classNames ?? Array.from({ length: maxLabel + 1 }, (_, i) => `class ${i}`);
  return { id, location: dir, shape: train.shape, classNames: names, train: train.split, test: test.split };
}

export function embeddedDir(): string {
  return findAsset('data/fashion-mnist-sample');
}

/** `embedded`, `fashion-mnist`, or a folder of IDX files. */
export function loadDataset(spec: string): Dataset {
  if (spec === 'embedded') return loadIdxFolder(embeddedDir(), 'embedded', [...FASHION_MNIST_CLASSES]);
  if (spec === 'fashion-mnist') {
    const dir = process.env.FMNIST_DIR || DEBIAN_FMNIST_DIR;
    if (!fs.existsSync(dir)) {
      throw new InputError('--data fashion-mnist', '',
        `${dir} does not exist; run "apt-get install dataset-fashion-mnist" or set FMNIST_DIR to a folder with the IDX files`);
    }
    return loadIdxFolder(dir, 'fashion-mnist', [...FASHION_MNIST_CLASSES]);
  }
  const folder = path.resolve(spec);
  const looksFashion = fs.existsSync(path.join(folder, 'classes.json'));
  const names = looksFashion ? (JSON.parse(fs.readFileSync(path.join(folder, 'classes.json'), 'utf8')) as string[]) : undefined;
  return loadIdxFolder(folder, folder, names);
}

/** The first `count` samples in file order (published evaluations use the first 1,000 test images). */
export function firstN(split: Split, count: number | undefined): Split {
  return sliceSplit(split, 0, count);
}

/** `count` samples from `offset`, in file order (a worker's share of an evaluation). */
export function sliceSplit(split: Split, offset: number, count: number | undefined): Split {
  const start = Math.min(offset, split.count);
  const end = count === undefined ? split.count : Math.min(split.count, start + count);
  if (start === 0 && end === split.count) return split;
  const per = split.images.length / split.count;
  return { images: split.images.subarray(start * per, end * per), labels: split.labels.subarray(start, end), count: end - start };
}

/**
 * Rows [start, start+size) as a float batch in [0, 1] and int labels; with `order`, the rows
 * are order[start..start+size) (a shuffle or a subset).
 */
export function batchTensors(split: Split, shape: [number, number, number], start: number, size: number,
  order?: Int32Array): { x: tf.Tensor4D; y: tf.Tensor1D } {
  const end = Math.min(order ? order.length : split.count, start + size);
  const per = shape[0] * shape[1] * shape[2];
  const rows = end - start;
  const pixels = new Float32Array(rows * per);
  const labels = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    const src = order ? order[start + r]! : start + r;
    const from = src * per;
    for (let p = 0; p < per; p++) pixels[r * per + p] = split.images[from + p]! / 255;
    labels[r] = split.labels[src]!;
  }
  return { x: tf.tensor4d(pixels, [rows, ...shape]), y: tf.tensor1d(labels, 'int32') };
}
