/**
 * What a decoder's failure means, in stable, plain words. libvips (through sharp) says the same
 * damage in several ways ("VipsJpeg: premature end of JPEG image", "Warning treated as error due to
 * failOn setting", "vipspng: libpng read error"), and has no error codes: this is the one place
 * that reads its messages, and it turns them into a code and a sentence a person can act on.
 */
import { extname } from 'node:path';
import type { BadPhotoCode } from '../errors.js';

const TRUNCATED = /premature end|truncat|unexpected end|read error|not enough data|short read|warning treated as error|corrupt|invalid|bad (huffman|marker|header)|crc error/i;
const NOT_AN_IMAGE = /unsupported image format|not an image|bad seek|not a known file format|unknown file format/i;
const TOO_LARGE = /exceeds pixel limit|over the limit|too large/i;
const MISSING = /input file is missing/i;

/** The format a file's name says it is, for the words ("JPEG", "PNG"). */
function formatName(path: string): string {
  const ext = extname(path).slice(1).toLowerCase();
  const names: Record<string, string> = { jpg: 'JPEG', jpeg: 'JPEG', png: 'PNG', tif: 'TIFF', tiff: 'TIFF', webp: 'WebP', bmp: 'BMP', gif: 'GIF' };
  return names[ext] ?? 'image';
}

/** The code and the words for a decoder's (or encoder's) error about the photo at `path`. */
export function decodeFailure(path: string, message: string): { code: BadPhotoCode; reason: string } {
  if (MISSING.test(message)) return { code: 'NOT_FOUND', reason: 'not found (deleted or moved since the scan)' };
  if (TOO_LARGE.test(message)) return { code: 'TOO_LARGE', reason: 'too large: more pixels than ddcolor decodes, or than the output format holds' };
  if (NOT_AN_IMAGE.test(message)) return { code: 'NOT_AN_IMAGE', reason: 'not an image ddcolor can read (its content is not JPEG, PNG, TIFF, WebP, BMP or GIF)' };
  const what = formatName(path);
  if (TRUNCATED.test(message)) return { code: 'DAMAGED', reason: `truncated or damaged ${what} (the picture ends early or has broken data)` };
  return { code: 'DAMAGED', reason: `damaged or unreadable ${what} (the decoder said: ${message})` };
}
