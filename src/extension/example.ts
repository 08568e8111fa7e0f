/**
 * The bundled Fashion-MNIST example (the standard-trained smallcnn and its experiment spec), copied
 * into a workspace folder for a first try: the empty Models view offers it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Where the example lives in the extension (package.json's files keep it in the VSIX). */
export const EXAMPLE_SOURCE = path.join('examples', 'fashion-mnist');
/** What is copied, relative to EXAMPLE_SOURCE: the spec's model path ("smallcnn/model.json") stays true. */
export const EXAMPLE_FILES = [
  'smallcnn/model.json',
  'smallcnn/weights.bin',
  'smallcnn/README.md',
  'smallcnn.robustness.json',
] as const;
/** The folder the example is copied to, inside the workspace folder. */
export const EXAMPLE_FOLDER = 'robustness-example';

export interface CopiedExample {
  /** The example's folder in the workspace. */
  dir: string;
  model: string;
  spec: string;
  /** False when an earlier copy was found and kept as it is. */
  created: boolean;
}

/**
 * Copies the example from the extension into `workspaceFolder`/robustness-example/ (or -2, -3, …
 * when that name is taken by something else); an earlier copy is reused, never overwritten.
 */
export function copyExample(extensionPath: string, workspaceFolder: string): CopiedExample {
  const from = path.join(extensionPath, EXAMPLE_SOURCE);
  const at = (dir: string) => ({
    dir,
    model: path.join(dir, 'smallcnn', 'model.json'),
    spec: path.join(dir, 'smallcnn.robustness.json'),
  });
  for (let n = 1; ; n++) {
    const target = at(path.join(workspaceFolder, n === 1 ? EXAMPLE_FOLDER : `${EXAMPLE_FOLDER}-${n}`));
    if (fs.existsSync(target.model) && fs.existsSync(target.spec)) return { ...target, created: false };
    if (fs.existsSync(target.dir)) continue;
    for (const file of EXAMPLE_FILES) {
      const destination = path.join(target.dir, ...file.split('/'));
      fs.mkdirSync(path.dirname(destination), { recursive: true });
      fs.copyFileSync(path.join(from, ...file.split('/')), destination);
    }
    return { ...target, created: true };
  }
}
