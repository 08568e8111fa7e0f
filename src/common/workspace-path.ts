/**
 * A file as a person reads it in a workspace: relative to the workspace folder holding it, written
 * once for the extension's views and messages and the language server's hints.
 */
import * as path from 'node:path';

/**
 * `file` relative to the workspace folder holding it ("broken/model.json"), '/'-separated; in a
 * multi-root workspace it starts with the folder's name; absolute outside every folder.
 */
export function workspaceRelative(file: string, folders: readonly string[]): string {
  const resolved = path.resolve(file);
  for (const folder of folders) {
    const rel = path.relative(path.resolve(folder), resolved);
    if (rel && !rel.startsWith('..') && !path.isAbsolute(rel)) {
      const posix = rel.split(path.sep).join('/');
      return folders.length > 1 ? `${path.basename(folder)}/${posix}` : posix;
    }
  }
  return resolved;
}
