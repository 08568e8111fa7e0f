/**
 * A file a format or data source cannot read: names the file, the field and the problem, like the
 * engine's InputError (which the engine converts it to), so the same words reach the editor and the CLI.
 */
export class FormatError extends Error {
  override readonly name = 'FormatError';
  constructor(
    /** The file or folder at fault. */
    readonly source: string,
    /** The field inside it ("modelTopology", "dims"); empty when the whole file is at fault. */
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
