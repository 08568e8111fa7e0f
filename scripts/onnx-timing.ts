/**
 * Times the ONNX interpreter against a tfjs Layers model of the same architecture (the cnn
 * fixture: Conv 1→4, ReLU, MaxPool, Conv 4→8 same, ReLU, MaxPool, flatten, Dense 10): forward
 * passes and input gradients of a cross-entropy loss, batch 250, as a PGD step does. Prints ms per
 * step for each. Run: `npx tsx scripts/onnx-timing.ts [wasm|cpu]`.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import * as path from 'node:path';
import { initBackend, loadClassifier, makeClassifier, type Classifier } from '../src/engine';

function layersTwin(): Classifier {
  const model = tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [28, 28, 1], filters: 4, kernelSize: 3, activation: 'relu' }),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', activation: 'relu' }),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 10 }),
    ],
  });
  return makeClassifier((x) => model.apply(x, { training: false }) as tf.Tensor2D, {
    inputShape: [28, 28, 1],
    numClasses: 10,
    bounds: [0, 1],
    source: 'layers twin',
    warnings: [],
    dispose: () => model.dispose(),
  });
}

function timeSteps(model: Classifier, steps: number): number {
  const x = tf.randomUniform([250, 28, 28, 1]) as tf.Tensor4D;
  const labels = tf.oneHot(tf.randomUniform([250], 0, 10, 'int32') as tf.Tensor1D, 10);
  const step = () =>
    tf.tidy(() => {
      const g = tf.grad((input: tf.Tensor) =>
        tf.losses.softmaxCrossEntropy(labels, model.predictLogits(input as tf.Tensor4D)),
      )(x);
      return g.dataSync()[0];
    });
  for (let i = 0; i < 3; i++) step();
  const start = performance.now();
  for (let i = 0; i < steps; i++) step();
  const ms = (performance.now() - start) / steps;
  tf.dispose([x, labels]);
  return ms;
}

async function main() {
  const backend = (process.argv[2] ?? 'wasm') as 'wasm' | 'cpu';
  await initBackend(backend);
  const onnxModel = await loadClassifier(path.join(__dirname, '..', 'test', 'fixtures', 'onnx', 'cnn.onnx'));
  const twin = layersTwin();
  const steps = 20;
  const layersMs = timeSteps(twin, steps);
  const onnxMs = timeSteps(onnxModel, steps);
  console.log(
    `${backend}: gradient step, batch 250: Layers ${layersMs.toFixed(1)} ms, ONNX ${onnxMs.toFixed(1)} ms ` +
      `(${(onnxMs / layersMs).toFixed(2)}×)`,
  );
  twin.dispose?.();
  onnxModel.dispose?.();
}

void main();
