/**
 * Path containment, written once: is a path inside a folder once every symlink on the way is
 * resolved? Every containment rule of the project (a model's weight files inside the model's folder,
 * a spec's inputs and outputs inside its workspace folder) asks here, so a symlink cannot lead a
 * string comparison astray: both sides are real paths before they are compared.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The real path of `file`: symlinks resolved. For a path that does not exist (yet), its deepest existing
 * ancestor is resolved and the rest appended, so an output about to be written is judged by where
 * it would land.
 */
export function realPathOf(file: string): string {
  const absolute = path.resolve(file);
  const rest: string[] = [];
  let current = absolute;
  for (;;) {
    try {
      return path.join(fs.realpathSync.native(current), ...rest.reverse());
    } catch {
      const parent = path.dirname(current);
      if (parent === current) return absolute;
      rest.push(path.basename(current));
      current = parent;
    }
  }
}

/** Whether `child` is `folder` or lies below it, comparing the paths as given (no symlinks resolved). */
export function isWithin(child: string, folder: string): boolean {
  const rel = path.relative(path.resolve(folder), path.resolve(child));
  return rel === '' || (!rel.startsWith(`..${path.sep}`) && rel !== '..' && !path.isAbsolute(rel));
}

/** Whether `file` lies inside `folder` once both are real paths (symlinks resolved on both sides). */
export function isInside(file: string, folder: string): boolean {
  return isWithin(realPathOf(file), realPathOf(folder));
}

/**
 * `relative` resolved against `base`, when it stays inside one of `roots` after symlinks are resolved;
 * otherwise undefined. An absolute `relative` is judged the same way (it may name a file inside a root).
 */
export function containedPath(base: string, relative: string, roots: readonly string[]): string | undefined {
  const resolved = path.resolve(base, relative);
  return roots.some((root) => isInside(resolved, root)) ? resolved : undefined;
}

/**
 * A file a model names beside itself (a weight file, ONNX external data): `relative` resolved
 * against the model's folder, or undefined when it is absolute or, symlinks resolved, lies outside
 * that folder. The one rule for "weight files stay inside the model's folder".
 */
export function besideModel(modelFile: string, relative: string): string | undefined {
  if (relative === '' || path.isAbsolute(relative)) return undefined;
  const folder = path.dirname(path.resolve(modelFile));
  const resolved = path.resolve(folder, relative);
  return resolved !== folder && isInside(resolved, folder) ? resolved : undefined;
}
