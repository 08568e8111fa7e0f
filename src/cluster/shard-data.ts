/** A shard's images as a NumPy data folder the engine reads (x_test.npy, y_test.npy, classes.json). */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** A .npy (format 1.0) of uint8 values with the given shape. */
export function npyBytes(data: Uint8Array, shape: number[]): Buffer {
  const dict = `{'descr': '|u1', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const unpadded = 10 + dict.length + 1;
  const header = dict + ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const preamble = Buffer.alloc(10);
  preamble.write('\x93NUMPY', 0, 'latin1');
  preamble[6] = 1;
  preamble[7] = 0;
  preamble.writeUInt16LE(header.length, 8);
  return Buffer.concat([
    preamble,
    Buffer.from(header, 'latin1'),
    Buffer.from(data.buffer, data.byteOffset, data.length),
  ]);
}

/** Writes the folder at `dir` (which must exist). */
export function writeShardFolder(
  dir: string,
  images: Uint8Array,
  labels: Uint8Array,
  shape: [number, number, number],
  classNames: string[],
): void {
  fs.writeFileSync(path.join(dir, 'x_test.npy'), npyBytes(images, [labels.length, ...shape]));
  fs.writeFileSync(path.join(dir, 'y_test.npy'), npyBytes(labels, [labels.length]));
  fs.writeFileSync(path.join(dir, 'classes.json'), JSON.stringify(classNames));
}
