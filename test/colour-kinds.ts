/**
 * Photos of every kind --skip-color must tell apart, generated from the sample album's cameraman
 * (a real black-and-white photograph): gray, gray saved as RGB, slightly tinted, toned (sepia,
 * selenium, cyanotype), and colour ones: a painted scene, a faded print of it, a sky over grass.
 */
import sharp from 'sharp';
import { labToRgb, rgbToLab } from '../src/image/lab.js';
import { CAMERAMAN } from './fixtures.js';

const W = 200;
const H = 150;

async function grays(): Promise<Uint8Array> {
  return new Uint8Array(await sharp(CAMERAMAN).resize(W, H, { fit: 'fill' }).greyscale().raw().toBuffer());
}

/** 8-bit RGB from a function of each pixel's gray value and position. */
async function paint(fn: (g: number, x: number, y: number) => [number, number, number]): Promise<Buffer> {
  const g = await grays();
  const out = Buffer.alloc(W * H * 3);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const [r, gg, b] = fn(g[y * W + x]!, x, y);
      out[(y * W + x) * 3] = r;
      out[(y * W + x) * 3 + 1] = gg;
      out[(y * W + x) * 3 + 2] = b;
    }
  }
  return out;
}

/** The gray value's L with this a and b. */
function tone(g: number, a: number, b: number): [number, number, number] {
  return labToRgb(rgbToLab(g, g, g)[0], a, b);
}

let seed = 1;
function noise(): number {
  seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff;
  return ((seed >> 16) & 255) / 255 - 0.5;
}

export const KINDS: Record<string, { colour: boolean; make: () => Promise<Buffer> }> = {
  'gray-as-rgb': { colour: false, make: () => paint((g) => [g, g, g]) },
  'gray-noisy-scan': { colour: false, make: () => paint((g) => [g + 3 * noise(), g + 3 * noise(), g + 3 * noise()].map((v) => Math.max(0, Math.min(255, Math.round(v)))) as [number, number, number]) },
  tinted: { colour: false, make: () => paint((g) => tone(g, 1.5, 4)) },
  sepia: { colour: false, make: () => paint((g) => { const L = rgbToLab(g, g, g)[0]; return tone(g, 4 + L * 0.06, 10 + L * 0.12); }) },
  selenium: { colour: false, make: () => paint((g) => tone(g, 6, -2)) },
  cyanotype: { colour: false, make: () => paint((g) => { const L = rgbToLab(g, g, g)[0]; return tone(g, -8, -30 + L * 0.15); }) },
  painted: { colour: true, make: () => paint((g, x, y) => tone(g, 40 * Math.cos((x / W) * 6.28 + y / 40), 40 * Math.sin((x / W) * 6.28 + y / 40))) },
  'faded-print': { colour: true, make: () => paint((g, x, y) => tone(Math.round(60 + g * 0.7), 6 + 12 * Math.cos((x / W) * 6.28 + y / 40), 8 + 12 * Math.sin((x / W) * 6.28 + y / 40))) },
  'sky-over-grass': { colour: true, make: () => paint((_g, x, y) => (y < H / 2 ? labToRgb(72 + 0.02 * x, -8, -32) : labToRgb(45 + 0.02 * x, -35, 30))) },
};

export const SIZE = { width: W, height: H };
