/**
 * The first n records of CIFAR binary batches (layouts in src/formats/cifar.ts), read at their
 * offsets file by file: pixels from the R, G, B planes to the engine's uint8 N×H×W×C, the label
 * byte the layout names (CIFAR-100's fine label).
 */
import { readAt, withFile } from '../../formats/file-read';
import { CIFAR_PIXELS, recordBytes, type CifarLayout } from '../../formats/cifar';
import { InputError, withInputErrors } from '../errors';

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
    // A regular file inside the data folder only (src/formats/file-read.ts).
    const bytes = withInputErrors(() => withFile(file, (fd) => readAt(fd, 0, take * size)));
    bytesRead += bytes.length;
    if (bytes.length < take * size) {
      throw new InputError(file, '', `is truncated: ${take} records need ${take * size} bytes, found ${bytes.length}`);
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
