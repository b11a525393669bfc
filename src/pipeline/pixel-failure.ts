/**
 * A pixel task's failure as it crosses between threads: typed in the worker thread
 * (describeFailure), thrown again as its class on the main thread (failureError). Apart from
 * pixel-work.ts, so that the main thread does not load the decoder and the encoder (sharp, the
 * XMP parser) to read a failure.
 */
import { BadPhotoError, CancelledError, EnvironmentError, InternalError, photoFailure, type BadPhotoCode, type PhotoFailure } from '../errors.js';
import { decodeFailure, DecoderError, encodeFailure, EncoderError, outOfMemory } from '../image/decode-errors.js';
import { ChangedFileError } from '../io/read-verified.js';

/** A task's failure, as it crosses back from the worker thread: whose fault, a code, the words. */
export interface PixelFailed {
  failed: { fault: 'photo' | 'environment' | 'ddcolor'; code: string; reason: string };
}

/**
 * A failure in the worker thread, typed before it crosses to the main thread: the file changed
 * since it was hashed, or the machine failed (an errno such as EACCES or EMFILE, or the decoder
 * or the encoder out of memory), is the environment's; a missing file, what the decoder refused,
 * or a picture too large for the output format, is the photo's; anything else (the kernel, a bug,
 * memory that JavaScript could not have) is ddcolor's own, never the photo's.
 */
export function describeFailure(path: string, err: unknown): PixelFailed['failed'] {
  if (err instanceof ChangedFileError) return { fault: 'environment', code: 'CHANGED', reason: err.message };
  const memory = err instanceof DecoderError || err instanceof EncoderError ? outOfMemory(err) : null;
  if (memory) return { fault: 'environment', ...memory };
  if (err instanceof DecoderError) return { fault: 'photo', ...decodeFailure(path, err) };
  const tooLarge = err instanceof EncoderError ? encodeFailure(err) : null;
  if (tooLarge) return { fault: 'photo', ...tooLarge };
  const failure = photoFailure(path, err);
  if (failure instanceof CancelledError || failure.fault === 'other-file') return { fault: 'ddcolor', ...codeAndReason(InternalError.of(path, err)) };
  return { fault: failure.fault, ...codeAndReason(failure) };
}

function codeAndReason(f: PhotoFailure): { code: string; reason: string } {
  return { code: f.code, reason: f.reason };
}

/** The typed error of a failure that came back from the worker thread. */
export function failureError(path: string, f: PixelFailed['failed']): BadPhotoError | EnvironmentError | InternalError {
  if (f.fault === 'environment') return new EnvironmentError(path, f.code, f.reason);
  if (f.fault === 'ddcolor') return new InternalError(path, f.reason);
  return new BadPhotoError(path, f.code as BadPhotoCode, f.reason);
}
