import { SourceError } from '../common/errors';
import { FormatError } from '../formats/errors';

/**
 * An input problem the user can fix: names the file (or option) and the field, and says
 * what was expected. Every bad-input path in the engine throws this, never a bare Error.
 * A SourceError, like the cheap readers' FormatError (withInputErrors converts one into the other).
 */
export class InputError extends SourceError {
  override readonly name = 'InputError';
}

/** Runs a reader from src/formats, turning its FormatError into the engine's InputError (same words). */
export function withInputErrors<T>(read: () => T): T {
  try {
    return read();
  } catch (err) {
    if (err instanceof FormatError) throw new InputError(err.source, err.field, err.problem, err.hint);
    throw err;
  }
}

/** Thrown when an AbortSignal stops engine work. */
export class AbortError extends Error {
  override readonly name = 'AbortError';
  constructor(what = 'operation') {
    super(`${what} aborted`);
  }
}

export function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new AbortError(what);
}
