/**
 * A scan's pixel count from its header alone, for the memory budget before it is decoded: a run's
 * only use of sharp on the main thread (the --html page's thumbnails aside), which loads it at the
 * first photo that needs one, so that a run with nothing to decode (an unchanged re-run) never does.
 */
import { open } from 'node:fs/promises';
import type { Sharp, SharpOptions } from 'sharp';
import { unloadable } from '../errors.js';
import { isBmp } from './bmp.js';
import { checkRegularFile } from '../io/hash.js';

type SharpFn = (input: string, options: SharpOptions) => Sharp;

let loading: Promise<SharpFn> | null = null;

/**
 * sharp on the main thread, loaded once, when a run first has a photo to decode; a ConfigError
 * when this install cannot load it, which stops the run (no photo is to blame for it).
 */
export function loadHeaderReader(): Promise<SharpFn> {
  loading ??= import('sharp').then(
    (m) => m.default,
    (err: unknown) => {
      throw unloadable('sharp', 'decodes the photos', err);
    },
  );
  return loading;
}

/**
 * The pixel count of a scan's first frame, from its header alone (no decoding), to budget memory
 * before decoding it; 0 when the header cannot be read (decoding will then say why).
 */
export async function pixelCount(path: string): Promise<number> {
  // Not a regular file any more (a pipe put in its place would block the header's read): decoding says why.
  if (!(await checkRegularFile(path).then(() => true, () => false))) return 0;
  const sharp = await loadHeaderReader();
  try {
    const m = await sharp(path, { pages: 1, limitInputPixels: false }).metadata();
    if (m.width && m.height) return m.width * m.height;
  } catch {
    // not something libvips reads: perhaps a BMP
  }
  try {
    const f = await open(path, 'r');
    try {
      const { buffer, bytesRead } = await f.read(Buffer.alloc(26), 0, 26, 0);
      if (bytesRead === 26 && isBmp(buffer)) return Math.abs(buffer.readInt32LE(18) * buffer.readInt32LE(22));
    } finally {
      await f.close();
    }
  } catch {
    // unreadable: decoding reports it
  }
  return 0;
}
