/**
 * Encoding the colorized picture into the bytes of its output file (the pipeline writes them). The
 * output keeps the scan's EXIF (date taken, camera, description), XMP and IPTC where the format can
 * hold them, with the orientation reset (the pixels are upright), and carries an sRGB ICC profile.
 */
import sharp, { type Sharp } from 'sharp';
import type { OutputFormat } from './formats.js';
import { openUpright, type DecodeOptions } from './decode.js';
import { encoding } from './decode-errors.js';
import { embedMetadata } from './embed.js';
import { exifForOutput } from './exif.js';
import { xmpForOutput, type Provenance } from './xmp.js';
import { srgbIccProfile, type CarriedMetadata } from './metadata.js';

export interface EncodeRequest {
  /** The scan the pixels were made from, its file or its bytes (the TIFF output is laid over it). */
  source: string | Buffer;
  /** Interleaved 8-bit sRGB, 3 channels, width x height (upright). */
  rgb: Uint8Array;
  width: number;
  height: number;
  alpha: Uint8Array | null;
  format: OutputFormat;
  quality: number;
  /** What made the output, written into its XMP and EXIF. */
  provenance: Provenance;
  /** The scan's EXIF, XMP and IPTC (image/decode.ts read them with its header). */
  carried: CarriedMetadata;
  decode?: DecodeOptions;
}

function withFormat(s: Sharp, format: OutputFormat, quality: number): Sharp {
  switch (format) {
    case 'jpg':
      // libjpeg's standard Huffman tables, not optimised ones: optimising keeps every DCT
      // coefficient of the picture (72 MB for 12 MP at 4:4:4) for a second pass and takes twice
      // the time, for files about 10 % smaller (BENCHMARKS.md). `jpegtran -optimize` gets those
      // 10 % back losslessly afterwards (README).
      return s.jpeg({ quality, mozjpeg: false, optimiseCoding: false, chromaSubsampling: quality >= 90 ? '4:4:4' : '4:2:0' });
    case 'png':
      return s.png({ compressionLevel: 6 });
    case 'webp':
      return s.webp({ quality });
    case 'tiff':
      return s.tiff({ quality, compression: 'lzw' });
    case 'gif':
      return s.gif();
  }
}

/** Interleave RGB and alpha, or flatten over white for formats without alpha. */
function withAlpha(req: EncodeRequest): { pixels: Uint8Array; channels: 3 | 4 } {
  const { rgb, alpha, width, height } = req;
  if (!alpha) return { pixels: rgb, channels: 3 };
  const n = width * height;
  if (req.format === 'jpg') {
    const out = new Uint8Array(n * 3);
    for (let i = 0; i < n; i++) {
      const a = alpha[i]! / 255;
      for (let c = 0; c < 3; c++) out[i * 3 + c] = Math.round(rgb[i * 3 + c]! * a + 255 * (1 - a));
    }
    return { pixels: out, channels: 3 };
  }
  const out = new Uint8Array(n * 4);
  for (let i = 0; i < n; i++) {
    out[i * 4] = rgb[i * 3]!;
    out[i * 4 + 1] = rgb[i * 3 + 1]!;
    out[i * 4 + 2] = rgb[i * 3 + 2]!;
    out[i * 4 + 3] = alpha[i]!;
  }
  return { pixels: out, channels: 4 };
}

/**
 * The output file's bytes, in an ArrayBuffer of their own that can move to another thread
 * without a copy. JPEG, PNG and WebP are encoded from the pixels alone and given the
 * scan's EXIF (orientation reset), XMP and IPTC and the sRGB profile as bytes (image/embed.ts):
 * the scan is not decoded again and no colour transform runs. TIFF keeps its metadata through
 * libvips, by laying the pixels over the scan; GIF holds none.
 */
export async function encodeImage(req: EncodeRequest): Promise<Uint8Array> {
  if (req.format === 'tiff') return copied(await encoding(encodeOverSource(req)));
  const { pixels, channels } = withAlpha(req);
  const raw = Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength);
  const bytes = await encoding(withFormat(sharp(raw, { raw: { width: req.width, height: req.height, channels } }), req.format, req.quality).toBuffer());
  if (req.format === 'gif') return copied(bytes);
  const { carried } = req;
  // The splice makes a new buffer of JavaScript's own: it moves to the main thread as it is.
  return whole(embedMetadata(bytes, req.format, {
    icc: await srgbIccProfile(),
    exif: exifForOutput(carried.exif, { software: req.provenance.software, width: req.width, height: req.height }),
    xmp: xmpForOutput(carried.xmp, req.provenance),
    iptc: carried.iptc,
  }));
}

/** sharp's output (external memory, which cannot move between threads) copied into memory of JavaScript's. */
function copied(bytes: Buffer): Uint8Array {
  const out = new Uint8Array(bytes.byteLength);
  out.set(bytes);
  return out;
}

/** A buffer JavaScript allocated, as a whole ArrayBuffer that can move between threads (a small one, from Node's pool, is copied). */
function whole(bytes: Buffer): Uint8Array {
  return bytes.byteOffset === 0 && bytes.buffer.byteLength === bytes.byteLength ? new Uint8Array(bytes.buffer) : copied(bytes);
}

/** Lay the pixels over the scan itself, so libvips keeps its metadata (orientation reset). */
async function encodeOverSource(req: EncodeRequest): Promise<Buffer> {
  const { pixels, channels } = withAlpha(req);
  const base = await openUpright(req.source, req.decode);
  const meta = await base.metadata();
  const deepColour = meta.space === 'rgb16';
  let s = base.composite([
    { input: Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength), raw: { width: req.width, height: req.height, channels }, blend: 'source' },
  ]);
  if (channels === 3) s = s.removeAlpha();
  // sharp (0.35) takes a 16-bit RGB source to be Display P3 and, asked for an sRGB profile,
  // transforms the finished sRGB pixels again as if they were P3: colours shift. Those outputs
  // carry no profile (sRGB is what viewers assume), their EXIF and XMP are kept.
  s = deepColour ? s.keepExif().keepXmp() : s.keepMetadata().withIccProfile('srgb');
  s = s.withExifMerge({ IFD0: { Software: req.provenance.software } }).withXmp(Buffer.from(xmpForOutput(meta.xmp ?? null, req.provenance)).toString('utf8'));
  s = withFormat(s, req.format, req.quality);
  return s.toBuffer();
}
