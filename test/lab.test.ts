import assert from 'node:assert/strict';
import { test } from 'node:test';
import { neutralToGray } from '../src/image/decode.js';
import { packNeutralWasm } from '../src/image/composite-wasm.js';
import { labToRgb, labToRgbFloat, labToSrgb8, lightness, lightnessFloat, rgbToLab, grayPlanesFromL } from '../src/image/lab.js';

const close = (a: number, b: number, tol: number, what: string): void => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

test('sRGB to CIELAB (D65) matches published reference values', () => {
  // Reference values from Bruce Lindbloom's calculator (sRGB, D65, 2°).
  const cases: Array<[[number, number, number], [number, number, number]]> = [
    [[255, 255, 255], [100, 0, 0]],
    [[0, 0, 0], [0, 0, 0]],
    [[255, 0, 0], [53.2408, 80.0925, 67.2032]],
    [[0, 255, 0], [87.7347, -86.1827, 83.1793]],
    [[0, 0, 255], [32.297, 79.1875, -107.8602]],
    [[128, 128, 128], [53.585, 0, 0]],
  ];
  for (const [rgb, lab] of cases) {
    const got = rgbToLab(...rgb);
    for (let c = 0; c < 3; c++) close(got[c]!, lab[c]!, 0.01, `Lab of ${rgb}[${c}]`);
  }
});

test('Lab to sRGB inverts sRGB to Lab for every gray and a spread of colours', () => {
  for (let r = 0; r < 256; r += 15) {
    for (let g = 0; g < 256; g += 17) {
      for (let b = 0; b < 256; b += 51) {
        const back = labToRgb(...rgbToLab(r, g, b));
        assert.deepEqual(back, [r, g, b]);
      }
    }
  }
});

test('table-based L channel agrees with the exact conversion', () => {
  const pixels = new Uint8Array(3 * 4096);
  let seed = 7;
  for (let i = 0; i < pixels.length; i++) pixels[i] = (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 255;
  const L = lightness(pixels, 3, 4096);
  for (let i = 0; i < 4096; i++) close(L[i]!, rgbToLab(pixels[3 * i]!, pixels[3 * i + 1]!, pixels[3 * i + 2]!)[0], 0.02, `L of pixel ${i}`);
  const grays = Uint8Array.from({ length: 256 }, (_, i) => i);
  const Lg = lightness(grays, 1, 256);
  for (let i = 0; i < 256; i++) close(Lg[i]!, rgbToLab(i, i, i)[0], 1e-4, `L of gray ${i}`);
});

test('table-based Lab to 8-bit sRGB agrees with the exact conversion within one code', () => {
  const n = 2000;
  const L = new Float32Array(n);
  const a = new Float32Array(n);
  const b = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    L[i] = (i * 37) % 100;
    a[i] = ((i * 53) % 160) - 80;
    b[i] = ((i * 71) % 160) - 80;
  }
  const out = new Uint8Array(3 * n);
  labToSrgb8(L, a, b, out);
  for (let i = 0; i < n; i++) {
    const exact = labToRgb(L[i]!, a[i]!, b[i]!);
    for (let c = 0; c < 3; c++) assert.ok(Math.abs(out[3 * i + c]! - exact[c]!) <= 1, `pixel ${i} channel ${c}: ${out[3 * i + c]} vs ${exact[c]}`);
  }
});

test("the model's input is the L channel as gray RGB: equal planes whose Lab has a = b = 0", () => {
  const L = Float32Array.from([0, 25, 50, 75, 100]);
  const planes = new Float32Array(15);
  grayPlanesFromL(L, planes, 0);
  for (let i = 0; i < 5; i++) {
    const [r, g, b] = [planes[i]!, planes[5 + i]!, planes[10 + i]!];
    close(r, g, 1e-6, 'r = g');
    close(g, b, 1e-6, 'g = b');
    const lab = rgbToLab(r * 255, g * 255, b * 255);
    close(lab[0], L[i]!, 0.01, 'L kept');
    close(lab[1], 0, 0.01, 'a = 0');
    close(lab[2], 0, 0.01, 'b = 0');
  }
  assert.deepEqual(labToRgbFloat(100, 0, 0).map((v) => Math.round(v * 1e6) / 1e6), [1, 1, 1]);
});

test('L of in-between (resized) values is within 1e-3 of the exact conversion, and agrees with the 8-bit table at 8-bit codes', () => {
  const codes = Float32Array.from({ length: 256 }, (_, i) => i / 255);
  const L = lightnessFloat(codes, 1, 256);
  const table = lightness(Uint8Array.from({ length: 256 }, (_, i) => i), 1, 256);
  for (let i = 0; i < 256; i++) {
    close(L[i]!, table[i]!, 1e-3, `gray ${i}`);
    close(L[i]!, rgbToLab(i, i, i)[0], 1e-3, `gray ${i}, exact`);
  }
  const rgb = Float32Array.from([0.25, 0.5, 0.75, 0.1234, 0.9876, 0.5555]);
  const Lrgb = lightnessFloat(rgb, 3, 2);
  close(Lrgb[0]!, rgbToLab(0.25 * 255, 0.5 * 255, 0.75 * 255)[0], 1e-3, 'colour pixel 0');
  close(Lrgb[1]!, rgbToLab(0.1234 * 255, 0.9876 * 255, 0.5555 * 255)[0], 1e-3, 'colour pixel 1');
});

test('a gray scan saved as RGB is kept as one channel; one coloured pixel keeps three', () => {
  const rgb = Uint8Array.from([10, 10, 10, 200, 200, 200, 77, 77, 77]);
  assert.deepEqual(neutralToGray(rgb), Uint8Array.from([10, 200, 77]));
  rgb[7] = 78;
  assert.equal(neutralToGray(rgb), null);
});

test('the kernel packs a neutral RGB scan as the JavaScript does, and finds the one pixel that is not, even the last', () => {
  const n = 1_000_003;
  const rgb = new Uint8Array(3 * n);
  for (let i = 0; i < n; i++) rgb.fill((i * 2654435761) >>> 24, 3 * i, 3 * i + 3);
  const packed = packNeutralWasm(rgb);
  assert.ok(packed !== null);
  assert.deepEqual(packed, neutralToGray(rgb));
  assert.equal(packed.buffer.byteLength, n, 'a buffer of its own, that can move to another thread');
  for (const at of [0, 1, 2, 3 * n - 1]) {
    const one = rgb.slice();
    one[at] = one[at]! ^ 1;
    assert.equal(packNeutralWasm(one), null, `value ${at} changed`);
    assert.equal(neutralToGray(one), null);
  }
  assert.deepEqual(packNeutralWasm(rgb), packed, 'the kernel memory left for the next call');
});
