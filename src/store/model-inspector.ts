/**
 * A cheap look at a model.json without loading tfjs: the format, input shape, class count and
 * output activation read from the topology. The Models view ("smallcnn · 28×28×1 → 10") and the
 * language server (shape checks, the softmax warning) use it; so does the data-shape reader
 * below, which reads only the header of an IDX file.
 */
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import * as zlib from 'node:zlib';

export interface ModelInfo {
  format: 'layers' | 'graph';
  inputShape?: number[];
  classes?: number;
  /** The last layer's activation ("softmax", "linear", …), or "softmax" for a graph ending in Softmax. */
  outputActivation?: string;
}

interface KerasLayer { class_name?: string; config?: { batch_input_shape?: Array<number | null>; units?: number; filters?: number; activation?: string } }

export function describeModelJson(json: unknown): ModelInfo {
  const topology = (json as { modelTopology?: Record<string, unknown> })?.modelTopology;
  if (!topology || typeof topology !== 'object') throw new Error('modelTopology is missing');
  if (Array.isArray((topology as { node?: unknown }).node)) {
    const nodes = (topology as { node: Array<{ op?: string; attr?: { shape?: { shape?: { dim?: Array<{ size?: string }> } } } }> }).node;
    const input = nodes.find((n) => n.op === 'Placeholder');
    const dims = input?.attr?.shape?.shape?.dim?.map((d) => Number(d.size)).slice(1);
    const last = nodes.filter((n) => n.op !== 'NoOp' && n.op !== 'Identity').at(-1);
    return {
      format: 'graph', ...(dims && dims.every((d) => d > 0) ? { inputShape: dims } : {}),
      ...(last?.op === 'Softmax' ? { outputActivation: 'softmax' } : {}),
    };
  }
  const modelConfig = (topology.model_config ?? topology) as { config?: { layers?: KerasLayer[] } | KerasLayer[] };
  const layers = Array.isArray(modelConfig.config) ? modelConfig.config : modelConfig.config?.layers ?? [];
  if (layers.length === 0) throw new Error('the topology has no layers');
  const first = layers.find((l) => l.config?.batch_input_shape) ?? layers[0];
  const inputShape = first?.config?.batch_input_shape?.slice(1).filter((d): d is number => typeof d === 'number');
  const last = layers[layers.length - 1];
  const classes = last?.config?.units;
  const activation = last?.class_name === 'Softmax' ? 'softmax' : last?.config?.activation;
  return {
    format: 'layers', ...(inputShape?.length ? { inputShape } : {}), ...(classes ? { classes } : {}),
    ...(activation ? { outputActivation: activation } : {}),
  };
}

export async function readModelInfo(file: string): Promise<ModelInfo> {
  return describeModelJson(JSON.parse(await fsp.readFile(file, 'utf8')));
}

/** "28×28×1 → 10", "28×28×1", or "graph model". */
export function formatModelInfo(info: ModelInfo): string {
  const input = info.inputShape?.join('×');
  if (!input) return info.format === 'graph' ? 'graph model' : 'layers model';
  return info.classes ? `${input} → ${info.classes}` : input;
}

export interface DataInfo {
  /** H×W×C of one image. */
  shape: number[];
  /** Number of test images. */
  count: number;
}

/** The built-in datasets: the embedded sample (2,000 test images) and the full Fashion-MNIST. */
export const BUILTIN_DATA_INFO: Record<string, DataInfo> = {
  embedded: { shape: [28, 28, 1], count: 2000 },
  'fashion-mnist': { shape: [28, 28, 1], count: 10000 },
};

const TEST_IMAGES = 't10k-images-idx3-ubyte';

/**
 * The shape of a folder of IDX files from the first bytes of its test images (gzip or raw);
 * throws an error naming the file and the problem.
 */
export function readIdxFolderInfo(dir: string): DataInfo {
  const candidates = [`${TEST_IMAGES}.gz`, TEST_IMAGES].map((f) => path.join(dir, f));
  const file = candidates.find((f) => fs.existsSync(f));
  if (!file) throw new Error(`${dir}: neither ${TEST_IMAGES}.gz nor ${TEST_IMAGES} exists in this folder`);
  const fd = fs.openSync(file, 'r');
  const head = Buffer.alloc(4096);
  let read: number;
  try { read = fs.readSync(fd, head, 0, head.length, 0); } finally { fs.closeSync(fd); }
  // A truncated gzip stream inflates up to where it stops; 4 KB holds far more than the header.
  const bytes = file.endsWith('.gz') ? zlib.gunzipSync(head.subarray(0, read), { finishFlush: zlib.constants.Z_SYNC_FLUSH }) : head.subarray(0, read);
  if (bytes.length < 16 || bytes[0] !== 0 || bytes[1] !== 0 || bytes[2] !== 0x08) throw new Error(`${file}: not an IDX file of unsigned bytes`);
  const dims = bytes[3]!;
  if (dims !== 3 && dims !== 4) throw new Error(`${file}: images need 3 or 4 dimensions, the header says ${dims}`);
  const size = (i: number) => bytes.readUInt32BE(4 + 4 * i);
  return { count: size(0), shape: dims === 3 ? [size(1), size(2), 1] : [size(1), size(2), size(3)] };
}
