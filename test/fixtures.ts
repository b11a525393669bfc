/**
 * Photo files for tests, made with sharp from the sample album: every kind of input the
 * pipeline must handle, and broken ones it must refuse.
 */
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { ALBUM } from './helpers.js';

export const CAMERAMAN = join(ALBUM, 'cameraman.png');

/** A gray 8-bit JPEG, landscape 120x80, with EXIF orientation 6 (display rotated 90° clockwise) and camera metadata. */
export async function orientedJpeg(path: string): Promise<void> {
  await sharp(CAMERAMAN)
    .resize(120, 80, { fit: 'fill' })
    .jpeg({ quality: 92 })
    .withMetadata({ orientation: 6 })
    .withExif({ IFD0: { Make: 'Kodak', Model: 'Brownie', ImageDescription: 'Grandma at the lake' }, IFD2: { DateTimeOriginal: '1952:07:14 15:30:00' } })
    .toFile(path);
}

export async function sixteenBitPng(path: string): Promise<void> {
  await sharp(CAMERAMAN).resize(64, 48).toColourspace('grey16').png().toFile(path);
}

export async function palettePng(path: string): Promise<void> {
  await sharp(CAMERAMAN).resize(64, 64).png({ palette: true, colours: 16 }).toFile(path);
}

export async function alphaPng(path: string): Promise<void> {
  await sharp(CAMERAMAN).resize(64, 64).ensureAlpha(0.5).png().toFile(path);
}

export async function cmykJpeg(path: string): Promise<void> {
  await sharp(CAMERAMAN).resize(64, 64).toColourspace('cmyk').jpeg().toFile(path);
}

/** A two-frame GIF: the first frame is what gets colorized. */
export async function multiFrameGif(path: string): Promise<void> {
  const frame = await sharp(CAMERAMAN).resize(40, 30).raw().ensureAlpha().toBuffer();
  const frames = Buffer.concat([frame, Buffer.alloc(frame.length, 255)]);
  await sharp(frames, { raw: { width: 40, height: 60, channels: 4, pageHeight: 30 } }).gif().toFile(path);
}

export async function multiPageTiff(path: string): Promise<void> {
  const a = await sharp(CAMERAMAN).resize(50, 40).greyscale().raw().toBuffer();
  const b = Buffer.alloc(a.length, 200);
  await sharp(Buffer.concat([a, b]), { raw: { width: 50, height: 80, channels: 1, pageHeight: 40 } }).tiff().toFile(path);
}

export async function truncatedJpeg(path: string): Promise<void> {
  const full = await sharp(CAMERAMAN).jpeg().toBuffer();
  await writeFile(path, full.subarray(0, 300));
}

/**
 * A folder of `count` distinct photos made from the sample album (`photo-00.png`, ...), the n-th
 * `base + n * step` pixels wide; returns the folder.
 */
export async function distinctPhotos(dir: string, count: number, base: number, step: number): Promise<string> {
  const album = join(dir, 'album');
  await mkdir(album, { recursive: true });
  for (let i = 0; i < count; i++) {
    const src = ['cameraman.png', 'coins.png', 'family/cat.jpg', 'family/cafe.jpg'][i % 4]!;
    await sharp(join(ALBUM, src)).resize(base + i * step).png().toFile(join(album, `photo-${String(i).padStart(2, '0')}.png`));
  }
  return album;
}

/** A folder of good and bad photos; returns the folder. */
export async function mixedFolder(dir: string): Promise<string> {
  const root = join(dir, 'scans');
  await mkdir(join(root, 'box1'), { recursive: true });
  await copyFile(CAMERAMAN, join(root, 'cameraman.png'));
  await copyFile(join(ALBUM, 'family', 'cat.jpg'), join(root, 'box1', 'cat.jpg'));
  await writeFile(join(root, 'box1', 'notes.txt'), 'not a photo');
  await writeFile(join(root, 'empty.jpg'), '');
  await writeFile(join(root, 'letter.jpg'), 'this is a text file with a .jpg name\n');
  await truncatedJpeg(join(root, 'truncated.jpg'));
  return root;
}

export async function read(path: string): Promise<Buffer> {
  return readFile(path);
}

/** An uncompressed BMP (bottom-up) of the cameraman: 8-bit gray palette, or 24-bit. */
export async function bmp(path: string, bits: 8 | 24, width = 60, height = 40): Promise<void> {
  const gray = await sharp(CAMERAMAN).resize(width, height, { fit: 'fill' }).greyscale().raw().toBuffer();
  const pixels = bits === 8 ? gray : Buffer.from(Array.from(gray, (v) => [v, v, v]).flat());
  await writeBmp(path, pixels, width, height, bits);
}

/**
 * An uncompressed, bottom-up BMP of `pixels`: 8-bit values with a gray palette, or 24-bit RGB
 * (given in R, G, B order; stored as BMP's B, G, R).
 */
export async function writeBmp(path: string, pixels: Uint8Array, width: number, height: number, bits: 8 | 24): Promise<void> {
  const stride = Math.floor((bits * width + 31) / 32) * 4;
  const paletteSize = bits === 8 ? 256 * 4 : 0;
  const offset = 54 + paletteSize;
  const buf = Buffer.alloc(offset + stride * height);
  buf.write('BM', 0, 'latin1');
  buf.writeUInt32LE(buf.length, 2);
  buf.writeUInt32LE(offset, 10);
  buf.writeUInt32LE(40, 14);
  buf.writeInt32LE(width, 18);
  buf.writeInt32LE(height, 22);
  buf.writeUInt16LE(1, 26);
  buf.writeUInt16LE(bits, 28);
  if (bits === 8) {
    buf.writeUInt32LE(256, 46);
    for (let i = 0; i < 256; i++) buf.writeUInt32LE(i * 0x010101, 54 + i * 4);
  }
  for (let y = 0; y < height; y++) {
    const row = offset + (height - 1 - y) * stride;
    for (let x = 0; x < width; x++) {
      if (bits === 8) buf[row + x] = pixels[y * width + x]!;
      else for (let c = 0; c < 3; c++) buf[row + x * 3 + c] = pixels[(y * width + x) * 3 + (2 - c)]!;
    }
  }
  await writeFile(path, buf);
}

/**
 * A minimal ICC v2 display profile with linear tone curves (gamma 1.0): 'RGB ' with the sRGB
 * primaries, or 'GRAY'. A file tagged with it stores linear light, so a decoder that ignores the
 * profile gets every mid-tone far too dark: the stored 0.2 is sRGB 0.48.
 */
export function linearProfile(space: 'RGB ' | 'GRAY'): Buffer {
  const s15 = (v: number): Buffer => {
    const b = Buffer.alloc(4);
    b.writeInt32BE(Math.round(v * 65536));
    return b;
  };
  const xyz = (x: number, y: number, z: number): Buffer => Buffer.concat([Buffer.from('XYZ \0\0\0\0', 'latin1'), s15(x), s15(y), s15(z)]);
  // curveType with one entry: gamma 1.0 (u8Fixed8), padded to 4 bytes.
  const curve = Buffer.from([...Buffer.from('curv', 'latin1'), 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0]);
  const text = 'linear test profile';
  const desc = Buffer.alloc(12 + text.length + 1 + 4 + 4 + 2 + 1 + 67);
  desc.write('desc', 0, 'latin1');
  desc.writeUInt32BE(text.length + 1, 8);
  desc.write(text, 12, 'latin1');
  const cprt = Buffer.from('text\0\0\0\0no copyright\0\0\0\0', 'latin1');
  const tags: Array<[string, Buffer]> = [
    ['desc', desc],
    ['cprt', cprt],
    ['wtpt', xyz(0.9642, 1, 0.8249)],
  ];
  if (space === 'GRAY') tags.push(['kTRC', curve]);
  else {
    // The sRGB primaries, adapted to the D50 connection space.
    tags.push(['rXYZ', xyz(0.4360747, 0.2225045, 0.0139322)], ['gXYZ', xyz(0.3850649, 0.7168786, 0.0971045)], ['bXYZ', xyz(0.1430804, 0.0606169, 0.7141733)]);
    tags.push(['rTRC', curve], ['gTRC', curve], ['bTRC', curve]);
  }
  const table = Buffer.alloc(4 + tags.length * 12);
  table.writeUInt32BE(tags.length, 0);
  const bodies: Buffer[] = [];
  let offset = 128 + table.length;
  tags.forEach(([sig, body], i) => {
    const padded = Buffer.concat([body, Buffer.alloc((4 - (body.length % 4)) % 4)]);
    table.write(sig, 4 + i * 12, 'latin1');
    table.writeUInt32BE(offset, 8 + i * 12);
    table.writeUInt32BE(body.length, 12 + i * 12);
    bodies.push(padded);
    offset += padded.length;
  });
  const header = Buffer.alloc(128);
  header.writeUInt32BE(offset, 0);
  header.writeUInt32BE(0x02100000, 8);
  header.write('mntr', 12, 'latin1');
  header.write(space, 16, 'latin1');
  header.write('XYZ ', 20, 'latin1');
  header.writeUInt16BE(2026, 24);
  header.writeUInt16BE(1, 26);
  header.writeUInt16BE(1, 28);
  header.write('acsp', 36, 'latin1');
  s15(0.9642).copy(header, 68);
  s15(1).copy(header, 72);
  s15(0.8249).copy(header, 76);
  return Buffer.concat([header, table, ...bodies]);
}
