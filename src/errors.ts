/**
 * Errors the library throws, a class per kind; nothing is ever decided by matching a message.
 *
 * Run-level errors (`UsageError`, `ConfigError`, `InterruptedError`) stop a run; `kind` tells the
 * CLI which exit code to use. A photo's failure is a `PhotoFailure` naming the file, with a stable
 * `code` and whose fault it is:
 *
 *   BadPhotoError     the photo's own fault (empty, not an image, damaged, too large): the only
 *                     failure a fleet remembers as a bad input, never tried again while unchanged
 *   EnvironmentError  the machine's or a service's (disk full, permission, the model or the cache
 *                     failed, the file changed while it was read): transient, worth trying again
 *   BlockedError      another file's (a file of the user's at the output's place): done once that
 *                     file is moved
 *
 * A photo not done because the run stopped is a `CancelledError`: not a failure at all.
 */
export type ErrorKind = 'usage' | 'config' | 'input' | 'interrupted';

export class DdcolorError extends Error {
  override readonly name: string = 'DdcolorError';
  constructor(
    readonly kind: ErrorKind,
    message: string,
    readonly file?: string,
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
  }
}

/** A wrong flag, option or argument (exit 2). */
export class UsageError extends DdcolorError {
  override readonly name = 'UsageError';
  constructor(message: string, file?: string) {
    super('usage', message, file);
  }
}

/** The machine or its set-up keeps the run from starting: a missing model, an unwritable folder (exit 2). */
export class ConfigError extends DdcolorError {
  override readonly name = 'ConfigError';
  constructor(message: string, file?: string) {
    super('config', message, file);
  }
}

/**
 * A package this install cannot load (`import()` rejected), needed by what the run is to do: `what`
 * says what it does ("decodes the photos"). The install's fault, so the run stops; no photo, no
 * server is to blame.
 */
export function unloadable(pkg: string, what: string, err: unknown): ConfigError {
  return new ConfigError(`${pkg}, which ${what}, cannot be loaded (${errorMessage(err)}): reinstall ddcolor's dependencies (npm ci in its folder), then check with: ddcolor doctor`);
}

/** Stopped by a signal before the run began (waiting for a lock). */
export class InterruptedError extends DdcolorError {
  override readonly name = 'InterruptedError';
  constructor(message: string) {
    super('interrupted', message);
  }
}

/**
 * A record read from Redis (the queue's or the fleet's) that is not what ddcolor writes there:
 * another program wrote it, or it was damaged. Names the key, never echoes what it holds.
 */
export class DamagedRecordError extends DdcolorError {
  override readonly name = 'DamagedRecordError';
  constructor(
    readonly key: string,
    readonly reason: string,
  ) {
    super('input', `${key}: not a record ddcolor wrote (${reason})`);
  }
}

/**
 * A run that no worker could finish: its own job failed (its folder outside the worker's output
 * roots, a report that could not be written), with BullMQ's reason.
 */
export class RunFailedError extends DdcolorError {
  override readonly name = 'RunFailedError';
  constructor(
    readonly run: string,
    readonly reason: string,
  ) {
    super('input', `run ${run}: a worker could not finish it (${reason})`);
  }
}

/**
 * An option given to the library that is not what it expects: names the option (`quality`), what
 * was given and what was expected. The CLI says the same with its flag's name (`--quality`).
 */
export class InvalidOptionError extends UsageError {
  constructor(
    readonly option: string,
    readonly value: unknown,
    readonly expected: string,
  ) {
    super(`${option}: expected ${expected}, got ${JSON.stringify(value) ?? String(value)}`);
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * A failure of the machine or a service that is not tied to one photo (Redis did not answer, a
 * record could not be written): trying again later may work. A photo failing with it fails with
 * an EnvironmentError.
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

/** Whose fault a photo's failure is: its own, the machine's, another file's, or ddcolor's own. */
export type Fault = 'photo' | 'environment' | 'other-file' | 'ddcolor';

/** A photo that could not be done: its file, a stable code, the reason in words. */
export abstract class PhotoFailure extends DdcolorError {
  abstract readonly fault: Fault;

  constructor(
    file: string,
    readonly code: string,
    readonly reason: string,
    cause?: unknown,
  ) {
    super('input', `${file}: ${reason}`, file, cause);
  }

  /** Worth trying again without anything changing about the photo. */
  get transient(): boolean {
    return this.fault === 'environment' || this.fault === 'ddcolor';
  }
}

/** Codes of a photo's own faults. */
export const BAD_PHOTO_CODES = ['EMPTY', 'NOT_FOUND', 'NOT_A_FILE', 'NOT_AN_IMAGE', 'DAMAGED', 'TOO_LARGE'] as const;
export type BadPhotoCode = (typeof BAD_PHOTO_CODES)[number];

/** The photo's own fault: it is empty, not an image, damaged or too large. Remembered by a fleet; never retried unchanged. */
export class BadPhotoError extends PhotoFailure {
  override readonly name = 'BadPhotoError';
  readonly fault = 'photo';
  constructor(file: string, code: BadPhotoCode, reason: string, cause?: unknown) {
    super(file, code, reason, cause);
  }
}

/** The environment's fault (an errno such as ENOSPC, or MODEL, PIXEL_THREAD, CACHE, RECORDS, CHANGED, OUTSIDE_ROOTS): transient. */
export class EnvironmentError extends PhotoFailure {
  override readonly name = 'EnvironmentError';
  readonly fault = 'environment';
}

/**
 * ddcolor's own failure on a photo (`INTERNAL`): an error no decoder, encoder or system call
 * raised, so nothing says the photo is to blame (a bug, or memory the process could not get).
 * Never remembered as a bad photo; tried again, like the machine's faults.
 */
export class InternalError extends PhotoFailure {
  override readonly name = 'InternalError';
  readonly fault = 'ddcolor';
  constructor(file: string, reason: string, cause?: unknown) {
    super(file, 'INTERNAL', reason, cause);
  }

  /** ddcolor's failure on the photo at `file` with `err`, in words that name the error. */
  static of(file: string, err: unknown): InternalError {
    const what = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    return new InternalError(file, `ddcolor itself failed on it (${what}); not the photo's fault: it is tried again; if it keeps failing, report it`, err);
  }
}

/** Another file's fault (`OUTPUT_TAKEN`: a file of the user's at the output's place); `blocker` is that file. */
export class BlockedError extends PhotoFailure {
  override readonly name = 'BlockedError';
  readonly fault = 'other-file';
  constructor(
    file: string,
    readonly blocker: string,
    code: string,
    reason: string,
  ) {
    super(file, code, reason);
  }
}

/** What the system said, in words a person can act on, for the errnos that are the environment's fault. */
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

/** Errnos that say the photo itself is not there to be read: its fault, with these words. */
const MISSING_ERRNOS: Record<string, [BadPhotoCode, string]> = {
  ENOENT: ['NOT_FOUND', 'not found (deleted or moved since the scan)'],
  EISDIR: ['NOT_A_FILE', 'is a folder, not a file'],
  ENOTDIR: ['NOT_FOUND', 'not found (a folder on its path is a file)'],
};

/** The errno of a Node.js system error, if it is one. */
export function errnoOf(err: unknown): string | null {
  return err instanceof Error && typeof (err as NodeJS.ErrnoException).code === 'string' ? (err as NodeJS.ErrnoException).code! : null;
}

/** An errno the environment is to blame for, in words: "the disk is full (ENOSPC, /out/a.jpg)"; null for any other error. */
export function environmentWords(err: unknown): { code: string; words: string } | null {
  const code = errnoOf(err);
  const words = code ? ENVIRONMENT_ERRNOS[code] : undefined;
  if (!code || !words) return null;
  const path = (err as NodeJS.ErrnoException).path;
  return { code, words: `${words} (${code}${path ? `, ${path}` : ''})` };
}

/**
 * The typed failure of the photo at `file` for whatever `err` is: a PhotoFailure as it is; another
 * file named by a DdcolorError, that file's fault; a transient error or an environment errno, the
 * environment's; the photo's own file missing, the photo's (another path missing, the machine's).
 * Anything else thrown while the photo was worked on (the decoders' own errors are typed where
 * they are caught) is taken as the photo's: DAMAGED.
 * A CancelledError is not a failure and is returned as it is.
 */
export function photoFailure(file: string, err: unknown): PhotoFailure | CancelledError {
  if (err instanceof PhotoFailure || err instanceof CancelledError) return err;
  if (err instanceof DdcolorError && err.file !== undefined && err.file !== file) return new BlockedError(file, err.file, 'OTHER_FILE', err.message);
  if (err instanceof TransientError) return new EnvironmentError(file, 'TRANSIENT', err.message, err);
  const env = environmentWords(err);
  if (env) return new EnvironmentError(file, env.code, env.words, err);
  const code = errnoOf(err);
  const missing = code ? MISSING_ERRNOS[code] : undefined;
  const where = (err as NodeJS.ErrnoException).path;
  // Only the photo's own file missing is the photo's fault; another path (an output's folder
  // removed during the run, a file of ddcolor's own install) is the machine's.
  if (missing && where !== undefined && where !== file) return new EnvironmentError(file, code!, `a file or folder it needs is missing or not what it should be (${code}, ${where})`, err);
  if (missing) return new BadPhotoError(file, missing[0], missing[1], err);
  return InternalError.of(file, err);
}
