/**
 * A file a format or data source cannot read: a SourceError (src/common/errors.ts) like the engine's
 * InputError, which the engine converts it to (withInputErrors), so the same words reach the editor
 * and the CLI.
 */
import { SourceError } from '../common/errors';

export class FormatError extends SourceError {
  override readonly name = 'FormatError';
}
