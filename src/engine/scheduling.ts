/** Cooperative scheduling for long synchronous tensor loops, and the batch sizes of forward-only work. */

/** Lets a cancel message (a macrotask) arrive between steps of a long synchronous loop. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Forward-only work (no gradient tape, no backward activations kept) takes this many times the gradient batch. */
export const FORWARD_BATCH_FACTOR = 4;

/** Input floats of one forward-only batch at most (16 MB of float32), so large images keep small batches. */
export const FORWARD_BATCH_MAX_VALUES = 4 * 1024 * 1024;

/**
 * The batch for forward-only work (clean accuracy, Square's queries) when gradient work takes
 * `gradientBatch` images of `valuesPerImage` values: 4× as many, bounded by FORWARD_BATCH_MAX_VALUES
 * input values, never fewer than the gradient batch.
 */
export function forwardBatchSize(gradientBatch: number, valuesPerImage: number): number {
  const bounded = Math.floor(FORWARD_BATCH_MAX_VALUES / Math.max(1, valuesPerImage));
  return Math.max(gradientBatch, Math.min(gradientBatch * FORWARD_BATCH_FACTOR, bounded));
}
