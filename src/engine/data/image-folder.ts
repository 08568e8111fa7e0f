/**
 * Decodes the first n images of an image folder (listed by src/formats/image-folder.ts): PNG with
 * pngjs, JPEG with jpeg-js, to the engine's uint8 H×W×C (grey: one channel; colour: RGB, alpha
 * dropped). Every image must match the first one's size and channels; the rest are not opened.
 */
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { readBounded } from '../../formats/file-read';
import { imageHeader, type ImageEntry, type ImageHeader } from '../../formats/image-folder';
import { InputError, withInputErrors } from '../errors';

/** One image's pixels, H×W×C, and its header. */
export function decodeImage(file: string): { header: ImageHeader; pixels: Uint8Array; bytesRead: number } {
  // A regular file inside the data folder, at most READ_LIMITS.image bytes (src/formats/file-read.ts).
  const bytes = withInputErrors(() => readBounded(file, 'image'));
  const header = withInputErrors(() => imageHeader(file, bytes));
  let rgba: Uint8Array;
  try {
    rgba =
      bytes[0] === 0x89 ? PNG.sync.read(bytes).data : jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true }).data;
  } catch (err) {
    throw new InputError(file, '', `cannot be decoded: ${(err as Error).message}`);
  }
  const { width, height, channels } = header;
  const pixels = new Uint8Array(width * height * channels);
  for (let p = 0; p < width * height; p++) {
    for (let c = 0; c < channels; c++) pixels[p * channels + c] = rgba[p * 4 + c]!;
  }
  return { header, pixels, bytesRead: bytes.length };
}

/** The first `count` entries decoded into one N×H×W×C array, all the size and channels of the first. */
export function readImageHead(
  entries: readonly ImageEntry[],
  count: number,
): { images: Uint8Array; labels: Uint8Array; shape: [number, number, number]; bytesRead: number } {
  if (count === 0) {
    const { header } = decodeImage(entries[0]!.file);
    return {
      images: new Uint8Array(0),
      labels: new Uint8Array(0),
      shape: [header.height, header.width, header.channels],
      bytesRead: 0,
    };
  }
  let shape: [number, number, number] | undefined;
  let images = new Uint8Array(0);
  const labels = new Uint8Array(count);
  let bytesRead = 0;
  for (let i = 0; i < count; i++) {
    const { file, label } = entries[i]!;
    const image = decodeImage(file);
    const { height, width, channels } = image.header;
    if (!shape) {
      shape = [height, width, channels];
      images = new Uint8Array(count * height * width * channels);
    } else if (shape.join('×') !== [height, width, channels].join('×')) {
      throw new InputError(
        file,
        '',
        `is ${height}×${width}×${channels} (H×W×C) but ${entries[0]!.file} is ${shape.join('×')}; ` +
          'every image must have the size and channels of the first',
      );
    }
    images.set(image.pixels, i * image.pixels.length);
    labels[i] = label;
    bytesRead += image.bytesRead;
  }
  return { images, labels, shape: shape!, bytesRead };
}
