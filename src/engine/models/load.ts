/**
 * The model-format registry, engine half: loads a model file as a Classifier that outputs logits.
 * The cheap half (which format a file is, its summary) is src/formats/model-formats.ts; the two
 * lists are joined by id. A softmax output is stripped (with a warning): attacks on probabilities
 * mask gradients.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import * as tfc from '@tensorflow/tfjs-converter';
import { InputError, withInputErrors } from '../errors';
import { modelFormatFor } from '../../formats/model-formats';
import { kerasOutputLayer, type GraphNode } from '../../formats/tfjs-model-json';
import type { ModelFormatId } from '../../protocol/vocabulary';
import { makeClassifier, type Classifier, type Normalization } from './classifier';
import { fileHandler } from './io';
import { onnxInputs, readOnnxModel } from '../../formats/onnx-model';
import { inGraphNormalization } from '../../formats/onnx-normalization';
import { compileOnnx } from './onnx/interpreter';

export interface LoadOptions {
  /** The data's pixel range (default [0, 1]): ε and the attacks live in it. */
  bounds?: [number, number];
  /** The model's preprocessing (scale, mean, std), applied inside the classifier for every format. */
  normalization?: Normalization;
  /** For a graph with several outputs (ONNX): the one to use as logits. */
  output?: string;
}

/**
 * The most values one input image may hold (4096×4096 grey, about 2370×2370 RGB): a batch of them
 * must fit in memory, and a larger declared shape is a wrong header, not a photo to attack.
 */
export const MAX_INPUT_VALUES = 4096 * 4096;

/** A declared input shape [H, W, C] refused when it holds more than MAX_INPUT_VALUES per image. */
export function checkInputSize(shape: readonly number[], source: string, field: string): void {
  const values = shape.reduce((product, d) => product * d, 1);
  if (values > MAX_INPUT_VALUES) {
    throw new InputError(
      source,
      field,
      `declares ${shape.join('×')} = ${values.toLocaleString('en-US')} values an image; ` +
        `at most ${MAX_INPUT_VALUES.toLocaleString('en-US')} (4096×4096×1) are supported`,
    );
  }
}

function shapeFrom(dims: Array<number | null> | undefined, source: string, field: string): [number, number, number] {
  const shape = dims?.slice(1);
  if (!shape || shape.length !== 3 || shape.some((d) => typeof d !== 'number' || !Number.isSafeInteger(d) || d <= 0)) {
    throw new InputError(
      source,
      field,
      `is [${dims?.join(', ')}]; expected an image input [batch, height, width, channels]`,
    );
  }
  checkInputSize(shape as number[], source, field);
  return shape as [number, number, number];
}

/** One image input: a model with several is refused, naming them. */
function oneInput(names: string[], source: string, field: string): void {
  if (names.length > 1) {
    throw new InputError(
      source,
      field,
      `model has ${names.length} inputs: ${names.join(', ')}; Robustness Lab attacks a model with one image input`,
    );
  }
}

/** The engine's half of a model format. */
export interface ModelLoader {
  id: ModelFormatId;
  /** A Classifier over the file; an InputError naming the file and the field when it cannot. */
  load(file: string, options: LoadOptions): Promise<Classifier>;
}

/** What `check` returns; a model it refuses is disposed before the error goes on. */
function disposingOnError<T>(model: { dispose(): unknown }, check: () => T): T {
  try {
    return check();
  } catch (err) {
    model.dispose();
    throw err;
  }
}

async function loadLayersModel(modelFile: string, options: LoadOptions): Promise<Classifier> {
  const artifacts = await fileHandler(modelFile).load!();
  const warnings: string[] = [];
  const topology = artifacts.modelTopology as Record<string, unknown>;
  const last = kerasOutputLayer(topology);
  if (last?.config.activation === 'softmax' || last?.class_name === 'Softmax') {
    warnings.push(
      `${modelFile}: the last layer "${last.config.name}" applies softmax; it was removed so attacks see ` +
        'logits (attacking probabilities masks gradients)',
    );
    if (last.class_name === 'Softmax') {
      last.class_name = 'Activation';
      last.config.activation = 'linear';
    } else last.config.activation = 'linear';
  }
  // The topology through tfjs, the weights here: tfjs leaks the model and the decoded weights when
  // one does not fit (a wrong shape), so a bad file would leave tensors behind on every load.
  const { weightData, weightSpecs = [], ...topologyOnly } = artifacts;
  let model: tfl.LayersModel;
  try {
    model = await tfl.loadLayersModel({ load: async () => topologyOnly });
  } catch (err) {
    throw new InputError(modelFile, 'modelTopology/weightsManifest', (err as Error).message);
  }
  const decoded = weightData ? tf.io.decodeWeights(weightData, weightSpecs) : {};
  try {
    // As tfjs does: optimizer state (a training checkpoint's) is not the model's.
    const modelWeights = weightSpecs.filter((w) => w.group !== 'optimizer').map((w) => [w.name, decoded[w.name]!]);
    // A NaN or ∞ weight makes NaN logits (or, through a max pool, silently wrong ones): refused here.
    for (const [name, weight] of modelWeights as [string, tf.Tensor][]) {
      if (weight?.dtype === 'float32' && !tf.tidy(() => tf.all(tf.isFinite(weight)).dataSync()[0])) {
        throw new InputError(
          modelFile,
          `weights "${name}"`,
          'hold NaN or ±∞ values; the model cannot give finite logits (re-export it from a finite checkpoint)',
        );
      }
    }
    model.loadWeights(Object.fromEntries(modelWeights));
  } catch (err) {
    model.dispose();
    if (err instanceof InputError) throw err;
    throw new InputError(modelFile, 'modelTopology/weightsManifest', (err as Error).message);
  } finally {
    tf.dispose(Object.values(decoded));
  }
  const { inputShape, numClasses, outputIndex } = disposingOnError(model, () => {
    oneInput(
      model.inputs.map((i) => i.name),
      modelFile,
      'inputs',
    );
    const shape = shapeFrom(model.inputs[0]?.shape, modelFile, 'input shape');
    const outputLayers = model.outputLayers.map((l) => l.name);
    if (options.output !== undefined && !outputLayers.includes(options.output)) {
      throw new InputError(
        modelFile,
        'output',
        `"${options.output}" is not an output; it has ${outputLayers.join(', ')}`,
      );
    }
    if (options.output === undefined && outputLayers.length > 1) {
      throw new InputError(
        modelFile,
        'output',
        `model has ${outputLayers.length} outputs: ${outputLayers.join(', ')}; choose one with --output`,
      );
    }
    const index = options.output === undefined ? 0 : outputLayers.indexOf(options.output);
    const outShape = model.outputs[index]?.shape;
    const classes = outShape?.[outShape.length - 1];
    if (outShape?.length !== 2 || !classes) {
      throw new InputError(
        modelFile,
        'output',
        `${outputLayers[index] ?? 'the output'} is shaped [${outShape?.map((d) => d ?? 'batch').join(', ')}], ` +
          'not [batch, classes]',
      );
    }
    return { inputShape: shape, numClasses: classes, outputIndex: index };
  });
  // Hidden layers with weights or activations (not the output); sub-models share the weights.
  const hidden = model.layers
    .slice(0, -1)
    .filter((l) => !/^(input|flatten|dropout|reshape)/i.test(l.getClassName()))
    .map((l) => l.name);
  const subModels = new Map<string, tfl.LayersModel>();
  const features = (x: tf.Tensor4D, layer: string): tf.Tensor2D => {
    if (!hidden.includes(layer)) {
      throw new InputError(modelFile, 'layer', `"${layer}" is not a hidden layer; choose one of ${hidden.join(', ')}`);
    }
    let sub = subModels.get(layer);
    if (!sub) {
      sub = tfl.model({ inputs: model.inputs, outputs: model.getLayer(layer).output as tfl.SymbolicTensor });
      subModels.set(layer, sub);
    }
    const net = sub;
    return tf.tidy(() => {
      const out = net.apply(x, { training: false }) as tf.Tensor;
      return tf.reshape(out, [out.shape[0]!, -1]) as tf.Tensor2D;
    });
  };
  const logits = (x: tf.Tensor4D): tf.Tensor2D => {
    const out = model.apply(x, { training: false }) as tf.Tensor | tf.Tensor[];
    if (!Array.isArray(out)) return out as tf.Tensor2D;
    const chosen = out[outputIndex] as tf.Tensor2D;
    tf.dispose(out.filter((t) => t !== chosen));
    return chosen;
  };
  // Every layer's output, in the model's order, to name the first that is not finite.
  let probe: tfl.LayersModel | undefined;
  const firstNonFinite = (x: tf.Tensor4D): string | undefined => {
    const layers = model.layers.filter((l) => l.getClassName() !== 'InputLayer');
    try {
      probe ??= tfl.model({ inputs: model.inputs, outputs: layers.map((l) => l.output as tfl.SymbolicTensor) });
    } catch {
      return undefined; // a layer used twice has no single output to probe
    }
    const net = probe;
    let found: string | undefined;
    tf.tidy(() => {
      const outs = net.apply(x, { training: false }) as tf.Tensor | tf.Tensor[];
      const list = Array.isArray(outs) ? outs : [outs];
      const index = list.findIndex((t) => t.dtype === 'float32' && !(tf.all(tf.isFinite(t)).dataSync()[0] ?? 1));
      if (index >= 0) found = `layer "${layers[index]!.name}" (${layers[index]!.getClassName()})`;
    });
    return found;
  };
  return makeClassifier(logits, {
    ...loadedMeta(modelFile, options, { inputShape, numClasses, warnings }, () => model.dispose()),
    featureLayers: hidden,
    features,
    firstNonFinite,
  });
}

/** What every tfjs-loaded classifier says of itself: its shapes, file, notes and how to free it. */
function loadedMeta(
  modelFile: string,
  options: LoadOptions,
  found: Pick<Classifier, 'inputShape' | 'numClasses' | 'warnings'>,
  dispose: () => void,
) {
  return {
    ...found,
    bounds: options.bounds ?? ([0, 1] as [number, number]),
    source: modelFile,
    dispose,
    gradients: true,
    ...(options.normalization ? { normalization: options.normalization } : {}),
  };
}

async function loadGraphModel(modelFile: string, options: LoadOptions): Promise<Classifier> {
  const artifacts = await fileHandler(modelFile).load!();
  const warnings: string[] = [];
  const topology = artifacts.modelTopology as Record<string, unknown>;
  let model: tfc.GraphModel;
  try {
    model = await tfc.loadGraphModel({ load: async () => artifacts });
  } catch (err) {
    throw new InputError(modelFile, 'modelTopology/weightsManifest', (err as Error).message);
  }
  const nodes = (topology as { node: GraphNode[] }).node;
  if (options.output !== undefined && !nodes.some((n) => n.name === options.output)) {
    model.dispose();
    throw new InputError(
      modelFile,
      'output',
      `"${options.output}" is not a node of the graph; its outputs are ${model.outputNodes.join(', ')}`,
    );
  }
  let outputName = options.output ?? model.outputNodes[0];
  const outputNode = nodes.find((n) => n.name === outputName?.replace(/:0$/, ''));
  if (outputNode?.op === 'Softmax' && outputNode.input?.[0]) {
    outputName = outputNode.input[0].replace(/^\^/, '');
    warnings.push(
      `${modelFile}: the output node "${outputNode.name}" is a softmax; attacks use its input "${outputName}" as ` +
        'logits',
    );
  }
  const { inputShape, numClasses } = disposingOnError(model, () => {
    oneInput(
      model.inputs.map((i) => i.name),
      modelFile,
      'inputs',
    );
    const shape = shapeFrom(model.inputs[0]?.shape, modelFile, 'input shape');
    const probe = tf.tidy(() => model.execute(tf.zeros([1, ...shape]), outputName) as tf.Tensor);
    const classes = probe.shape[1];
    probe.dispose();
    if (probe.shape.length !== 2 || !classes) {
      throw new InputError(modelFile, 'output', `shape [${probe.shape.join(', ')}] is not [batch, classes]`);
    }
    return { inputShape: shape, numClasses: classes };
  });
  // The graph's computed nodes (those with inputs: not its constants or its input) in the file's
  // (topological) order, to name the first that is not finite.
  const computed = nodes.filter((n) => (n.input?.length ?? 0) > 0).map((n) => n.name);
  const firstNonFinite = (x: tf.Tensor4D): string | undefined => {
    let found: string | undefined;
    try {
      tf.tidy(() => {
        const outs = model.execute(x, computed) as tf.Tensor | tf.Tensor[];
        const list = Array.isArray(outs) ? outs : [outs];
        const index = list.findIndex((t) => t.dtype === 'float32' && !(tf.all(tf.isFinite(t)).dataSync()[0] ?? 1));
        if (index >= 0) found = `node "${computed[index]}" (${nodes.find((n) => n.name === computed[index])?.op})`;
      });
    } catch {
      return undefined; // a node the executor cannot return on its own (control flow): no name to give
    }
    return found;
  };
  return makeClassifier((x) => model.execute(x, outputName) as tf.Tensor2D, {
    ...loadedMeta(modelFile, options, { inputShape, numClasses, warnings }, () => model.dispose()),
    firstNonFinite,
  });
}

/** An ONNX model through the graph interpreter (src/engine/models/onnx/): NCHW inside, NHWC at the seam. */
async function loadOnnxModel(modelFile: string, options: LoadOptions): Promise<Classifier> {
  const model = withInputErrors(() => readOnnxModel(modelFile));
  oneInput(
    onnxInputs(model).map((i) => i.name ?? ''),
    modelFile,
    'graph.input',
  );
  const program = compileOnnx(modelFile, model, options.output !== undefined ? { output: options.output } : {});
  const { inputShape, numClasses } = disposingOnError(program, () => {
    const declared = program.inputDims;
    const chw = declared?.slice(1);
    if (!chw || chw.length !== 3 || chw.some((d) => typeof d !== 'number' || d <= 0)) {
      throw new InputError(
        modelFile,
        'graph.input',
        `is [${declared?.join(', ')}]; expected an image input [batch, channels, height, width]`,
      );
    }
    const [c, h, w] = chw as number[];
    const shape: [number, number, number] = [h!, w!, c!];
    checkInputSize(shape, modelFile, 'graph.input');
    const probe = tf.tidy(() => program.run(tf.zeros([1, ...shape]) as tf.Tensor4D));
    const probeShape = probe.shape;
    probe.dispose();
    const classes = probeShape[1];
    if (probeShape.length !== 2 || !classes) {
      throw new InputError(modelFile, 'output', `shape [${probeShape.join(', ')}] is not [batch, classes]`);
    }
    return { inputShape: shape, numClasses: classes };
  });
  const inGraph = inGraphNormalization(model);
  return makeClassifier((x) => program.run(x) as tf.Tensor2D, {
    ...loadedMeta(modelFile, options, { inputShape, numClasses, warnings: program.warnings }, () => program.dispose()),
    firstNonFinite: (x: tf.Tensor4D) => program.firstNonFinite(x),
    ...(inGraph ? { inGraphNormalization: inGraph.expression } : {}),
  });
}

/** One loader per model format, in the order of MODEL_FORMATS (a test checks the ids agree). */
export const MODEL_LOADERS: readonly ModelLoader[] = [
  { id: 'tfjs-layers', load: loadLayersModel },
  { id: 'tfjs-graph', load: loadGraphModel },
  { id: 'onnx', load: loadOnnxModel },
];

/** Loads any model file a registered format reads: the format that matches it, then its loader. */
export async function loadClassifier(modelFile: string, options: LoadOptions = {}): Promise<Classifier> {
  const format = withInputErrors(() => modelFormatFor(modelFile));
  const loader = MODEL_LOADERS.find((l) => l.id === format.id);
  if (!loader) throw new Error(`model format "${format.id}" has no loader in the engine (src/engine/models/load.ts)`);
  return loader.load(modelFile, options);
}
