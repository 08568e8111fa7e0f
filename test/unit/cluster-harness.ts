/**
 * The cluster tests' harness (not a test file): a redis-server of the test's own on a free loopback
 * port with a temporary folder and no persistence, worker processes and CLI runs of dist/cli.js.
 */
import * as assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

const CLI = path.join(__dirname, '..', '..', 'dist', 'cli.js');

export const HAVE_REDIS = spawnSync('redis-server', ['--version']).status === 0;
export const SKIP = HAVE_REDIS ? false : 'redis-server is not installed (apt-get install redis-server; .ci/run does)';

/** The engine host's worker and the CLI must be built (npm test builds them first). */
export function assertBundlesBuilt(): void {
  for (const bundle of ['worker.js', 'cli.js'])
    assert.ok(
      fs.existsSync(path.join(path.dirname(CLI), bundle)),
      `dist/${bundle} is missing; npm test builds it first`,
    );
}

/** A log that keeps every line (all levels) for the test to read. */
export function quietLog() {
  const lines: string[] = [];
  const put = (message: string) => void lines.push(message);
  return { lines, log: { info: put, warn: put, error: put, debug: put, trace: put } };
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A redis-server of our own: a free loopback port, a temporary folder, no persistence. */
export async function startRedis(): Promise<{ url: string; stop: () => Promise<void> }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-redis-'));
  const port = await freePort();
  const server = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  const deadline = Date.now() + 10_000;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.end();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (up) break;
    if (Date.now() > deadline) throw new Error('redis-server did not start in 10 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    stop: async () => {
      const exited = new Promise((r) => server.once('exit', r));
      server.kill('SIGTERM');
      await exited;
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface WorkerProcess {
  name: string;
  child: ChildProcess;
  log: () => string;
  exited: Promise<number | null>;
}

export function startWorker(url: string, name: string, cache: string): WorkerProcess {
  let text = '';
  const child = spawn(
    process.execPath,
    [CLI, 'worker', '--redis', url, '--name', name, '--cache', cache, '--lock-ms', '2000'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stdout!.on('data', (d) => (text += d));
  child.stderr!.on('data', (d) => (text += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { name, child, log: () => text, exited };
}

export async function until(what: string, check: () => boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function cli(
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> & { child: ChildProcess } {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.once('exit', (code) => resolve({ code, stdout, stderr })),
  );
  return Object.assign(done, { child });
}

/** A report without what may differ between runs of the same evaluation: times, date, command, worker count. */
export function comparable(report: unknown): unknown {
  const drop = new Set(['time_s', 'seconds', 'created', 'command', 'workers']);
  const strip = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(strip)
      : v && typeof v === 'object'
        ? Object.fromEntries(
            Object.entries(v)
              .filter(([k]) => !drop.has(k))
              .map(([k, x]) => [k, strip(x)]),
          )
        : v;
  return strip(report);
}
