// The cluster's benchmark (not a test; README "Scale out"): a 2,000-image `evaluate --suite quick`
// in process and on 1, 2 and 4 worker processes of a redis-server of its own, and the queue's cost
// per shard (a worker's gap between finishing one shard and starting the next, over the shard's
// compute time). Needs dist/ (npm run build) and redis-server; without redis-server it says so and
// writes nothing. Usage: node scripts/bench-cluster.mjs [--json bench-output/cluster.json] [--n 2000]
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.join(path.dirname(new URL(import.meta.url).pathname), '..');
const CLI = path.join(ROOT, 'dist', 'cli.js');
const MODEL = path.join(ROOT, 'examples', 'fashion-mnist', 'smallcnn', 'model.json');
const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const OUT = arg('--json', path.join(ROOT, 'bench-output', 'cluster.json'));
const N = Number(arg('--n', '2000'));
const WORKERS = [1, 2, 4];
const EVAL = ['evaluate', '--suite', 'quick', '--model', MODEL, '--n', String(N), '--eps', '0.03', '--json'];

if (spawnSync('redis-server', ['--version']).status !== 0) {
  console.log('bench-cluster: redis-server is not installed (apt-get install redis-server); nothing measured');
  process.exit(0);
}

async function freePort() {
  const server = net.createServer();
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  await new Promise((r) => server.close(r));
  return port;
}

function run(args) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stdout.resume();
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stderr, seconds: (performance.now() - t0) / 1000 }));
  });
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-bench-redis-'));
const port = await freePort();
const url = `redis://127.0.0.1:${port}`;
const redis = spawn(
  'redis-server',
  ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'],
  {
    stdio: 'ignore',
  },
);
await new Promise((r) => setTimeout(r, 500));
const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-bench-cache-'));
const results = { n: N, machine: `${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(1)}`, runs: [] };
try {
  const local = await run([...EVAL, '--workers', '1']);
  if (local.code !== 0) throw new Error(local.stderr);
  results.runs.push({ where: 'in process', seconds: local.seconds });
  console.log(`in process: ${local.seconds.toFixed(1)} s`);
  for (const k of WORKERS) {
    const logs = Array.from({ length: k }, () => ({ text: '' }));
    const workers = logs.map((log, i) => {
      const child = spawn(process.execPath, [CLI, 'worker', '--redis', url, '--name', `b${i}`, '--cache', cache], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      child.stderr.on('data', (d) => (log.text += d));
      return child;
    });
    while (!logs.every((l) => /engine thread on/.test(l.text))) await new Promise((r) => setTimeout(r, 100));
    const cluster = await run([...EVAL, '--redis', url]);
    if (cluster.code !== 0) throw new Error(cluster.stderr);
    // The queue's own cost: from one shard's end to the next one's start on the same worker.
    const gaps = [];
    const computes = [];
    for (const { text } of logs) {
      const lines = text.split('\n');
      for (let i = 0; i < lines.length; i++) {
        const ran = /^(\S+) ran run \w+ shard (\d+) .* in ([\d.]+) s/.exec(lines[i]);
        if (!ran) continue;
        if (ran[2] !== '0') computes.push(Number(ran[3]));
        const next = lines.slice(i + 1).find((l) => / started run /.test(l));
        if (next) gaps.push((Date.parse(next.split(' ')[0]) - Date.parse(ran[1])) / 1000);
      }
    }
    const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
    const row = {
      where: `${k} worker process${k === 1 ? '' : 'es'}`,
      seconds: cluster.seconds,
      shardComputeMedian: median(computes),
      queueGapMedian: median(gaps),
    };
    results.runs.push(row);
    console.log(
      `${row.where}: ${row.seconds.toFixed(1)} s; shard compute (median, probes aside) ${row.shardComputeMedian.toFixed(2)} s, ` +
        `queue gap (median) ${(row.queueGapMedian * 1000).toFixed(0)} ms`,
    );
    await Promise.all(workers.map((w) => new Promise((r) => (w.once('exit', r), w.kill('SIGTERM')))));
  }
  fs.mkdirSync(path.dirname(OUT), { recursive: true });
  fs.writeFileSync(OUT, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`wrote ${OUT}`);
} finally {
  redis.kill('SIGTERM');
  fs.rmSync(cache, { recursive: true, force: true });
  setTimeout(() => fs.rmSync(dir, { recursive: true, force: true }), 500);
}
