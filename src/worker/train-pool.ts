/**
 * Workers 2…N of a data-parallel training run (src/engine/training/parallel.ts), each an engine
 * worker thread with its own wasm instance and a replica of the network. Bulk data lives in
 * SharedArrayBuffers: one weights buffer all workers read, and per worker its rows (x, y) and its
 * gradient; a step's messages carry only the share's size, weight, seed and ε. Shared memory
 * rather than messages: a gradient of the example network is 0.5 MB a worker a batch, copied
 * twice by structured clone, against none here.
 */
import type { GradientPeers, PeersFactory, ShardBuffers } from '../engine/training/parallel';
import { TrainingWorkerError } from '../engine/training/parallel';
import { trainModel, type EpochMetrics, type TrainOptions } from '../engine/training/train-loop';
import type { Dataset } from '../engine/data/types';
import { TrainShardCloseRequest, TrainShardOpenRequest, TrainShardStepRequest } from '../protocol/messages/worker';
import type { LogLevel } from '../protocol/messages/worker';
import type { BackendPreference } from '../protocol/vocabulary';
import { EngineClient, EngineCrashError } from './client';

export interface TrainPeersOptions {
  /** Path of the bundled engine worker (dist/worker.js). */
  script: string;
  backend: BackendPreference;
  onLog?: (level: LogLevel, message: string) => void;
  /** Called with the peers once they have started (tests kill one through it). */
  onStarted?: (peers: ThreadPeers) => void;
}

/** Peers on threads; `kill` ends worker k's thread as a crash would (tests). */
export interface ThreadPeers extends GradientPeers {
  kill(peer: number): void;
}

let runs = 0;

/** Starts training workers on threads: the factory trainModel calls when a run has more than one worker. */
export function threadPeers(options: TrainPeersOptions): PeersFactory {
  return async (spec, count, parameters) => {
    const total = count + 1;
    const run = `train${process.pid}-${runs++}`;
    const pixels = spec.shape[0] * spec.shape[1] * spec.shape[2];
    const weights = new SharedArrayBuffer(parameters * 4);
    const slots = Array.from({ length: count }, () => ({
      weights,
      x: new SharedArrayBuffer(spec.maxRows * pixels * 4),
      y: new SharedArrayBuffer(spec.maxRows * 4),
      gradients: new SharedArrayBuffer(parameters * 4),
    }));
    const views: ShardBuffers[] = slots.map((s) => ({
      weights: new Float32Array(s.weights),
      x: new Float32Array(s.x),
      y: new Int32Array(s.y),
      gradients: new Float32Array(s.gradients),
    }));
    // Why each worker stopped, as its thread said (a step sent after it died names that, not "not running").
    const exits: Array<string | undefined> = slots.map(() => undefined);
    const clients = slots.map(
      (_, k) =>
        new EngineClient({
          script: options.script,
          ...(options.onLog ? { onLog: options.onLog } : {}),
          onExit: (err) => {
            exits[k] = err?.message ?? 'the engine worker stopped';
          },
        }),
    );
    const shardId = (k: number) => `${run}-w${k + 2}`;
    // Worker 1 is the coordinator's own thread; the peers are workers 2…N.
    const failure = (k: number, err: Error) =>
      new TrainingWorkerError(
        `training worker ${k + 2} of ${total} ${err instanceof EngineCrashError ? 'died' : 'failed'}: ` +
          (err instanceof EngineCrashError ? (exits[k] ?? err.message) : err.message),
      );
    const dispose = async () => {
      await Promise.all(
        clients.map(async (c, k) => {
          if (c.alive) await c.request(TrainShardCloseRequest, { shardId: shardId(k) }).catch(() => undefined);
          await c.dispose();
        }),
      );
    };
    try {
      await Promise.all(
        clients.map((c, k) =>
          c
            .request(TrainShardOpenRequest, {
              shardId: shardId(k),
              backend: options.backend,
              spec,
              buffers: slots[k]!,
            })
            .catch((err: Error) => {
              throw failure(k, err);
            }),
        ),
      );
    } catch (err) {
      await dispose();
      throw err;
    }
    const peers: ThreadPeers = {
      count,
      weights: new Float32Array(weights),
      buffers: (k) => views[k]!,
      step: (k, step) =>
        clients[k]!.request(TrainShardStepRequest, { shardId: shardId(k), ...step }).catch((err: Error) => {
          throw failure(k, err);
        }),
      dispose,
      kill: (k) => clients[k]!.kill(),
    };
    options.onStarted?.(peers);
    return peers;
  };
}

/**
 * trainModel on `workers` worker threads (this thread is worker 1): the hook the bench times one
 * against two with. `script` is the bundled engine worker (dist/worker.js).
 */
export function trainOnWorkers(
  target: Parameters<typeof trainModel>[0],
  data: Dataset,
  opts: TrainOptions,
  workers: { count: number; script: string; backend: BackendPreference },
): Promise<EpochMetrics[]> {
  return trainModel(target, data, {
    ...opts,
    workers: workers.count,
    peers: threadPeers({ script: workers.script, backend: workers.backend }),
  });
}
