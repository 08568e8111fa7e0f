/**
 * The operator cases the ONNX importer is checked against onnxruntime with, one small graph each
 * (built here with onnx-proto, no PyTorch): scripts/onnx-reference.mjs runs them and writes
 * test/fixtures/onnx/ops.json ({ name, model (base64), feeds, output } per case).
 *
 * A case: { name, opset, nodes: [{ op, inputs, outputs, attrs }], inputs: { name: [shape, lo, hi] }
 * (random uniform in [lo, hi)), weights: { name: [shape, lo, hi] | { int64: values, shape } } }.
 * The graph's output is the last node's first output.
 */
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

const x4 = (c = 3, h = 6, w = 6, n = 2) => [[n, c, h, w], -1, 1];
const unary = (op, range = [-2, 2], attrs = {}) => ({
  name: op.toLowerCase(),
  opset: 13,
  nodes: [{ op, inputs: ['x'], outputs: ['y'], attrs }],
  inputs: { x: [[2, 3, 4, 4], ...range] },
});
const binary = (op, bShape, range = [-1, 1]) => ({
  name: `${op.toLowerCase()}-broadcast`,
  opset: 13,
  nodes: [
    { op: 'Relu', inputs: ['x'], outputs: ['r'] },
    { op, inputs: ['r', 'b'], outputs: ['y'] },
  ],
  inputs: { x: x4(3, 4, 4) },
  weights: { b: [bShape, ...range] },
});

export const OP_CASES = [
  {
    name: 'conv-pads-strides',
    opset: 13,
    nodes: [{ op: 'Conv', inputs: ['x', 'w', 'b'], outputs: ['y'], attrs: { pads: [1, 0, 2, 1], strides: [2, 1] } }],
    inputs: { x: x4(3, 7, 7) },
    weights: { w: [[4, 3, 3, 3], -0.5, 0.5], b: [[4], -0.5, 0.5] },
  },
  {
    name: 'conv-grouped',
    opset: 11,
    nodes: [{ op: 'Conv', inputs: ['x', 'w'], outputs: ['y'], attrs: { group: 2, pads: [1, 1, 1, 1] } }],
    inputs: { x: x4(4, 6, 6) },
    weights: { w: [[6, 2, 3, 3], -0.5, 0.5] },
  },
  {
    name: 'conv-depthwise-multiplier',
    opset: 13,
    nodes: [
      { op: 'Conv', inputs: ['x', 'w', 'b'], outputs: ['y'], attrs: { group: 3, pads: [1, 1, 1, 1], strides: [2, 2] } },
    ],
    inputs: { x: x4(3, 6, 6) },
    weights: { w: [[6, 1, 3, 3], -0.5, 0.5], b: [[6], -0.5, 0.5] },
  },
  {
    name: 'conv-same-upper',
    opset: 9,
    nodes: [{ op: 'Conv', inputs: ['x', 'w'], outputs: ['y'], attrs: { auto_pad: 'SAME_UPPER', strides: [2, 2] } }],
    inputs: { x: x4(2, 5, 5, 1) },
    weights: { w: [[3, 2, 3, 3], -0.5, 0.5] },
  },
  {
    name: 'conv-then-channel-affine',
    opset: 13,
    nodes: [
      { op: 'Conv', inputs: ['x', 'w'], outputs: ['c'] },
      { op: 'Add', inputs: ['c', 'shift'], outputs: ['a'] },
      { op: 'Mul', inputs: ['scale', 'a'], outputs: ['y'] },
    ],
    inputs: { x: x4(2, 5, 5) },
    weights: { w: [[4, 2, 3, 3], -0.5, 0.5], shift: [[4, 1, 1], -1, 1], scale: [[1], 0.5, 2] },
  },
  {
    name: 'convtranspose-strides-pads-output-padding',
    opset: 13,
    nodes: [
      {
        op: 'ConvTranspose',
        inputs: ['x', 'w', 'b'],
        outputs: ['y'],
        attrs: { strides: [2, 2], pads: [1, 0, 1, 1], output_padding: [1, 0] },
      },
    ],
    inputs: { x: x4(3, 4, 5) },
    weights: { w: [[3, 2, 3, 3], -0.5, 0.5], b: [[2], -0.5, 0.5] },
  },
  {
    name: 'convtranspose-output-shape',
    opset: 11,
    nodes: [
      { op: 'ConvTranspose', inputs: ['x', 'w'], outputs: ['y'], attrs: { strides: [2, 2], output_shape: [9, 8] } },
    ],
    inputs: { x: x4(2, 4, 4) },
    weights: { w: [[2, 3, 3, 3], -0.5, 0.5] },
  },
  {
    name: 'maxpool-pads',
    opset: 13,
    nodes: [
      {
        op: 'MaxPool',
        inputs: ['x'],
        outputs: ['y'],
        attrs: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] },
      },
    ],
    inputs: { x: x4(3, 7, 7) },
  },
  {
    name: 'averagepool-pads-excluded',
    opset: 13,
    nodes: [
      {
        op: 'AveragePool',
        inputs: ['x'],
        outputs: ['y'],
        attrs: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] },
      },
    ],
    inputs: { x: x4(3, 7, 7) },
  },
  {
    name: 'averagepool-pads-included',
    opset: 13,
    nodes: [
      {
        op: 'AveragePool',
        inputs: ['x'],
        outputs: ['y'],
        attrs: { kernel_shape: [2, 2], pads: [0, 1, 1, 0], count_include_pad: 1 },
      },
    ],
    inputs: { x: x4(3, 5, 5) },
  },
  {
    name: 'globalaveragepool-flatten',
    opset: 13,
    nodes: [
      { op: 'GlobalAveragePool', inputs: ['x'], outputs: ['g'] },
      { op: 'Flatten', inputs: ['g'], outputs: ['y'] },
    ],
    inputs: { x: x4(5, 4, 4) },
  },
  {
    name: 'batchnormalization',
    opset: 13,
    nodes: [{ op: 'BatchNormalization', inputs: ['x', 's', 'b', 'm', 'v'], outputs: ['y'], attrs: { epsilon: 1e-3 } }],
    inputs: { x: x4(3, 4, 4) },
    weights: { s: [[3], 0.5, 1.5], b: [[3], -1, 1], m: [[3], -0.5, 0.5], v: [[3], 0.5, 2] },
  },
  {
    name: 'gemm-transposed-alpha-beta',
    opset: 13,
    nodes: [{ op: 'Gemm', inputs: ['a', 'b', 'c'], outputs: ['y'], attrs: { transB: 1, alpha: 0.5, beta: 2 } }],
    inputs: { a: [[3, 5], -1, 1] },
    weights: { b: [[4, 5], -1, 1], c: [[4], -1, 1] },
  },
  {
    name: 'matmul-batched',
    opset: 13,
    nodes: [{ op: 'MatMul', inputs: ['a', 'b'], outputs: ['y'] }],
    inputs: { a: [[2, 3, 4], -1, 1] },
    weights: { b: [[4, 5], -1, 1] },
  },
  {
    name: 'transpose',
    opset: 13,
    nodes: [{ op: 'Transpose', inputs: ['x'], outputs: ['y'], attrs: { perm: [0, 2, 3, 1] } }],
    inputs: { x: x4(3, 4, 5) },
  },
  unary('Relu'),
  unary('Neg'),
  unary('Exp'),
  unary('Log', [0.1, 3]),
  unary('Abs'),
  unary('Softplus'),
  { ...unary('HardSwish', [-5, 5]), opset: 14 },
  unary('LeakyRelu', [-2, 2], { alpha: 0.2 }),
  unary('Elu', [-2, 2], { alpha: 0.7 }),
  unary('Selu'),
  unary('HardSigmoid', [-4, 4], { alpha: 0.3, beta: 0.4 }),
  binary('PRelu', [3, 1, 1], [0, 0.5]),
  binary('Max', [4]),
  binary('Min', [3, 1, 1]),
  {
    name: 'clip-inputs-opset13',
    opset: 13,
    nodes: [{ op: 'Clip', inputs: ['x', 'lo', 'hi'], outputs: ['y'] }],
    inputs: { x: x4(3, 4, 4) },
    weights: { lo: [[], -0.5, -0.5], hi: [[], 0.25, 0.25] },
  },
  {
    name: 'clip-attributes-opset9',
    opset: 9,
    nodes: [{ op: 'Clip', inputs: ['x'], outputs: ['y'], attrs: { min: -0.3, max: 0.6 } }],
    inputs: { x: x4(3, 4, 4) },
  },
  {
    name: 'globalmaxpool-squeeze',
    opset: 13,
    nodes: [
      { op: 'GlobalMaxPool', inputs: ['x'], outputs: ['g'] },
      { op: 'Squeeze', inputs: ['g', 'axes'], outputs: ['y'] },
    ],
    inputs: { x: x4(5, 4, 4) },
    weights: { axes: { int64: [2, 3], shape: [2] } },
  },
  {
    name: 'reducesum-reducemax',
    opset: 13,
    nodes: [
      { op: 'ReduceSum', inputs: ['x', 'axes'], outputs: ['s'], attrs: { keepdims: 1 } },
      { op: 'ReduceMax', inputs: ['x'], outputs: ['m'], attrs: { axes: [1, 2, 3], keepdims: 1 } },
      { op: 'Sub', inputs: ['s', 'm'], outputs: ['y'] },
    ],
    inputs: { x: x4(3, 4, 4) },
    weights: { axes: { int64: [1], shape: [1] } },
  },
  {
    name: 'slice-steps-split',
    opset: 13,
    nodes: [
      { op: 'Slice', inputs: ['x', 'starts', 'ends', 'axes', 'steps'], outputs: ['s'] },
      { op: 'Split', inputs: ['s', 'split'], outputs: ['a', 'b'], attrs: { axis: 1 } },
      { op: 'Mul', inputs: ['a', 'b'], outputs: ['y'] },
    ],
    inputs: { x: x4(4, 6, 6) },
    weights: {
      starts: { int64: [1, -1], shape: [2] },
      ends: { int64: [5, -100], shape: [2] },
      axes: { int64: [2, 3], shape: [2] },
      steps: { int64: [2, -2], shape: [2] },
      split: { int64: [2, 2], shape: [2] },
    },
  },
  {
    name: 'shape-slice-constantofshape-expand-cast',
    opset: 13,
    nodes: [
      { op: 'Shape', inputs: ['x'], outputs: ['shp'] },
      { op: 'Slice', inputs: ['shp', 'zero', 'two'], outputs: ['nc'] },
      { op: 'Concat', inputs: ['nc', 'ones'], outputs: ['full'], attrs: { axis: 0 } },
      { op: 'ConstantOfShape', inputs: ['full'], outputs: ['c'] },
      { op: 'Cast', inputs: ['c'], outputs: ['cf'], attrs: { to: 1 } },
      { op: 'Expand', inputs: ['cf', 'shp'], outputs: ['e'] },
      { op: 'Add', inputs: ['x', 'e'], outputs: ['y'] },
    ],
    inputs: { x: x4(3, 4, 4) },
    weights: {
      zero: { int64: [0], shape: [1] },
      two: { int64: [2], shape: [1] },
      ones: { int64: [1, 1], shape: [2] },
    },
  },
  unary('Sigmoid'),
  unary('Tanh'),
  unary('Erf'),
  unary('Sqrt', [0, 4]),
  binary('Sub', [3, 1, 1]),
  binary('Div', [4], [0.5, 2]),
  binary('Pow', [1], [1, 3]),
  {
    name: 'softmax-inside',
    opset: 13,
    nodes: [
      { op: 'Softmax', inputs: ['x'], outputs: ['s'], attrs: { axis: 1 } },
      { op: 'Identity', inputs: ['s'], outputs: ['y'] },
    ],
    inputs: { x: [[3, 7], -3, 3] },
  },
  {
    name: 'logsoftmax-inside-opset11',
    opset: 11,
    nodes: [
      { op: 'LogSoftmax', inputs: ['x'], outputs: ['s'] },
      { op: 'Identity', inputs: ['s'], outputs: ['y'] },
    ],
    inputs: { x: [[3, 7], -3, 3] },
  },
  {
    name: 'layernormalization',
    opset: 17,
    nodes: [{ op: 'LayerNormalization', inputs: ['x', 's', 'b'], outputs: ['y'], attrs: { epsilon: 1e-5 } }],
    inputs: { x: [[2, 3, 8], -2, 2] },
    weights: { s: [[8], 0.5, 1.5], b: [[8], -1, 1] },
  },
  {
    name: 'reducemean-spatial',
    opset: 13,
    nodes: [{ op: 'ReduceMean', inputs: ['x'], outputs: ['y'], attrs: { axes: [2, 3], keepdims: 0 } }],
    inputs: { x: x4(3, 4, 4) },
  },
  {
    name: 'concat-pad',
    opset: 11,
    nodes: [
      { op: 'Relu', inputs: ['x'], outputs: ['r'] },
      { op: 'Concat', inputs: ['r', 'z'], outputs: ['c'], attrs: { axis: 1 } },
      { op: 'Pad', inputs: ['c', 'pads', 'value'], outputs: ['y'] },
    ],
    inputs: { x: x4(2, 4, 4), z: x4(3, 4, 4) },
    weights: { pads: { int64: [0, 0, 1, 2, 0, 0, 2, 1], shape: [8] }, value: [[], 0.25, 0.25] },
  },
  {
    name: 'flatten-axis-2',
    opset: 13,
    nodes: [{ op: 'Flatten', inputs: ['x'], outputs: ['y'], attrs: { axis: 2 } }],
    inputs: { x: x4(3, 4, 5) },
  },
  {
    name: 'gather-unsqueeze-reshape',
    opset: 13,
    nodes: [
      { op: 'Gather', inputs: ['x', 'idx'], outputs: ['g'], attrs: { axis: 1 } },
      { op: 'Unsqueeze', inputs: ['g', 'axes'], outputs: ['u'] },
      { op: 'Reshape', inputs: ['u', 'shape'], outputs: ['y'] },
    ],
    inputs: { x: x4(3, 4, 4) },
    weights: {
      idx: { int64: [2, 0], shape: [2] },
      axes: { int64: [0], shape: [1] },
      shape: { int64: [0, 2, -1], shape: [3] },
    },
  },
  // Pooling with ceil_mode, dilated and grouped convolutions and the attribute/input forms of each opset;
  // appended so the cases above keep their random draws.
  ...[
    ['maxpool-ceil-pads', 'MaxPool', { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], ceil_mode: 1 }, 8],
    [
      'maxpool-ceil-window-dropped',
      'MaxPool',
      { kernel_shape: [3, 3], strides: [3, 3], pads: [0, 0, 2, 2], ceil_mode: 1 },
      5,
    ],
    ['averagepool-ceil', 'AveragePool', { kernel_shape: [2, 2], strides: [2, 2], ceil_mode: 1 }, 7],
    [
      'averagepool-ceil-pads-excluded',
      'AveragePool',
      { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 0, 1, 1], ceil_mode: 1 },
      8,
    ],
    [
      'averagepool-ceil-pads-included',
      'AveragePool',
      { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 0, 1, 1], ceil_mode: 1, count_include_pad: 1 },
      8,
    ],
    [
      'averagepool-ceil-window-dropped-included',
      'AveragePool',
      { kernel_shape: [3, 3], strides: [3, 3], pads: [1, 1, 2, 2], ceil_mode: 1, count_include_pad: 1 },
      5,
    ],
    [
      'averagepool-same-lower-included',
      'AveragePool',
      { kernel_shape: [2, 3], auto_pad: 'SAME_LOWER', count_include_pad: 1 },
      5,
    ],
    ['maxpool-same-lower-strides', 'MaxPool', { kernel_shape: [3, 3], strides: [2, 2], auto_pad: 'SAME_LOWER' }, 6],
  ].map(([name, op, attrs, size]) => ({
    name,
    opset: 13,
    nodes: [{ op, inputs: ['x'], outputs: ['y'], attrs }],
    inputs: { x: x4(2, size, size) },
  })),
  {
    name: 'conv-dilated-pads',
    opset: 13,
    nodes: [{ op: 'Conv', inputs: ['x', 'w', 'b'], outputs: ['y'], attrs: { dilations: [2, 2], pads: [2, 1, 2, 1] } }],
    inputs: { x: x4(2, 8, 8) },
    weights: { w: [[3, 2, 3, 3], -0.5, 0.5], b: [[3], -0.5, 0.5] },
  },
  {
    name: 'conv-dilated-grouped-strided',
    opset: 11,
    nodes: [
      { op: 'Conv', inputs: ['x', 'w'], outputs: ['y'], attrs: { group: 2, dilations: [2, 3], strides: [2, 1] } },
    ],
    inputs: { x: x4(4, 9, 9, 1) },
    weights: { w: [[4, 2, 2, 3], -0.5, 0.5] },
  },
  {
    name: 'conv-depthwise-dilated',
    opset: 13,
    nodes: [
      {
        op: 'Conv',
        inputs: ['x', 'w', 'b'],
        outputs: ['y'],
        attrs: { group: 3, dilations: [2, 2], pads: [2, 2, 2, 2] },
      },
    ],
    inputs: { x: x4(3, 7, 7) },
    weights: { w: [[6, 1, 3, 3], -0.5, 0.5], b: [[6], -0.5, 0.5] },
  },
  {
    name: 'convtranspose-grouped',
    opset: 13,
    nodes: [
      {
        op: 'ConvTranspose',
        inputs: ['x', 'w', 'b'],
        outputs: ['y'],
        attrs: { group: 2, strides: [2, 2], pads: [1, 1, 0, 1] },
      },
    ],
    inputs: { x: x4(4, 4, 4) },
    weights: { w: [[4, 3, 3, 3], -0.5, 0.5], b: [[6], -0.5, 0.5] },
  },
  {
    name: 'convtranspose-depthwise',
    opset: 11,
    nodes: [{ op: 'ConvTranspose', inputs: ['x', 'w'], outputs: ['y'], attrs: { group: 3, strides: [2, 1] } }],
    inputs: { x: x4(3, 4, 4) },
    weights: { w: [[3, 2, 3, 3], -0.5, 0.5] },
  },
  {
    name: 'convtranspose-dilated-grouped',
    opset: 13,
    nodes: [
      {
        op: 'ConvTranspose',
        inputs: ['x', 'w'],
        outputs: ['y'],
        attrs: { group: 2, dilations: [2, 2], strides: [2, 2], output_padding: [1, 1], pads: [1, 0, 0, 1] },
      },
    ],
    inputs: { x: x4(4, 3, 4, 1) },
    weights: { w: [[4, 1, 3, 2], -0.5, 0.5] },
  },
  {
    name: 'reduce-axes-inputs-opset18',
    opset: 18,
    nodes: [
      { op: 'ReduceMean', inputs: ['x', 'spatial'], outputs: ['m'], attrs: { keepdims: 1 } },
      { op: 'ReduceMax', inputs: ['x', 'channel'], outputs: ['mx'], attrs: { keepdims: 1 } },
      { op: 'Add', inputs: ['m', 'mx'], outputs: ['s'] },
      { op: 'ReduceSum', inputs: ['s', 'last'], outputs: ['y'], attrs: { keepdims: 0 } },
    ],
    inputs: { x: x4(3, 4, 5) },
    weights: {
      spatial: { int64: [2, -1], shape: [2] },
      channel: { int64: [1], shape: [1] },
      last: { int64: [-1], shape: [1] },
    },
  },
  {
    name: 'reduce-axes-attributes-opset11',
    opset: 11,
    nodes: [
      { op: 'ReduceSum', inputs: ['x'], outputs: ['s'], attrs: { axes: [1], keepdims: 0 } },
      { op: 'ReduceMean', inputs: ['s'], outputs: ['y'], attrs: { axes: [-1] } },
    ],
    inputs: { x: x4(3, 4, 5) },
  },
  {
    name: 'reducemean-all-axes-opset18',
    opset: 18,
    nodes: [
      { op: 'Relu', inputs: ['x'], outputs: ['r'] },
      { op: 'ReduceMean', inputs: ['r'], outputs: ['m'], attrs: { keepdims: 1 } },
      { op: 'Sub', inputs: ['x', 'm'], outputs: ['y'] },
    ],
    inputs: { x: x4(2, 3, 3) },
  },
  {
    name: 'split-num-outputs-opset18',
    opset: 18,
    nodes: [
      { op: 'Split', inputs: ['x'], outputs: ['a', 'b', 'c'], attrs: { axis: -1, num_outputs: 3 } },
      { op: 'Concat', inputs: ['c', 'a', 'b'], outputs: ['y'], attrs: { axis: -1 } },
    ],
    inputs: { x: x4(2, 3, 7) },
  },
  {
    name: 'split-attribute-opset11',
    opset: 11,
    nodes: [
      { op: 'Split', inputs: ['x'], outputs: ['a', 'b'], attrs: { axis: 1, split: [1, 3] } },
      { op: 'ReduceSum', inputs: ['b'], outputs: ['s'], attrs: { axes: [1] } },
      { op: 'Mul', inputs: ['a', 's'], outputs: ['y'] },
    ],
    inputs: { x: x4(4, 3, 3) },
  },
  {
    name: 'split-equal-opset13',
    opset: 13,
    nodes: [
      { op: 'Split', inputs: ['x'], outputs: ['a', 'b'], attrs: { axis: 2 } },
      { op: 'Sub', inputs: ['a', 'b'], outputs: ['y'] },
    ],
    inputs: { x: x4(2, 6, 3) },
  },
  {
    name: 'pad-axes-input-opset18',
    opset: 18,
    nodes: [
      { op: 'Conv', inputs: ['x', 'w'], outputs: ['c'] },
      { op: 'Pad', inputs: ['c', 'pads', 'value', 'axes'], outputs: ['y'] },
    ],
    inputs: { x: x4(2, 5, 5) },
    weights: {
      w: [[3, 2, 1, 1], -1, 1],
      pads: { int64: [1, 2, 0, 1], shape: [4] },
      value: [[], -0.5, -0.5],
      axes: { int64: [-1, 2], shape: [2] },
    },
  },
  ...['reflect', 'edge', 'wrap'].map((mode) => ({
    name: `pad-${mode}-opset19`,
    opset: 19,
    nodes: [
      { op: 'Conv', inputs: ['x', 'w'], outputs: ['c'] },
      { op: 'Pad', inputs: ['c', 'pads'], outputs: ['y'], attrs: { mode } },
    ],
    inputs: { x: x4(2, 4, 5) },
    weights: { w: [[3, 2, 1, 1], -1, 1], pads: { int64: [0, 0, 2, 1, 0, 0, 1, 3], shape: [8] } },
  })),
  {
    name: 'pad-attributes-negative-opset9',
    opset: 9,
    nodes: [{ op: 'Pad', inputs: ['x'], outputs: ['y'], attrs: { pads: [0, 0, 2, -1, 0, -1, 1, 2], value: 0.75 } }],
    inputs: { x: x4(2, 4, 5) },
  },
  {
    name: 'clip-min-input-only-opset11',
    opset: 11,
    nodes: [{ op: 'Clip', inputs: ['x', 'lo'], outputs: ['y'] }],
    inputs: { x: x4(2, 3, 3) },
    weights: { lo: [[], -0.2, -0.2] },
  },
  {
    name: 'clip-max-input-only-opset12',
    opset: 12,
    nodes: [{ op: 'Clip', inputs: ['x', '', 'hi'], outputs: ['y'] }],
    inputs: { x: x4(2, 3, 3) },
    weights: { hi: [[], 0.3, 0.3] },
  },
  {
    name: 'squeeze-unsqueeze-attributes-opset11',
    opset: 11,
    nodes: [
      { op: 'GlobalAveragePool', inputs: ['x'], outputs: ['g'] },
      { op: 'Squeeze', inputs: ['g'], outputs: ['s'], attrs: { axes: [-1, 2] } },
      { op: 'Unsqueeze', inputs: ['s'], outputs: ['y'], attrs: { axes: [0, -1] } },
    ],
    inputs: { x: x4(4, 3, 3) },
  },
  {
    name: 'squeeze-all-ones-opset13',
    opset: 13,
    nodes: [
      { op: 'GlobalMaxPool', inputs: ['x'], outputs: ['g'] },
      { op: 'Squeeze', inputs: ['g'], outputs: ['y'] },
    ],
    inputs: { x: x4(4, 3, 3, 1) },
  },
  {
    name: 'softmax-coerced-2d-opset11',
    opset: 11,
    nodes: [
      { op: 'Softmax', inputs: ['x'], outputs: ['s'], attrs: { axis: 1 } },
      { op: 'Identity', inputs: ['s'], outputs: ['y'] },
    ],
    inputs: { x: [[2, 3, 2, 2], -2, 2] },
  },
  {
    name: 'softmax-axis-1-opset13',
    opset: 13,
    nodes: [
      { op: 'Softmax', inputs: ['x'], outputs: ['s'], attrs: { axis: 1 } },
      { op: 'Identity', inputs: ['s'], outputs: ['y'] },
    ],
    inputs: { x: [[2, 3, 2, 2], -2, 2] },
  },
  {
    name: 'logsoftmax-default-axis-opset9',
    opset: 9,
    nodes: [
      { op: 'LogSoftmax', inputs: ['x'], outputs: ['s'] },
      { op: 'Identity', inputs: ['s'], outputs: ['y'] },
    ],
    inputs: { x: [[2, 3, 4], -2, 2] },
  },
  {
    name: 'shape-start-end-reshape-opset15',
    opset: 15,
    nodes: [
      { op: 'Shape', inputs: ['x'], outputs: ['nc'], attrs: { start: 0, end: -2 } },
      { op: 'Concat', inputs: ['nc', 'rest'], outputs: ['shape'], attrs: { axis: 0 } },
      { op: 'Reshape', inputs: ['x', 'shape'], outputs: ['y'], attrs: { allowzero: 0 } },
    ],
    inputs: { x: x4(3, 3, 4) },
    weights: { rest: { int64: [-1], shape: [1] } },
  },
  {
    name: 'constant-value-floats-ints-opset13',
    opset: 13,
    nodes: [
      { op: 'Constant', inputs: [], outputs: ['k'], attrs: { value_floats: [0.5, -1.5, 2.25] } },
      { op: 'Constant', inputs: [], outputs: ['axis'], attrs: { value_ints: [-1] } },
      { op: 'Unsqueeze', inputs: ['k', 'axis'], outputs: ['col'] },
      { op: 'Unsqueeze', inputs: ['col', 'axis'], outputs: ['kk'] },
      { op: 'Mul', inputs: ['x', 'kk'], outputs: ['y'] },
    ],
    inputs: { x: x4(3, 2, 2) },
  },
  {
    name: 'legacy-opset9-batchnorm-dropout-flatten-gemm',
    opset: 9,
    nodes: [
      { op: 'BatchNormalization', inputs: ['x', 's', 'b', 'm', 'v'], outputs: ['n'], attrs: { epsilon: 1e-5 } },
      { op: 'Dropout', inputs: ['n'], outputs: ['d'], attrs: { ratio: 0.5 } },
      { op: 'Flatten', inputs: ['d'], outputs: ['f'] },
      { op: 'Gemm', inputs: ['f', 'g', 'c'], outputs: ['y'] },
    ],
    inputs: { x: x4(2, 2, 2) },
    weights: {
      s: [[2], 0.5, 1.5],
      b: [[2], -1, 1],
      m: [[2], -0.5, 0.5],
      v: [[2], 0.5, 2],
      g: [[8, 3], -1, 1],
      c: [[1, 3], -1, 1],
    },
  },
  {
    name: 'dropout-ratio-input-max-three-opset13',
    opset: 13,
    nodes: [
      { op: 'Dropout', inputs: ['x', 'ratio'], outputs: ['d'] },
      { op: 'Max', inputs: ['d', 'p', 'q'], outputs: ['y'] },
    ],
    inputs: { x: x4(3, 2, 2) },
    weights: { ratio: [[], 0.3, 0.3], p: [[3, 1, 1], -0.5, 0.5], q: [[2], -0.5, 0.5] },
  },
  {
    name: 'gather-negative-index-concat-negative-axis',
    opset: 13,
    nodes: [
      { op: 'Gather', inputs: ['x', 'idx'], outputs: ['g'], attrs: { axis: -1 } },
      { op: 'Concat', inputs: ['g', 'x'], outputs: ['y'], attrs: { axis: -1 } },
    ],
    inputs: { x: x4(2, 3, 4) },
    weights: { idx: { int64: [-1, 0], shape: [2] } },
  },
  {
    name: 'slice-attributes-opset9',
    opset: 9,
    nodes: [{ op: 'Slice', inputs: ['x'], outputs: ['y'], attrs: { starts: [1, -3], ends: [3, 1000], axes: [1, 3] } }],
    inputs: { x: x4(4, 3, 5) },
  },
  {
    name: 'gemm-transposed-a-without-c-opset11',
    opset: 11,
    nodes: [{ op: 'Gemm', inputs: ['a', 'b'], outputs: ['y'], attrs: { transA: 1, alpha: 1.5 } }],
    inputs: { a: [[5, 3], -1, 1] },
    weights: { b: [[5, 4], -1, 1] },
  },
  {
    name: 'opset21-transpose-reshape-pad-unsqueeze-squeeze-flatten',
    opset: 21,
    nodes: [
      { op: 'Transpose', inputs: ['x'], outputs: ['t'], attrs: { perm: [0, 3, 1, 2] } },
      { op: 'Reshape', inputs: ['t', 'shape'], outputs: ['r'] },
      { op: 'Pad', inputs: ['r', 'pads'], outputs: ['p'], attrs: { mode: 'edge' } },
      { op: 'Unsqueeze', inputs: ['p', 'axes'], outputs: ['u'] },
      { op: 'ReduceMax', inputs: ['u', 'axes'], outputs: ['m'], attrs: { keepdims: 1 } },
      { op: 'Squeeze', inputs: ['m', 'axes'], outputs: ['s'] },
      { op: 'Flatten', inputs: ['s'], outputs: ['y'], attrs: { axis: 1 } },
    ],
    inputs: { x: x4(2, 3, 4) },
    weights: {
      shape: { int64: [0, 4, -1], shape: [3] },
      pads: { int64: [0, 1, 0, 0, 0, 2], shape: [6] },
      axes: { int64: [1], shape: [1] },
    },
  },
];

function attribute(name, value) {
  const A = onnx.AttributeProto.AttributeType;
  if (typeof value === 'string') return { name, type: A.STRING, s: Buffer.from(value) };
  if (Array.isArray(value) && name === 'value_floats') return { name, type: A.FLOATS, floats: value };
  if (Array.isArray(value)) return { name, type: A.INTS, ints: value };
  const floats = ['alpha', 'beta', 'ratio', 'value', 'epsilon'];
  if (Number.isInteger(value) && !floats.includes(name)) return { name, type: A.INT, i: value };
  return { name, type: A.FLOAT, f: value };
}

/** A case as a ModelProto (bytes) and its random feeds and float weights (from `random`). */
export function buildCase(c, random) {
  const T = onnx.TensorProto.DataType;
  const draw = ([shape, lo, hi]) => {
    const size = shape.reduce((a, b) => a * b, 1);
    return Array.from({ length: size }, () => Number((lo + (hi - lo) * random()).toFixed(4)));
  };
  const initializer = Object.entries(c.weights ?? {}).map(([name, spec]) =>
    spec.int64
      ? { name, dims: spec.shape, dataType: T.INT64, int64Data: spec.int64 }
      : { name, dims: spec[0], dataType: T.FLOAT, floatData: draw(spec) },
  );
  const feeds = Object.fromEntries(
    Object.entries(c.inputs).map(([name, spec]) => [name, { shape: spec[0], data: draw(spec) }]),
  );
  const info = (name, shape) => ({
    name,
    type: {
      tensorType: { elemType: T.FLOAT, shape: shape ? { dim: shape.map((d) => ({ dimValue: d })) } : undefined },
    },
  });
  const output = c.nodes[c.nodes.length - 1].outputs[0];
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'onnx-ops.mjs',
    opsetImport: [{ domain: '', version: c.opset }],
    graph: {
      name: c.name,
      node: c.nodes.map((n, i) => ({
        name: `${n.op}_${i}`,
        opType: n.op,
        input: n.inputs,
        output: n.outputs,
        attribute: Object.entries(n.attrs ?? {}).map(([k, v]) => attribute(k, v)),
      })),
      initializer,
      input: Object.entries(c.inputs).map(([name, spec]) => info(name, spec[0])),
      output: [info(output)],
    },
  });
  return { bytes: onnx.ModelProto.encode(model).finish(), feeds, output };
}
