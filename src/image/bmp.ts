/**
 * Windows BMP, which libvips (and so sharp) cannot read: uncompressed 1-, 4-, 8-bit (palette),
 * 16-bit (5-5-5), 24- and 32-bit files, bottom-up or top-down, as old scanner software wrote them.
 * Decoded to raw 8-bit RGB for sharp. RLE-compressed and embedded JPEG/PNG BMPs are refused with
 * a reason: each refusal is a DecoderError with its code.
 */
import { DecoderError } from './decode-errors.js';

export interface RawImage {
  data: Buffer;
  width: number;
  height: number;
  channels: 3;
}

export function isBmp(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x42 && bytes[1] === 0x4d;
}

export function decodeBmp(buf: Buffer): RawImage {
  if (!isBmp(buf) || buf.length < 54) throw new DecoderError('truncated BMP (shorter than its header)', 'DAMAGED');
  const offset = buf.readUInt32LE(10);
  const headerSize = buf.readUInt32LE(14);
  if (headerSize < 40) throw new DecoderError(`an OS/2 bitmap (BMP header of ${headerSize} bytes), which ddcolor does not read; save it as PNG or TIFF`, 'NOT_AN_IMAGE');
  const width = buf.readInt32LE(18);
  const rawHeight = buf.readInt32LE(22);
  const bpp = buf.readUInt16LE(28);
  const compression = buf.readUInt32LE(30);
  const height = Math.abs(rawHeight);
  const topDown = rawHeight < 0;
  if (width <= 0 || height <= 0 || width > 65535 || height > 65535) throw new DecoderError(`damaged BMP (an impossible size, ${width}x${rawHeight})`, 'DAMAGED');
  if (compression !== 0 && !(compression === 3 && (bpp === 16 || bpp === 32))) {
    throw new DecoderError(`a compressed BMP (compression ${compression}), which ddcolor does not read; save it as PNG or TIFF`, 'NOT_AN_IMAGE');
  }
  let masks = bpp === 16 ? [0x7c00, 0x03e0, 0x001f] : [0xff0000, 0x00ff00, 0x0000ff];
  if (compression === 3) masks = [buf.readUInt32LE(54), buf.readUInt32LE(58), buf.readUInt32LE(62)];
  let palette: Buffer | null = null;
  if (bpp <= 8) {
    const colours = buf.readUInt32LE(46) || 1 << bpp;
    palette = buf.subarray(14 + headerSize, 14 + headerSize + colours * 4);
  }
  const stride = Math.floor((bpp * width + 31) / 32) * 4;
  if (offset + stride * height > buf.length) throw new DecoderError('truncated BMP (its pixels end early)', 'DAMAGED');
  const out = Buffer.alloc(width * height * 3);
  const channel = (v: number, mask: number): number => {
    if (mask === 0) return 0;
    let shift = 0;
    while (((mask >>> shift) & 1) === 0) shift++;
    const max = mask >>> shift;
    return Math.round((((v & mask) >>> shift) * 255) / max);
  };
  for (let y = 0; y < height; y++) {
    const row = offset + (topDown ? y : height - 1 - y) * stride;
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      let r: number;
      let g: number;
      let b: number;
      if (palette) {
        const bit = x * bpp;
        const byte = buf[row + (bit >> 3)]!;
        const index = bpp === 8 ? byte : (byte >> (8 - bpp - (bit & 7))) & ((1 << bpp) - 1);
        const p = index * 4;
        if (p + 2 >= palette.length) throw new DecoderError('damaged BMP (a palette index out of range)', 'DAMAGED');
        [b, g, r] = [palette[p]!, palette[p + 1]!, palette[p + 2]!];
      } else if (bpp === 24) {
        const p = row + x * 3;
        [b, g, r] = [buf[p]!, buf[p + 1]!, buf[p + 2]!];
      } else if (bpp === 16 || bpp === 32) {
        const v = bpp === 16 ? buf.readUInt16LE(row + x * 2) : buf.readUInt32LE(row + x * 4);
        [r, g, b] = [channel(v, masks[0]!), channel(v, masks[1]!), channel(v, masks[2]!)];
      } else {
        throw new DecoderError(`a BMP of ${bpp} bits a pixel, which ddcolor does not read; save it as PNG or TIFF`, 'NOT_AN_IMAGE');
      }
      out[o] = r;
      out[o + 1] = g;
      out[o + 2] = b;
    }
  }
  return { data: out, width, height, channels: 3 };
}
