/** Small PNG encoders for report images (pngjs), as data: URIs. */
import { PNG } from 'pngjs';

function encode(width: number, height: number, rgba: Uint8Array): string {
  const png = new PNG({ width, height });
  png.data = Buffer.from(rgba.buffer, rgba.byteOffset, rgba.byteLength);
  return `data:image/png;base64,${PNG.sync.write(png).toString('base64')}`;
}

/** An image in [lo, hi], HWC with 1 or 3 channels. */
export function imagePng(pixels: Float32Array, shape: [number, number, number], bounds: [number, number]): string {
  const [h, w, c] = shape;
  const rgba = new Uint8Array(h * w * 4);
  const scale = 255 / (bounds[1] - bounds[0]);
  for (let p = 0; p < h * w; p++) {
    for (let k = 0; k < 3; k++) {
      const v = pixels[p * c + (c === 3 ? k : 0)]!;
      rgba[p * 4 + k] = Math.max(0, Math.min(255, Math.round((v - bounds[0]) * scale)));
    }
    rgba[p * 4 + 3] = 255;
  }
  return encode(w, h, rgba);
}

/**
 * A perturbation δ on a diverging map: −scale → blue, 0 → white, +scale → red.
 * Channels are averaged for colour images.
 */
export function perturbationPng(delta: Float32Array, shape: [number, number, number], scale: number): string {
  const [h, w, c] = shape;
  const rgba = new Uint8Array(h * w * 4);
  for (let p = 0; p < h * w; p++) {
    let v = 0;
    for (let k = 0; k < c; k++) v += delta[p * c + k]!;
    const t = scale > 0 ? Math.max(-1, Math.min(1, v / c / scale)) : 0;
    const fade = Math.round(255 * (1 - Math.abs(t)));
    rgba[p * 4] = t < 0 ? fade : 255;
    rgba[p * 4 + 1] = fade;
    rgba[p * 4 + 2] = t > 0 ? fade : 255;
    rgba[p * 4 + 3] = 255;
  }
  return encode(w, h, rgba);
}
