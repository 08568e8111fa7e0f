/**
 * The run store's folder and version control: whether a workspace folder's .gitignore already
 * leaves `.robustness/` out, and adding the line once (creating the file when there is none).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RUN_STORE_DIR } from '../protocol/vocabulary';

/** The folder the run store lives under, as a .gitignore line: ".robustness/". */
export const STORE_IGNORE_LINE = `${RUN_STORE_DIR.split('/')[0]}/`;

const storeName = STORE_IGNORE_LINE.slice(0, -1);
/** The lines that already ignore the folder: ".robustness", "/.robustness/", ".robustness/**", … */
const IGNORES = new Set(
  ['', '/'].flatMap((lead) => ['', '/', '/*', '/**'].map((tail) => `${lead}${storeName}${tail}`)),
);

/** True when `text` (a .gitignore) has a line ignoring the run store's folder. */
export function ignoresStore(text: string): boolean {
  return text.split(/\r?\n/).some((line) => IGNORES.has(line.trim()));
}

/** Appends ".robustness/" to `folder`/.gitignore unless a line already ignores it; creates the file if needed. */
export function addStoreToGitignore(folder: string): 'added' | 'already' {
  const file = path.join(folder, '.gitignore');
  let text = '';
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (ignoresStore(text)) return 'already';
  const newline = text.includes('\r\n') ? '\r\n' : '\n';
  const separator = text === '' || text.endsWith('\n') ? '' : newline;
  fs.writeFileSync(file, `${text}${separator}${STORE_IGNORE_LINE}${newline}`);
  return 'added';
}
