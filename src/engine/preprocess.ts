/**
 * The engine's half of a model's preprocessing (src/protocol/preprocess.ts): reads the sidecar
 * next to the model, checks every source naming its file and field, resolves the preprocessing
 * in force for a job and writes it next to a trained model.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError, withInputErrors } from './errors';
import { parseJsonText, readTextBounded } from '../formats/file-read';
import { besideModel } from '../common/containment';
import type { PreprocessJobLayer } from '../protocol/jobs';
import {
  preprocessChangesInput,
  preprocessProblems,
  resolvePreprocess,
  sidecarFile,
  PREPROCESS_FIELDS,
  type PreprocessFields,
  type PreprocessLayer,
  type Preprocessing,
} from '../protocol/preprocess';
import type { Normalization } from './models/classifier';

/** Throws the first problem of a source as an InputError naming its file (or option) and field. */
export function checkPreprocessLayer(
  layer: PreprocessLayer,
  model: { channels?: number; classes?: number } = {},
): void {
  const { source, ...fields } = layer;
  const problem = preprocessProblems(fields, model)[0];
  if (problem) throw new InputError(source, problem.field, problem.message);
}

/** The sidecar `<model basename>.preprocess.json` next to a model, checked; undefined when there is none. */
export function readSidecar(modelFile: string): PreprocessLayer | undefined {
  const file = sidecarFile(modelFile);
  if (!fs.existsSync(file)) return undefined;
  if (!besideModel(modelFile, path.basename(file))) {
    throw new InputError(
      file,
      '',
      'leaves the model folder (a symlink out of it); a sidecar must sit beside the model',
    );
  }
  const value = withInputErrors(() => parseJsonText(readTextBounded(file, 'sidecar'), file));
  const problem = preprocessProblems(value)[0];
  if (problem) throw new InputError(file, problem.field, problem.message);
  const block = value as PreprocessFields;
  const fields: PreprocessFields = {};
  for (const field of PREPROCESS_FIELDS)
    if (block[field] !== undefined) Object.assign(fields, { [field]: block[field] });
  return { ...fields, source: file };
}

/** What a job says of its model's preprocessing (attack and training jobs alike). */
export interface PreprocessJobFields {
  preprocess?: PreprocessJobLayer[];
  preprocessDefaults?: PreprocessJobLayer;
}

/**
 * The sources of a job's preprocessing in precedence order: the run's own (CLI, spec), the
 * model's sidecar, the editor's settings; each checked (values only: the model's channels and
 * classes are checked by checkAgainstModel once it is loaded).
 */
export function preprocessLayers(job: PreprocessJobFields, modelFile: string | undefined): PreprocessLayer[] {
  const sidecar = modelFile ? readSidecar(modelFile) : undefined;
  const layers = [
    ...(job.preprocess ?? []),
    ...(sidecar ? [sidecar] : []),
    ...(job.preprocessDefaults ? [job.preprocessDefaults] : []),
  ];
  for (const layer of layers) checkPreprocessLayer(layer);
  return layers;
}

/** Each source against the loaded model: mean/std lengths against its channels, class names against its outputs. */
export function checkAgainstModel(layers: PreprocessLayer[], model: { channels: number; classes: number }): void {
  for (const layer of layers) checkPreprocessLayer(layer, model);
}

/** The classifier's normalisation for the preprocessing in force; undefined when it is the identity. */
export function normalizationOf(p: Preprocessing, bounds: [number, number]): Normalization | undefined {
  return preprocessChangesInput(p, bounds) ? { scale: p.scale, mean: p.mean, std: p.std } : undefined;
}

/** The preprocessing in force for a job, from its sources. */
export function jobPreprocessing(
  job: PreprocessJobFields,
  modelFile: string | undefined,
  bounds: [number, number],
): { layers: PreprocessLayer[]; preprocessing: Preprocessing } {
  const layers = preprocessLayers(job, modelFile);
  return { layers, preprocessing: resolvePreprocess(layers, bounds) };
}

/**
 * Writes the preprocessing a model was trained with as its sidecar, so that attacking the trained
 * model applies it again; nothing when the preprocessing is the identity and names no classes.
 */
export function writeSidecar(modelFile: string, p: Preprocessing, bounds: [number, number]): string | undefined {
  if (!preprocessChangesInput(p, bounds) && !p.classes) return undefined;
  const file = sidecarFile(modelFile);
  const body = {
    ...(p.sources.scale ? { scale: p.scale } : {}),
    ...(p.sources.mean ? { mean: p.mean } : {}),
    ...(p.sources.std ? { std: p.std } : {}),
    ...(p.classes ? { classes: p.classes } : {}),
  };
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(body, null, 2)}\n`);
  return file;
}
