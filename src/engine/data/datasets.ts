/**
 * Datasets: the embedded Fashion-MNIST sample, the full set from Debian's
 * dataset-fashion-mnist (or $FMNIST_DIR), or any data folder a registered source reads.
 * loadData reads the first n images of a split (attacks); loadDataset both splits whole (training).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { dataSourceFor, FASHION_MNIST_CLASSES, IDX_FILES, idxFile, readClassNames } from '../../formats/data-sources';
import type { DataSplit } from '../../protocol/vocabulary';
import { findAsset } from '../assets';
import { InputError } from '../errors';
import { withInputErrors } from '../models/io';
import { readIdx } from './idx';
import { DATA_LOADERS, type LoadedSplit } from './sources';

export { FASHION_MNIST_CLASSES } from '../../formats/data-sources';

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

function readSplit(dir: string, split: DataSplit): { split: Split; shape: [number, number, number] } {
  const imagesFile = withInputErrors(() => idxFile(dir, IDX_FILES[split].images));
  const labelsFile = withInputErrors(() => idxFile(dir, IDX_FILES[split].labels));
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
  const train = readSplit(dir, 'train');
  const test = readSplit(dir, 'test');
  const maxLabel = Math.max(...test.split.labels, ...train.split.labels.subarray(0, 1000));
  const names = classNames ?? Array.from({ length: maxLabel + 1 }, (_, i) => `class ${i}`);
  return { id, location: dir, shape: train.shape, classNames: names, train: train.split, test: test.split };
}

export function embeddedDir(): string {
  return findAsset('data/fashion-mnist-sample');
}

/** Where a data id points: a built-in set's folder (with its class names) or a folder of the user's. */
export function dataLocation(spec: string): { id: string; dir: string; classNames?: string[] } {
  if (spec === 'embedded') return { id: 'embedded', dir: embeddedDir(), classNames: [...FASHION_MNIST_CLASSES] };
  if (spec === 'fashion-mnist') {
    const dir = process.env.FMNIST_DIR || DEBIAN_FMNIST_DIR;
    if (!fs.existsSync(dir)) {
      throw new InputError('--data fashion-mnist', '',
        `${dir} does not exist; run "apt-get install dataset-fashion-mnist" or set FMNIST_DIR to a folder with the IDX files`);
    }
    return { id: 'fashion-mnist', dir, classNames: [...FASHION_MNIST_CLASSES] };
  }
  const dir = path.resolve(spec);
  if (!fs.existsSync(dir)) throw new InputError(dir, '', 'dataset folder does not exist');
  return { id: dir, dir };
}

/** `embedded`, `fashion-mnist`, or a folder of IDX files: both splits, whole and synchronously (tests and scripts). */
export function loadDataset(spec: string): Dataset {
  const { id, dir, classNames } = dataLocation(spec);
  return loadIdxFolder(dir, id, classNames ?? withInputErrors(() => readClassNames(dir)));
}

/**
 * The first `n` images of a split of any data a registered source reads (all when n is
 * undefined), without reading the rest: what an attack evaluation needs.
 */
export async function loadData(spec: string, split: DataSplit, n?: number): Promise<LoadedSplit & { id: string }> {
  const { id, dir, classNames } = dataLocation(spec);
  const source = withInputErrors(() => dataSourceFor(dir));
  const loader = DATA_LOADERS.find((l) => l.id === source.id);
  if (!loader) throw new Error(`data source "${source.id}" has no loader in the engine (src/engine/data/sources.ts)`);
  const loaded = await loader.load(dir, split, n);
  return { ...loaded, id, ...(classNames ? { classNames } : {}) };
}

/** Both splits whole, from any data a registered source reads: what training needs. */
export async function loadTrainingData(spec: string): Promise<Dataset> {
  const [train, test] = await Promise.all([loadData(spec, 'train'), loadData(spec, 'test')]);
  if (train.shape.join('×') !== test.shape.join('×')) {
    throw new InputError(train.location, 'train',
      `images are ${train.shape.join('×')} but the test images are ${test.shape.join('×')}`);
  }
  const classNames = train.classNames.length >= test.classNames.length ? train.classNames : test.classNames;
  return {
    id: train.id, location: train.location, shape: train.shape, classNames, train: train.samples, test: test.samples,
  };
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
