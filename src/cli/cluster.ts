/**
 * The CLI's cluster side (README "Scale out"): `--redis URL` and `--shard-size N` on attack,
 * evaluate, curve and run, where an attack job runs (the cluster, worker threads, this process),
 * and the `worker` command.
 */
import * as path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { initBackend, type JobHooks } from '../engine';
import { runAttackOnCluster } from '../cluster/coordinator';
import { runAttackShardsInProcess } from '../cluster/local';
import { runTrainSweepOnCluster } from '../cluster/sweep';
import { RunStore } from '../store/runs';
import { clusterStatus } from '../cluster/status';
import { startClusterWorker } from '../cluster/worker';
import { DEFAULT_SHARD_SIZE, MAX_SHARD_IMAGES, parseRedisUrl, SWEEP_KEYS } from '../protocol/cluster';
import type { AttackJob, TrainJob } from '../protocol/jobs';
import { pct } from '../protocol/format';
import { formatTable } from './table';
import type { Report } from '../protocol/report';
import { BACKEND_CHOICES, type BackendChoice } from '../protocol/vocabulary';
import { runAttackParallel, type ParallelOptions } from '../worker/pool';

export interface ClusterCliOptions {
  redis?: string;
  shardSize?: number;
}

const redisUrl = (value: string): string => {
  try {
    parseRedisUrl(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
  return value;
};

const shardSize = (value: string): number => {
  const v = Number(value);
  if (!Number.isInteger(v) || v < 1 || v > MAX_SHARD_IMAGES)
    throw new InvalidArgumentError(`--shard-size must be an integer from 1 to ${MAX_SHARD_IMAGES}, got "${value}"`);
  return v;
};

/** --redis and --shard-size on a command that runs an attack job. */
export function clusterOptions(cmd: Command): Command {
  return cmd
    .option(
      '--redis <url>',
      'run the shards on the workers of this Redis (redis://[user:password@]host:port, rediss:// for TLS)',
      redisUrl,
    )
    .option(
      '--shard-size <n>',
      `images per shard (default ${DEFAULT_SHARD_SIZE}); each shard's seed comes from --seed and its first image`,
      shardSize,
    );
}

/** Where an attack job runs: on the cluster with --redis, else on `workers` threads, else in this process. */
export async function runAttackWhere(
  job: AttackJob,
  o: ClusterCliOptions & { workers: number },
  command: string,
  hooks: JobHooks & Pick<ParallelOptions, 'onLog' | 'backend' | 'script'>,
): Promise<Report> {
  const { signal, onProgress, onStage } = hooks;
  if (o.redis) {
    return runAttackOnCluster(job, {
      redis: o.redis,
      ...(o.shardSize ? { shardSize: o.shardSize } : {}),
      command,
      ...(signal ? { signal } : {}),
      ...(onProgress ? { onProgress } : {}),
      ...(onStage ? { onStage } : {}),
      onLog: (message) => process.stderr.write(`${message}\n`),
    });
  }
  if (o.workers > 1) {
    return runAttackParallel(job, {
      script: hooks.script,
      workers: o.workers,
      backend: hooks.backend,
      runId: 'cli',
      ...(o.shardSize ? { shardSize: o.shardSize } : {}),
      ...(signal ? { signal } : {}),
      ...(onProgress ? { onProgress } : {}),
      ...(onStage ? { onStage } : {}),
      ...(hooks.onLog ? { onLog: hooks.onLog } : {}),
    });
  }
  return runAttackShardsInProcess(job, command, hooks, o.shardSize ?? DEFAULT_SHARD_SIZE);
}

/** --redis and --sweep on train. */
export function trainClusterOptions(cmd: Command): Command {
  return cmd
    .option('--redis <url>', 'train the --sweep runs on the workers of this Redis (README "Scale out")', redisUrl)
    .option(
      '--sweep <axes>',
      "with --redis: one run per combination, e.g. 'method=pgd-at,trades eps=0.05,0.1 seed=0,1' " +
        `(${Object.keys(SWEEP_KEYS).join(', ')}); each into --out/<combination>/`,
    )
    .option(
      '--run-store',
      "with --sweep: --out is a workspace folder; each run goes into its run store (.robustness/runs/<id>/), as the editor's training runs",
    );
}

/** `train --redis URL --sweep …`: the runs on the cluster, a table of their last epochs. */
export async function runTrainSweep(
  job: TrainJob,
  o: { redis?: string; sweep?: string; lr?: number; runStore?: boolean },
): Promise<void> {
  if (!o.redis || !o.sweep) throw new InvalidArgumentError('--redis and --sweep go together');
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort());
  const runs = await runTrainSweepOnCluster(job, {
    redis: o.redis,
    sweep: o.sweep,
    ...(o.lr !== undefined ? { learningRate: o.lr } : {}),
    signal: controller.signal,
    onLog: (message) => process.stderr.write(`${message}\n`),
    ...(o.runStore ? { store: new RunStore(job.out) } : {}),
  });
  const rows = runs.map((r) => {
    const last = r.result.epochs[r.result.epochs.length - 1];
    return [
      r.name,
      String(last?.epoch ?? 0),
      last ? pct(last.testAccuracy) : '—',
      last?.robustAccuracy === undefined ? '—' : pct(last.robustAccuracy),
      r.result.worker,
      r.result.resumedAfter ? `after epoch ${r.result.resumedAfter}` : '',
      path.join(r.dir, r.result.modelFile),
    ];
  });
  const columns = ['run', 'epochs', 'test acc', 'robust acc', 'worker', 'resumed', 'model'];
  process.stdout.write(`${formatTable(columns, rows)}\n`);
}

/** `robustness-lab worker --redis URL [--concurrency N]`. */
export function workerCommand(): Command {
  return new Command('worker')
    .description('take evaluation shards from a Redis queue until stopped (README "Scale out")')
    .requiredOption('--redis <url>', 'the Redis the coordinators enqueue to (redis://, rediss:// for TLS)', redisUrl)
    .option(
      '--concurrency <n>',
      'shards at once, one engine thread each',
      (value: string) => {
        const v = Number(value);
        if (!Number.isInteger(v) || v < 1 || v > 64)
          throw new InvalidArgumentError(`--concurrency must be an integer from 1 to 64, got "${value}"`);
        return v;
      },
      1,
    )
    .option('--cache <dir>', 'where models are cached by hash (default ~/.cache/robustness-lab/models)')
    .option('--name <name>', "this worker's name in logs and reports (default host:pid)")
    .addOption(
      new Option('--lock-ms <ms>', 'a shard whose worker stops renewing its lock this long is given to another')
        .argParser((value: string) => {
          const v = Number(value);
          if (!Number.isInteger(v) || v < 1000) throw new InvalidArgumentError('--lock-ms must be an integer ≥ 1000');
          return v;
        })
        .default(10_000),
    )
    .addOption(new Option('--backend <name>', 'tensor backend').choices(BACKEND_CHOICES).default('auto'))
    .option('--status', 'print the workers connected and the queues, then exit (no jobs taken)')
    .option('--json', 'with --status: as JSON')
    .action(
      async (o: {
        status?: boolean;
        json?: boolean;
        redis: string;
        concurrency: number;
        cache?: string;
        name?: string;
        lockMs: number;
        backend: BackendChoice;
      }) => {
        if (o.status) {
          const status = await clusterStatus(o.redis);
          const depth = (d: { waiting: number; running: number; failed: number }) =>
            `${d.waiting} waiting, ${d.running} running, ${d.failed} failed`;
          process.stdout.write(
            o.json
              ? `${JSON.stringify(status, null, 2)}\n`
              : `${status.workers.length} worker${status.workers.length === 1 ? '' : 's'}` +
                  `${status.workers.length ? `: ${status.workers.join(', ')}` : ''}\n` +
                  `shards: ${depth(status.shards)}\ntraining runs: ${depth(status.training)}\n`,
          );
          return;
        }
        // The engine threads pick their own backend; this checks it resolves before taking jobs.
        const backend = await initBackend(o.backend);
        const log = (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`);
        const worker = await startClusterWorker({
          redis: o.redis,
          concurrency: o.concurrency,
          script: path.join(__dirname, 'worker.js'),
          backend: backend.name,
          ...(o.cache ? { cacheDir: path.resolve(o.cache) } : {}),
          ...(o.name ? { name: o.name } : {}),
          lockMs: o.lockMs,
          log,
        });
        let stops = 0;
        const stop = (signal: string) => {
          stops++;
          log(
            stops === 1
              ? `${signal}: finishing the shards in hand, then stopping (again to stop now)`
              : `${signal}: stopping now; the shards in hand go back to the queue`,
          );
          if (stops === 1) void worker.close();
          // BullMQ's stalled-job check gives this worker's shards to another once their locks lapse.
          else process.exit(143);
        };
        process.on('SIGTERM', () => stop('SIGTERM'));
        process.on('SIGINT', () => stop('SIGINT'));
        await worker.closed;
        log(`worker ${worker.name} stopped`);
      },
    );
}
