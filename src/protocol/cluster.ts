/**
 * The cluster protocol (README "Scale out"): what a coordinator (`attack|evaluate|curve|run --redis`)
 * puts on the BullMQ queue and what a `robustness-lab worker --redis` accepts. A shard job carries
 * its images and refers to the model by content hash; it never names a path on the worker's disk.
 * Every payload is parsed here (zod, strict) before a worker uses any of it.
 */
import { z } from 'zod';
import { runEpochSchema, trainPositionSchema } from './epoch-metrics';
import { attackJobSchema, trainJobSchema } from './jobs';
import { BUILTIN_DATA } from './vocabulary';

/** Bumped whenever a payload or a result changes shape; a worker refuses any other version. */
export const CLUSTER_PROTOCOL_VERSION = 2;
/** The BullMQ queue of evaluation shards (BullMQ queue names may not hold ':'). */
export const SHARD_QUEUE = 'robustness-lab-shards';
/** Images per shard unless `--shard-size` says otherwise. */
export const DEFAULT_SHARD_SIZE = 250;
/** The most images one shard may carry. */
export const MAX_SHARD_IMAGES = 10_000;
/** The most pixel bytes one shard may carry (decoded): 64 MiB. */
export const MAX_SHARD_PIXEL_BYTES = 64 * 1024 * 1024;
/** Every string field but the pixels and labels is at most this long. */
export const MAX_FIELD_CHARS = 4096;
/** A whole payload, as JSON, is at most this long (the pixels in base64 and the rest). */
export const MAX_PAYLOAD_CHARS = Math.ceil((MAX_SHARD_PIXEL_BYTES * 4) / 3) + 1024 * 1024;
/** A model's files together are at most this large in Redis (and in a worker's cache): 512 MiB. */
export const MAX_MODEL_BYTES = 512 * 1024 * 1024;

/** A shard: `n` consecutive images from absolute index `offset`, with its own seed. */
export interface Shard {
  index: number;
  offset: number;
  n: number;
  seed: number;
}

/**
 * The seed of the shard that starts at image `firstIndex` of a run seeded `seed`: the run's seed
 * for the shard at index 0 (so a run of one shard from the start is what it always was), else a
 * 31-bit mix of both. It depends on nothing else, so a report does not depend on which worker, or
 * how many, ran which shard.
 */
export function shardSeed(seed: number, firstIndex: number): number {
  if (firstIndex === 0) return seed;
  let h = (Math.floor(seed) ^ 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ Math.floor(firstIndex), 0x9e3779b1) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) & 0x7fffffff;
}

/** The shards of images [offset, offset + n): consecutive runs of `size` images, the last one shorter. */
export function shardRanges(offset: number, n: number, size: number, seed: number): Shard[] {
  if (!Number.isInteger(size) || size < 1) throw new Error(`shard size must be a positive integer, not ${size}`);
  const shards: Shard[] = [];
  for (let from = offset, index = 0; from < offset + n; from += size, index++) {
    shards.push({ index, offset: from, n: Math.min(size, offset + n - from), seed: shardSeed(seed, from) });
  }
  return shards;
}

/**
 * The fields that make a run's job the job of one shard: its images, its seed, and the probes
 * (gradient masking, geometry) only on the run's first shard, so that probing costs the same
 * however many shards there are, and the probes see the run's first images as a one-piece run's do.
 */
export function shardFields(shard: Shard): { offset: number; n: number; seed: number; probes?: false } {
  return { offset: shard.offset, n: shard.n, seed: shard.seed, ...(shard.index > 0 ? { probes: false as const } : {}) };
}

/** Stage kinds only the first shard runs (see shardFields). */
export const FIRST_SHARD_STAGES: readonly string[] = ['diagnostics', 'geometry'];

/** A 64-hex-digit SHA-256. */
const hash = z.string().regex(/^[0-9a-f]{64}$/, { error: 'must be a SHA-256 in lower-case hex (64 digits)' });
/** A file name inside a model's upload: no folder, no "..", nothing hidden. */
export const MODEL_FILE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,199}$/;
const fileName = z
  .string()
  .regex(MODEL_FILE_NAME, { error: 'must be a plain file name (letters, digits, _ . -), not a path' })
  .refine((s) => !s.includes('..'), { error: 'must be a plain file name, not a path' });
const bounded = z.string().max(MAX_FIELD_CHARS);
const base64 = (max: number) =>
  z
    .string()
    .max(Math.ceil((max * 4) / 3) + 4)
    .regex(/^[A-Za-z0-9+/]*={0,2}$/, { error: 'must be base64' });

/** A model uploaded to Redis: its content hash and the file the engine loads (model.json, x.onnx). */
export const modelRefSchema = z.strictObject({ hash, main: fileName });
export type ModelRef = z.infer<typeof modelRefSchema>;

/** The fields of an attack job a worker fills in itself (paths on its disk, the shard's range and seed). */
const LOCAL_FIELDS = {
  model: true,
  data: true,
  dataOptions: true,
  surrogate: true,
  preprocessDefaults: true,
  probes: true,
  offset: true,
  n: true,
  seed: true,
} as const;

const [attackListSchema, attackSuiteSchema] = attackJobSchema.options;
/** The job-wide settings of the attack, without any path, range or seed. */
export const shardSettingsSchema = z.discriminatedUnion('suite', [
  attackListSchema.omit(LOCAL_FIELDS),
  attackSuiteSchema.omit(LOCAL_FIELDS),
]);
export type ShardSettings = z.infer<typeof shardSettingsSchema>;

export const shardJobSchema = z.strictObject({
  protocol: z.literal(CLUSTER_PROTOCOL_VERSION),
  kind: z.literal('attack-shard'),
  /** The coordinator's run: letters, digits, - and _. */
  runId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, { error: 'must be 1-64 letters, digits, - or _' }),
  shard: z.strictObject({
    index: z.number().int().min(0),
    offset: z.number().int().min(0),
    n: z.number().int().min(1).max(MAX_SHARD_IMAGES),
    seed: z.number().int().min(0),
  }),
  model: modelRefSchema,
  surrogate: modelRefSchema.optional(),
  settings: shardSettingsSchema,
  /** The shard's images as uint8 N×H×W×C, base64. */
  images: base64(MAX_SHARD_PIXEL_BYTES),
  /** Their labels, uint8, base64. */
  labels: base64(MAX_SHARD_IMAGES),
  shape: z.tuple([z.number().int().min(1), z.number().int().min(1), z.number().int().min(1)]),
  classNames: z.array(bounded.min(1).max(200)).min(1).max(256),
});
export type ShardJob = z.infer<typeof shardJobSchema>;

/** Fields that would name a file on the worker's disk: a cluster job never carries them. */
const PATH_FIELDS = ['model', 'data', 'surrogate', 'out', 'file', 'path', 'dir', 'cache'];

/** The first string longer than MAX_FIELD_CHARS outside the pixels and labels, as "a.b.c (N chars)". */
function oversized(value: unknown, at: string, depth = 0): string | undefined {
  if (depth > 8) return `${at || 'payload'} (nested deeper than 8 levels)`;
  if (typeof value === 'string') return value.length > MAX_FIELD_CHARS ? `${at} (${value.length} chars)` : undefined;
  if (Array.isArray(value)) {
    if (value.length > 10_000) return `${at} (${value.length} items)`;
    for (let i = 0; i < value.length; i++) {
      const found = oversized(value[i], `${at}[${i}]`, depth + 1);
      if (found) return found;
    }
    return undefined;
  }
  if (value && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      if (depth === 0 && (key === 'images' || key === 'labels')) continue;
      const found = oversized(item, at ? `${at}.${key}` : key, depth + 1);
      if (found) return found;
    }
  }
  return undefined;
}

/**
 * A queue payload as a shard job, or why it is refused: another protocol version, a field that
 * names a path, an oversized field, or anything the schema does not accept. Never throws.
 */

/** A refused payload's first five problems, each with its field: "shard.n: Too small…; model: …". */
function issuesText(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.join('.') || 'payload'}: ${i.message}`)
    .join('; ');
}

/** Why a job payload is refused before its fields are read: not a JSON object, or another protocol version. */
function envelopeProblem(raw: unknown): string | undefined {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return 'the payload is not a JSON object';
  const version = (raw as Record<string, unknown>).protocol;
  if (version === CLUSTER_PROTOCOL_VERSION) return undefined;
  return (
    `protocol version ${JSON.stringify(version ?? null)} is not this worker's (${CLUSTER_PROTOCOL_VERSION}): ` +
    'run the same robustness-lab version on the coordinator and every worker'
  );
}

export function parseShardJob(raw: unknown): { job: ShardJob } | { error: string } {
  const refused = envelopeProblem(raw);
  if (refused) return { error: refused };
  const payload = raw as Record<string, unknown>;
  const named = PATH_FIELDS.filter((k) => k in payload && typeof payload[k] !== 'object');
  const settings = payload.settings as Record<string, unknown> | undefined;
  if (settings && typeof settings === 'object') named.push(...PATH_FIELDS.filter((k) => k in settings));
  if (named.length) {
    return {
      error:
        `the payload names a path (${named.join(', ')}): a cluster job carries its images and refers to ` +
        'models by content hash, never to a file on the worker',
    };
  }
  let size: number;
  try {
    size = JSON.stringify(raw).length;
  } catch {
    return { error: 'the payload is not plain JSON' };
  }
  if (size > MAX_PAYLOAD_CHARS) return { error: `the payload is ${size} chars; at most ${MAX_PAYLOAD_CHARS}` };
  const big = oversized(raw, '');
  if (big) return { error: `field ${big} is too large: at most ${MAX_FIELD_CHARS} chars per field` };
  const parsed = shardJobSchema.safeParse(raw);
  if (!parsed.success) {
    return { error: issuesText(parsed.error) };
  }
  const { shard, shape } = parsed.data;
  const pixels = shard.n * shape[0] * shape[1] * shape[2];
  if (pixels > MAX_SHARD_PIXEL_BYTES) {
    return { error: `the shard holds ${pixels} pixel bytes; at most ${MAX_SHARD_PIXEL_BYTES}` };
  }
  return { job: parsed.data };
}

/** A Redis connection from a redis:// or rediss:// (TLS) URL, as ioredis takes it. */
export interface RedisTarget {
  host: string;
  port: number;
  username?: string;
  password?: string;
  db?: number;
  tls?: { servername: string };
}

/**
 * `redis://[user:password@]host[:port][/db]` or `rediss://…` (TLS); the user and password may be
 * percent-encoded. Throws an Error naming the problem (never echoing the password).
 */
export function parseRedisUrl(text: string): RedisTarget {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`--redis: "${text.replace(/:[^:@/]*@/, ':***@')}" is not a URL; use redis://host:6379`);
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new Error(`--redis: the scheme is "${url.protocol}"; use redis:// or rediss:// (TLS)`);
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!host) throw new Error('--redis: the URL names no host');
  const port = url.port ? Number(url.port) : 6379;
  const dbText = url.pathname.replace(/^\//, '');
  if (dbText && !/^\d+$/.test(dbText)) throw new Error(`--redis: the database "${dbText}" is not a number`);
  const username = url.username ? decodeURIComponent(url.username) : undefined;
  const password = url.password ? decodeURIComponent(url.password) : undefined;
  return {
    host,
    port,
    ...(username ? { username } : {}),
    ...(password ? { password } : {}),
    ...(dbText ? { db: Number(dbText) } : {}),
    ...(url.protocol === 'rediss:' ? { tls: { servername: host } } : {}),
  };
}

/** The URL for messages: the password replaced by ***. */
export function redactRedisUrl(text: string): string {
  try {
    const url = new URL(text);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return text.replace(/:[^:@/]*@/, ':***@');
  }
}

// ---------------------------------------------------------------------------------------------
// Training sweeps: one job per combination, checkpointed into Redis after every epoch.
// ---------------------------------------------------------------------------------------------

/** The BullMQ queue of training runs. */
export const TRAIN_QUEUE = 'robustness-lab-train';
/** A training run's folder (checkpoint, metrics, final model) in Redis is at most 64 MiB. */
export const MAX_RUN_FOLDER_BYTES = 64 * 1024 * 1024;
/** The most runs one sweep may enqueue. */
export const MAX_SWEEP_RUNS = 256;

/**
 * The settings of a training run a worker may be asked for: built-in data by name, no path (the
 * final model's folder name, modelFolder, is a plain name inside the worker's own run folder).
 */
export const trainSettingsSchema = trainJobSchema
  .omit({ out: true, init: true, workers: true, data: true, preprocessDefaults: true })
  .extend({ data: z.enum(BUILTIN_DATA) });
export type TrainSettings = z.infer<typeof trainSettingsSchema>;

export const trainRunSchema = z.strictObject({
  protocol: z.literal(CLUSTER_PROTOCOL_VERSION),
  kind: z.literal('train-run'),
  runId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, { error: 'must be 1-64 letters, digits, - or _' }),
  index: z.number().int().min(0).max(MAX_SWEEP_RUNS),
  /** The combination, as the run's folder name ("method=trades,eps=0.1,seed=1"). */
  name: z.string().regex(/^[A-Za-z0-9=,._-]{1,200}$/),
  settings: trainSettingsSchema,
});
export type TrainRun = z.infer<typeof trainRunSchema>;

/** A training-run payload, or why it is refused (never throws). */
export function parseTrainRun(raw: unknown): { run: TrainRun } | { error: string } {
  const refused = envelopeProblem(raw);
  if (refused) return { error: refused };
  const payload = raw as Record<string, unknown>;
  const settings = payload.settings as Record<string, unknown> | undefined;
  const named = [
    ...PATH_FIELDS.filter((k) => k in payload),
    ...(settings && typeof settings === 'object' ? ['out', 'init'].filter((k) => k in settings) : []),
  ];
  if (named.length) {
    return {
      error: `the payload names a path (${named.join(', ')}): a training run trains on built-in data into the worker's own folder`,
    };
  }
  const big = oversized(raw, '');
  if (big) return { error: `field ${big} is too large: at most ${MAX_FIELD_CHARS} chars per field` };
  const parsed = trainRunSchema.safeParse(raw);
  if (!parsed.success) {
    return { error: issuesText(parsed.error) };
  }
  return { run: parsed.data };
}

/**
 * A training job's progress as its worker reports it (BullMQ job progress): each finished epoch,
 * checkpointed into Redis before it is announced, with the metrics the local worker thread's epoch
 * notification carries; and where the run is between epochs (phase, batch), as its trainProgress.
 */
export const trainJobProgressSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('epoch'), epoch: runEpochSchema }),
  trainPositionSchema.extend({ kind: z.literal('batch') }),
]);
export type TrainJobProgress = z.infer<typeof trainJobProgressSchema>;

/** The measured values of an epoch that may be NaN (a diverged run), which JSON carries as null. */
const MEASURED_KEYS = new Set([
  'loss',
  'trainAccuracy',
  'testAccuracy',
  'robustAccuracy',
  'emaTestAccuracy',
  'emaRobustAccuracy',
  'valAccuracy',
  'valRobustAccuracy',
  'emaValAccuracy',
  'emaValRobustAccuracy',
]);

/**
 * A training job's progress payload (an epoch's NaN, which JSON carries as null, restored), or undefined when it is not one (another job kind's
 * progress, a hostile or older worker's): the coordinator ignores it. Never throws.
 */
export function parseTrainJobProgress(raw: unknown): TrainJobProgress | undefined {
  let value = raw;
  if (raw && typeof raw === 'object' && (raw as { kind?: unknown }).kind === 'epoch') {
    const epoch = (raw as { epoch?: unknown }).epoch;
    if (epoch && typeof epoch === 'object' && !Array.isArray(epoch)) {
      const restored = Object.fromEntries(
        Object.entries(epoch).map(([k, v]) => [k, v === null && MEASURED_KEYS.has(k) ? NaN : v]),
      );
      value = { ...(raw as object), epoch: restored };
    }
  }
  const parsed = trainJobProgressSchema.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}

/** What `--sweep` may vary, and the training job field each sets. */
export const SWEEP_KEYS = {
  method: 'method',
  eps: 'eps',
  seed: 'seed',
  beta: 'beta',
  steps: 'steps',
  epochs: 'epochs',
  lr: 'learningRate',
  'adv-fraction': 'advFraction',
} as const;
export type SweepKey = keyof typeof SWEEP_KEYS;

/**
 * `--sweep 'method=pgd-at,trades eps=0.05,0.1 seed=0,1'`: every combination, in order (the last key
 * varies fastest), each as the fields it sets and its name. Throws an Error naming the problem.
 */
export function parseSweep(text: string): Array<{ name: string; fields: Partial<Record<SweepKey, string | number>> }> {
  const axes: Array<[SweepKey, Array<string | number>]> = [];
  for (const part of text.trim().split(/\s+/).filter(Boolean)) {
    const m = /^([a-z][a-z-]*)=(.+)$/.exec(part);
    if (!m) throw new Error(`--sweep: "${part}" is not key=value,value…`);
    const key = m[1] as SweepKey;
    if (!(key in SWEEP_KEYS))
      throw new Error(`--sweep: "${m[1]}" cannot be swept; use ${Object.keys(SWEEP_KEYS).join(', ')}`);
    if (axes.some(([k]) => k === key)) throw new Error(`--sweep: "${key}" is given twice`);
    const values = m[2]!.split(',').map((v) => v.trim());
    if (values.some((v) => !/^[A-Za-z0-9._-]+$/.test(v))) throw new Error(`--sweep: ${key} has an empty or odd value`);
    axes.push([key, key === 'method' ? values : values.map(Number)]);
    if (key !== 'method' && values.some((v) => !Number.isFinite(Number(v)))) {
      throw new Error(`--sweep: ${key} values must be numbers, got "${m[2]}"`);
    }
  }
  if (axes.length === 0) throw new Error('--sweep: give at least one key=value,value…');
  let combos: Array<Partial<Record<SweepKey, string | number>>> = [{}];
  for (const [key, values] of axes) combos = combos.flatMap((c) => values.map((v) => ({ ...c, [key]: v })));
  if (combos.length > MAX_SWEEP_RUNS) throw new Error(`--sweep: ${combos.length} runs; at most ${MAX_SWEEP_RUNS}`);
  return combos.map((fields) => ({
    name: Object.entries(fields)
      .map(([k, v]) => `${k}=${v}`)
      .join(','),
    fields,
  }));
}
