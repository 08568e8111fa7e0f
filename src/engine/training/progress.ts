/**
 * A training run's progress, throttled for the wire: a run of 469 batches an epoch would otherwise
 * post a message per batch. Every phase change, every epoch's first and last batch, and otherwise at
 * most one update per interval pass; the rest are dropped (the next one sent is always current).
 */
import type { TrainProgressView } from '../../protocol/training';

export const TRAIN_PROGRESS_INTERVAL_MS = 250;

/** Wraps `emit` so that it is called as the module comment says; `now` is a clock in milliseconds. */
export function throttleTrainProgress(
  emit: (progress: TrainProgressView) => void,
  intervalMs = TRAIN_PROGRESS_INTERVAL_MS,
  now: () => number = () => performance.now(),
): (progress: TrainProgressView) => void {
  let last: TrainProgressView | undefined;
  let lastAt = -Infinity;
  return (progress) => {
    const at = now();
    const milestone =
      !last ||
      last.phase !== progress.phase ||
      last.part !== progress.part ||
      last.epoch !== progress.epoch ||
      progress.batch === 1 ||
      (progress.batch !== undefined && progress.batch === progress.batches);
    if (!milestone && at - lastAt < intervalMs) return;
    last = progress;
    lastAt = at;
    emit(progress);
  };
}
