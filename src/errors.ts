/**
 * Errors the library throws. `kind` tells the CLI which exit code to use: `usage` and `config`
 * (bad flags, missing inputs or model, unwritable output) are exit 2.
 */
export type ErrorKind = 'usage' | 'config' | 'input' | 'interrupted';

export class DdcolorError extends Error {
  override readonly name = 'DdcolorError';
  constructor(
    readonly kind: ErrorKind,
    message: string,
    readonly file?: string,
  ) {
    super(message);
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
