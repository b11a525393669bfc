/**
 * Small previews for the before/after page: the photo upright, at most `side` pixels wide, as a
 * JPEG (sRGB). libvips shrinks JPEGs while decoding them, so a large scan costs little.
 */
import sharp from 'sharp';
import { sharpInput } from './decode.js';
import { openPhoto } from '../io/hash.js';

/** Rejects for a file that is not a regular one any more (a pipe in its place would block libvips' read). */
async function regularFile(path: string): Promise<void> {
  await (await openPhoto(path)).close();
}

export async function thumbnail(input: string, dest: string, side = 360): Promise<{ width: number; height: number }> {
  await regularFile(input);
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
    await regularFile(input);
    const m = await sharp(input, { pages: 1, limitInputPixels: false }).metadata();
    if (!m.width || !m.height) return null;
    const turned = (m.orientation ?? 1) >= 5;
    return turned ? { width: m.height, height: m.width } : { width: m.width, height: m.height };
  } catch {
    return null;
  }
}
