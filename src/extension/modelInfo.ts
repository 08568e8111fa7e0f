/**
 * A cheap look at a model.json for the Models view ("smallcnn · 28×28×1 → 10") without loading
 * tfjs in the extension host: the input shape and class count read from the topology.
 */
import * as fs from 'node:fs/promises';

export interface ModelInfo {
  format: 'layers' | 'graph';
  inputShape?: number[];
  classes?: number;
}

interface KerasLayer { class_name?: string; config?: { batch_input_shape?: Array<number | null>; units?: number; filters?: number } }

export function describeModelJson(json: unknown): ModelInfo {
  const topology = (json as { modelTopology?: Record<string, unknown> })?.modelTopology;
  if (!topology || typeof topology !== 'object') throw new Error('modelTopology is missing');
  if (Array.isArray((topology as { node?: unknown }).node)) {
    const nodes = (topology as { node: Array<{ op?: string; attr?: { shape?: { shape?: { dim?: Array<{ size?: string }> } } } }> }).node;
    const input = nodes.find((n) => n.op === 'Placeholder');
    const dims = input?.attr?.shape?.shape?.dim?.map((d) => Number(d.size)).slice(1);
    return { format: 'graph', ...(dims && dims.every((d) => d > 0) ? { inputShape: dims } : {}) };
  }
  const modelConfig = (topology.model_config ?? topology) as { config?: { layers?: KerasLayer[] } | KerasLayer[] };
  const layers = Array.isArray(modelConfig.config) ? modelConfig.config : modelConfig.config?.layers ?? [];
  const first = layers.find((l) => l.config?.batch_input_shape) ?? layers[0];
  const inputShape = first?.config?.batch_input_shape?.slice(1).filter((d): d is number => typeof d === 'number');
  const last = layers[layers.length - 1];
  const classes = last?.config?.units;
  return { format: 'layers', ...(inputShape?.length ? { inputShape } : {}), ...(classes ? { classes } : {}) };
}

export async function readModelInfo(file: string): Promise<ModelInfo> {
  return describeModelJson(JSON.parse(await fs.readFile(file, 'utf8')));
}

/** "28×28×1 → 10", "28×28×1", or "graph model". */
export function formatModelInfo(info: ModelInfo): string {
  const input = info.inputShape?.join('×');
  if (!input) return info.format === 'graph' ? 'graph model' : 'layers model';
  return info.classes ? `${input} → ${info.classes}` : input;
}
