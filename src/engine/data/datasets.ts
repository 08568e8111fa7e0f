/**
 * Datasets: the embedded Fashion-MNIST sample, the full set from Debian's
 * dataset-fashion-mnist (or $FMNIST_DIR), or any data folder a registered source reads, all
 * through the registry's loaders (sources.ts): loadData reads the first n images of a split
 * (attacks), loadTrainingData both splits whole (training).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { convertedShape, dataSourceFor, FASHION_MNIST_CLASSES, shapeMismatch } from '../../formats/data-sources';
import { insideDataFolder } from '../../formats/file-read';
import { dataOptionsSchema, type DataOptions } from '../../protocol/jobs';
import type { DataSplit } from '../../protocol/vocabulary';
import { findAsset } from '../assets';
import { InputError, withInputErrors } from '../errors';
import { convertSplit } from './convert';
import { DATA_LOADERS, loadOptionsSchema, type LoadedSplit } from './sources';
import type { Dataset, Split } from './types';

export { FASHION_MNIST_CLASSES } from '../../formats/data-sources';
export type { Dataset, Split } from './types';

const DEBIAN_FMNIST_DIR = '/usr/share/datasets/fashion-mnist';

function embeddedDir(): string {
  return findAsset('data/fashion-mnist-sample');
}

/**
 * The folder a data id (`embedded`, `fashion-mnist` or a path) points to: a built-in set's (with
 * its class names) or the user's. Not the spec's dataLocation (src/protocol), which resolves a
 * spec's data id against the spec's folder.
 */
function resolveDataFolder(spec: string): { id: string; dir: string; classNames?: string[] } {
  if (spec === 'embedded') return { id: 'embedded', dir: embeddedDir(), classNames: [...FASHION_MNIST_CLASSES] };
  if (spec === 'fashion-mnist') {
    const dir = process.env.FMNIST_DIR || DEBIAN_FMNIST_DIR;
    if (!fs.existsSync(dir)) {
      throw new InputError(
        '--data fashion-mnist',
        '',
        `${dir} does not exist; run "apt-get install dataset-fashion-mnist" ` +
          'or set FMNIST_DIR to a folder with the IDX files',
      );
    }
    return { id: 'fashion-mnist', dir, classNames: [...FASHION_MNIST_CLASSES] };
  }
  const dir = path.resolve(spec);
  if (!fs.existsSync(dir)) throw new InputError(dir, '', 'dataset folder does not exist');
  return { id: dir, dir };
}

/**
 * How data is read for a model: the job's data options (label set, resize, channels) and the
 * model's input H×W×C, which the images must match once converted (omitted: they are kept as read).
 */
export interface ReadOptions extends DataOptions {
  inputShape?: readonly number[];
}

/**
 * The first `n` images of a split of any data a registered source reads (all when n is
 * undefined), without reading the rest: what an attack evaluation needs. With an input shape,
 * images of another size or channel count are converted when the options ask (a chunk at a time),
 * else refused naming the file.
 */
export async function loadData(
  spec: string,
  split: DataSplit,
  n?: number,
  options: ReadOptions = {},
): Promise<LoadedSplit & { id: string }> {
  const { inputShape, ...given } = options;
  const parsed = dataOptionsSchema.safeParse(given);
  if (!parsed.success) throw new InputError('data options', '', parsed.error.issues.map((i) => i.message).join('; '));
  const { labels, resize, channels } = parsed.data;
  const { id, dir, classNames } = resolveDataFolder(spec);
  // Every file the source's readers open must be a regular file inside `dir`, symlinks resolved.
  return insideDataFolder(dir, () =>
    loadInside(id, dir, classNames, split, n, { inputShape, labels, resize, channels }),
  );
}

async function loadInside(
  id: string,
  dir: string,
  classNames: string[] | undefined,
  split: DataSplit,
  n: number | undefined,
  { inputShape, labels, resize, channels }: ReadOptions,
): Promise<LoadedSplit & { id: string }> {
  const source = withInputErrors(() => dataSourceFor(dir));
  const loader = DATA_LOADERS.find((l) => l.id === source.id);
  if (!loader) throw new Error(`data source "${source.id}" has no loader in the engine (src/engine/data/sources.ts)`);
  if (labels === 'coarse' && source.id !== 'cifar-100' && source.id !== 'cifar-10') {
    throw new InputError(dir, 'labels', `"coarse" asks for CIFAR-100's coarse labels, but this is ${source.label}`);
  }
  const loadOptions = loadOptionsSchema.parse({ n, classNames, labels });
  const loaded = { ...(await loader.load(dir, split, loadOptions)), id };
  return fitToModel(loaded, source.name, inputShape, { resize, channels });
}

/** The split converted as asked (resize needs the model's input size), then checked against it. */
function fitToModel<T extends LoadedSplit>(
  loaded: T,
  kind: string,
  inputShape: readonly number[] | undefined,
  conversion: { resize?: boolean; channels?: number },
): T {
  if (conversion.resize && !inputShape) {
    throw new InputError(loaded.location, 'resize', 'needs a model input size to resize to; there is no model here');
  }
  const target = convertedShape(loaded.shape, inputShape ?? loaded.shape, conversion) as [number, number, number];
  if (inputShape) {
    const mismatch = shapeMismatch(loaded.shape, inputShape, conversion, {
      subject: 'images are',
      kind,
      modelName: 'the model',
    });
    if (mismatch) throw new InputError(loaded.file, '', mismatch.problem, mismatch.hint);
  }
  if (target.join('×') === loaded.shape.join('×')) return loaded;
  return { ...loaded, shape: target, samples: convertSplit(loaded.samples, loaded.shape, target) };
}

/** Both splits whole, from any data a registered source reads: what training needs. */
export async function loadTrainingData(spec: string, options: ReadOptions = {}): Promise<Dataset> {
  // Both at once, but a problem with the train split is the one reported when both have one.
  const settled = await Promise.allSettled([
    loadData(spec, 'train', undefined, options),
    loadData(spec, 'test', undefined, options),
  ]);
  const [train, test] = settled.map((s) => {
    if (s.status === 'rejected') throw s.reason;
    return s.value;
  }) as [LoadedSplit & { id: string }, LoadedSplit & { id: string }];
  if (train.shape.join('×') !== test.shape.join('×')) {
    throw new InputError(
      test.file,
      'shape',
      `test images are ${test.shape.join('×')} but the training images (${path.basename(train.file)}) are ` +
        `${train.shape.join('×')}; both splits must have one shape`,
    );
  }
  for (const split of [train, test]) {
    if (split.samples.count === 0) {
      throw new InputError(split.file, split.split, `holds no ${split.split} images; training needs at least one`);
    }
  }
  const classNames = train.classNames.length >= test.classNames.length ? train.classNames : test.classNames;
  return {
    id: train.id,
    location: train.location,
    shape: train.shape,
    classNames,
    train: train.samples,
    test: test.samples,
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
  return {
    images: split.images.subarray(start * per, end * per),
    labels: split.labels.subarray(start, end),
    count: end - start,
  };
}

/**
 * Rows [start, start+size) as a float batch in [0, 1] and int labels; with `order`, the rows
 * are order[start..start+size) (a shuffle or a subset).
 */
export function batchTensors(
  split: Split,
  shape: [number, number, number],
  start: number,
  size: number,
  order?: Int32Array,
): { x: tf.Tensor4D; y: tf.Tensor1D } {
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
