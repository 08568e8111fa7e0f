/**
 * What training updates, behind one seam: a tfjs Layers model (the example network, or a
 * model.json to start from) or an imported ONNX graph (fine-tuning; its weights are written back
 * into the same graph as model.onnx). The train loop and checkpoints see only this.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { fileHandler, folderSaveHandler, savedModelFile } from '../models/io';
import { compileOnnx, type OnnxProgram } from '../models/onnx/interpreter';
import { readOnnxModel, type OnnxModel } from '../../formats/onnx-model';
import { floatInitializers, replaceInitializers, writeOnnxFile } from '../../formats/onnx-write';
import { InputError, withInputErrors } from '../errors';
import { ONNX_TRAINED_MODEL_FILE } from '../../protocol/model-files';

export interface TrainableNet {
  /** Logits; `training` selects training-mode layers (dropout) where the model has them. */
  apply(x: tf.Tensor4D, training: boolean): tf.Tensor2D;
  /** The variables the optimiser updates, in a fixed order. */
  variables: tf.Variable[];
  /** The variables weight decay penalises (kernels, not biases). */
  kernels: tf.Variable[];
  /** Copies of the weights (the catastrophic-overfitting guard's last good epoch); caller disposes. */
  getWeights(): tf.Tensor[];
  setWeights(weights: tf.Tensor[]): void;
  /** Writes the model's files into a checkpoint folder, and reads them back into this model. */
  saveTo(folder: string): Promise<void>;
  loadFrom(folder: string): Promise<void>;
  /** The checkpoint folder holds this model's files. */
  savedIn(folder: string): boolean;
  /** How a training worker rebuilds this network (data-parallel training); absent: it cannot be split. */
  spec?: NetSpec;
}

/** How a training worker rebuilds a network: a Layers topology (weights sent separately) or an ONNX file. */
export type NetSpec = { kind: 'layers'; topology: unknown } | { kind: 'onnx'; file: string };

/** A Layers model as training sees it: its trainable weights, its own save and load. */
export function layersNet(model: tfl.LayersModel): TrainableNet {
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  return {
    apply: (x, training) => model.apply(x, { training }) as tf.Tensor2D,
    variables,
    kernels: variables.filter((v) => /kernel/.test(v.name)),
    getWeights: () => model.getWeights().map((w) => tf.clone(w)),
    setWeights: (weights) => model.setWeights(weights),
    saveTo: async (folder) => {
      await model.save(folderSaveHandler(folder));
    },
    loadFrom: async (folder) => {
      const saved = await tfl.loadLayersModel(fileHandler(savedModelFile(folder)));
      model.setWeights(saved.getWeights());
      saved.dispose();
    },
    savedIn: (folder) => fs.existsSync(savedModelFile(folder)),
    // Serialised only when a run splits across workers.
    get spec(): NetSpec {
      return { kind: 'layers', topology: model.toJSON(null, false) };
    },
  };
}

/** What a fine-tuned ONNX model's report and metadata say about BatchNorm. */
export const ONNX_FINE_TUNING_NOTE =
  'BatchNorm statistics frozen: the running mean and variance stay the imported ones (inference statistics); ' +
  'BatchNorm scale and bias train with the other weights';

/** An imported ONNX graph compiled with `trainable`: it trains in inference mode (BatchNorm statistics frozen). */
export interface OnnxNet extends TrainableNet {
  /** Writes the same graph with the trained weights as `<dir>/model.onnx`; returns its path. */
  writeModel(dir: string, metadata?: Record<string, string>): string;
  /** The loader's warnings (a stripped final Softmax: the loss sees its input). */
  warnings: string[];
  /** Whether the graph has BatchNormalization nodes (whose statistics stay frozen). */
  batchNorm: boolean;
  dispose(): void;
}

/**
 * An ONNX model to fine-tune: compiled with trainable weights, its input checked against the data
 * ([N, C, H, W] against the data's [H, W, C]); an InputError naming the file when it does not fit.
 */
export function loadOnnxNet(file: string, shape: [number, number, number]): OnnxNet {
  const model = withInputErrors(() => readOnnxModel(file));
  const program = compileOnnx(file, model, { trainable: true });
  try {
    const dims = program.inputDims;
    const [c, h, w] = dims?.slice(1) ?? [];
    if (dims?.length !== 4 || [h, w, c].join('x') !== shape.join('x')) {
      throw new InputError(
        file,
        'graph.input',
        `is [${dims?.join(', ')}]; it does not match the data [${shape.join(', ')}] (as [batch, ${shape[2]}, ${shape[0]}, ${shape[1]}])`,
      );
    }
    const probe = tf.tidy(() => program.run(tf.zeros([1, ...shape]) as tf.Tensor4D));
    const probeShape = probe.shape;
    probe.dispose();
    if (probeShape.length !== 2) {
      throw new InputError(file, 'output', `shape [${probeShape.join(', ')}] is not [batch, classes]`);
    }
    if (program.parameters!.variables.length === 0) {
      throw new InputError(file, 'graph.initializer', 'has no float weights to train');
    }
  } catch (err) {
    program.dispose();
    throw err;
  }
  return { ...onnxNet(model, program), spec: { kind: 'onnx', file } };
}

/** The net over a compiled program (which it owns from here: its dispose disposes the program). */
export function onnxNet(model: OnnxModel, program: OnnxProgram): OnnxNet {
  const parameters = program.parameters;
  if (!parameters) throw new Error('onnxNet needs a program compiled with { trainable: true }');
  const values = () => new Map([...parameters.read()].map(([name, v]) => [name, v.values]));
  return {
    apply: (x) => program.run(x) as tf.Tensor2D,
    variables: parameters.variables,
    kernels: parameters.kernels,
    getWeights: () => parameters.variables.map((v) => tf.clone(v)),
    setWeights: (weights) => parameters.variables.forEach((v, i) => v.assign(weights[i]!)),
    saveTo: async (folder) => {
      // FLOAT whatever the weights' own type: a resumed run continues from exactly these values.
      writeOnnxFile(
        path.join(folder, ONNX_TRAINED_MODEL_FILE),
        replaceInitializers(model, values(), { float32: true }),
      );
    },
    loadFrom: async (folder) => {
      const file = path.join(folder, ONNX_TRAINED_MODEL_FILE);
      const saved = withInputErrors(() => readOnnxModel(file));
      parameters.write(withInputErrors(() => floatInitializers(file, saved)));
    },
    savedIn: (folder) => fs.existsSync(path.join(folder, ONNX_TRAINED_MODEL_FILE)),
    writeModel: (dir, metadata) => {
      const file = path.join(dir, ONNX_TRAINED_MODEL_FILE);
      writeOnnxFile(file, replaceInitializers(model, values(), metadata ? { metadata } : {}));
      return file;
    },
    warnings: program.warnings,
    batchNorm: (model.graph?.node ?? []).some((n) => n.opType === 'BatchNormalization'),
    dispose: () => program.dispose(),
  };
}
