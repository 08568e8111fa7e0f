/**
 * An input problem the user can fix: names the file (or option) and the field, and says
 * what was expected. Every bad-input path in the engine throws this, never a bare Error.
 */
export class InputError extends Error {
  override readonly name = 'InputError';
  constructor(
    /** The file or option at fault, e.g. "models/cnn/model.json" or "--eps". */
    readonly source: string,
    /** The field inside it, e.g. "weightsManifest[0].paths[0]"; empty when the whole file is at fault. */
    readonly field: string,
    readonly problem: string,
  ) {
    super(`${source}${field ? `: ${field}` : ''}: ${problem}`);
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
