/**
 * How strong is each method's training adversary on each trained model, and how confident are the
 * models? Measured on the first N training images at ε = 0.1 (L∞): for every model, the clean
 * accuracy, the mean top-1 probability and the mean logit margin (top-1 minus top-2), and under four
 * adversaries — TRADES' own (KL-10 from x + 0.001·N), KL-50 from a uniform start, PGD-AT's own
 * (CE-7, last iterate) and CE-50 — the mean KL(f(x) ‖ f(x')) and the accuracy left.
 *
 *   node --import tsx scripts/adversary-strength.ts [--n 1000] [--json FILE] <name=model.json> ...
 *
 * With --json, the numbers are merged into FILE under "adversaryStrength" (docs/results.json,
 * which scripts/results.mjs renders into docs/results.md).
 */
import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import {
  batchTensors,
  initBackend,
  klAdversary,
  klPerBatch,
  loadClassifier,
  loadData,
  pgd,
  Rng,
  type Classifier,
  type ThreatModel,
} from '../src/engine';

const EPS = 0.1;

interface Strength {
  kl: number;
  accuracy: number;
}
export interface ModelStrength {
  cleanAccuracy: number;
  topProbability: number;
  logitMargin: number;
  adversaries: Record<string, Strength>;
}

function measure(model: Classifier, y: tf.Tensor1D, clean: tf.Tensor2D, xAdv: tf.Tensor4D): Strength {
  return tf.tidy(() => {
    const adv = model.predictLogits(xAdv);
    const accuracy = tf.mean(tf.cast(tf.equal(tf.argMax(adv, 1), y), 'float32')).dataSync()[0]!;
    return { kl: klPerBatch(clean, adv).dataSync()[0]!, accuracy };
  });
}

async function strength(model: Classifier, x: tf.Tensor4D, y: tf.Tensor1D): Promise<ModelStrength> {
  const threat: ThreatModel = { norm: 'linf', eps: EPS, bounds: [0, 1] };
  const clean = tf.tidy(() => model.predictLogits(x));
  const [cleanAccuracy = 0, topProbability = 0, logitMargin = 0] = tf.tidy(() => {
    const top2 = tf.topk(clean, 2).values;
    const [first, second] = tf.split(top2, 2, 1);
    return [
      tf.mean(tf.cast(tf.equal(tf.argMax(clean, 1), y), 'float32')),
      tf.mean(tf.max(tf.softmax(clean), 1)),
      tf.mean(tf.sub(first!, second!)),
    ].map((t) => t.dataSync()[0]!);
  });
  const rng = new Rng(7);
  const adversaries: Record<string, Strength> = {};
  const record = (name: string, xAdv: tf.Tensor4D) => {
    adversaries[name] = measure(model, y, clean, xAdv);
    xAdv.dispose();
  };
  record('KL-10 from x+0.001·N (TRADES)', klAdversary(model, x, threat, { steps: 10, stepSize: 0.25 * EPS, rng }));
  record(
    'KL-50 from uniform',
    klAdversary(model, x, threat, { steps: 50, stepSize: 0.05 * EPS, rng, start: 'uniform' }),
  );
  for (const steps of [7, 50]) {
    const result = await pgd(model, x, y, threat, { steps, keep: 'last', randomStart: true, seed: rng.nextSeed() });
    record(`CE-${steps}${steps === 7 ? ' (PGD-AT)' : ''}`, result.xAdv);
  }
  clean.dispose();
  return { cleanAccuracy, topProbability, logitMargin, adversaries };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const option = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args.splice(i, 2)[1] : undefined;
  };
  const n = Number(option('--n') ?? 1000);
  const json = option('--json');
  if (!args.length) throw new Error('usage: adversary-strength.ts [--n 1000] [--json FILE] <name=model.json> ...');
  await initBackend('wasm');
  const data = await loadData('fashion-mnist', 'train', n);
  const { x, y } = batchTensors(data.samples, data.shape, 0, n);
  const results: Record<string, ModelStrength> = {};
  for (const arg of args) {
    const [name, file] = arg.includes('=') ? (arg.split('=') as [string, string]) : [arg, arg];
    const model = await loadClassifier(file);
    results[name] = await strength(model, x, y);
    model.dispose?.();
    const r = results[name]!;
    console.log(
      `${name}: clean ${(r.cleanAccuracy * 100).toFixed(1)}%, top-1 probability ${r.topProbability.toFixed(3)}, ` +
        `logit margin ${r.logitMargin.toFixed(2)}`,
    );
    for (const [adv, s] of Object.entries(r.adversaries))
      console.log(`  ${adv.padEnd(32)} KL ${s.kl.toFixed(4)}  accuracy ${(s.accuracy * 100).toFixed(1)}%`);
  }
  tf.dispose([x, y]);
  if (json) {
    const table = fs.existsSync(json) ? JSON.parse(fs.readFileSync(json, 'utf8')) : {};
    table.adversaryStrength = { n, eps: EPS, models: { ...table.adversaryStrength?.models, ...results } };
    fs.writeFileSync(json, `${JSON.stringify(table, null, 2)}\n`);
  }
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exit(1);
});
