/**
 * Writes each ONNX test model's reference: a fixed pseudo-random input batch and onnxruntime's
 * logits for it, as test/fixtures/onnx/<name>.json ({ inputShape, input, logits }), so the tests
 * compare the engine's interpreter against onnxruntime without running it (or PyTorch).
 *
 * Run after scripts/onnx-fixtures.py: `node scripts/onnx-reference.mjs` (needs the devDependency
 * onnxruntime-node; .npmrc's onnxruntime-node-install=skip keeps its install offline).
 * It also runs every operator case of scripts/onnx-ops.mjs and writes them, with onnxruntime's
 * outputs, as test/fixtures/onnx/ops.json.
 * Inputs are uniform from a seeded generator, rounded to 4 decimals (the values onnxruntime saw);
 * outputs are rounded to 7 significant digits.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { buildCase, OP_CASES } from './onnx-ops.mjs';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'test', 'fixtures', 'onnx');
const MODELS = {
  cnn: [1, 28, 28],
  resnet: [3, 16, 16],
  mlp: [1, 28, 28],
  branches: [3, 12, 12],
  linear2: [1, 4, 4],
  linear4: [1, 4, 4],
};
const BATCH = 3;

function random(seed) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const round = (v) => Number(v.toPrecision(7));

for (const [name, shape] of Object.entries(MODELS)) {
  const next = random(12);
  const size = BATCH * shape.reduce((a, b) => a * b, 1);
  const input = Array.from({ length: size }, () => Number(next().toFixed(4)));
  const session = await ort.InferenceSession.create(path.join(dir, `${name}.onnx`));
  const result = await session.run({
    [session.inputNames[0]]: new ort.Tensor('float32', Float32Array.from(input), [BATCH, ...shape]),
  });
  const out = result[session.outputNames[0]];
  const reference = {
    inputShape: [BATCH, ...shape],
    input,
    logitsShape: out.dims,
    logits: [...out.data].map(round),
  };
  fs.writeFileSync(path.join(dir, `${name}.json`), JSON.stringify(reference) + '\n');
  console.log(name, out.dims.join('x'), reference.logits.slice(0, 3));
}

const next = random(2026);
const cases = [];
for (const c of OP_CASES) {
  const { bytes, feeds, output } = buildCase(c, next);
  const session = await ort.InferenceSession.create(bytes);
  const ortFeeds = Object.fromEntries(
    Object.entries(feeds).map(([name, f]) => [name, new ort.Tensor('float32', Float32Array.from(f.data), f.shape)]),
  );
  const out = (await session.run(ortFeeds))[output];
  cases.push({
    name: c.name,
    model: Buffer.from(bytes).toString('base64'),
    feeds,
    output: { shape: out.dims, data: [...out.data].map(round) },
  });
}
fs.writeFileSync(path.join(dir, 'ops.json'), JSON.stringify(cases) + '\n');
console.log(`ops.json: ${cases.length} operator cases`);
