/**
 * The first n records of CIFAR binary batches (layouts in src/formats/cifar.ts), read at their
 * offsets file by file: pixels from the R, G, B planes to the engine's uint8 N×H×W×C, the label
 * byte the layout names (CIFAR-100's fine label).
 */
import * as fs from 'node:fs';
import { CIFAR_PIXELS, recordBytes, type CifarLayout } from '../../formats/cifar';
import { InputError } from '../errors';

export interface CifarHead {
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
  bytesRead: number;
}

/** The first `count` records across `files` (in order), reading those records only. */
export function readCifarHead(
  layout: CifarLayout,
  files: { file: string; records: number }[],
  count: number,
): CifarHead {
  const size = recordBytes(layout);
  const plane = CIFAR_PIXELS / 3;
  const images = new Uint8Array(count * CIFAR_PIXELS);
  const labels = new Uint8Array(count);
  let done = 0;
  let bytesRead = 0;
  for (const { file, records } of files) {
    if (done === count) break;
    const take = Math.min(records, count - done);
    const bytes = Buffer.alloc(take * size);
    let fd: number;
    try {
      fd = fs.openSync(file, 'r');
    } catch (err) {
      throw new InputError(
        file,
        '',
        `cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      );
    }
    try {
      bytesRead += fs.readSync(fd, bytes, 0, bytes.length, 0);
    } finally {
      fs.closeSync(fd);
    }
    for (let r = 0; r < take; r++) {
      const record = r * size;
      const label = bytes[record + layout.labelIndex]!;
      if (label >= layout.classCount) {
        throw new InputError(
          file,
          `record ${r}`,
          `has label ${label}; ${layout.id} labels run from 0 to ${layout.classCount - 1}`,
        );
      }
      labels[done] = label;
      const pixels = record + layout.labelBytes;
      const out = done * CIFAR_PIXELS;
      for (let p = 0; p < plane; p++) {
        images[out + p * 3] = bytes[pixels + p]!;
        images[out + p * 3 + 1] = bytes[pixels + plane + p]!;
        images[out + p * 3 + 2] = bytes[pixels + 2 * plane + p]!;
      }
      done++;
    }
  }
  return { images, labels, count: done, bytesRead };
}
