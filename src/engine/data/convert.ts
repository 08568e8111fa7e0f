/**
 * Images fitted to a model's input: a channel conversion (grey → RGB replicates the grey value;
 * RGB → grey is ITU-R BT.601 luma, 0.299 R + 0.587 G + 0.114 B) and a bilinear resize
 * (tf.image.resizeBilinear with half-pixel centres, as PIL and torchvision's antialias-free resize
 * sample), rounded back to uint8. Done a chunk of images at a time: only one chunk is ever held at
 * float precision, never the whole set.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Split } from './types';

/** Images converted at once: 256 of 32×32×3 are 3 MB as float32. */
export const CONVERT_CHUNK = 256;

const LUMA = [0.299, 0.587, 0.114];

/** `split`'s images (H×W×C = `from`) as uint8 images of shape `to`; labels shared. */
export function convertSplit(
  split: Split,
  from: readonly [number, number, number],
  to: readonly [number, number, number],
): Split {
  const [h, w, c] = from;
  const [th, tw, tc] = to;
  if (c !== tc && c !== 1 && c !== 3) throw new Error(`cannot convert ${c} channels to ${tc}`);
  const per = h * w * c;
  const outPer = th * tw * tc;
  const images = new Uint8Array(split.count * outPer);
  for (let start = 0; start < split.count; start += CONVERT_CHUNK) {
    const rows = Math.min(CONVERT_CHUNK, split.count - start);
    const out = tf.tidy(() => {
      const pixels = Float32Array.from(split.images.subarray(start * per, (start + rows) * per));
      let x: tf.Tensor4D = tf.tensor4d(pixels, [rows, h, w, c]);
      // Fewer channels first, more channels last: the resize works on as few as it can.
      if (c === 3 && tc === 1) x = tf.sum(tf.mul(x, tf.tensor1d(LUMA)), -1, true) as tf.Tensor4D;
      if (th !== h || tw !== w) x = tf.image.resizeBilinear(x, [th, tw], false, true);
      if (c === 1 && tc === 3) x = tf.tile(x, [1, 1, 1, 3]);
      return tf.cast(tf.clipByValue(tf.round(x), 0, 255), 'int32');
    });
    try {
      images.set(out.dataSync(), start * outPer);
    } finally {
      out.dispose();
    }
  }
  return { images, labels: split.labels, count: split.count };
}
