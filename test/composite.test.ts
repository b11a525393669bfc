import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compositeWasm } from '../src/image/composite-wasm.js';
import { labToRgb, rgbToLab } from '../src/image/lab.js';
import { composite } from '../src/inference/ddcolor.js';

/** Deterministic noise: high contrast everywhere, so a pixel read from the wrong place shows. */
function noise(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

const shapes: Array<{ width: number; height: number; channels: 1 | 3; sw: number; sh: number; saturation: number }> = [
  { width: 301, height: 199, channels: 1, sw: 64, sh: 48, saturation: 1 },
  { width: 257, height: 263, channels: 3, sw: 32, sh: 32, saturation: 1.6 },
  { width: 40, height: 30, channels: 3, sw: 64, sh: 64, saturation: 0.5 }, // ab larger than the photo
  { width: 1024, height: 3, channels: 1, sw: 7, sh: 5, saturation: 1 },
  { width: 120, height: 90, channels: 3, sw: 16, sh: 12, saturation: 0 },
];

/** How many bytes differ, and by at most how much. */
function differences(x: Uint8Array, y: Uint8Array): { count: number; max: number; first: number } {
  let count = 0;
  let max = 0;
  let first = -1;
  for (let i = 0; i < x.length; i++) {
    const d = Math.abs(x[i]! - y[i]!);
    if (d === 0) continue;
    if (first < 0) first = i;
    count++;
    max = Math.max(max, d);
  }
  return { count, max, first };
}

test('the WebAssembly composite agrees with the JavaScript reference within one code, photo after photo (its memory reused)', () => {
  for (const [k, s] of shapes.entries()) {
    const photo = { pixels: noise(s.width * s.height * s.channels, 7 + k), channels: s.channels, width: s.width, height: s.height };
    const ab = { width: s.sw, height: s.sh, data: noise(2 * s.sw * s.sh, 99 + k) };
    const js = composite(photo, ab, undefined, s.saturation);
    const wasm = compositeWasm(photo, ab, s.saturation);
    assert.equal(wasm.length, js.length, `shape ${k}: length`);
    // Single precision and the other order of the bilinear passes: a code off by one, rarely.
    const d = differences(js, wasm);
    assert.ok(d.max <= 1, `shape ${k}: byte ${d.first} is ${wasm[d.first]}, the reference ${js[d.first]}`);
    assert.ok(d.count <= js.length / 1000, `shape ${k}: ${d.count} of ${js.length} bytes differ`);
  }
});

test('the WebAssembly composite keeps each pixel its own L and puts ab where it belongs', () => {
  // ab the same size as the photo, so each output pixel has exactly one ab sample: its own.
  const width = 37;
  const height = 23;
  const pixels = noise(width * height * 3, 3);
  const ab = { width, height, data: noise(2 * width * height, 5) };
  const rgb = compositeWasm({ pixels, channels: 3, width, height }, ab, 1);
  for (let i = 0; i < width * height; i++) {
    const L = rgbToLab(pixels[3 * i]!, pixels[3 * i + 1]!, pixels[3 * i + 2]!)[0];
    const want = labToRgb(L, ab.data[i]! - 128, ab.data[width * height + i]! - 128);
    for (let c = 0; c < 3; c++) assert.ok(Math.abs(rgb[3 * i + c]! - want[c]!) <= 1, `pixel ${i} channel ${c}: ${rgb[3 * i + c]} vs ${want[c]}`);
  }
});

test('a gray scan saved as RGB composites exactly as the same scan in one channel', () => {
  const width = 211;
  const height = 97;
  const gray = noise(width * height, 11);
  const rgb = new Uint8Array(width * height * 3);
  gray.forEach((v, i) => rgb.fill(v, 3 * i, 3 * i + 3));
  const ab = { width: 40, height: 30, data: noise(2 * 40 * 30, 13) };
  const fromGray = Uint8Array.from(compositeWasm({ pixels: gray, channels: 1, width, height }, ab, 1.3));
  const fromRgb = compositeWasm({ pixels: rgb, channels: 3, width, height }, ab, 1.3);
  assert.equal(fromRgb.findIndex((v, i) => v !== fromGray[i]), -1);
  // Neutral but for its very last pixel: composited as colour, every pixel as the JavaScript one.
  rgb[rgb.length - 1] = (rgb[rgb.length - 1]! + 50) % 256;
  const photo = { pixels: rgb, channels: 3 as const, width, height };
  const js = composite(photo, ab, undefined, 1.3);
  const wasm = compositeWasm(photo, ab, 1.3);
  assert.ok(differences(js, wasm).max <= 1);
  assert.notDeepEqual(wasm.subarray(-3), fromGray.subarray(-3), 'the last pixel has its own colour');
});
