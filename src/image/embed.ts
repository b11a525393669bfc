/**
 * Putting metadata blocks into an encoded JPEG, PNG or WebP file, as the formats define them,
 * without touching its pixels: the ICC profile, EXIF, XMP and IPTC of the output. (sharp can only
 * copy metadata by decoding the source again and laying the new pixels over it, and its sRGB
 * profile comes with a colour transform that changes nothing here but costs a pass over the pixels.)
 *
 * JPEG: APP2 ICC_PROFILE, APP1 Exif, APP1 XMP, APP13 Photoshop/IPTC after SOI.
 * PNG: iCCP, eXIf and an iTXt XML:com.adobe.xmp chunk after IHDR.
 * WebP: the extended format (VP8X with its flags), ICCP before the image, EXIF and XMP after it.
 */
import { deflateSync } from 'node:zlib';

export interface MetadataBlocks {
  icc: Uint8Array | null;
  /** A TIFF structure, without "Exif\0\0". */
  exif: Uint8Array | null;
  xmp: Uint8Array | null;
  /** Photoshop image resources ("Photoshop 3.0\0..."). */
  iptc: Uint8Array | null;
}

export type EmbedFormat = 'jpg' | 'png' | 'webp';

/** The file with the blocks spliced in: always a new buffer, allocated by JavaScript (`file` is left as it is). */
export function embedMetadata(file: Uint8Array, format: EmbedFormat, blocks: MetadataBlocks): Buffer {
  const buf = Buffer.from(file.buffer, file.byteOffset, file.byteLength);
  switch (format) {
    case 'jpg':
      return embedJpeg(buf, blocks);
    case 'png':
      return embedPng(buf, blocks);
    case 'webp':
      return embedWebp(buf, blocks);
  }
}

// ---------------------------------------------------------------------------------------------
// JPEG

const JPEG_SEGMENT_MAX = 65533; // payload bytes a segment's 16-bit length allows

function jpegSegment(marker: number, payload: Buffer): Buffer | null {
  if (payload.length > JPEG_SEGMENT_MAX) return null; // too large for one segment: left out
  const head = Buffer.alloc(4);
  head[0] = 0xff;
  head[1] = marker;
  head.writeUInt16BE(payload.length + 2, 2);
  return Buffer.concat([head, payload]);
}

function embedJpeg(file: Buffer, b: MetadataBlocks): Buffer {
  if (file[0] !== 0xff || file[1] !== 0xd8) throw new Error('not a JPEG file');
  const segments: Array<Buffer | null> = [];
  if (b.icc) {
    // ICC_PROFILE\0, chunk number, chunk count; a profile larger than one segment is split.
    const room = JPEG_SEGMENT_MAX - 14;
    const count = Math.ceil(b.icc.length / room);
    for (let k = 0; k < count; k++) {
      const head = Buffer.concat([Buffer.from('ICC_PROFILE\0', 'latin1'), Buffer.from([k + 1, count])]);
      segments.push(jpegSegment(0xe2, Buffer.concat([head, b.icc.subarray(k * room, (k + 1) * room)])));
    }
  }
  if (b.exif) segments.push(jpegSegment(0xe1, Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), b.exif])));
  if (b.xmp) segments.push(jpegSegment(0xe1, Buffer.concat([Buffer.from('http://ns.adobe.com/xap/1.0/\0', 'latin1'), b.xmp])));
  if (b.iptc) segments.push(jpegSegment(0xed, Buffer.from(b.iptc)));
  // After SOI, and after a JFIF APP0 if the encoder wrote one (it must come first).
  let at = 2;
  if (file[2] === 0xff && file[3] === 0xe0) at = 4 + file.readUInt16BE(4);
  return Buffer.concat([file.subarray(0, at), ...segments.filter((s): s is Buffer => s !== null), file.subarray(at)]);
}

// ---------------------------------------------------------------------------------------------
// PNG

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(...parts: Uint8Array[]): number {
  let c = 0xffffffff;
  for (const part of parts) for (let i = 0; i < part.length; i++) c = CRC_TABLE[(c ^ part[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function pngChunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(head.subarray(4), data));
  return Buffer.concat([head, data, crc]);
}

function embedPng(file: Buffer, b: MetadataBlocks): Buffer {
  if (file.toString('latin1', 1, 4) !== 'PNG' || file.toString('latin1', 12, 16) !== 'IHDR') throw new Error('not a PNG file');
  const chunks: Buffer[] = [];
  if (b.icc) chunks.push(pngChunk('iCCP', Buffer.concat([Buffer.from('sRGB\0\0', 'latin1'), deflateSync(b.icc)])));
  if (b.exif) chunks.push(pngChunk('eXIf', b.exif));
  if (b.xmp) chunks.push(pngChunk('iTXt', Buffer.concat([Buffer.from('XML:com.adobe.xmp\0\0\0\0\0', 'latin1'), b.xmp])));
  // IPTC has no standard PNG chunk: it goes with the XMP, which archive software reads.
  const afterHeader = 8 + 8 + file.readUInt32BE(8) + 4;
  return Buffer.concat([file.subarray(0, afterHeader), ...chunks, file.subarray(afterHeader)]);
}

// ---------------------------------------------------------------------------------------------
// WebP

function riffChunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.write(type, 0, 'latin1');
  head.writeUInt32LE(data.length, 4);
  return Buffer.concat([head, data, data.length % 2 ? Buffer.alloc(1) : Buffer.alloc(0)]);
}

interface RiffChunk {
  type: string;
  data: Buffer;
}

function riffChunks(file: Buffer): RiffChunk[] {
  const chunks: RiffChunk[] = [];
  for (let at = 12; at + 8 <= file.length; ) {
    const size = file.readUInt32LE(at + 4);
    chunks.push({ type: file.toString('latin1', at, at + 4), data: file.subarray(at + 8, at + 8 + size) });
    at += 8 + size + (size % 2);
  }
  return chunks;
}

/** The canvas size of a simple (VP8 or VP8L) WebP image. */
function webpSize(image: RiffChunk): { width: number; height: number } {
  const d = image.data;
  if (image.type === 'VP8L') {
    const bits = d.readUInt32LE(1);
    return { width: (bits & 0x3fff) + 1, height: ((bits >> 14) & 0x3fff) + 1 };
  }
  return { width: d.readUInt16LE(6) & 0x3fff, height: d.readUInt16LE(8) & 0x3fff };
}

function embedWebp(file: Buffer, b: MetadataBlocks): Buffer {
  if (file.toString('latin1', 0, 4) !== 'RIFF' || file.toString('latin1', 8, 12) !== 'WEBP') throw new Error('not a WebP file');
  const chunks = riffChunks(file);
  let vp8x = chunks.find((c) => c.type === 'VP8X');
  const image = chunks.filter((c) => c.type !== 'VP8X' && c.type !== 'ICCP' && c.type !== 'EXIF' && c.type !== 'XMP ');
  if (!vp8x) {
    const main = image.find((c) => c.type === 'VP8 ' || c.type === 'VP8L');
    if (!main) throw new Error('WebP file without an image');
    const { width, height } = webpSize(main);
    const data = Buffer.alloc(10);
    data.writeUIntLE(width - 1, 4, 3);
    data.writeUIntLE(height - 1, 7, 3);
    const losslessAlpha = main.type === 'VP8L' && ((main.data.readUInt32LE(1) >>> 28) & 1) === 1;
    if (losslessAlpha || image.some((c) => c.type === 'ALPH')) data[0]! |= 0x10;
    vp8x = { type: 'VP8X', data };
  }
  const header = Buffer.from(vp8x.data);
  if (b.icc) header[0]! |= 0x20;
  if (b.exif) header[0]! |= 0x08;
  if (b.xmp) header[0]! |= 0x04;
  const body = Buffer.concat([
    riffChunk('VP8X', header),
    ...(b.icc ? [riffChunk('ICCP', b.icc)] : []),
    ...image.map((c) => riffChunk(c.type, c.data)),
    ...(b.exif ? [riffChunk('EXIF', b.exif)] : []),
    ...(b.xmp ? [riffChunk('XMP ', b.xmp)] : []),
  ]);
  const riff = Buffer.alloc(12);
  riff.write('RIFF', 0, 'latin1');
  riff.writeUInt32LE(4 + body.length, 4);
  riff.write('WEBP', 8, 'latin1');
  return Buffer.concat([riff, body]);
}
