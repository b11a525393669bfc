/**
 * A pixel task's failure as it crosses between threads: typed in the worker thread
 * (describeFailure), thrown again as its class on the main thread (failureError). Apart from
 * pixel-work.ts, so that the main thread does not load the decoder and the encoder (sharp, the
 * XMP parser) to read a failure.
 */
import { BadPhotoError, EnvironmentError, errorMessage, photoFailure, type BadPhotoCode } from '../errors.js';
import { decodeFailure } from '../image/decode-errors.js';
import { ChangedFileError } from '../io/read-verified.js';

/** A task's failure, as it crosses back from the worker thread: whose fault, a code, the words. */
export interface PixelFailed {
  failed: { fault: 'photo' | 'environment'; code: string; reason: string };
}

/**
 * A failure in the worker thread, typed before it crosses to the main thread: the file changed
 * since it was hashed, or the machine failed (an errno such as EACCES or EMFILE), is the
 * environment's; a missing file, or what the decoder or encoder refused, is the photo's.
 */
export function describeFailure(path: string, err: unknown): PixelFailed['failed'] {
  if (err instanceof ChangedFileError) return { fault: 'environment', code: 'CHANGED', reason: err.message };
  const failure = photoFailure(path, err);
  if (failure instanceof EnvironmentError) return { fault: 'environment', code: failure.code, reason: failure.reason };
  if (failure instanceof BadPhotoError && failure.code !== 'DAMAGED') return { fault: 'photo', code: failure.code, reason: failure.reason };
  return { fault: 'photo', ...decodeFailure(path, errorMessage(err)) };
}

/** The typed error of a failure that came back from the worker thread. */
export function failureError(path: string, f: PixelFailed['failed']): BadPhotoError | EnvironmentError {
  return f.fault === 'environment' ? new EnvironmentError(path, f.code, f.reason) : new BadPhotoError(path, f.code as BadPhotoCode, f.reason);
}
