/**
 * A tfjs Layers model as an ONNX graph (opset 13), so the same network can be timed and checked
 * both ways (`npm run bench`: the smallcnn example as Layers and as ONNX). Semantics become
 * ONNX's: the input is [batch, C, H, W]; Conv2D kernels [kh, kw, in, out] are written
 * [out, in, kh, kw]; a Flatten of an image is preceded by a Transpose to NHWC, so the flattened
 * order is Keras' (and the Dense weights after it apply unchanged, as Gemm's B [in, out]).
 * Layers handled: InputLayer, Conv2D, Dense, Flatten, Activation, ReLU, Dropout (inference:
 * nothing), MaxPooling2D and AveragePooling2D, with the activations linear, relu, sigmoid, tanh
 * and softmax. Anything else is refused with an Error naming the layer and its class.
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { onnx } from 'onnx-proto';
import { floatTensor } from '../../../formats/onnx-write';

const OPSET = 13;

/** What the exporter reads of a layer's config. */
interface LayerConfig {
  name: string;
  activation?: string;
  filters?: number;
  units?: number;
  kernelSize?: number | number[];
  poolSize?: number | number[];
  strides?: number | number[];
  padding?: string;
  dataFormat?: string;
  dilationRate?: number | number[];
  useBias?: boolean;
  maxValue?: number | null;
  negativeSlope?: number;
  threshold?: number;
}

const pairOf = (v: number | number[] | undefined, fallback: number): [number, number] =>
  v === undefined
    ? [fallback, fallback]
    : typeof v === 'number'
      ? [v, v]
      : [v[0] ?? fallback, v[1] ?? v[0] ?? fallback];

/** TensorFlow's output size along one spatial axis. */
function outputSize(size: number, kernel: number, stride: number, padding: string | undefined): number {
  return padding === 'same' ? Math.ceil(size / stride) : Math.floor((size - kernel) / stride) + 1;
}

function valueInfo(name: string, dims: Array<number | string>): onnx.ValueInfoProto {
  return onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  });
}

const intsAttr = (name: string, ints: number[]) =>
  onnx.AttributeProto.create({ name, ints, type: onnx.AttributeProto.AttributeType.INTS });
const intAttr = (name: string, i: number) =>
  onnx.AttributeProto.create({ name, i, type: onnx.AttributeProto.AttributeType.INT });
/**
 * TensorFlow's padding as ONNX attributes: 'same' is SAME_UPPER (the odd pixel at the end, as
 * TensorFlow puts it), so the importer runs it as tfjs's own 'same'; 'valid' is no padding.
 */
const padAttr = (padding: string | undefined) =>
  padding === 'same'
    ? onnx.AttributeProto.create({
        name: 'auto_pad',
        s: Buffer.from('SAME_UPPER'),
        type: onnx.AttributeProto.AttributeType.STRING,
      })
    : intsAttr('pads', [0, 0, 0, 0]);

/** The ONNX model of a sequential Layers model with an image input; an Error for a layer it cannot write. */
export function layersToOnnx(model: tfl.LayersModel, graphName = model.name): onnx.ModelProto {
  const inputShape = model.inputs[0]?.shape;
  if (model.inputs.length !== 1 || model.outputs.length !== 1 || inputShape?.length !== 4) {
    throw new Error(`model "${model.name}": only a model with one image input [batch, H, W, C] and one output exports`);
  }
  const [, h0, w0, c0] = inputShape as number[];
  const nodes: onnx.NodeProto[] = [];
  const initializers: onnx.TensorProto[] = [];
  let current = 'input';
  // The ONNX view of the current value: [C, H, W] for an image, [features] once flat.
  let shape: number[] = [c0!, h0!, w0!];
  const refuse = (layer: tfl.layers.Layer, why: string): never => {
    throw new Error(`layer "${layer.name}" (${layer.getClassName()}): ${why}; it cannot be exported to ONNX`);
  };
  const add = (layer: tfl.layers.Layer, opType: string, inputs: string[], attribute: onnx.AttributeProto[] = []) => {
    const output = `${layer.name}/${opType}_output_${nodes.length}`;
    nodes.push(
      onnx.NodeProto.create({ name: `${layer.name}/${opType}`, opType, input: inputs, output: [output], attribute }),
    );
    current = output;
  };
  const activation = (layer: tfl.layers.Layer, name: string | undefined) => {
    switch (name ?? 'linear') {
      case 'linear':
        return;
      case 'relu':
        return add(layer, 'Relu', [current]);
      case 'sigmoid':
        return add(layer, 'Sigmoid', [current]);
      case 'tanh':
        return add(layer, 'Tanh', [current]);
      case 'softmax':
        return add(layer, 'Softmax', [current], [intAttr('axis', -1)]);
      default:
        return refuse(layer, `activation "${name}" is not supported`);
    }
  };
  const weights = (layer: tfl.layers.Layer) => layer.getWeights().map((w) => ({ shape: w.shape, data: w.dataSync() }));
  let previous: tfl.layers.Layer | undefined;
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    const config = layer.getConfig() as unknown as LayerConfig;
    const inbound = (layer as unknown as { inboundNodes: Array<{ inboundLayers: tfl.layers.Layer[] }> }).inboundNodes;
    const sources = inbound[0]?.inboundLayers ?? [];
    if (cls !== 'InputLayer' && (sources.length !== 1 || (previous && sources[0] !== previous))) {
      refuse(layer, 'only a chain of layers (a sequential model) exports');
    }
    previous = layer;
    if (config.dataFormat && config.dataFormat !== 'channelsLast') refuse(layer, `dataFormat ${config.dataFormat}`);
    switch (cls) {
      case 'InputLayer':
      case 'Dropout':
        break;
      case 'Conv2D': {
        if (shape.length !== 3) refuse(layer, 'its input is not an image');
        if (pairOf(config.dilationRate, 1).some((d) => d !== 1)) refuse(layer, 'dilations are not supported');
        const [kernel, bias] = weights(layer);
        const [kh, kw, inC, outC] = kernel!.shape as number[];
        const [sh, sw] = pairOf(config.strides, 1);
        const outH = outputSize(shape[1]!, kh!, sh, config.padding);
        const outW = outputSize(shape[2]!, kw!, sw, config.padding);
        // [kh, kw, in, out] → [out, in, kh, kw]
        const w = new Float32Array(kernel!.data.length);
        for (let o = 0; o < outC!; o++)
          for (let i = 0; i < inC!; i++)
            for (let y = 0; y < kh!; y++)
              for (let x = 0; x < kw!; x++)
                w[((o * inC! + i) * kh! + y) * kw! + x] = kernel!.data[((y * kw! + x) * inC! + i) * outC! + o]!;
        initializers.push(floatTensor(`${layer.name}.weight`, [outC!, inC!, kh!, kw!], w));
        const inputs = [current, `${layer.name}.weight`];
        if (bias) {
          initializers.push(floatTensor(`${layer.name}.bias`, [outC!], bias.data));
          inputs.push(`${layer.name}.bias`);
        }
        add(layer, 'Conv', inputs, [
          intsAttr('kernel_shape', [kh!, kw!]),
          intsAttr('strides', [sh, sw]),
          padAttr(config.padding),
          intsAttr('dilations', [1, 1]),
          intAttr('group', 1),
        ]);
        shape = [outC!, outH, outW];
        activation(layer, config.activation);
        break;
      }
      case 'MaxPooling2D':
      case 'AveragePooling2D': {
        if (shape.length !== 3) refuse(layer, 'its input is not an image');
        const [kh, kw] = pairOf(config.poolSize, 2);
        const [sh, sw] = pairOf(config.strides ?? config.poolSize, 2);
        const outH = outputSize(shape[1]!, kh, sh, config.padding);
        const outW = outputSize(shape[2]!, kw, sw, config.padding);
        // TensorFlow's average leaves the padding out of the count: count_include_pad 0, ONNX's default.
        add(
          layer,
          cls === 'MaxPooling2D' ? 'MaxPool' : 'AveragePool',
          [current],
          [intsAttr('kernel_shape', [kh, kw]), intsAttr('strides', [sh, sw]), padAttr(config.padding)],
        );
        shape = [shape[0]!, outH, outW];
        break;
      }
      case 'Flatten':
        if (shape.length === 3) {
          // Keras flattens NHWC: (h, w, c) order, not ONNX's (c, h, w).
          add(layer, 'Transpose', [current], [intsAttr('perm', [0, 2, 3, 1])]);
        }
        add(layer, 'Flatten', [current], [intAttr('axis', 1)]);
        shape = [shape.reduce((p, q) => p * q, 1)];
        break;
      case 'Dense': {
        if (shape.length !== 1) refuse(layer, 'its input is not flat (add a Flatten before it)');
        const [kernel, bias] = weights(layer);
        const [inF, outF] = kernel!.shape as number[];
        initializers.push(floatTensor(`${layer.name}.weight`, [inF!, outF!], kernel!.data));
        const inputs = [current, `${layer.name}.weight`];
        if (bias) {
          initializers.push(floatTensor(`${layer.name}.bias`, [outF!], bias.data));
          inputs.push(`${layer.name}.bias`);
        }
        add(layer, 'Gemm', inputs);
        shape = [outF!];
        activation(layer, config.activation);
        break;
      }
      case 'Activation':
        activation(layer, config.activation);
        break;
      case 'ReLU':
        if ((config.maxValue ?? null) !== null || config.negativeSlope || config.threshold) {
          refuse(layer, 'a ReLU with maxValue, negativeSlope or threshold is not supported');
        }
        add(layer, 'Relu', [current]);
        break;
      default:
        refuse(layer, 'this layer class is not supported');
    }
  }
  if (shape.length !== 1) throw new Error(`model "${model.name}": its output is not [batch, classes]`);
  return onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'robustness-lab',
    opsetImport: [{ domain: '', version: OPSET }],
    graph: {
      name: graphName,
      node: nodes,
      initializer: initializers,
      input: [valueInfo('input', ['batch', c0!, h0!, w0!])],
      output: [valueInfo(current, ['batch', shape[0]!])],
    },
  });
}

/** The ONNX bytes of a Layers model (layersToOnnx, encoded). */
export function encodeLayersAsOnnx(model: tfl.LayersModel): Uint8Array {
  return onnx.ModelProto.encode(layersToOnnx(model)).finish();
}
