/**
 * Colour placement, pixel by pixel: every kind of input is colorized with a position-sensitive
 * model (each output pixel a known function of the input at that pixel) and the output's a and b
 * are compared with an independent computation (test/reference.ts). A shift of one pixel, a flip,
 * a stretch, a transposition or a channel mix-up breaks the tolerance; each case also proves that
 * by comparing against the expectation moved one pixel.
 */
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, parse } from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { inspectModel, type ModelInfo } from '../src/inference/model-info.js';
import { lightnessModel } from '../src/models/tiny-model.js';
import { colorize } from '../src/pipeline/index.js';
import type { RunReport } from '../src/report/report.js';
import { linearProfile, writeBmp } from './fixtures.js';
import { cleanup, runCli, tempDir } from './helpers.js';
import {
  comparePlacement,
  cvResizeLinear,
  expectedAb,
  labToSrgb,
  lightnessOf,
  readLab,
  storedPixels,
  reorient,
  type Picture,
} from './reference.js';

/** The model's gain: ab = [K, −K]·(L − 50), about ±15 on these mid-tone pictures. */
const K = 0.6;
/** Largest |Δa|, |Δb| allowed: 8-bit output rounding and the cache's half-unit quantization. */
const TOLERANCE = 2;

let work: string;
let model: ModelInfo;

before(async () => {
  work = await tempDir();
  await writeFile(join(work, 'lightness.onnx'), lightnessModel(null, K));
  model = await inspectModel(join(work, 'lightness.onnx'));
});
after(cleanup);

/**
 * A high-contrast gray test card in mid-tones (L about 30 to 80), different along x and y and in
 * each third, so that any flip, turn or shift changes it: a 7x5 checkerboard, vertical strokes with
 * a diagonal line (like text), and a gradient.
 */
function grayCard(width: number, height: number): Picture {
  const data = new Float64Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = height > 2 ? y / height : x / width;
      let g: number;
      if (v < 1 / 3) g = (Math.floor(x / 7) + Math.floor(y / 5)) % 2 ? 0.75 : 0.3;
      else if (v < 2 / 3) g = x % 9 < 2 || Math.abs(x - 2 * y) < 1.5 ? 0.28 : 0.72;
      else g = 0.3 + 0.45 * (x / width) * (0.6 + 0.4 * (y / height));
      data[y * width + x] = g;
    }
  }
  return { width, height, channels: 1, data };
}

/** The card in colour: the channels differ, so L is none of them. */
function colourCard(width: number, height: number): Picture {
  const gray = grayCard(width, height);
  const data = new Float64Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const g = gray.data[y * width + x]!;
      const i = (y * width + x) * 3;
      data[i] = Math.min(1, g + 0.18 * Math.sin(x / 4));
      data[i + 1] = g;
      data[i + 2] = Math.max(0, g - 0.18 * Math.cos(y / 3));
    }
  }
  return { width, height, channels: 3, data };
}

function bytes(p: Picture): Buffer {
  return Buffer.from(Array.from(p.data, (v) => Math.round(v * 255)));
}

function words(p: Picture): Uint16Array {
  return Uint16Array.from(p.data, (v) => Math.round(v * 65535));
}

function raw(p: Picture, channels: 1 | 2 | 3 | 4 = p.channels): { raw: { width: number; height: number; channels: 1 | 2 | 3 | 4 } } {
  return { raw: { width: p.width, height: p.height, channels } };
}

/** The 8-bit picture a file of `p` holds, as the reference sees it. */
function as8bit(p: Picture): Picture {
  return { ...p, data: Float64Array.from(p.data, (v) => Math.round(v * 255) / 255) };
}

/** Interleave an alpha channel (a band of half transparency) after the colour channels. */
function withAlpha(p: Picture): Buffer {
  const ch = p.channels;
  const out = Buffer.alloc(p.width * p.height * (ch + 1));
  for (let i = 0; i < p.width * p.height; i++) {
    for (let c = 0; c < ch; c++) out[i * (ch + 1) + c] = Math.round(p.data[i * ch + c]! * 255);
    out[i * (ch + 1) + ch] = Math.floor(i / p.width) % 10 < 5 ? 255 : 140;
  }
  return out;
}

interface Case {
  /** File name in the input folder. */
  name: string;
  /** What the upright photo is: known pixels, or (lossy formats, palettes) what libvips decodes. */
  upright: Picture;
}

/** Colorize a folder to PNG outputs, with an embedded cache in `cacheDir`. */
function colorizeToPng(input: string, out: string, m: ModelInfo, size: number, cacheDir: string): Promise<RunReport> {
  return colorize({
    paths: [input],
    outDir: out,
    model: m,
    size,
    device: 'cpu',
    batchSize: 2,
    concurrency: 2,
    cache: { kind: 'file', dir: cacheDir },
    ttlMs: 86_400_000,
    format: 'png',
    quality: 90,
    force: false,
  });
}

/**
 * Colorize a folder at `size` and check every case's output against its expectation; then again
 * into another folder from the cache (every photo a hit, decoded the way a hit is), which must
 * make the same files byte for byte.
 */
async function checkAll(dir: string, cases: Case[], size: number, m: ModelInfo = model): Promise<void> {
  const cacheDir = join(dir, `cache-${size}`);
  const out = join(dir, 'out');
  const report = await colorizeToPng(join(dir, 'in'), out, m, size, cacheDir);
  assert.equal(report.totals.failed, 0, JSON.stringify(report.files.filter((f) => f.error)));
  assert.equal(report.totals.inferred + report.totals.hit, cases.length);
  for (const c of cases) await checkOne(join(out, `${parse(c.name).name}.png`), c, size);
  const warmOut = join(dir, 'out-warm');
  const warm = await colorizeToPng(join(dir, 'in'), warmOut, m, size, cacheDir);
  assert.equal(warm.totals.hit, cases.length, JSON.stringify(warm.files.filter((f) => f.status !== 'hit')));
  for (const c of cases) {
    const name = `${parse(c.name).name}.png`;
    assert.ok((await readFile(join(warmOut, name))).equals(await readFile(join(out, name))), `${c.name}: a hit makes the same file`);
  }
}

async function checkOne(output: string, c: Case, size: number): Promise<void> {
  const got = await readLab(output);
  const r = comparePlacement(got, c.upright, expectedAb(c.upright, size, K));
  const what = `${c.name} at ${size}: ${JSON.stringify(r)}`;
  assert.ok(r.compared >= 0.85 * r.total, `${what}: most pixels are comparable`);
  assert.ok(r.maxError <= TOLERANCE, `${what}: a and b follow the photo pixel by pixel`);
  assert.ok(r.shiftedError > 2 * TOLERANCE, `${what}: the test sees a one-pixel shift`);
  assert.ok(r.maxLError <= 1.5, `${what}: the photo's own L is kept`);
}

async function inputDir(): Promise<string> {
  const dir = await tempDir();
  await mkdir(join(dir, 'in'));
  return dir;
}

test('gray scans: 8-bit PNG, 16-bit PNG and TIFF, JPEG, gray with alpha, gray palette, gray saved as RGB', async () => {
  const dir = await inputDir();
  const card = grayCard(90, 60);
  const at = (n: string): string => join(dir, 'in', n);
  await sharp(bytes(card), raw(card)).png().toFile(at('gray8.png'));
  await sharp(words(card), raw(card)).toColourspace('grey16').png().toFile(at('gray16.png'));
  await sharp(words(card), raw(card)).toColourspace('grey16').tiff({ compression: 'lzw' }).toFile(at('gray16.tiff'));
  await sharp(bytes(card), raw(card)).toColourspace('b-w').jpeg({ quality: 95 }).toFile(at('gray.jpg'));
  await sharp(withAlpha(card), raw(card, 2)).png().toFile(at('gray-alpha.png'));
  await sharp(bytes(card), raw(card)).png({ palette: true, colours: 16, dither: 0 }).toFile(at('gray-palette.png'));
  await sharp(Buffer.from(Array.from(bytes(card), (v) => [v, v, v]).flat()), raw(card, 3)).png().toFile(at('gray-as-rgb.png'));
  for (const [n, depth] of [['gray16.png', 'ushort'], ['gray16.tiff', 'ushort'], ['gray.jpg', 'uchar']] as const) {
    const m = await sharp(at(n)).metadata();
    assert.deepEqual([m.channels, m.depth], [1, depth], `${n} is a ${depth} gray file`);
  }
  assert.equal((await sharp(at('gray-palette.png')).metadata()).isPalette, true);
  await checkAll(dir, [
    { name: 'gray8.png', upright: as8bit(card) },
    { name: 'gray16.png', upright: card },
    { name: 'gray16.tiff', upright: card },
    { name: 'gray.jpg', upright: await storedPixels(at('gray.jpg')) },
    { name: 'gray-alpha.png', upright: as8bit(card) },
    { name: 'gray-palette.png', upright: await storedPixels(at('gray-palette.png')) },
    { name: 'gray-as-rgb.png', upright: as8bit(card) },
  ], 64);
});

test('colour scans: 8- and 16-bit RGB, RGBA, colour palette, CMYK JPEG, BMP (8-bit gray and 24-bit)', async () => {
  const dir = await inputDir();
  const card = colourCard(90, 60);
  const gray = grayCard(90, 60);
  const at = (n: string): string => join(dir, 'in', n);
  await sharp(bytes(card), raw(card)).png().toFile(at('rgb8.png'));
  await sharp(words(card), raw(card)).toColourspace('rgb16').png().toFile(at('rgb16.png'));
  await sharp(withAlpha(card), raw(card, 4)).png().toFile(at('rgba.png'));
  await sharp(bytes(card), raw(card)).png({ palette: true, colours: 64, dither: 0 }).toFile(at('rgb-palette.png'));
  await sharp(bytes(card), raw(card)).toColourspace('cmyk').jpeg({ quality: 95 }).toFile(at('cmyk.jpg'));
  await writeBmp(at('gray8.bmp'), bytes(gray), 90, 60, 8);
  await writeBmp(at('rgb24.bmp'), bytes(card), 90, 60, 24);
  assert.equal((await sharp(at('rgb16.png')).metadata()).depth, 'ushort');
  assert.equal((await sharp(at('cmyk.jpg')).metadata()).space, 'cmyk');
  await checkAll(dir, [
    { name: 'rgb8.png', upright: as8bit(card) },
    { name: 'rgb16.png', upright: card },
    { name: 'rgba.png', upright: as8bit(card) },
    { name: 'rgb-palette.png', upright: await storedPixels(at('rgb-palette.png')) },
    { name: 'cmyk.jpg', upright: await storedPixels(at('cmyk.jpg')) },
    { name: 'gray8.bmp', upright: as8bit(gray) },
    { name: 'rgb24.bmp', upright: as8bit(card) },
  ], 64);
});

test('EXIF orientations 1 to 8 on a non-square JPEG: colour lands on the upright picture', async () => {
  const dir = await inputDir();
  const upright = colourCard(90, 60);
  const cases: Case[] = [];
  for (let o = 1; o <= 8; o++) {
    const stored = reorient(upright, o, false);
    const path = join(dir, 'in', `orientation-${o}.jpg`);
    await sharp(bytes(stored), raw(stored)).jpeg({ quality: 95 }).withMetadata({ orientation: o }).toFile(path);
    assert.equal((await sharp(path).metadata()).orientation ?? 1, o);
    // The reference turns the decoded stored pixels itself; it never asks libvips to.
    cases.push({ name: `orientation-${o}.jpg`, upright: reorient(await storedPixels(path), o, true) });
  }
  await checkAll(dir, cases, 64);
});

test('shapes: portrait, landscape, one pixel wide and one pixel high, sizes not divisible by 8', async () => {
  const dir = await inputDir();
  const cases: Case[] = [];
  for (const [w, h] of [[61, 97], [97, 61], [1, 45], [45, 1], [33, 17], [130, 43]] as const) {
    const card = grayCard(w, h);
    const name = `card-${w}x${h}.png`;
    await sharp(bytes(card), raw(card)).png().toFile(join(dir, 'in', name));
    cases.push({ name, upright: as8bit(card) });
  }
  await checkAll(dir, cases, 64);
});

test('multi-frame files are colorized from their first frame; embedded non-sRGB profiles (RGB and gray) are honoured', async () => {
  const dir = await inputDir();
  const card = grayCard(60, 45);
  const inverted: Picture = { ...card, data: Float64Array.from(card.data, (v) => 1 - v) };
  const pages = Buffer.concat([bytes(card), bytes(inverted)]);
  const at = (n: string): string => join(dir, 'in', n);
  const twoPages = { raw: { width: 60, height: 90, channels: 1 as const, pageHeight: 45 } };
  await sharp(pages, twoPages).tiff({ compression: 'lzw' }).toFile(at('pages.tiff'));
  await sharp(pages, twoPages).gif({ dither: 0 }).toFile(at('frames.gif'));
  assert.equal((await sharp(at('pages.tiff')).metadata()).pages, 2);
  assert.equal((await sharp(at('frames.gif')).metadata()).pages, 2);
  // Linear-light profiles: the file stores other numbers than the sRGB picture, the profile says how.
  const colour = colourCard(60, 45);
  await writeFile(join(dir, 'linear-rgb.icc'), linearProfile('RGB '));
  await writeFile(join(dir, 'linear-gray.icc'), linearProfile('GRAY'));
  await sharp(bytes(colour), raw(colour)).withIccProfile(join(dir, 'linear-rgb.icc')).png().toFile(at('profile-rgb.png'));
  await sharp(bytes(card), raw(card)).withIccProfile(join(dir, 'linear-gray.icc')).png().toFile(at('profile-gray.png'));
  for (const [n, p] of [['profile-rgb.png', colour], ['profile-gray.png', card]] as const) {
    const stored = await sharp(at(n)).keepIccProfile().raw().toBuffer();
    const moved = bytes(p).reduce((m, v, i) => Math.max(m, Math.abs(v - stored[i * (stored.length / bytes(p).length)]!)), 0);
    assert.ok(moved > 40, `${n} stores other numbers than the sRGB picture (${moved})`);
  }
  await checkAll(dir, [
    { name: 'pages.tiff', upright: as8bit(card) },
    { name: 'frames.gif', upright: as8bit(card) },
    { name: 'profile-rgb.png', upright: as8bit(colour) },
    { name: 'profile-gray.png', upright: as8bit(card) },
  ], 64);
});

test("each preset's input size (512, 1024) on a photo not divisible by 8", async () => {
  const dir = await inputDir();
  const card = grayCard(421, 307);
  await sharp(bytes(card), raw(card)).png().toFile(join(dir, 'in', 'card.png'));
  for (const size of [512, 1024]) await checkAll(dir, [{ name: 'card.png', upright: as8bit(card) }], size);
});

test('a model with a fixed input size other than the preset: the model decides, and colour still lands right', async () => {
  const dir = await inputDir();
  const card = grayCard(90, 60);
  await sharp(bytes(card), raw(card)).png().toFile(join(dir, 'in', 'card.png'));
  const fixed = join(dir, 'fixed-96.onnx');
  await writeFile(fixed, lightnessModel(96, K));
  const r = await runCli(['colorize', join(dir, 'in'), '-o', join(dir, 'out'), '--model', fixed, '--preset', 'person', '--format', 'png', '--cache', 'none', '--no-progress']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr + r.stdout, /fixed 96x96 input: using 96 instead of 512/);
  await checkOne(join(dir, 'out', 'card.png'), { name: 'card.png', upright: as8bit(card) }, 96);
});

test('ab past the Lab range is clamped and out-of-gamut colour clips per channel: no NaN, no wrap-around, no specks', async () => {
  const dir = await inputDir();
  // A smooth gray ramp from black to white: the model's a = 6·(L − 50) runs from −300 to 300.
  const w = 256;
  const h = 12;
  const ramp: Picture = { width: w, height: h, channels: 1, data: Float64Array.from({ length: w * h }, (_, i) => (i % w) / (w - 1)) };
  await sharp(bytes(ramp), raw(ramp)).png().toFile(join(dir, 'in', 'ramp.png'));
  const loud = join(dir, 'loud.onnx');
  const broken = join(dir, 'broken.onnx');
  await writeFile(loud, lightnessModel(null, 6));
  await writeFile(broken, lightnessModel(null, 6, 'sqrt'));
  const upright = as8bit(ramp);
  const L = lightnessOf(upright);
  for (const [file, shape] of [[loud, 'linear'], [broken, 'sqrt']] as const) {
    const out = join(dir, `out-${shape}`);
    const report = await colorizeToPng(join(dir, 'in'), out, await inspectModel(file), 64, join(dir, 'cache'));
    assert.equal(report.totals.inferred, 1);
    const { data } = await sharp(join(out, 'ramp.png')).raw().toBuffer({ resolveWithObject: true });
    // Independently: ab clamped to −128..127 (NaN: no colour), upsampled, Lab -> sRGB clipped per channel.
    const small = cvResizeLinear(upright, 64, 64);
    const Ls = lightnessOf(small);
    const planes: Picture = { width: 64, height: 64, channels: 3, data: new Float64Array(64 * 64 * 3) };
    for (let i = 0; i < Ls.length; i++) {
      const d = Ls[i]! - 50;
      const v = shape === 'sqrt' ? (d < 0 ? 0 : 6 * Math.sqrt(d)) : 6 * d;
      planes.data[i * 3] = Math.min(127, Math.max(-128, Math.round(v)));
      planes.data[i * 3 + 1] = Math.min(127, Math.max(-128, Math.round(-v)));
    }
    const ab = cvResizeLinear(planes, w, h);
    let worst = 0;
    for (let i = 0; i < w * h; i++) {
      const want = labToSrgb(L[i]!, ab.data[i * 3]!, ab.data[i * 3 + 1]!).map((v) => Math.round(255 * Math.min(1, Math.max(0, v))));
      for (let c = 0; c < 3; c++) worst = Math.max(worst, Math.abs(data[i * 3 + c]! - want[c]!));
    }
    assert.ok(worst <= 2, `${shape}: every pixel is the clamped, clipped colour (worst ${worst} levels off)`);
    // Along the ramp, neighbours never jump (a wrap-around or a speck would jump by most of 255).
    for (let x = 1; x < w; x++) {
      for (let c = 0; c < 3; c++) {
        const jump = Math.abs(data[(6 * w + x) * 3 + c]! - data[(6 * w + x - 1) * 3 + c]!);
        assert.ok(jump <= 40, `${shape}: channel ${c} jumps by ${jump} at x=${x}`);
      }
    }
    if (shape === 'sqrt') {
      // Where the model gave NaN (L < 50), the photo stays gray: its own L and no colour.
      for (let x = 0; x < 100; x++) {
        const p = (6 * w + x) * 3;
        assert.ok(Math.max(data[p]!, data[p + 1]!, data[p + 2]!) - Math.min(data[p]!, data[p + 1]!, data[p + 2]!) <= 1, `NaN left no colour at x=${x}`);
      }
    }
  }
});
