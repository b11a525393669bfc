/**
 * DDColor's model input, compared with what its official inference code computes with OpenCV
 * (test/fixtures/opencv-preprocess.json, written by scripts/opencv-reference.py with OpenCV 4.6):
 * the photo shrunk or enlarged with cv2.resize's bilinear default, its Lab L, a = b = 0, back to RGB.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { resizeLinear } from '../src/image/resize.js';
import { preprocess } from '../src/inference/ddcolor.js';
import { ROOT } from './helpers.js';

interface Fixture {
  opencv: string;
  inputs: Array<{ width: number; height: number; seed: number; gray: boolean }>;
  cases: Array<{ input: number; size: number; tensor: number[] }>;
}

/** The generator's pictures: 8-bit RGB from the same linear congruential sequence. */
function picture(width: number, height: number, seed: number, gray: boolean): Uint8Array {
  const rgb = new Uint8Array(width * height * 3);
  let state = seed;
  for (let i = 0; i < rgb.length; i++) {
    state = (Math.imul(state, 1103515245) + 12345) & 0x7fffffff;
    rgb[i] = (state >> 16) & 255;
  }
  if (!gray) return rgb;
  // A gray scan: one channel (OpenCV's copy had the first channel in all three).
  return Uint8Array.from({ length: width * height }, (_, i) => rgb[i * 3]!);
}

function maxDifference(a: Float32Array, b: number[]): number {
  assert.equal(a.length, b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

/** Half an 8-bit level: OpenCV's float Lab conversion uses its own constants and gamma tables. */
const TOLERANCE = 2.5e-3;

test("the model input matches DDColor's official pre-processing (OpenCV bilinear resize, L only) value for value", async () => {
  const fixture = JSON.parse(await readFile(join(ROOT, 'test', 'fixtures', 'opencv-preprocess.json'), 'utf8')) as Fixture;
  assert.ok(fixture.cases.length >= 6);
  for (const c of fixture.cases) {
    const { width, height, seed, gray } = fixture.inputs[c.input]!;
    const channels = gray ? 1 : 3;
    const pixels = picture(width, height, seed, gray);
    const what = `${width}x${height}${gray ? ' gray' : ''} at ${c.size}`;

    const ours = new Float32Array(3 * c.size * c.size);
    preprocess({ pixels: resizeLinear(pixels, channels, width, height, c.size, c.size), channels, size: c.size }, ours, 0);
    const diff = maxDifference(ours, c.tensor);
    assert.ok(diff <= TOLERANCE, `${what}: ours differs from OpenCV ${fixture.opencv} by up to ${diff}`);

    // The comparison tells resampling methods apart: sharp's default resize (lanczos3) fails it.
    const resized = await sharp(Buffer.from(pixels), { raw: { width, height, channels } })
      .resize(c.size, c.size, { fit: 'fill' })
      .raw()
      .toBuffer({ resolveWithObject: true });
    const step = resized.info.channels / channels;
    const lanczos = Float32Array.from({ length: c.size * c.size * channels }, (_, i) => resized.data[Math.floor(i / channels) * resized.info.channels + (i % channels) * step]! / 255);
    const viaSharp = new Float32Array(3 * c.size * c.size);
    preprocess({ pixels: lanczos, channels, size: c.size }, viaSharp, 0);
    const other = maxDifference(viaSharp, c.tensor);
    assert.ok(other > 20 * TOLERANCE, `${what}: a lanczos resize differs by only ${other}`);
  }
});
