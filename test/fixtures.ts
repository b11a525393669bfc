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
      const v = gray[y * width + x]!;
      if (bits === 8) buf[row + x] = v;
      else buf.fill(v, row + x * 3, row + x * 3 + 3);
    }
  }
  await writeFile(path, buf);
}
