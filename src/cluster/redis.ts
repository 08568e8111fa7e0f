/**
 * Connections to the cluster's Redis: the URL (redis://, rediss:// for TLS, a password in it)
 * parsed once (src/protocol/cluster.ts) and handed to ioredis and BullMQ as options.
 */
import type { Job, QueueEvents } from 'bullmq';
import IORedis from 'ioredis';
import { parseRedisUrl, redactRedisUrl, type RedisTarget } from '../protocol/cluster';

/** A cluster run's failure that the CLI prints as its message alone (exit code 2): a shard's, Redis's. */
export class ClusterError extends Error {
  override readonly name = 'ClusterError';
}

/**
 * Every job's value, each passed through `take` as its job finishes, in job order; a job that fails
 * throws a ClusterError with `failed(i, message)`, and an aborted `signal` rejects with an AbortError
 * (at once if it already has).
 */
export async function awaitJobs<T>(
  jobs: readonly Job[],
  events: QueueEvents,
  signal: AbortSignal | undefined,
  failed: (i: number, message: string) => string,
  take: (value: unknown, i: number) => Promise<T> | T,
): Promise<T[]> {
  const aborted = new Promise<never>((_, reject) => {
    const fail = () => reject(Object.assign(new Error('cancelled'), { name: 'AbortError' }));
    if (signal?.aborted) fail();
    signal?.addEventListener('abort', fail, { once: true });
  });
  aborted.catch(() => {});
  const all = Promise.all(
    jobs.map(async (job, i) => {
      let value: unknown;
      try {
        value = await job.waitUntilFinished(events);
      } catch (err) {
        throw new ClusterError(failed(i, (err as Error).message));
      }
      return take(value, i);
    }),
  );
  return Promise.race([all, aborted]);
}

/** Our own keys beside BullMQ's (which live under "bull:"). */
export const KEY_PREFIX = 'robustness-lab';

/** ioredis options for `url`; BullMQ needs maxRetriesPerRequest null on its blocking connections. */
export function redisOptions(url: string): RedisTarget & { maxRetriesPerRequest: null } {
  // No connectionName: BullMQ names its workers' connections, which is how `worker --status` finds them.
  return { ...parseRedisUrl(url), maxRetriesPerRequest: null };
}

/**
 * A connected client, or an Error saying that Redis at `url` (password hidden) cannot be reached
 * within `timeoutMs`: no endless reconnecting when the server is not there.
 */
export async function connectRedis(url: string, timeoutMs = 5000): Promise<IORedis> {
  const options = redisOptions(url);
  const client = new IORedis({ ...options, lazyConnect: true, connectTimeout: timeoutMs, retryStrategy: () => null });
  // The socket's own error (ECONNREFUSED, a TLS or auth failure) says more than "Connection is closed".
  let lastError: Error | undefined;
  const onError = (err: Error) => (lastError = err);
  client.on('error', onError);
  try {
    await client.connect();
    await client.ping();
  } catch (err) {
    client.disconnect();
    throw new ClusterError(`cannot reach Redis at ${redactRedisUrl(url)}: ${(lastError ?? (err as Error)).message}`, {
      cause: err,
    });
  }
  client.off('error', onError);
  client.on('error', () => {
    // Reconnects follow; a command that needs the connection reports the failure itself.
  });
  // Connected: from now on reconnect after a drop, as BullMQ's own connections do.
  client.options.retryStrategy = (times: number) => Math.min(times * 200, 2000);
  return client;
}
