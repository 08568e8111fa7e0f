/** What the cluster looks like now: the workers connected and each queue's depth (`worker --status`). */
import { Queue } from 'bullmq';
import { SHARD_QUEUE, TRAIN_QUEUE } from '../protocol/cluster';
import { connectRedis, redisOptions } from './redis';

export interface QueueDepth {
  waiting: number;
  running: number;
  failed: number;
}

export interface ClusterStatus {
  /** Worker names (`--name`, default host:pid), each once, sorted. */
  workers: string[];
  shards: QueueDepth;
  training: QueueDepth;
}

export async function clusterStatus(url: string): Promise<ClusterStatus> {
  // Reached first, so an unreachable server is one clear line.
  const redis = await connectRedis(url);
  redis.disconnect();
  const connection = redisOptions(url);
  const queues = [new Queue(SHARD_QUEUE, { connection }), new Queue(TRAIN_QUEUE, { connection })];
  try {
    const names = new Set<string>();
    const depths: QueueDepth[] = [];
    for (const queue of queues) {
      // BullMQ names a worker's connection "<prefix>:<queue in base64>:w:<worker name>" (its rawname).
      for (const client of await queue.getWorkers()) {
        const name = /:w:(.+)$/.exec(client.rawname ?? '')?.[1];
        if (name) names.add(name);
      }
      const counts = await queue.getJobCounts('wait', 'prioritized', 'active', 'failed');
      depths.push({
        waiting: (counts.wait ?? 0) + (counts.prioritized ?? 0),
        running: counts.active ?? 0,
        failed: counts.failed ?? 0,
      });
    }
    return { workers: [...names].sort(), shards: depths[0]!, training: depths[1]! };
  } finally {
    await Promise.allSettled(queues.map((q) => q.close()));
  }
}
