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

/**
 * A photo not done because the run stopped (Ctrl-C, SIGTERM, a fatal error elsewhere): not a
 * failure of anything. Photos waiting on it are not processed either; a later run or worker does them.
 */
export class CancelledError extends Error {
  override readonly name = 'CancelledError';
  constructor(readonly why: string) {
    super(`not processed (${why})`);
  }
}

/** What the system said, in words a person can act on; null for an errno this does not know as the environment's. */
const ENVIRONMENT_ERRNOS: Record<string, string> = {
  ENOSPC: 'the disk is full',
  EDQUOT: 'the disk quota is used up',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'the file system is read-only',
  EIO: 'input/output error (a failing disk or network share)',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files on the system',
  ENOMEM: 'out of memory',
  EBUSY: 'the file or device is busy',
  ETIMEDOUT: 'timed out',
  ESTALE: 'stale network file handle',
};

/** The errno of a Node.js system error, if it is one. */
function errnoOf(err: unknown): string | null {
  return err instanceof Error && typeof (err as NodeJS.ErrnoException).code === 'string' ? (err as NodeJS.ErrnoException).code! : null;
}

/**
 * A failure of the machine's environment (disk full, permission, a read-only or failing disk), as
 * a transient error in words; null when `err` is not one. Such a failure is never the photo's
 * fault: it is never remembered as a bad input, and a fleet job with it is tried again.
 */
export function environmentFault(err: unknown): TransientError | null {
  if (err instanceof TransientError) return err;
  const code = errnoOf(err);
  const words = code ? ENVIRONMENT_ERRNOS[code] : undefined;
  if (!words) return null;
  const path = (err as NodeJS.ErrnoException).path;
  return new TransientError(`${words} (${code}${path ? `, ${path}` : ''})`, err);
}
