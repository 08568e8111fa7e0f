/**
 * The example network of Wong & Kolter 2018, Fast-AT and Croce et al. 2019:
 * conv16 4×4 stride 2 → conv32 4×4 stride 2 → fc100 → fc10 (logits, no softmax).
 */
import * as tfl from '@tensorflow/tfjs-layers';

export function smallCnn(inputShape: [number, number, number], numClasses: number, seed: number): tfl.LayersModel {
  const init = (offset: number) => tfl.initializers.heNormal({ seed: seed * 17 + offset });
  return tfl.sequential({
    name: 'smallcnn',
    layers: [
      tfl.layers.conv2d({
        inputShape,
        filters: 16,
        kernelSize: 4,
        strides: 2,
        padding: 'same',
        activation: 'relu',
        kernelInitializer: init(1),
        name: 'conv1',
      }),
      tfl.layers.conv2d({
        filters: 32,
        kernelSize: 4,
        strides: 2,
        padding: 'same',
        activation: 'relu',
        kernelInitializer: init(2),
        name: 'conv2',
      }),
      tfl.layers.flatten({ name: 'flatten' }),
      tfl.layers.dense({ units: 100, activation: 'relu', kernelInitializer: init(3), name: 'fc1' }),
      tfl.layers.dense({ units: numClasses, kernelInitializer: init(4), name: 'logits' }),
    ],
  });
}
