/**
 * A picture's refusal, typed where it happens: `DecoderError` for what a decoder (libvips through
 * sharp, or ddcolor's own BMP reader) said about a scan's bytes, `EncoderError` for what the
 * encoder said about a finished picture. Only these are ever the photo's fault by way of a decoder;
 * anything else thrown in the pixel work is ddcolor's own (errors.ts, InternalError).
 *
 * libvips says the same damage in several ways ("VipsJpeg: premature end of JPEG image", "Warning
 * treated as error due to failOn setting", "vipspng: libpng read error") and has no error codes:
 * this is the one place that reads its messages, and it turns them into a code and a sentence a
 * person can act on. ddcolor's own checks give their code when they throw.
 */
import { extname } from 'node:path';
import { errnoOf, type BadPhotoCode } from '../errors.js';

/** A decoder refused a scan's bytes: `code` when ddcolor's own check knows it, else read from libvips' words. */
export class DecoderError extends Error {
  override readonly name = 'DecoderError';
  constructor(
    message: string,
    readonly code?: BadPhotoCode,
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
  }
}

/** The encoder refused the finished picture (libvips' words). */
export class EncoderError extends Error {
  override readonly name = 'EncoderError';
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
  }
}

/** An error a system call raised (an errno such as EACCES), not a decoder: it keeps its own type. */
function systemError(err: unknown): boolean {
  const code = errnoOf(err);
  return code !== null && !code.startsWith('ERR_');
}

/** `call`, its rejection typed as a decoder's; an errno (the file could not be read) stays as it is. */
export async function decoding<T>(call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (err) {
    if (err instanceof DecoderError || systemError(err)) throw err;
    throw new DecoderError(err instanceof Error ? err.message : String(err), undefined, err);
  }
}

/** `call`, its rejection typed as the encoder's; an errno, or a decoder's refusal of the scan it is laid over, stays as it is. */
export async function encoding<T>(call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (err) {
    if (err instanceof DecoderError || systemError(err)) throw err;
    throw new EncoderError(err instanceof Error ? err.message : String(err), err);
  }
}

const TRUNCATED = /premature end|truncat|unexpected end|read error|not enough data|short read|warning treated as error|corrupt|invalid|bad (huffman|marker|header)|crc error/i;
const NOT_AN_IMAGE = /unsupported image format|not an image|bad seek|not a known file format|unknown file format/i;
const TOO_LARGE = /exceeds pixel limit|over the limit|too large/i;
const MISSING = /input file is missing/i;
/** libvips' "out of memory --- size == …", libjpeg's "Insufficient memory (case …)", and their kin. */
const OUT_OF_MEMORY = /out of memory|insufficient memory|cannot allocate|failed to allocate|memory allocation failed/i;

/** The format a file's name says it is, for the words ("JPEG", "PNG"). */
function formatName(path: string): string {
  const ext = extname(path).slice(1).toLowerCase();
  const names: Record<string, string> = { jpg: 'JPEG', jpeg: 'JPEG', png: 'PNG', tif: 'TIFF', tiff: 'TIFF', webp: 'WebP', bmp: 'BMP', gif: 'GIF' };
  return names[ext] ?? 'image';
}

/**
 * The decoder or the encoder ran out of memory: the machine's fault (ENOMEM), never the photo's,
 * whose file is then tried again; null for any other refusal.
 */
export function outOfMemory(err: DecoderError | EncoderError): { code: 'ENOMEM'; reason: string } | null {
  if (err instanceof DecoderError && err.code) return null;
  const who = err instanceof EncoderError ? 'encoder' : 'decoder';
  return OUT_OF_MEMORY.test(err.message) ? { code: 'ENOMEM', reason: `out of memory (ENOMEM; the ${who} said: ${err.message})` } : null;
}

/** The code and the words for a decoder's refusal of the photo at `path`: ddcolor's own check's words as they are, libvips' read into a code. */
export function decodeFailure(path: string, err: DecoderError): { code: BadPhotoCode; reason: string } {
  if (err.code) return { code: err.code, reason: err.message };
  const message = err.message;
  if (MISSING.test(message)) return { code: 'NOT_FOUND', reason: 'not found (deleted or moved since the scan)' };
  if (TOO_LARGE.test(message)) return { code: 'TOO_LARGE', reason: 'too large: more pixels than ddcolor decodes, or than the output format holds' };
  if (NOT_AN_IMAGE.test(message)) return { code: 'NOT_AN_IMAGE', reason: 'not an image ddcolor can read (its content is not JPEG, PNG, TIFF, WebP, BMP or GIF)' };
  const what = formatName(path);
  if (TRUNCATED.test(message)) return { code: 'DAMAGED', reason: `truncated or damaged ${what} (the picture ends early or has broken data)` };
  return { code: 'DAMAGED', reason: `damaged or unreadable ${what} (the decoder said: ${message})` };
}

/** The encoder's refusal: too large for the output format is the photo's (TOO_LARGE); anything else is not the photo's (null). */
export function encodeFailure(err: EncoderError): { code: 'TOO_LARGE'; reason: string } | null {
  return TOO_LARGE.test(err.message) ? { code: 'TOO_LARGE', reason: 'too large: more pixels than ddcolor decodes, or than the output format holds' } : null;
}
