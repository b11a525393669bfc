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

/**
 * An option given to the library that is not what it expects: names the option (`quality`), what
 * was given and what was expected. The CLI says the same with its flag's name (`--quality`).
 */
export class InvalidOptionError extends DdcolorError {
  constructor(
    readonly option: string,
    readonly value: unknown,
    readonly expected: string,
  ) {
    super('usage', `${option}: expected ${expected}, got ${JSON.stringify(value) ?? String(value)}`);
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * A failure of the machine or a service, not of the photo (the model ran out of memory, Redis did
 * not answer): trying again later may work. The photo's record says so (`transient`), and a fleet
 * job with such photos is retried.
 */
export class TransientError extends Error {
  override readonly name = 'TransientError';
  constructor(message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
  }
}
