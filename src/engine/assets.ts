/** Finds files shipped in media/, whether we run from src/ (tests), dist/ (bundle) or a VSIX. */
import * as fs from 'node:fs';
import * as path from 'node:path';

export function findAsset(relative: string): string {
  let dir = typeof __dirname === 'string' ? __dirname : process.cwd();
  for (let i = 0; i < 6; i++) {
    const candidate = path.join(dir, 'media', relative);
    if (fs.existsSync(candidate)) return candidate;
    dir = path.dirname(dir);
  }
  throw new Error(`robustness-lab asset media/${relative} not found above ${__dirname}`);
}
