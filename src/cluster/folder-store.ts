/**
 * A training run's folder in Redis (one hash, field = relative path): its checkpoint after every
 * epoch, so another worker resumes a run whose worker died, and its final model and metrics for the
 * coordinator. Paths are checked both ways: nothing absolute, no "..", nothing outside the folder.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type IORedis from 'ioredis';
import { MAX_RUN_FOLDER_BYTES } from '../protocol/cluster';

const SAFE_PART = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,199}$/;

/** True for "a/b.bin": relative, slash-separated parts, none "..", none hidden. */
export function safeRelativePath(rel: string): boolean {
  const parts = rel.split('/');
  return parts.length <= 8 && parts.every((p) => SAFE_PART.test(p) && p !== '..' && !p.includes('..'));
}

function listFiles(dir: string, prefix = ''): string[] {
  return fs.readdirSync(path.join(dir, prefix), { withFileTypes: true }).flatMap((e) => {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) return listFiles(dir, rel);
    return e.isFile() ? [rel] : [];
  });
}

/**
 * Replaces the hash at `key` with the folder's files (those a checkpoint or a run writes; a
 * temporary ".tmp-" or ".old" copy is left out, and the files named in `leaveOut`), expiring after `ttlS`.
 */
export async function uploadFolder(
  redis: IORedis,
  key: string,
  dir: string,
  ttlS: number,
  leaveOut: readonly string[] = [],
): Promise<number> {
  const fields: Record<string, Buffer> = {};
  let total = 0;
  for (const rel of listFiles(dir)) {
    if (/\.(tmp-\d+|old)(\/|$)/.test(rel) || !safeRelativePath(rel) || leaveOut.includes(rel)) continue;
    const bytes = fs.readFileSync(path.join(dir, rel));
    total += bytes.length;
    if (total > MAX_RUN_FOLDER_BYTES) throw new Error(`the run folder exceeds ${MAX_RUN_FOLDER_BYTES} bytes`);
    fields[rel] = bytes;
  }
  const staging = `${key}:staging`;
  // Written whole, then renamed over the last one: a reader never sees half a checkpoint.
  await redis.multi().del(staging).hset(staging, fields).rename(staging, key).expire(key, ttlS).exec();
  return total;
}

/** Writes the hash at `key` into `dir`; false when there is none. */
export async function downloadFolder(redis: IORedis, key: string, dir: string): Promise<boolean> {
  const files = await redis.hgetallBuffer(key);
  const entries = Object.entries(files);
  if (entries.length === 0) return false;
  let total = 0;
  for (const [rel, bytes] of entries) {
    if (!safeRelativePath(rel)) throw new Error(`${key}: "${rel}" is not a safe relative path`);
    total += bytes.length;
    if (total > MAX_RUN_FOLDER_BYTES) throw new Error(`${key} exceeds ${MAX_RUN_FOLDER_BYTES} bytes`);
    const file = path.join(dir, ...rel.split('/'));
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, bytes);
  }
  return true;
}
