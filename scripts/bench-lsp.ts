/**
 * Language-server latency: time from an edit (didChange) to its diagnostics (publishDiagnostics)
 * on a 500-line spec, over a real stdio connection to dist/server.js. Part of `npm run bench`.
 *
 *   node --import tsx scripts/bench-lsp.ts [--json bench-output/lsp.json]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LspClient } from '../test/unit/lsp-client';

const ROOT = path.join(__dirname, '..');
const EDITS = 40;

function bigSpec(eps: string): string {
  const attacks: string[] = [];
  const ids = ['pgd', 'apgd', 'mi-fgsm', 'fgsm'];
  for (let i = 0; attacks.join('\n').split('\n').length < 495; i++) {
    const id = ids[i % ids.length];
    attacks.push(
      `    // attack ${i}\n    {\n      "id": "${id}",\n      "steps": ${10 + (i % 5)},\n` +
        `      "loss": "${i % 3 === 0 ? 'margin' : 'ce'}"\n    },`,
    );
  }
  const text =
    '// latency benchmark spec\n{\n  "name": "benchmark",\n  "model": "smallcnn/model.json",\n' +
    `  "data": { "id": "embedded", "n": 500 },\n  "threat": { "norm": "linf", "eps": ${eps} },\n` +
    `  "attacks": [\n${attacks.join('\n').replace(/,$/, '')}\n  ],\n  "curve": [0, 0.05, 0.1]\n}\n`;
  return text;
}

async function main(): Promise<void> {
  const workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-lsp-bench-'));
  fs.mkdirSync(path.join(workspace, 'smallcnn'));
  fs.copyFileSync(
    path.join(ROOT, 'examples', 'fashion-mnist', 'smallcnn', 'model.json'),
    path.join(workspace, 'smallcnn', 'model.json'),
  );
  const file = path.join(workspace, 'bench.robustness.json');
  const client = new LspClient(path.join(ROOT, 'dist', 'server.js'));
  try {
    await client.initialize(workspace);
    const first = bigSpec('0.1');
    const lines = first.split('\n').length;
    fs.writeFileSync(file, first);
    const t0 = performance.now();
    await client.open(file, first);
    const openMs = performance.now() - t0;
    const times: number[] = [];
    let errors = 0;
    for (let i = 0; i < EDITS; i++) {
      // Alternate a valid and an invalid ε so each edit changes what is published.
      const text = bigSpec(i % 2 === 0 ? '-0.1' : '0.1');
      const start = performance.now();
      const diagnostics = await client.change(file, text);
      times.push(performance.now() - start);
      errors += diagnostics.length;
    }
    times.sort((a, b) => a - b);
    const median = times[Math.floor(times.length / 2)]!;
    const p95 = times[Math.floor(times.length * 0.95)]!;
    const result = {
      lines,
      edits: EDITS,
      openMs,
      medianMs: median,
      p95Ms: p95,
      maxMs: times.at(-1)!,
      minMs: times[0]!,
      diagnosticsSeen: errors,
    };
    console.log(
      `language server: ${lines}-line spec, ${EDITS} edits: edit → diagnostics median ${median.toFixed(1)} ms, ` +
        `p95 ${p95.toFixed(1)} ms, max ${result.maxMs.toFixed(1)} ms (first open ${openMs.toFixed(1)} ms; ` +
        'budget 200 ms)',
    );
    const json = process.argv.indexOf('--json');
    if (json > 0) {
      const out = process.argv[json + 1]!;
      fs.mkdirSync(path.dirname(out), { recursive: true });
      fs.writeFileSync(out, JSON.stringify(result, null, 2));
    }
  } finally {
    await client.stop();
    fs.rmSync(workspace, { recursive: true, force: true });
  }
}

void main();
