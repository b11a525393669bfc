/**
 * Bilinear resampling with half-pixel centres: OpenCV's `cv2.resize(..., INTER_LINEAR)` (what
 * DDColor's official inference uses to shrink a photo to the model's input) and torch's
 * `interpolate(mode='bilinear', align_corners=False)` (how its ab is brought back to full size)
 * are the same formula. Each output sample sits at ((x + 0.5)·from/to − 0.5) in the source and
 * takes the two nearest source samples on each axis; edges are clamped; there is no antialiasing
 * filter (on a large shrink the official code samples 2x2 pixels, and so does this).
 *
 * Done here rather than by sharp: sharp's resize is lanczos3 or an antialiased triangle, which
 * moves DDColor's input away from what it was trained and published with, and a 1-channel raw
 * image comes back from sharp as 3 channels.
 */

/** For each output sample: the two source indices and the weight of the second. */
export interface Taps {
  i0: Int32Array;
  i1: Int32Array;
  f: Float32Array;
}

/** Source taps for resampling `from` samples to `to`. */
export function linearTaps(from: number, to: number): Taps {
  const i0 = new Int32Array(to);
  const i1 = new Int32Array(to);
  const f = new Float32Array(to);
  const scale = from / to;
  for (let x = 0; x < to; x++) {
    let src = (x + 0.5) * scale - 0.5;
    if (src < 0) src = 0;
    if (src > from - 1) src = from - 1;
    const lo = Math.floor(src);
    i0[x] = lo;
    i1[x] = Math.min(lo + 1, from - 1);
    f[x] = src - lo;
  }
  return { i0, i1, f };
}

/**
 * Resize interleaved 8-bit pixels (`channels` per pixel, width x height) to outWidth x outHeight,
 * bilinearly as above, in floating point; returns interleaved values in [0, 1].
 */
export function resizeLinear(
  pixels: Uint8Array,
  channels: 1 | 3,
  width: number,
  height: number,
  outWidth: number,
  outHeight: number,
): Float32Array {
  if (pixels.length !== width * height * channels) throw new Error(`${pixels.length} values for ${width}x${height}x${channels} pixels`);
  const xs = linearTaps(width, outWidth);
  const ys = linearTaps(height, outHeight);
  const out = new Float32Array(outWidth * outHeight * channels);
  const rowLen = width * channels;
  // Horizontal pass of the two source rows an output row needs, then the vertical blend.
  const top = new Float64Array(outWidth * channels);
  const bottom = new Float64Array(outWidth * channels);
  for (let y = 0; y < outHeight; y++) {
    horizontal(pixels, ys.i0[y]! * rowLen, channels, xs, top);
    horizontal(pixels, ys.i1[y]! * rowLen, channels, xs, bottom);
    const fy = ys.f[y]!;
    const base = y * outWidth * channels;
    for (let i = 0; i < top.length; i++) out[base + i] = (top[i]! + fy * (bottom[i]! - top[i]!)) / 255;
  }
  return out;
}

function horizontal(pixels: Uint8Array, rowStart: number, channels: number, xs: Taps, out: Float64Array): void {
  const n = xs.f.length;
  for (let x = 0; x < n; x++) {
    const p0 = rowStart + xs.i0[x]! * channels;
    const p1 = rowStart + xs.i1[x]! * channels;
    const fx = xs.f[x]!;
    for (let c = 0; c < channels; c++) {
      const v0 = pixels[p0 + c]!;
      out[x * channels + c] = v0 + fx * (pixels[p1 + c]! - v0);
    }
  }
}
