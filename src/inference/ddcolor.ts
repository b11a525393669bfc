/**
 * DDColor's pre- and post-processing (DESIGN.md, "DDColor's numbers").
 *
 * Input: the photo stretched to S x S the way the official code does (`cv2.resize`, bilinear, see
 * image/resize.ts), converted to Lab, a = b = 0, back to RGB in [0, 1], CHW.
 * Output: ab at S x S, resized bilinearly (half-pixel centres, like torch's
 * `interpolate(mode='bilinear', align_corners=False)`) to the photo's own size, joined with the
 * photo's full-resolution L, converted to 8-bit sRGB.
 *
 * Hits and fresh inferences take the same path: the ab planes are quantized to 8 bits (what the
 * cache stores) before compositing, so a photo looks exactly the same whether it came from the
 * cache or from the model.
 *
 * A change here that changes any output's pixels bumps PROCESSING_VERSION (processing-version.ts).
 */
import type { AbPlanes } from '../chroma/codec.js';

import { grayPlanesFromL, labRowToSrgb8, lightnessFloat, lightnessInto } from '../image/lab.js';
import { linearTaps } from '../image/resize.js';

/** The photo shrunk to the model's input: interleaved sRGB-encoded values in [0, 1], size x size. */
export interface ModelInput {
  pixels: Float32Array;
  channels: 1 | 3;
  size: number;
}

/**
 * Write one image's model input (3 planes of size*size) into `batch` at image index `index`:
 * its L, with a = b = 0, back to RGB (DDColor's `img_gray_rgb`).
 */
export function preprocess(small: ModelInput, batch: Float32Array, index: number): void {
  const n = small.size * small.size;
  if (small.pixels.length !== n * small.channels) throw new Error(`model input has ${small.pixels.length} values, expected ${n * small.channels}`);
  const L = lightnessFloat(small.pixels, small.channels, n);
  grayPlanesFromL(L, batch, index * 3 * n);
}

/** The photo's own pixels (8-bit gray or sRGB, interleaved) whose L the composite keeps. */
export interface PhotoPixels {
  pixels: Uint8Array;
  channels: 1 | 3;
  width: number;
  height: number;
}

/**
 * Join the photo's own L with quantized ab planes into interleaved 8-bit sRGB. One pass a row: the
 * row's L from the pixels, ab upsampled (vertical pass on the small source row, then horizontal),
 * Lab -> sRGB; no full-resolution L or ab plane exists. `out` (width*height*3 or more) is reused
 * when given. `saturation` scales a and b (chroma) before the conversion. The runs use the
 * WebAssembly kernel (image/composite-wasm.ts); this double-precision one is its reference.
 */
export function composite(photo: PhotoPixels, ab: AbPlanes, out?: Uint8Array, saturation = 1): Uint8Array {
  const { pixels, channels, width, height } = photo;
  if (pixels.length !== width * height * channels) throw new Error(`${pixels.length} values for ${width}x${height}x${channels} pixels`);
  const { width: sw, height: sh, data } = ab;
  const planeA = sw * sh;
  // Dequantized planes (q - 128), scaled by the saturation, as floats once: the inner loop is pure arithmetic.
  const A = new Float32Array(planeA);
  const B = new Float32Array(planeA);
  for (let i = 0; i < planeA; i++) {
    A[i] = (data[i]! - 128) * saturation;
    B[i] = (data[planeA + i]! - 128) * saturation;
  }
  const xs = linearTaps(sw, width);
  const ys = linearTaps(sh, height);
  const lRow = new Float32Array(width);
  const aRow = new Float32Array(width);
  const bRow = new Float32Array(width);
  const aSrc = new Float32Array(sw);
  const bSrc = new Float32Array(sw);
  const rgb = out && out.length >= width * height * 3 ? out.subarray(0, width * height * 3) : new Uint8Array(width * height * 3);
  const { i0: c0s, i1: c1s, f: fxs } = xs;
  for (let y = 0; y < height; y++) {
    const r0 = ys.i0[y]! * sw;
    const r1 = ys.i1[y]! * sw;
    const fy = ys.f[y]!;
    const gy = 1 - fy;
    for (let x = 0; x < sw; x++) {
      aSrc[x] = gy * A[r0 + x]! + fy * A[r1 + x]!;
      bSrc[x] = gy * B[r0 + x]! + fy * B[r1 + x]!;
    }
    for (let x = 0; x < width; x++) {
      const c0 = c0s[x]!;
      const c1 = c1s[x]!;
      const fx = fxs[x]!;
      aRow[x] = aSrc[c0]! + fx * (aSrc[c1]! - aSrc[c0]!);
      bRow[x] = bSrc[c0]! + fx * (bSrc[c1]! - bSrc[c0]!);
    }
    lightnessInto(pixels, channels, y * width, width, lRow);
    labRowToSrgb8(lRow, 0, aRow, bRow, rgb, y * width * 3, width);
  }
  return rgb;
}
