#!/usr/bin/env node
// npm run demo: train the example network on the embedded Fashion-MNIST sample, attack it with
// FGSM and PGD at ε = 0.1 (L∞) on the first 1,000 test images, draw the accuracy-vs-ε curve,
// and write demo-output/{model/, report.json, report.html}.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'dist', 'cli.js');
const out = path.join(root, 'demo-output');
const started = Date.now();

function run(title, args) {
  process.stdout.write(`\n== ${title}\n$ robustness-lab ${args.join(' ')}\n`);
  const result = spawnSync(process.execPath, [cli, ...args], { stdio: 'inherit', cwd: root });
  if (result.status !== 0) {
    process.stderr.write(`demo: "${title}" failed with exit code ${result.status}\n`);
    process.exit(result.status ?? 1);
  }
}

// The demo's model folder is its own: a second run trains afresh (train refuses a folder that holds a run).
fs.rmSync(path.join(out, 'model'), { recursive: true, force: true });
// Two training workers, named rather than the machine's core count, so every machine trains the same
// weights (data-parallel training is deterministic for a given worker count) and prints these numbers.
run('Train the example network (conv16-conv32-fc100-fc10) on the embedded 10,000-image sample', [
  ...'train --data embedded --epochs 4 --seed 0 --workers 2 --out'.split(' '),
  path.join(out, 'model'),
]);
run('Attack it: FGSM and PGD-10 at ε = 0.1 on the first 1,000 test images, plus the curve', [
  'attack',
  '--model',
  path.join(out, 'model', 'model.json'),
  ...'--data embedded --attack fgsm,pgd --eps 0.1 --steps 10 --n 1000'.split(' '),
  ...'--curve 0,0.025,0.05,0.1,0.15,0.2 --out'.split(' '),
  out,
]);
process.stdout.write(
  `\nOpen ${path.join(out, 'report.html')} for the image grid and the curve. ` +
    `Demo took ${((Date.now() - started) / 1000).toFixed(0)} s.\n`,
);
