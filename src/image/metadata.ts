/**
 * A scan's metadata as bytes, read from its header (no pixels decoded), to be carried to its
 * colorized output: EXIF, XMP and IPTC (image/exif.ts and image/xmp.ts make the output's from them).
 * The output gets the sRGB ICC profile, since its pixels are sRGB.
 */
import sharp, { type Metadata } from 'sharp';

export interface CarriedMetadata {
  /** A TIFF structure (what follows "Exif\0\0"), as the scan has it. */
  exif: Uint8Array | null;
  /** The XMP packet. */
  xmp: Uint8Array | null;
  /** A Photoshop image resource block with IPTC ("Photoshop 3.0\0..."), as JPEG's APP13 holds it. */
  iptc: Uint8Array | null;
}

const EXIF_HEADER = Buffer.from('Exif\0\0', 'latin1');

/** The blocks to carry, from what sharp read of a scan's header (decoding reads it anyway). */
export function carriedFrom(m: Metadata): CarriedMetadata {
  const exif = m.exif ? tiffOf(m.exif) : null;
  return {
    exif: exif ? new Uint8Array(exif) : null,
    xmp: m.xmp && m.xmp.length > 0 ? new Uint8Array(m.xmp) : null,
    iptc: m.iptc && m.iptc.subarray(0, 13).toString('latin1') === 'Photoshop 3.0' ? new Uint8Array(m.iptc) : null,
  };
}

/** The TIFF structure inside an EXIF blob (with or without its "Exif\0\0" header), or null. */
function tiffOf(exif: Buffer): Buffer | null {
  const tiff = exif.subarray(0, 6).equals(EXIF_HEADER) ? exif.subarray(6) : exif;
  const order = tiff.subarray(0, 2).toString('latin1');
  return tiff.length >= 8 && (order === 'II' || order === 'MM') ? tiff : null;
}

let srgbProfile: Promise<Uint8Array> | null = null;

/** The sRGB ICC profile libvips attaches, as bytes (made once). */
export function srgbIccProfile(): Promise<Uint8Array> {
  srgbProfile ??= (async () => {
    const png = await sharp({ create: { width: 1, height: 1, channels: 3, background: '#808080' } }).withIccProfile('srgb').png().toBuffer();
    const icc = (await sharp(png).metadata()).icc;
    if (!icc) throw new Error('libvips gave no sRGB profile');
    return new Uint8Array(icc);
  })();
  return srgbProfile;
}
