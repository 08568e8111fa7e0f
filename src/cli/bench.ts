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
import type { Report } from '../protocol/report';
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
  /** A shorter run: the wasm backend only, no data section, no strong suite, fewer timed training batches. */
  quick?: boolean;
  /** PGD-AT batches timed before scaling to the epoch (default 40; --quick 10; 469 = the whole epoch). */
  pgdAtBatches?: number;
  /** Internal: one row of the PyTorch table, ours, in this process (`id:batches`). */
  row?: string;
}

export async function runBench(o: BenchOptions): Promise<void> {
  if (o.row) {
    const [id, batches] = o.row.split(':');
    if (!TORCH_ROWS.includes(id as TorchRowId))
      throw new Error(`bench --row: "${id}" is not one of ${TORCH_ROWS.join(', ')}`);
    process.stdout.write(
      `${JSON.stringify(await benchTorchRowOurs(id as TorchRowId, Number(batches) || EPOCH_BATCHES))}\n`,
    );
    return;
  }
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
  const backends = o.quick ? ['wasm'] : o.backends.split(',').map((s) => s.trim());
  for (const backend of backends) {
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
  const againstTorch = await benchAgainstTorch({
    trainBatches: o.quick ? 100 : EPOCH_BATCHES,
    pgdAtBatches: o.pgdAtBatches ?? (o.quick ? 10 : 40),
    rows: o.quick ? TORCH_ROWS.filter((id) => id !== 'strong') : TORCH_ROWS,
  });
  process.stdout.write(`\nAgainst PyTorch (${ROBUST_EXAMPLE}, Fashion-MNIST):\n${formatAgainstTorch(againstTorch)}\n`);
  fs.mkdirSync(path.dirname(path.resolve(o.json)), { recursive: true });
  fs.writeFileSync(
    o.json,
    JSON.stringify(
      {
        date: new Date().toISOString(),
        node: process.version,
        cpus: os.cpus().length,
        quick: Boolean(o.quick),
        rows,
        pool,
        onnxVsLayers,
        againstTorch,
      },
      null,
      2,
    ),
  );
  process.stderr.write(`wrote ${o.json}\n`);
  if (!o.quick) await benchDataReads(path.dirname(path.resolve(o.json)));
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

// Against PyTorch: the same work on the robust example, ours and scripts/bench-torch.py's.

/** The PGD-trained example: most points survive all 10 steps, so no attack stops early. */
export const ROBUST_EXAMPLE = 'examples/fashion-mnist/smallcnn-robust/model.json';
/** The rows of the PyTorch table, each run in its own process (so its peak RSS is its own). */
export const TORCH_ROWS = ['grad', 'pgd', 'pgd-pool', 'train', 'pgd-at', 'strong'] as const;
export type TorchRowId = (typeof TORCH_ROWS)[number];
const TORCH_MISSING = 'PyTorch not installed (apt-get install -y python3-torch)';
const EPOCH_IMAGES = 60_000;
const TRAIN_BATCH = 128;
const EPOCH_BATCHES = Math.ceil(EPOCH_IMAGES / TRAIN_BATCH);
const PGD_IMAGES = 1000;
const PGD_STEPS = 10;
const PGD_EPS = 0.1;

/** One measurement of one row, by either side. */
export interface Measured {
  /** The row's figure: ms for grad, s otherwise. */
  value: number;
  peakRssMb: number;
  /** Input gradients the attack took (PGD rows), for the per-gradient ratio. */
  inputGradients?: number;
  /** "measured" or "N batches scaled to 469". */
  method?: string;
  /** What else the row reports (robust accuracy, the PGD phase of a job, …). */
  detail?: string;
}

export interface TorchRow {
  id: TorchRowId;
  work: string;
  unit: 'ms' | 's';
  ours?: Measured;
  oursError?: string;
  torch?: Measured;
  /** Set when PyTorch ran with OMP_WAIT_POLICY=PASSIVE because the machine was busy (torchWaitPolicy). */
  torchPolicy?: string;
  /** 1-minute load average when the row started: other work on the shared machine. */
  loadAtStart?: number;
  /** Why there is no PyTorch figure: not installed, no counterpart, or its error. */
  torchNote?: string;
  /** ours / PyTorch; per input gradient where the counts differ (the product path stops early). */
  ratio?: number;
  ratioPer?: 'run' | 'gradient';
}

export interface AgainstTorch {
  /** PyTorch's version, null without it; the interpreter that ran bench-torch.py. */
  torch: string | null;
  python?: string;
  threads?: number;
  /** Our logits and PyTorch's on the first 8 test images of the robust example. */
  logitsCheck?: { images: number; maxAbsDelta: number; maxAbsLogit: number };
  pgdAtBatches: number;
  trainBatches: number;
  rows: TorchRow[];
}

function peakRssMb(): number {
  return process.resourceUsage().maxRSS / 1024;
}

/** The product path's attack job on the first 1,000 Fashion-MNIST test images. */
function productJob(modelFile: string, extra: Partial<AttackJob>): AttackJob {
  return {
    ...defaultAttackJob(),
    model: modelFile,
    data: 'fashion-mnist',
    n: PGD_IMAGES,
    examples: 0,
    ...extra,
  } as AttackJob;
}

/** Our side of one row, in this process: `robustness-lab bench --row id:batches` prints it as JSON. */
export async function benchTorchRowOurs(id: TorchRowId, batches: number): Promise<Measured> {
  const modelFile = path.resolve(ROBUST_EXAMPLE);
  const workers = Math.min(2, os.availableParallelism());
  await initBackend('wasm');
  if (id === 'pgd-pool' || id === 'strong') {
    const job =
      id === 'pgd-pool' ? productJob(modelFile, { attacks: ['pgd'] }) : productJob(modelFile, { suite: 'strong' });
    const runs = id === 'pgd-pool' ? 3 : 1;
    const results: Array<{ wall: number; report: Report }> = [];
    for (let r = 0; r < runs; r++) {
      const t0 = performance.now();
      const report = await runAttackParallel(job, {
        script: path.join(__dirname, 'worker.js'),
        workers,
        backend: 'wasm',
        runId: `bench-${id}`,
      });
      results.push({ wall: (performance.now() - t0) / 1000, report });
    }
    const mid = [...results].sort((a, b) => a.wall - b.wall)[Math.floor(results.length / 2)]!;
    const attacks = mid.report.attacks;
    const attackS = attacks.reduce((s, a) => s + a.time_s, 0);
    const grads = attacks.reduce((s, a) => s + a.backward_passes, 0);
    return {
      value: mid.wall,
      peakRssMb: peakRssMb(),
      ...(id === 'pgd-pool' ? { inputGradients: grads } : {}),
      detail:
        `${workers} workers; attacks ${attackS.toFixed(2)} s, ${grads.toLocaleString('en')} input gradients; ` +
        `clean ${(mid.report.clean_accuracy * 100).toFixed(1)}%, robust ${(mid.report.robust_accuracy * 100).toFixed(1)}%` +
        (id === 'strong'
          ? `; diagnostics: ${mid.report.diagnostics.length} fired` +
            (mid.report.geometry ? `, geometry on ${mid.report.geometry.n}` : '')
          : ''),
    };
  }
  const data = await loadTrainingData('fashion-mnist');
  if (id === 'grad' || id === 'pgd') {
    const model = await loadClassifier(modelFile);
    if (id === 'grad') {
      const { x, y } = batchTensors(data.test, data.shape, 0, 250);
      const times: number[] = [];
      for (let i = 0; i < 15; i++) {
        const t0 = performance.now();
        const g = lossAndGradForBench(model, x, y);
        await g.data();
        g.dispose();
        if (i >= 3) times.push(performance.now() - t0);
      }
      tf.dispose([x, y]);
      return { value: median(times), peakRssMb: peakRssMb(), detail: 'median of 12' };
    }
    const test = firstN(data.test, PGD_IMAGES);
    const times: number[] = [];
    let robust = 0;
    for (let r = 0; r < 3; r++) {
      robust = 0;
      const t0 = performance.now();
      for (let start = 0; start < test.count; start += 250) {
        const { x, y } = batchTensors(test, data.shape, start, 250);
        const result = await pgd(
          model,
          x,
          y,
          { norm: 'linf', eps: PGD_EPS, bounds: [0, 1] },
          { steps: PGD_STEPS, keep: 'last', seed: r },
        );
        robust += result.success.filter((s) => !s).length;
        tf.dispose([x, y, result.xAdv]);
      }
      times.push((performance.now() - t0) / 1000);
    }
    return {
      value: median(times),
      peakRssMb: peakRssMb(),
      inputGradients: PGD_IMAGES * PGD_STEPS,
      detail: `1 thread; robust ${((robust / PGD_IMAGES) * 100).toFixed(1)}%; median of 3`,
    };
  }
  // Training: a fresh example network (the same layers as the robust example), batch 128, Adam.
  const net = smallCnn(data.shape, data.classNames.length, 0);
  const timed = Math.min(batches, EPOCH_BATCHES);
  const t0 = performance.now();
  const history = await trainModel(net, data, {
    epochs: 1,
    batchSize: TRAIN_BATCH,
    trainLimit: timed * TRAIN_BATCH,
    evalLimit: 1,
    robustEvalLimit: 0,
    seed: 0,
    ...(id === 'pgd-at' ? { method: 'pgd-at' as const, adversarial: { eps: PGD_EPS, steps: PGD_STEPS } } : {}),
  });
  const seconds = (performance.now() - t0) / 1000;
  net.dispose();
  return {
    value: (seconds * EPOCH_BATCHES) / timed,
    peakRssMb: peakRssMb(),
    method: timed === EPOCH_BATCHES ? 'measured' : `${timed} batches scaled to ${EPOCH_BATCHES}`,
    detail: `1 thread (one wasm instance); mean loss ${history[0]!.loss.toFixed(3)}`,
  };
}

/**
 * The first Python that imports torch: $PYTHON, then `python3` on the PATH, then Debian's
 * /usr/bin/python3 (python3-torch installs there; a pyenv or venv python3 on the PATH may lack it).
 */
export function torchPython(): string | undefined {
  const candidates = [process.env.PYTHON, 'python3', '/usr/bin/python3'].filter((c): c is string => Boolean(c));
  for (const python of new Set(candidates)) {
    try {
      execFileSync(python, ['-c', 'import torch'], { stdio: 'ignore', timeout: 60_000 });
      return python;
    } catch {
      // Not this one: no such interpreter, or no torch in it.
    }
  }
  return undefined;
}

interface TorchOut {
  torch: string;
  threads: number;
  check?: { images: number; maxAbsDelta: number; maxAbsLogit: number };
  grad?: { forwardGradMs: number; repeats: number };
  pgd?: { pgdS: number; repeats: number; images: number; inputGradients: number; robustAccuracy: number };
  train?: { epochS: number; method: string; meanLoss: number };
  pgdAt?: { epochS: number; method: string; meanLoss: number };
  peakRssMb: number;
}

/**
 * PyTorch's OpenMP threads spin-wait at every barrier by default: on an idle machine that is its
 * fastest setting, but while other processes hold the cores (load ≥ cores) it slows PyTorch down
 * several-fold (measured here at load 10: 420 ms per gradient pass, against 84 ms passive and
 * 121 ms on one thread). So a row starting on a busy machine runs PyTorch with
 * OMP_WAIT_POLICY=PASSIVE, and says so: the ratio is then against PyTorch's better setting.
 */
function torchWaitPolicy(): { env: NodeJS.ProcessEnv; note?: string } {
  const load = os.loadavg()[0]!;
  const cores = os.availableParallelism();
  if (load < cores || process.env.OMP_WAIT_POLICY) return { env: process.env };
  return {
    env: { ...process.env, OMP_WAIT_POLICY: 'PASSIVE' },
    note: `OMP_WAIT_POLICY=PASSIVE (load ${load.toFixed(1)} on ${cores} cores)`,
  };
}

function runTorchScript(python: string, args: string[], env: NodeJS.ProcessEnv): TorchOut {
  const script = path.join(__dirname, '..', 'scripts', 'bench-torch.py');
  const out = execFileSync(python, [script, '--model', path.resolve(ROBUST_EXAMPLE), ...args], {
    env,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 1 << 20,
  });
  return JSON.parse(out.trim().split('\n').pop()!) as TorchOut;
}

/** Our logits on the first 8 test images, written for bench-torch.py's --check. */
async function writeLogitsCheck(file: string): Promise<void> {
  await initBackend('wasm');
  const model = await loadClassifier(path.resolve(ROBUST_EXAMPLE));
  const data = await loadTrainingData('fashion-mnist');
  const { x, y } = batchTensors(data.test, data.shape, 0, 8);
  const logits = model.predictLogits(x);
  const flat = tf.reshape(x, [8, -1]);
  const images = (await flat.array()) as number[][];
  flat.dispose();
  const values = (await logits.array()) as number[][];
  tf.dispose([x, y, logits]);
  model.dispose?.();
  fs.writeFileSync(file, JSON.stringify({ images, logits: values }));
}

const TORCH_WORK: Record<TorchRowId, { work: string; unit: 'ms' | 's' }> = {
  grad: { work: 'fwd + input grad, batch 250', unit: 'ms' },
  pgd: { work: 'PGD-10 @1,000, all steps, in-process', unit: 's' },
  'pgd-pool': { work: 'PGD-10 @1,000, product path (job wall)', unit: 's' },
  train: { work: 'standard epoch @60k, batch 128, Adam', unit: 's' },
  'pgd-at': { work: 'PGD-AT epoch @60k (PGD-10), batch 128', unit: 's' },
  strong: { work: 'strong suite @1,000 + diagnostics (job wall)', unit: 's' },
};

/**
 * Each row: ours in a fresh process, then PyTorch's in a fresh process, so both see the same
 * machine load. PyTorch uses both cores (torch.set_num_threads(2)).
 */
export async function benchAgainstTorch(o: {
  trainBatches: number;
  pgdAtBatches: number;
  rows: readonly TorchRowId[];
}): Promise<AgainstTorch> {
  const python = torchPython();
  const result: AgainstTorch = {
    torch: null,
    pgdAtBatches: o.pgdAtBatches,
    trainBatches: o.trainBatches,
    rows: [],
  };
  let torchPgd: Pick<TorchRow, 'torch' | 'torchPolicy'> | undefined;
  for (const id of o.rows) {
    process.stderr.write(`bench: against PyTorch, ${id} …\n`);
    const row: TorchRow = { id, ...TORCH_WORK[id], loadAtStart: os.loadavg()[0]! };
    const batches = id === 'pgd-at' ? o.pgdAtBatches : o.trainBatches;
    try {
      const out = execFileSync(process.execPath, [__filename, 'bench', '--row', `${id}:${batches}`], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
        maxBuffer: 1 << 20,
      });
      row.ours = JSON.parse(out.trim().split('\n').pop()!) as Measured;
    } catch (err) {
      row.oursError = (err as Error).message.split('\n')[0]!;
    }
    if (!python) row.torchNote = TORCH_MISSING;
    else if (id === 'strong') row.torchNote = 'no counterpart (no attack library)';
    else if (id === 'pgd-pool') {
      if (torchPgd) Object.assign(row, torchPgd);
      else row.torchNote = 'needs the PGD row';
    } else {
      try {
        const args = ['--only', id, '--repeats', '3', '--eps', String(PGD_EPS), '--steps', String(PGD_STEPS)];
        if (id === 'grad') {
          const check = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rl-bench-torch-')), 'check.json');
          await writeLogitsCheck(check);
          args.push('--check', check);
        }
        if (id === 'train') args.push('--train-batches', String(Math.min(o.trainBatches, EPOCH_BATCHES)));
        if (id === 'pgd-at') args.push('--pgd-at-batches', String(Math.min(o.pgdAtBatches, EPOCH_BATCHES)));
        const policy = torchWaitPolicy();
        const t = runTorchScript(python, args, policy.env);
        if (policy.note) row.torchPolicy = policy.note;
        result.torch = t.torch;
        result.python = python;
        result.threads = t.threads;
        if (t.check) result.logitsCheck = t.check;
        const rss = t.peakRssMb;
        if (t.grad) row.torch = { value: t.grad.forwardGradMs, peakRssMb: rss, detail: `median of ${t.grad.repeats}` };
        if (t.pgd) {
          row.torch = {
            value: t.pgd.pgdS,
            peakRssMb: rss,
            inputGradients: t.pgd.inputGradients,
            detail: `robust ${(t.pgd.robustAccuracy * 100).toFixed(1)}%; median of ${t.pgd.repeats}`,
          };
          torchPgd = { torch: row.torch, ...(row.torchPolicy ? { torchPolicy: row.torchPolicy } : {}) };
        }
        const epoch = t.train ?? t.pgdAt;
        if (epoch) {
          row.torch = {
            value: epoch.epochS,
            peakRssMb: rss,
            method: epoch.method,
            detail: `mean loss ${epoch.meanLoss.toFixed(3)}`,
          };
        }
      } catch (err) {
        row.torchNote = `bench-torch.py failed: ${(err as Error).message.split('\n')[0]}`;
      }
    }
    if (row.ours && row.torch) {
      const perGradient = row.ours.inputGradients !== undefined && row.ours.inputGradients !== row.torch.inputGradients;
      row.ratioPer = perGradient ? 'gradient' : 'run';
      row.ratio = perGradient
        ? row.ours.value / row.ours.inputGradients! / (row.torch.value / row.torch.inputGradients!)
        : row.ours.value / row.torch.value;
    }
    result.rows.push(row);
  }
  return result;
}

export function formatAgainstTorch(r: AgainstTorch): string {
  const fmt = (m: Measured | undefined, unit: 'ms' | 's') =>
    m ? `${m.value.toFixed(unit === 'ms' ? 1 : 2)} ${unit}` : '—';
  const table = formatTable(
    ['robust example, 2 cores', 'ours', 'PyTorch', 'ours/PyTorch', 'peak RSS ours', 'peak RSS PyTorch'],
    r.rows.map((row) => [
      row.work,
      fmt(row.ours, row.unit),
      row.torch ? fmt(row.torch, row.unit) : (row.torchNote ?? '—'),
      row.ratio === undefined ? '—' : `${row.ratio.toFixed(2)}${row.ratioPer === 'gradient' ? ' per grad' : ''}`,
      row.ours ? `${row.ours.peakRssMb.toFixed(0)} MB` : '—',
      row.torch ? `${row.torch.peakRssMb.toFixed(0)} MB` : '—',
    ]),
  );
  const notes = r.rows.map(
    (row) =>
      `  ${row.work}: ` +
      [
        row.ours?.method && `ours ${row.ours.method}`,
        row.ours?.detail,
        row.oursError,
        row.torch?.method && row.torch.method !== row.ours?.method && `PyTorch ${row.torch.method}`,
        row.torch?.detail && `PyTorch: ${row.torch.detail}`,
        row.torchPolicy,
        row.loadAtStart !== undefined && `load ${row.loadAtStart.toFixed(1)} at start`,
      ]
        .filter(Boolean)
        .join('; '),
  );
  const head = r.torch
    ? `PyTorch ${r.torch} (${r.python}), ${r.threads} threads` +
      (r.logitsCheck
        ? `; logits on ${r.logitsCheck.images} images: max |Δ| ${r.logitsCheck.maxAbsDelta.toExponential(1)} ` +
          `(largest |logit| ${r.logitsCheck.maxAbsLogit.toFixed(1)})`
        : '')
    : TORCH_MISSING;
  return `${table}\n${head}\n${notes.join('\n')}`;
}
