/** Standard training: learns, is reproducible from its seed, saves a loadable model, stops on abort. */
import { before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import {
  AbortError,
  accuracyOn,
  firstN,
  folderSaveHandler,
  InputError,
  loadClassifier,
  loadTrainingData,
  smallCnn,
  trainModel,
  type Dataset,
  type TrainProgress,
} from '../../src/engine';
import { engineTest, tempDir, useBackend } from './helpers';

let data: Dataset;

before(async () => {
  await useBackend('wasm');
  data = await loadTrainingData('embedded');
});

function weightsOf(net: ReturnType<typeof smallCnn>): Float32Array {
  return tf.tidy(() => tf.concat(net.getWeights().map((w) => tf.reshape(w, [-1]))).dataSync() as Float32Array);
}

engineTest(
  'two epochs on 3,000 images reach > 70% test accuracy, reports progress, and keeps tensor count flat',
  async () => {
    const net = smallCnn(data.shape, 10, 1);
    const seen: TrainProgress[] = [];
    const before = tf.memory().numTensors;
    const history = await trainModel(net, data, {
      epochs: 2,
      trainLimit: 3000,
      evalLimit: 1000,
      seed: 1,
      onProgress: (p) => seen.push(p),
    });
    assert.equal(tf.memory().numTensors, before, 'training leaked tensors');
    assert.equal(history.length, 2);
    assert.ok(history[1]!.testAccuracy > 0.7, `test accuracy ${history[1]!.testAccuracy}`);
    assert.ok(history[1]!.loss < history[0]!.loss, 'loss did not fall');
    assert.equal(seen.filter((p) => p.epochMetrics).length, 2);
    assert.equal(seen.filter((p) => !p.epochMetrics && !p.phase).length, 2 * Math.ceil(3000 / 128));
    // Each epoch says when its batches are done and its accuracy checks start, before its metrics.
    assert.deepEqual(
      seen.filter((p) => p.phase === 'evaluating' || p.epochMetrics).map((p) => p.phase ?? `metrics ${p.epoch}`),
      ['evaluating', 'metrics 1', 'evaluating', 'metrics 2'],
    );
    net.dispose();
  },
);

engineTest('the same seed gives the same weights; another seed does not', async () => {
  const run = async (seed: number) => {
    const net = smallCnn(data.shape, 10, seed);
    await trainModel(net, data, {
      epochs: 1,
      trainLimit: 600,
      evalLimit: 1,
      seed,
      optimizer: 'sgd',
      learningRate: 0.05,
    });
    const w = weightsOf(net);
    net.dispose();
    return w;
  };
  const [a, b, c] = [await run(4), await run(4), await run(5)];
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
});

engineTest('a saved model loads back as a classifier with the same accuracy', async () => {
  const net = smallCnn(data.shape, 10, 2);
  const history = await trainModel(net, data, { epochs: 1, trainLimit: 2000, evalLimit: 500, seed: 2 });
  const dir = tempDir('train');
  await net.save(folderSaveHandler(dir, { note: 'test' }));
  const model = await loadClassifier(path.join(dir, 'model.json'));
  const accuracy = await accuracyOn(model, firstN(data.test, 500), data.shape);
  assert.equal(accuracy, history[0]!.testAccuracy);
  model.dispose?.();
  net.dispose();
});

engineTest('an abort stops training within one batch; bad options are refused', async () => {
  const net = smallCnn(data.shape, 10, 3);
  const controller = new AbortController();
  let batches = 0;
  await assert.rejects(
    trainModel(net, data, {
      epochs: 3,
      trainLimit: 2000,
      seed: 3,
      signal: controller.signal,
      onProgress: (p) => {
        if (!p.epochMetrics) batches++;
        if (batches === 2) controller.abort();
      },
    }),
    (err: Error) => err instanceof AbortError,
  );
  assert.equal(batches, 2);
  await assert.rejects(
    trainModel(net, data, { epochs: 0 }),
    (err: Error) => err instanceof InputError && /epochs: 0 is invalid; need an integer ≥ 1/.test(err.message),
  );
  await assert.rejects(
    trainModel(net, data, { epochs: 1, learningRate: -1 }),
    (err: Error) => err instanceof InputError && /learningRate: -1 is invalid/.test(err.message),
  );
  net.dispose();
});

engineTest(
  'the schedule sets the rate of every optimiser: a cyclic schedule starts at 0, so one batch moves nothing',
  async () => {
    // tfjs's SGD keeps a scalar made from the rate at construction; assigning its field changed nothing.
    for (const optimizer of ['sgd', 'adam'] as const) {
      const oneBatch = async (schedule: 'cyclic' | 'constant') => {
        const net = smallCnn(data.shape, 10, 3);
        const options = { epochs: 1, trainLimit: 128, batchSize: 128, evalLimit: 1, seed: 3, learningRate: 0.05 };
        await trainModel(net, data, { ...options, optimizer, schedule });
        const weights = weightsOf(net);
        net.dispose();
        return weights;
      };
      const fresh = smallCnn(data.shape, 10, 3);
      const initial = weightsOf(fresh);
      fresh.dispose();
      assert.deepEqual(
        await oneBatch('cyclic'),
        initial,
        `${optimizer}: the first batch of a cyclic schedule has rate 0`,
      );
      assert.notDeepEqual(await oneBatch('constant'), initial, `${optimizer}: a constant rate moves the weights`);
    }
  },
);
