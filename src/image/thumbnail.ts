/**
 * Small previews for the before/after page: the photo upright, at most `side` pixels wide, as a
 * JPEG (sRGB). libvips shrinks JPEGs while decoding them, so a large scan costs little.
 */
import sharp from 'sharp';
import { sharpInput } from './decode.js';
import { checkRegularFile } from '../io/hash.js';

/** A preview of `input` at `dest`; rejects for a file that is not a regular one any more (a pipe there would block libvips' read). */
export async function thumbnail(input: string, dest: string, side = 360): Promise<{ width: number; height: number }> {
  await checkRegularFile(input);
  const info = await (await sharpInput(input))
    .rotate()
    .resize({ width: side, height: side, fit: 'inside', withoutEnlargement: true })
    .toColourspace('srgb')
    .jpeg({ quality: 80 })
    .toFile(dest);
  return { width: info.width, height: info.height };
}

/** The upright size of a scan, from its header. */
export async function uprightSize(input: string): Promise<{ width: number; height: number } | null> {
  try {
    await checkRegularFile(input);
    const m = await sharp(input, { pages: 1, limitInputPixels: false }).metadata();
    if (!m.width || !m.height) return null;
    const turned = (m.orientation ?? 1) >= 5;
    return turned ? { width: m.height, height: m.width } : { width: m.width, height: m.height };
  } catch {
    return null;
  }
}
