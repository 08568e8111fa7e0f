/**
 * `npm run bench`: times the example model on each backend, each in its own process so
 * that peak RSS is per run. Prints a table and writes JSON. Not a test.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { PNG } from 'pngjs';
import * as tfl from '@tensorflow/tfjs-layers';
import {
  batchTensors,
  describeBackend,
  firstN,
  initBackend,
  loadClassifier,
  loadData,
  loadTrainingData,
  lossAndGradForBench,
  pgd,
  smallCnn,
  trainModel,
  type BackendChoice,
  type Classifier,
  fileHandler,
} from '../engine';
import { encodeLayersAsOnnx } from '../engine/models/onnx/from-layers';
import { CLI_DEFAULT_SAMPLES, defaultAttackJob, type AttackJob } from '../protocol/jobs';
import { runAttackParallel } from '../worker/pool';
import { formatTable } from './table';

export interface BenchRow {
  backend: string;
  available: boolean;
  note?: string;
  forwardGradMs?: number;
  pgd10On1000S?: number;
  trainEpochS?: number;
  trainEpochMethod?: string;
  peakRssMb?: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function benchOne(choice: BackendChoice, modelFile: string, trainBatches: number): Promise<BenchRow> {
  try {
    await initBackend(choice);
  } catch (err) {
    return { backend: choice, available: false, note: (err as Error).message };
  }
  const backend = describeBackend();
  const model = await loadClassifier(modelFile);
  const data = await loadTrainingData('embedded');
  const stock = choice === 'wasm-stock' || choice === 'cpu';

  const batch = batchTensors(data.test, data.shape, 0, 250);
  const grads: number[] = [];
  for (let i = 0; i < (stock ? 4 : 12); i++) {
    const t0 = performance.now();
    const g = lossAndGradForBench(model, batch.x, batch.y);
    await g.data();
    g.dispose();
    if (i >= (stock ? 1 : 3)) grads.push(performance.now() - t0);
  }
  tf.dispose([batch.x, batch.y]);

  const test = firstN(data.test, 1000);
  const pgdTimes: number[] = [];
  for (let r = 0; r < (stock ? 1 : 3); r++) {
    const t0 = performance.now();
    for (let start = 0; start < test.count; start += 250) {
      const { x, y } = batchTensors(test, data.shape, start, 250);
      const result = await pgd(model, x, y, { norm: 'linf', eps: 0.1, bounds: [0, 1] }, { steps: 10, keep: 'last' });
      tf.dispose([x, y, result.xAdv]);
    }
    pgdTimes.push((performance.now() - t0) / 1000);
  }

  let trainEpochS: number | undefined;
  let trainEpochMethod: string | undefined;
  let note: string | undefined;
  const full = await loadTrainingData('fashion-mnist').catch(() => undefined);
  const trainData = full ?? data;
  const net = smallCnn(data.shape, 10, 0);
  const batchSize = 128;
  const epochBatches = Math.ceil(60000 / batchSize);
  const limit = stock ? trainBatches * batchSize : trainData.train.count;
  try {
    const t0 = performance.now();
    await trainModel(net, trainData, { epochs: 1, batchSize, trainLimit: limit, evalLimit: 1, seed: 0 });
    const seconds = (performance.now() - t0) / 1000;
    const timedBatches = Math.ceil(Math.min(limit, trainData.train.count) / batchSize);
    trainEpochS = (seconds * epochBatches) / timedBatches;
    trainEpochMethod = timedBatches === epochBatches ? 'measured' : `${timedBatches} batches scaled to ${epochBatches}`;
  } catch (err) {
    note = `training fails: ${(err as Error).message.split('\n')[0]}`;
  }
  net.dispose();
  return {
    backend,
    available: true,
    forwardGradMs: median(grads),
    pgd10On1000S: median(pgdTimes),
    ...(trainEpochS !== undefined ? { trainEpochS, trainEpochMethod } : {}),
    ...(note ? { note } : {}),
    peakRssMb: process.resourceUsage().maxRSS / 1024,
  };
}

export interface PoolRow {
  workers: number;
  /** Wall time of the whole job (worker start-up, clean pass, PGD-10 on the correctly classified), median of 3. */
  jobS: number;
  /** PGD phase only, as the report's attack time_s. */
  pgdS: number;
}

/** The product path: `attack --attack pgd --n 1000` through the worker pool, with 1 and 2 workers. */
async function benchPool(modelFile: string): Promise<PoolRow[]> {
  const job: AttackJob = {
    ...defaultAttackJob(),
    model: modelFile,
    attacks: ['pgd'],
    n: CLI_DEFAULT_SAMPLES,
    examples: 0,
  };
  const rows: PoolRow[] = [];
  for (const workers of [1, 2]) {
    const jobTimes: number[] = [];
    const pgdTimes: number[] = [];
    for (let r = 0; r < 3; r++) {
      const t0 = performance.now();
      const report = await runAttackParallel(job, {
        script: path.join(__dirname, 'worker.js'),
        workers,
        backend: 'wasm',
        runId: 'bench',
      });
      jobTimes.push((performance.now() - t0) / 1000);
      pgdTimes.push(report.attacks[0]!.time_s);
    }
    rows.push({ workers, jobS: median(jobTimes), pgdS: median(pgdTimes) });
  }
  return rows;
}

export interface OnnxVsLayers {
  backend: string;
  batch: number;
  /** Medians over interleaved repeats: one forward + input-gradient pass, and one PGD step (PGD-10 / 10). */
  layers: { gradMs: number; pgdStepMs: number };
  onnx: { gradMs: number; pgdStepMs: number };
  /** ONNX time / Layers time (an imported network must stay within 1.3× the Layers model). */
  gradRatio: number;
  pgdRatio: number;
  /** Largest |ONNX − Layers| over the batch's logits, relative to the largest |Layers logit|. */
  logitsRelativeError: number;
}

/**
 * The same network as a tfjs Layers model and exported to ONNX (from-layers.ts), run through the
 * ONNX interpreter: gradient and PGD-step time on one batch, measured alternately so that both
 * see the same machine load.
 */
export async function benchOnnxVsLayers(modelFile: string, backend: BackendChoice = 'wasm'): Promise<OnnxVsLayers> {
  await initBackend(backend);
  const net = await tfl.loadLayersModel(fileHandler(modelFile));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-bench-onnx-'));
  const onnxFile = path.join(dir, 'model.onnx');
  fs.writeFileSync(onnxFile, encodeLayersAsOnnx(net));
  net.dispose();
  const models: Array<[string, Classifier]> = [
    ['layers', await loadClassifier(modelFile)],
    ['onnx', await loadClassifier(onnxFile)],
  ];
  const data = await loadTrainingData('embedded');
  const size = 250;
  const { x, y } = batchTensors(data.test, data.shape, 0, size);
  const [a, b] = models.map(([, m]) => m.predictLogits(x));
  const expected = await a!.data();
  const actual = await b!.data();
  let worst = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!));
    scale = Math.max(scale, Math.abs(expected[i]!));
  }
  const logitsRelativeError = worst / scale;
  tf.dispose([a!, b!]);
  const grads = new Map<string, number[]>(models.map(([id]) => [id, []]));
  const steps = new Map<string, number[]>(models.map(([id]) => [id, []]));
  for (let round = 0; round < 15; round++) {
    for (const [id, model] of models) {
      const t0 = performance.now();
      const g = lossAndGradForBench(model, x, y);
      await g.data();
      g.dispose();
      if (round >= 3) grads.get(id)!.push(performance.now() - t0);
    }
  }
  for (let round = 0; round < 6; round++) {
    for (const [id, model] of models) {
      const t0 = performance.now();
      const result = await pgd(model, x, y, { norm: 'linf', eps: 0.1, bounds: [0, 1] }, { steps: 10, keep: 'last' });
      await result.xAdv.data();
      result.xAdv.dispose();
      if (round >= 1) steps.get(id)!.push((performance.now() - t0) / 10);
    }
  }
  tf.dispose([x, y]);
  models.forEach(([, m]) => m.dispose?.());
  fs.rmSync(dir, { recursive: true, force: true });
  const row = (id: string) => ({ gradMs: median(grads.get(id)!), pgdStepMs: median(steps.get(id)!) });
  const layers = row('layers');
  const onnx = row('onnx');
  return {
    backend: describeBackend(),
    batch: size,
    layers,
    onnx,
    gradRatio: onnx.gradMs / layers.gradMs,
    pgdRatio: onnx.pgdStepMs / layers.pgdStepMs,
    logitsRelativeError,
  };
}

function formatOnnxVsLayers(r: OnnxVsLayers): string {
  return formatTable(
    [`smallcnn, ${r.backend}, batch ${r.batch}`, 'fwd+grad ms', 'PGD step ms'],
    [
      ['tfjs Layers model', r.layers.gradMs.toFixed(1), r.layers.pgdStepMs.toFixed(1)],
      ['exported to ONNX, interpreted', r.onnx.gradMs.toFixed(1), r.onnx.pgdStepMs.toFixed(1)],
      ['ONNX / Layers (bound 1.3)', r.gradRatio.toFixed(2), r.pgdRatio.toFixed(2)],
    ],
  );
}

/** The options of `rl bench`, as commander parses them. */
export interface BenchOptions {
  json: string;
  model: string;
  backends: string;
  trainBatches: number;
  one?: BackendChoice;
  /** Data section: `n:folder` reads once in this process (internal); dataOnly runs that section alone. */
  dataOne?: string;
  dataOnly?: boolean;
}

export async function runBench(o: BenchOptions): Promise<void> {
  if (o.dataOne) {
    const [n, ...dir] = o.dataOne.split(':');
    return benchDataOne(dir.join(':'), Number(n));
  }
  if (o.dataOnly) {
    await benchDataReads(path.dirname(path.resolve(o.json)));
    return;
  }
  if (o.one) {
    process.stdout.write(`${JSON.stringify(await benchOne(o.one, path.resolve(o.model), o.trainBatches))}\n`);
    return;
  }
  const rows: BenchRow[] = [];
  for (const backend of o.backends.split(',').map((s) => s.trim())) {
    process.stderr.write(`bench: ${backend} …\n`);
    try {
      const out = execFileSync(
        process.execPath,
        [__filename, 'bench', '--one', backend, '--model', o.model, '--train-batches', String(o.trainBatches)],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 20 },
      );
      rows.push(JSON.parse(out.trim().split('\n').pop()!) as BenchRow);
    } catch (err) {
      rows.push({ backend, available: false, note: (err as Error).message.split('\n')[0]! });
    }
  }
  const fmt = (v: number | undefined, digits: number) => (v === undefined ? '—' : v.toFixed(digits));
  const table = formatTable(
    ['backend', 'fwd+grad@250 ms', 'PGD-10@1000 s', 'train epoch s', 'peak RSS MB', 'notes'],
    rows.map((r) => [
      r.backend,
      fmt(r.forwardGradMs, 1),
      fmt(r.pgd10On1000S, 2),
      fmt(r.trainEpochS, 1),
      fmt(r.peakRssMb, 0),
      [r.trainEpochMethod, r.note].filter(Boolean).join('; ') || (r.available ? '' : 'unavailable'),
    ]),
  );
  process.stdout.write(`${table}\n`);
  let pool: PoolRow[] = [];
  if (rows.some((r) => r.backend === 'wasm (our kernels)')) {
    process.stderr.write('bench: attack job through the worker pool …\n');
    pool = await benchPool(path.resolve(o.model));
    process.stdout.write(
      `\n${formatTable(
        ['attack job: PGD-10, first 1,000 images, wasm', 'job wall s', 'PGD phase s'],
        pool.map((p) => [`${p.workers} worker${p.workers > 1 ? 's' : ''}`, p.jobS.toFixed(2), p.pgdS.toFixed(2)]),
      )}\n`,
    );
  }
  process.stderr.write('bench: the smallcnn example as Layers and as ONNX …\n');
  const onnxVsLayers = await benchOnnxVsLayers(path.resolve(o.model));
  process.stdout.write(
    `\n${formatOnnxVsLayers(onnxVsLayers)}\nlogits ONNX vs Layers: max |Δ| ${onnxVsLayers.logitsRelativeError.toExponential(1)} of the largest logit\n`,
  );
  fs.mkdirSync(path.dirname(path.resolve(o.json)), { recursive: true });
  fs.writeFileSync(
    o.json,
    JSON.stringify(
      { date: new Date().toISOString(), node: process.version, cpus: os.cpus().length, rows, pool, onnxVsLayers },
      null,
      2,
    ),
  );
  process.stderr.write(`wrote ${o.json}\n`);
  await benchDataReads(path.dirname(path.resolve(o.json)));
}

// Data: the first n images of a 50,000-image folder.

/** The generated image folder: 50,000 PNGs, 32×32 RGB, 5,000 in each of 10 class folders of test/. */
export const BENCH_FOLDER_IMAGES = 50_000;
const BENCH_FOLDER_CLASSES = 10;
const BENCH_FOLDER_SIDE = 32;

export interface DataReadRow {
  n: number;
  runs: number;
  /** Median wall time of loadData(folder, 'test', n): listing, decoding, labels. */
  medianS: number;
  /** Peak RSS of the reading process above its RSS just before the read (process.resourceUsage().maxRSS), median. */
  peakRssDeltaMb: number;
  /** V8 heap used after the read minus before (the images live in a Uint8Array outside it), median. */
  heapDeltaMb: number;
  bytesRead: number;
}

/**
 * Writes the folder under `root` (bench-output/image-folder-50k) unless a finished one is there:
 * smooth per-image gradients, so the PNGs are small (about 1 KB) but every image differs.
 */
function ensureBenchFolder(root: string): string {
  const done = path.join(root, 'complete.json');
  if (fs.existsSync(done)) return root;
  fs.rmSync(root, { recursive: true, force: true });
  const side = BENCH_FOLDER_SIDE;
  const png = new PNG({ width: side, height: side });
  for (let i = 0; i < BENCH_FOLDER_IMAGES; i++) {
    const label = i % BENCH_FOLDER_CLASSES;
    const dir = path.join(root, 'test', `class-${label}`);
    if (i < BENCH_FOLDER_CLASSES) fs.mkdirSync(dir, { recursive: true });
    for (let y = 0; y < side; y++)
      for (let x = 0; x < side; x++) {
        const at = (y * side + x) * 4;
        png.data[at] = (x * 8 + i) & 255;
        png.data[at + 1] = (y * 8 + 3 * i) & 255;
        png.data[at + 2] = ((x + y) * 4 + label * 25) & 255;
        png.data[at + 3] = 255;
      }
    fs.writeFileSync(path.join(dir, `${String(i).padStart(5, '0')}.png`), PNG.sync.write(png, { colorType: 2 }));
  }
  fs.writeFileSync(done, JSON.stringify({ images: BENCH_FOLDER_IMAGES, shape: [side, side, 3] }));
  return root;
}

/** One read in this process (the child of benchDataReads), printed as JSON. */
export async function benchDataOne(dir: string, n: number): Promise<void> {
  const rssBefore = process.memoryUsage().rss;
  const heapBefore = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  const loaded = await loadData(dir, 'test', n);
  const seconds = (performance.now() - t0) / 1000;
  const peakRss = process.resourceUsage().maxRSS * 1024;
  const heapAfter = process.memoryUsage().heapUsed;
  process.stdout.write(
    `${JSON.stringify({
      seconds,
      peakRssDeltaMb: (peakRss - rssBefore) / 1e6,
      heapDeltaMb: (heapAfter - heapBefore) / 1e6,
      bytesRead: loaded.bytesRead,
      count: loaded.samples.count,
    })}\n`,
  );
}

/**
 * The first-n read measured: n = 1,000 and all 50,000 of the generated folder, each read in a fresh
 * process (so peak RSS is the read's own), `runs` times; prints a table and writes bench-data.json.
 */
export async function benchDataReads(jsonDir: string, runs = { head: 5, whole: 3 }): Promise<DataReadRow[]> {
  const dir = ensureBenchFolder(path.resolve('bench-output', 'image-folder-50k'));
  const rows: DataReadRow[] = [];
  for (const [n, count] of [
    [1000, runs.head],
    [BENCH_FOLDER_IMAGES, runs.whole],
  ] as const) {
    const results: {
      seconds: number;
      peakRssDeltaMb: number;
      heapDeltaMb: number;
      bytesRead: number;
      count: number;
    }[] = [];
    for (let r = 0; r < count; r++) {
      const out = execFileSync(process.execPath, [__filename, 'bench', '--data-one', `${n}:${dir}`], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      results.push(JSON.parse(out.trim().split('\n').pop()!));
    }
    if (results[0]!.count !== n) throw new Error(`bench: read ${results[0]!.count} images of ${dir}, expected ${n}`);
    rows.push({
      n,
      runs: count,
      medianS: median(results.map((r) => r.seconds)),
      peakRssDeltaMb: median(results.map((r) => r.peakRssDeltaMb)),
      heapDeltaMb: median(results.map((r) => r.heapDeltaMb)),
      bytesRead: results[0]!.bytesRead,
    });
  }
  process.stdout.write(
    `\n${formatTable(
      ['image folder, 50,000 PNGs 32×32×3', 'runs', 'median s', 'peak RSS Δ MB', 'heap Δ MB', 'bytes read'],
      rows.map((r) => [
        `first ${r.n.toLocaleString('en')}`,
        String(r.runs),
        r.medianS.toFixed(2),
        r.peakRssDeltaMb.toFixed(1),
        r.heapDeltaMb.toFixed(1),
        r.bytesRead.toLocaleString('en'),
      ]),
    )}\n`,
  );
  const file = path.join(jsonDir, 'bench-data.json');
  fs.mkdirSync(jsonDir, { recursive: true });
  fs.writeFileSync(
    file,
    JSON.stringify({ date: new Date().toISOString(), node: process.version, folder: dir, rows }, null, 2),
  );
  process.stderr.write(`wrote ${file}\n`);
  return rows;
}
