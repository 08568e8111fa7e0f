/**
 * Models in Redis, by content hash: the coordinator uploads a model's files once per run (a hash
 * already there is not sent again), and each worker keeps a copy in its cache folder by hash. A
 * job names only the hash, so it cannot make a worker read or write any other file.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type IORedis from 'ioredis';
import { InputError, withInputErrors } from '../engine/errors';
import { readModelJson } from '../formats/tfjs-model-json';
import { MAX_MODEL_BYTES, MODEL_FILE_NAME, type ModelRef } from '../protocol/cluster';
import { TFJS_MODEL_FILE } from '../protocol/model-files';
import { KEY_PREFIX } from './redis';

/** Uploaded models expire a week after their last run. */
const MODEL_TTL_S = 7 * 24 * 3600;
const FILE_FIELD = 'file:';

export const modelKey = (hash: string) => `${KEY_PREFIX}:model:${hash}`;

/** A model's files by name: the file itself and, for a model.json, the weight files its manifest names. */
export function modelFiles(file: string): Map<string, Buffer> {
  if (!fs.existsSync(file)) throw new InputError(file, '', 'does not exist');
  const names = [path.basename(file)];
  if (path.basename(file) === TFJS_MODEL_FILE) {
    for (const group of withInputErrors(() => readModelJson(file)).weightsManifest) names.push(...group.paths);
  }
  const files = new Map<string, Buffer>();
  let total = 0;
  for (const name of names) {
    if (!MODEL_FILE_NAME.test(name) || name.includes('..')) {
      throw new InputError(
        file,
        'weightsManifest',
        `"${name}" is not a plain file name beside the model; a cluster run uploads only those`,
      );
    }
    const weights = path.join(path.dirname(file), name);
    if (!fs.existsSync(weights)) throw new InputError(weights, '', 'does not exist (the model names it)');
    const bytes = fs.readFileSync(weights);
    total += bytes.length;
    if (total > MAX_MODEL_BYTES) {
      throw new InputError(file, '', `its files exceed ${MAX_MODEL_BYTES} bytes, the most a cluster run uploads`);
    }
    files.set(name, bytes);
  }
  return files;
}

/** SHA-256 over the files in name order: each name, its length and its bytes. */
export function modelHash(files: Map<string, Buffer>): string {
  const h = crypto.createHash('sha256');
  for (const name of [...files.keys()].sort()) {
    const bytes = files.get(name)!;
    h.update(`${name}\0${bytes.length}\0`);
    h.update(bytes);
  }
  return h.digest('hex');
}

/** Uploads the model at `file` unless its hash is there already; returns its reference. */
export async function uploadModel(redis: IORedis, file: string): Promise<ModelRef & { uploaded: boolean }> {
  const files = modelFiles(file);
  const hash = modelHash(files);
  const key = modelKey(hash);
  const main = path.basename(file);
  if (await redis.exists(key)) {
    await redis.expire(key, MODEL_TTL_S);
    return { hash, main, uploaded: false };
  }
  const fields: Record<string, Buffer | string> = {};
  for (const [name, bytes] of files) fields[`${FILE_FIELD}${name}`] = bytes;
  await redis.multi().hset(key, fields).expire(key, MODEL_TTL_S).exec();
  return { hash, main, uploaded: true };
}

/**
 * A worker's cache of models by hash (one folder per hash, complete before it is used); concurrent
 * jobs on one model download it once.
 */
export class ModelCache {
  private readonly loading = new Map<string, Promise<string>>();

  constructor(
    private readonly redis: IORedis,
    readonly dir: string,
  ) {}

  /** The local path of the model's main file, downloading and checking it on first use. */
  file(ref: ModelRef): Promise<string> {
    let pending = this.loading.get(ref.hash);
    if (!pending) {
      pending = this.fetch(ref.hash).catch((err: Error) => {
        this.loading.delete(ref.hash);
        throw err;
      });
      this.loading.set(ref.hash, pending);
    }
    return pending.then((folder) => {
      const main = path.join(folder, ref.main);
      if (!fs.existsSync(main)) throw new Error(`model ${ref.hash.slice(0, 12)} has no file "${ref.main}"`);
      return main;
    });
  }

  private async fetch(hash: string): Promise<string> {
    const folder = path.join(this.dir, hash);
    if (fs.existsSync(path.join(folder, '.complete'))) return folder;
    const key = modelKey(hash);
    const lengths = await this.redis.hkeys(key);
    if (lengths.length === 0) throw new Error(`model ${hash.slice(0, 12)} is not in Redis (expired or never uploaded)`);
    const raw = await this.redis.hgetallBuffer(key);
    const files = new Map<string, Buffer>();
    let total = 0;
    for (const [field, bytes] of Object.entries(raw)) {
      if (!field.startsWith(FILE_FIELD)) continue;
      const name = field.slice(FILE_FIELD.length);
      if (!MODEL_FILE_NAME.test(name) || name.includes('..'))
        throw new Error(`model ${hash.slice(0, 12)}: bad file name`);
      total += bytes.length;
      if (total > MAX_MODEL_BYTES) throw new Error(`model ${hash.slice(0, 12)} exceeds ${MAX_MODEL_BYTES} bytes`);
      files.set(name, bytes);
    }
    if (modelHash(files) !== hash) throw new Error(`model ${hash.slice(0, 12)}: its files do not match their hash`);
    fs.mkdirSync(this.dir, { recursive: true });
    const staging = fs.mkdtempSync(path.join(this.dir, `.${hash.slice(0, 12)}-`));
    for (const [name, bytes] of files) fs.writeFileSync(path.join(staging, name), bytes);
    fs.writeFileSync(path.join(staging, '.complete'), '');
    try {
      fs.renameSync(staging, folder);
    } catch (err) {
      // Another worker process sharing the cache finished first: keep its copy.
      fs.rmSync(staging, { recursive: true, force: true });
      if (!fs.existsSync(path.join(folder, '.complete'))) throw err;
    }
    return folder;
  }
}
