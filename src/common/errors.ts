/**
 * A problem with something the user gave (a file, a folder, an option) that the user can fix: names
 * it, the field inside it and what is wrong. The base of the cheap readers' FormatError
 * (src/formats/errors.ts) and the engine's InputError (src/engine/errors.ts), so both say it in the
 * same words: `source: field: problem; hint`.
 */
export class SourceError extends Error {
  override readonly name: string = 'SourceError';
  constructor(
    /** The file, folder or option at fault, e.g. "models/cnn/model.json" or "--eps". */
    readonly source: string,
    /** The field inside it ("modelTopology", "dims"); empty when the whole of it is at fault. */
    readonly field: string,
    readonly problem: string,
    /** What the problem suggests ("this is not a tfjs model.json"), left out where the context says it already. */
    readonly hint?: string,
  ) {
    super(`${source}${field ? `: ${field}` : ''}: ${problem}${hint ? `; ${hint}` : ''}`);
  }

  /** The problem with its hint: what follows the file and field in the message. */
  get detail(): string {
    return this.hint ? `${this.problem}; ${this.hint}` : this.problem;
  }
}
