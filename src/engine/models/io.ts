/**
 * Reads and writes tfjs model folders (model.json + weight files) with node:fs, so no
 * tfjs-node is needed. Every path in weightsManifest must stay inside the model's folder.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { writeFileAtomic } from '../../common/atomic-write';
import { besideModel } from '../../common/containment';
import { readFileBounded, READ_LIMITS } from '../../formats/file-read';
import { readModelJson as readTfjsModelJson, type ModelJson } from '../../formats/tfjs-model-json';
import { TFJS_MODEL_FILE } from '../../protocol/model-files';
import { InputError, withInputErrors } from '../errors';

/** A weight file is read whole; none may exceed the ONNX model limit (src/formats/file-read.ts). */
const WEIGHT_FILE_LIMIT = READ_LIMITS.onnx;

const BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, float16: 2 };

export type { ModelJson } from '../../formats/tfjs-model-json';

/** A tfjs model.json with its manifest checked (the shared reader in src/formats), or an InputError. */
export function readModelJson(file: string): ModelJson {
  return withInputErrors(() => readTfjsModelJson(file));
}

/** Resolves a manifest path, refusing anything that leaves the model folder. */
export function resolveWeightPath(modelFile: string, relative: string, field: string): string {
  const resolved = besideModel(modelFile, relative);
  if (!resolved) {
    throw new InputError(
      modelFile,
      field,
      `path "${relative}" leaves the model folder (symlinks resolved); weight files must sit beside the model`,
    );
  }
  return resolved;
}

/** A tfjs IOHandler over a model.json on disk, with the checks tfjs itself does not make. */
export function fileHandler(modelFile: string): tf.io.IOHandler {
  return {
    load: async (): Promise<tf.io.ModelArtifacts> => {
      const json = readModelJson(modelFile);
      const weightSpecs: tf.io.WeightsManifestEntry[] = [];
      const buffers: Buffer[] = [];
      json.weightsManifest.forEach((group, g) => {
        const groupBuffers = group.paths.map((p, i) => {
          const field = `weightsManifest[${g}].paths[${i}]`;
          const file = resolveWeightPath(modelFile, p, field);
          if (!fs.existsSync(file)) throw new InputError(modelFile, field, `weight file "${p}" does not exist`);
          return withInputErrors(() => readFileBounded(file, WEIGHT_FILE_LIMIT, 'a weight file'));
        });
        const found = groupBuffers.reduce((sum, b) => sum + b.length, 0);
        let expected = 0;
        group.weights.forEach((w, i) => {
          const size = BYTES[w.dtype];
          if (!Array.isArray(w.shape) || size === undefined) {
            throw new InputError(modelFile, `weightsManifest[${g}].weights[${i}]`, `has no valid shape/dtype`);
          }
          expected += w.shape.reduce((a, b) => a * b, 1) * (w.quantization ? (BYTES[w.quantization.dtype] ?? 1) : size);
        });
        if (found !== expected) {
          throw new InputError(
            modelFile,
            `weightsManifest[${g}]`,
            `weights need ${expected} bytes but ${group.paths.join(', ')} hold ${found}`,
          );
        }
        weightSpecs.push(...(group.weights as tf.io.WeightsManifestEntry[]));
        buffers.push(...groupBuffers);
      });
      const joined = Buffer.concat(buffers);
      const { weightsManifest: _manifest, modelTopology, format, generatedBy, convertedBy, ...rest } = json;
      return {
        modelTopology: modelTopology as tf.io.ModelArtifacts['modelTopology'],
        weightSpecs,
        weightData: joined.buffer.slice(joined.byteOffset, joined.byteOffset + joined.byteLength),
        ...(typeof format === 'string' ? { format } : {}),
        ...(typeof generatedBy === 'string' ? { generatedBy } : {}),
        ...(typeof convertedBy === 'string' ? { convertedBy } : {}),
        ...(rest.userDefinedMetadata
          ? { userDefinedMetadata: rest.userDefinedMetadata as tf.io.ModelArtifacts['userDefinedMetadata'] }
          : {}),
        ...(rest.signature ? { signature: rest.signature as tf.io.ModelArtifacts['signature'] } : {}),
        ...(rest.modelInitializer
          ? { modelInitializer: rest.modelInitializer as tf.io.ModelArtifacts['modelInitializer'] }
          : {}),
      };
    },
  };
}

/** The model file folderSaveHandler writes into `dir`. */
export function savedModelFile(dir: string): string {
  return path.join(dir, TFJS_MODEL_FILE);
}

/** A save handler writing model.json + weights.bin into `dir`. */
export function folderSaveHandler(dir: string, metadata?: Record<string, unknown>): tf.io.IOHandler {
  return tf.io.withSaveHandler(async (artifacts) => {
    fs.mkdirSync(dir, { recursive: true });
    const weights = artifacts.weightData
      ? new Uint8Array(tf.io.CompositeArrayBuffer.join(artifacts.weightData))
      : new Uint8Array();
    writeFileAtomic(path.join(dir, 'weights.bin'), weights);
    const modelJson = {
      format: artifacts.format ?? 'layers-model',
      generatedBy: artifacts.generatedBy,
      convertedBy: 'robustness-lab',
      modelTopology: artifacts.modelTopology,
      weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs ?? [] }],
      ...(metadata ? { userDefinedMetadata: metadata } : {}),
    };
    writeFileAtomic(savedModelFile(dir), JSON.stringify(modelJson));
    return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
  });
}
