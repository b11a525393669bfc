/**
 * Decoding a scan with sharp into what DDColor needs: the upright picture's full-resolution L
 * channel, the picture resized to the model's square input, and its alpha channel if it has one.
 *
 * Handled: EXIF orientation (applied), 8- and 16-bit, grayscale, palette, BMP, CMYK and embedded ICC
 * profiles (converted to sRGB before any Lab math), alpha (kept aside), multi-frame files (first
 * frame only).
 */
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import sharp, { type Metadata, type Sharp } from 'sharp';
import { decodeBmp, isBmp, type RawImage } from './bmp.js';
import { carriedFrom, type CarriedMetadata } from './metadata.js';
import { resizeLinear } from './resize.js';
import { packNeutralWasm } from './composite-wasm.js';
import { DecoderError, decoding } from './decode-errors.js';

/** Refuse pictures with more pixels than this unless told otherwise (sharp's own default). */
export const DEFAULT_MAX_PIXELS = 268_402_689;

/** A scan decoded upright: its 8-bit gray or sRGB pixels, and its alpha set aside. */
export interface DecodedImage {
  /** Upright width and height. */
  width: number;
  height: number;
  /** sharp's name of the input format (jpeg, png, webp, tiff, gif, ...). */
  format: string;
  /**
   * Interleaved 8-bit pixels, width*height*channels: gray (1) or sRGB (3). Possibly sharp's own
   * (external) memory, which cannot move between threads: `ownedPixels` copies what must move.
   */
  pixels: Uint8Array;
  channels: 1 | 3;
  /** Alpha, width*height 8-bit values, when the input has an alpha channel. */
  alpha: Uint8Array | null;
  /** The scan's EXIF, XMP and IPTC, for its output (read with the header, not again). */
  carried: CarriedMetadata;
}

export interface DecodeOptions {
  maxPixels?: number;
  /**
   * Keep a gray scan saved as RGB (R = G = B everywhere) as one channel (the default): a third of
   * the memory to hold or move. False leaves it RGB, for a caller that treats both alike (the
   * composite does) and would rather not pay the pass over every pixel that finds it out.
   */
  neutralAsGray?: boolean;
  /**
   * The scan is known to decode to gray (its cached result says so, for these very bytes): an
   * 8-bit RGB scan is then decoded to its first channel alone (after its ICC profile, if any, is
   * applied, as always), a third of the memory and no pass to find it neutral. Any other scan
   * (16-bit, CMYK) is decoded as usual.
   */
  knownGray?: boolean;
}

/**
 * sharp's input for a scan: the file itself (first frame), or for a BMP, which libvips cannot
 * read, its pixels decoded here.
 */
export async function sharpInput(input: string | Buffer, options: DecodeOptions = {}): Promise<Sharp> {
  const limit = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  const maybeBmp = typeof input === 'string' ? extname(input).toLowerCase() === '.bmp' : isBmp(input);
  if (maybeBmp) {
    const bytes = typeof input === 'string' ? await readFile(input) : input;
    if (isBmp(bytes)) {
      const raw = readBmp(bytes);
      if (raw.width * raw.height > limit) throw new DecoderError(`too large: ${raw.width}x${raw.height} pixels, more than the ${limit} ddcolor decodes`, 'TOO_LARGE');
      return sharp(raw.data, { raw: { width: raw.width, height: raw.height, channels: raw.channels }, limitInputPixels: limit });
    }
  }
  return sharp(input, { pages: 1, limitInputPixels: limit });
}

/** A BMP's pixels: whatever its reader throws is about the file's bytes, a DecoderError. */
function readBmp(bytes: Buffer): RawImage {
  try {
    return decodeBmp(bytes);
  } catch (err) {
    throw err instanceof DecoderError ? err : new DecoderError(`truncated or damaged BMP (${err instanceof Error ? err.message : String(err)})`, 'DAMAGED', err);
  }
}

/** The sharp pipeline every read of a scan starts from: first frame, upright. */
export async function openUpright(input: string | Buffer, options: DecodeOptions = {}): Promise<Sharp> {
  return (await sharpInput(input, options)).rotate();
}

const GRAY_SPACES = new Set(['b-w', 'grey16']);

/** A copy in a buffer of its own (sharp's are external memory, which cannot move between threads). */
function own(buf: Uint8Array): Uint8Array {
  const out = new Uint8Array(buf.byteLength);
  out.set(buf);
  return out;
}

/**
 * The decoded scan with its pixels (and alpha) in buffers of their own, to move to another thread.
 * Only then is the copy made: a photo rendered where it was decoded (a cache hit) never pays for
 * 12-36 MB of fresh memory, whose first touch costs more than the copy on some machines.
 */
export function ownedPixels(decoded: DecodedImage): DecodedImage {
  const owned = (b: Uint8Array): Uint8Array => (b.buffer.byteLength === b.byteLength && !Buffer.isBuffer(b) ? b : own(b));
  return { ...decoded, pixels: owned(decoded.pixels), alpha: decoded.alpha ? owned(decoded.alpha) : null };
}

/**
 * Decode `input` upright: 8-bit gray for a gray scan, else sRGB (an embedded profile or CMYK
 * converted), alpha aside, the first frame. Rejects with a DecoderError (decode-errors.ts) when
 * the decoder refuses the bytes, with the errno when the file cannot be read.
 */
export async function decodeImage(input: string | Buffer, options: DecodeOptions = {}): Promise<DecodedImage> {
  const source = await sharpInput(input, options);
  const meta = await decoding(source.clone().metadata());
  if (!meta.format || !meta.width || !meta.height) throw new DecoderError('not an image ddcolor can read (the decoder found no picture in it)', 'NOT_AN_IMAGE');
  const colourChannels = (meta.channels ?? 3) - (meta.hasAlpha ? 1 : 0);
  const oneChannel = colourChannels === 1 && GRAY_SPACES.has(meta.space ?? '');
  const savedAsRgb = !oneChannel && options.knownGray === true && eightBitRgb(meta);
  const base = source.clone().rotate();
  // A gray scan saved as 8-bit RGB: its first channel as libvips gives it (after any profile). A
  // conversion to b-w after it changes no value and cost 120 of a 12 MP scan's 200 ms here.
  const colour = oneChannel
    ? base.clone().extractChannel(0).toColourspace('b-w')
    : savedAsRgb
      ? base.clone().extractChannel(0)
      : base.clone().removeAlpha().toColourspace('srgb');
  const full = await decoding(colour.clone().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true }));
  const channels = full.info.channels as 1 | 3;
  if (channels !== 1 && channels !== 3) throw new DecoderError(`not an image ddcolor can read (${full.info.channels} channels after decoding)`, 'NOT_AN_IMAGE');
  let alpha: Uint8Array | null = null;
  if (meta.hasAlpha) {
    alpha = await decoding(base.clone().extractChannel(((meta.channels ?? 4) - 1) as 0 | 1 | 2 | 3).raw({ depth: 'uchar' }).toBuffer());
  }
  // A gray scan saved as RGB (R = G = B everywhere) is kept as one channel: a third of the memory,
  // and the gray path of every later step. Its L is the same either way.
  const gray8 = channels === 3 && options.neutralAsGray !== false ? packNeutralWasm(full.data) : null;
  const pixels = gray8 ?? full.data;
  return { width: full.info.width, height: full.info.height, format: meta.format, pixels, channels: gray8 ? 1 : channels, alpha, carried: carriedFrom(meta) };
}

/** 8-bit RGB: libvips applies its profile before taking a channel, so its first channel is its gray when R = G = B. */
function eightBitRgb(meta: Metadata): boolean {
  const colourChannels = (meta.channels ?? 3) - (meta.hasAlpha ? 1 : 0);
  return colourChannels === 3 && meta.space === 'srgb' && meta.depth === 'uchar';
}

/** The one channel of interleaved RGB whose every pixel is neutral (R = G = B), else null (at the first that is not). */
export function neutralToGray(rgb: Uint8Array): Uint8Array | null {
  const n = rgb.length / 3;
  for (let p = 0; p < rgb.length; p += 3) if (rgb[p] !== rgb[p + 1] || rgb[p] !== rgb[p + 2]) return null;
  const gray = new Uint8Array(n);
  for (let i = 0, p = 0; i < n; i++, p += 3) gray[i] = rgb[p]!;
  return gray;
}

/**
 * The model's input from a decoded scan: the upright picture stretched to size x size (aspect
 * ratio not kept) as DDColor's official code does it (bilinear, image/resize.ts), gray or sRGB,
 * values in [0, 1]. Not through sharp, whose resize is not the official one and whose raw output
 * of a 1-channel picture has 3 channels.
 */
export function shrinkForModel(decoded: DecodedImage, size: number): { pixels: Float32Array; channels: 1 | 3; size: number } {
  const { pixels, channels, width, height } = decoded;
  return { pixels: resizeLinear(pixels, channels, width, height, size, size), channels, size };
}
