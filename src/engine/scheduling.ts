/** Cooperative scheduling for long synchronous tensor loops. */

/** Lets a cancel message (a macrotask) arrive between steps of a long synchronous loop. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
