/**
 * sRGB <-> CIELAB (D65, 2° observer), the conversions DDColor's pre- and post-processing use.
 *
 * The per-pixel work runs on lookup tables: a 256-entry sRGB -> linear table, an interpolated
 * cube-root table for the Lab f() function, and a 64 Ki-entry linear -> 8-bit sRGB table. The
 * exact functions are exported too; tests compare the two.
 */

/** D65 reference white (X and Z; Y is 1). */
export const D65 = { X: 0.95047, Y: 1, Z: 1.08883 } as const;

const EPSILON = 216 / 24389; // (6/29)^3
const KAPPA = 24389 / 27;
const DELTA = 6 / 29;

/** sRGB-encoded value in [0, 1] to linear light. */
export function srgbToLinear(v: number): number {
  return v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
}

/** Linear light in [0, 1] to sRGB-encoded value in [0, 1]. */
export function linearToSrgb(v: number): number {
  return v <= 0.0031308 ? v * 12.92 : 1.055 * Math.pow(v, 1 / 2.4) - 0.055;
}

function labF(t: number): number {
  return t > EPSILON ? Math.cbrt(t) : (KAPPA * t + 16) / 116;
}

function labFInv(t: number): number {
  return t > DELTA ? t * t * t : (116 * t - 16) / KAPPA;
}

/** Exact 8-bit sRGB to Lab. */
export function rgbToLab(r: number, g: number, b: number): [number, number, number] {
  const R = srgbToLinear(r / 255);
  const G = srgbToLinear(g / 255);
  const B = srgbToLinear(b / 255);
  const X = 0.4124564 * R + 0.3575761 * G + 0.1804375 * B;
  const Y = 0.2126729 * R + 0.7151522 * G + 0.072175 * B;
  const Z = 0.0193339 * R + 0.119192 * G + 0.9503041 * B;
  const fx = labF(X / D65.X);
  const fy = labF(Y / D65.Y);
  const fz = labF(Z / D65.Z);
  return [116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)];
}

/** Exact Lab to sRGB in [0, 1] per channel, unclamped. */
export function labToRgbFloat(L: number, a: number, b: number): [number, number, number] {
  const fy = (L + 16) / 116;
  const X = D65.X * labFInv(fy + a / 500);
  const Y = D65.Y * labFInv(fy);
  const Z = D65.Z * labFInv(fy - b / 200);
  const R = 3.2404542 * X - 1.5371385 * Y - 0.4985314 * Z;
  const G = -0.969266 * X + 1.8760108 * Y + 0.041556 * Z;
  const B = 0.0556434 * X - 0.2040259 * Y + 1.0572252 * Z;
  return [linearToSrgb(clamp01(R)), linearToSrgb(clamp01(G)), linearToSrgb(clamp01(B))];
}

/** Exact Lab to 8-bit sRGB, clamped and rounded. */
export function labToRgb(L: number, a: number, b: number): [number, number, number] {
  const [r, g, bb] = labToRgbFloat(L, a, b);
  return [Math.round(r * 255), Math.round(g * 255), Math.round(bb * 255)];
}

function clamp01(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}

// ---------------------------------------------------------------------------------------------
// Tables

/** 8-bit sRGB code -> linear light. */
export const SRGB8_TO_LINEAR: Float64Array = (() => {
  const t = new Float64Array(256);
  for (let i = 0; i < 256; i++) t[i] = srgbToLinear(i / 255);
  return t;
})();

/** 8-bit gray code -> L (a gray pixel's L depends on its value alone). */
const GRAY8_TO_L: Float32Array = (() => {
  const t = new Float32Array(256);
  for (let i = 0; i < 256; i++) t[i] = 116 * labF(SRGB8_TO_LINEAR[i]!) - 16;
  return t;
})();

const CBRT_STEPS = 4096;
/** cbrt sampled on [0, 1] in CBRT_STEPS intervals, for linear interpolation. */
const CBRT_TABLE: Float64Array = (() => {
  const t = new Float64Array(CBRT_STEPS + 2);
  for (let i = 0; i <= CBRT_STEPS + 1; i++) t[i] = Math.cbrt(i / CBRT_STEPS);
  return t;
})();

/** Lab f() on a luminance in [0, 1] via the interpolated table. */
function labFFast(y: number): number {
  if (y <= EPSILON) return (KAPPA * y + 16) / 116;
  const x = y * CBRT_STEPS;
  const i = x | 0;
  const frac = x - i;
  return CBRT_TABLE[i]! + (CBRT_TABLE[i + 1]! - CBRT_TABLE[i]!) * frac;
}

const LIN_STEPS = 65536;
/** Linear light in [0, 1], sampled at bin centres, -> rounded 8-bit sRGB. */
const LINEAR_TO_SRGB8: Uint8Array = (() => {
  const t = new Uint8Array(LIN_STEPS);
  for (let i = 0; i < LIN_STEPS; i++) t[i] = Math.round(linearToSrgb((i + 0.5) / LIN_STEPS) * 255);
  return t;
})();

/** 8-bit gray code -> its Lab f(Y), (L + 16) / 116. */
const GRAY8_TO_FY = Float32Array.from(GRAY8_TO_L, (L) => (L + 16) / 116);

/** The tables the composite runs on, for the WebAssembly kernel (image/composite-wasm.ts) to copy. */
export const COMPOSITE_TABLES = {
  gray8ToFy: GRAY8_TO_FY,
  srgb8ToLinear: SRGB8_TO_LINEAR,
  cbrt: CBRT_TABLE,
  linearToSrgb8: LINEAR_TO_SRGB8,
} as const;

function linearToSrgb8(v: number): number {
  if (v <= 0) return 0;
  if (v >= 1) return 255;
  return LINEAR_TO_SRGB8[(v * LIN_STEPS) | 0]!;
}

/**
 * The L channel of interleaved 8-bit pixels with 1 (gray) or 3 (RGB) channels, as a Float32Array
 * of width*height values in [0, 100].
 */
export function lightness(pixels: Uint8Array, channels: 1 | 3, count: number): Float32Array {
  const out = new Float32Array(count);
  lightnessInto(pixels, channels, 0, count, out);
  return out;
}

/**
 * The L of `count` pixels from pixel `start` of interleaved 8-bit pixels, written to `out` from 0:
 * a row at a time, so the composite needs no full-resolution L plane.
 */
export function lightnessInto(pixels: Uint8Array, channels: 1 | 3, start: number, count: number, out: Float32Array): void {
  if (channels === 1) {
    for (let i = 0; i < count; i++) out[i] = GRAY8_TO_L[pixels[start + i]!]!;
    return;
  }
  const lut = SRGB8_TO_LINEAR;
  for (let i = 0, p = start * 3; i < count; i++, p += 3) {
    const r = pixels[p]!;
    const g = pixels[p + 1]!;
    const b = pixels[p + 2]!;
    if (r === g && g === b) {
      out[i] = GRAY8_TO_L[r]!;
    } else {
      const y = 0.2126729 * lut[r]! + 0.7151522 * lut[g]! + 0.072175 * lut[b]!;
      out[i] = 116 * labFFast(y) - 16;
    }
  }
}

/** A smooth function of [0, 1] sampled in `steps` intervals, for linear interpolation. */
function sampled(fn: (v: number) => number, steps: number): Float64Array {
  const t = new Float64Array(steps + 2);
  for (let i = 0; i <= steps + 1; i++) t[i] = fn(Math.min(1, i / steps));
  return t;
}

const CURVE_STEPS = 16384;
/** sRGB-encoded [0, 1] -> linear light, interpolated (off by under 1e-7 from the exact curve). */
const SRGB_TO_LINEAR_CURVE = sampled(srgbToLinear, CURVE_STEPS);
/** Linear light [0, 1] -> sRGB-encoded, interpolated (off by under 2e-5). */
const LINEAR_TO_SRGB_CURVE = sampled(linearToSrgb, CURVE_STEPS);

function onCurve(table: Float64Array, v: number): number {
  if (v <= 0) return table[0]!;
  if (v >= 1) return table[CURVE_STEPS]!;
  const x = v * CURVE_STEPS;
  const i = x | 0;
  return table[i]! + (table[i + 1]! - table[i]!) * (x - i);
}

/**
 * The L channel of interleaved sRGB-encoded values in [0, 1] (1 or 3 channels): the photo shrunk
 * to the model's input holds in-between values no 8-bit table covers, so the curves are sampled
 * finely and interpolated (within 1e-3 of L computed exactly).
 */
export function lightnessFloat(values: Float32Array, channels: 1 | 3, count: number): Float32Array {
  const out = new Float32Array(count);
  const lin = SRGB_TO_LINEAR_CURVE;
  for (let i = 0, p = 0; i < count; i++, p += channels) {
    const y =
      channels === 1
        ? onCurve(lin, values[p]!)
        : 0.2126729 * onCurve(lin, values[p]!) + 0.7151522 * onCurve(lin, values[p + 1]!) + 0.072175 * onCurve(lin, values[p + 2]!);
    out[i] = 116 * labFFast(y) - 16;
  }
  return out;
}

/** With a = b = 0, X = Xn·Y and Z = Zn·Y: each linear channel is a fixed multiple of Y (about 1). */
const GRAY_GAIN = {
  r: 3.2404542 * D65.X - 1.5371385 - 0.4985314 * D65.Z,
  g: -0.969266 * D65.X + 1.8760108 + 0.041556 * D65.Z,
  b: 0.0556434 * D65.X - 0.2040259 + 1.0572252 * D65.Z,
};

/**
 * Lab with a = b = 0 back to RGB: the gray picture DDColor's model is fed. With a = b = 0 the
 * colour is the D65 white scaled to the pixel's luminance, so each channel is sRGB(gain·Y).
 * Writes R, G, B planes (CHW) of one image into `out` starting at `offset`, values in [0, 1].
 */
export function grayPlanesFromL(L: Float32Array, out: Float32Array, offset: number): void {
  const n = L.length;
  const curve = LINEAR_TO_SRGB_CURVE;
  for (let i = 0; i < n; i++) {
    const y = labFInv((L[i]! + 16) / 116);
    out[offset + i] = onCurve(curve, GRAY_GAIN.r * y);
    out[offset + n + i] = onCurve(curve, GRAY_GAIN.g * y);
    out[offset + 2 * n + i] = onCurve(curve, GRAY_GAIN.b * y);
  }
}

/**
 * Join `count` values of L (from `lStart`) with a and b (from 0) into interleaved 8-bit sRGB at
 * `outStart`. The composite works a row at a time with this, so no full-size a/b planes exist.
 */
export function labRowToSrgb8(
  L: Float32Array,
  lStart: number,
  a: Float32Array,
  b: Float32Array,
  out: Uint8Array,
  outStart: number,
  count: number,
): void {
  const xn = D65.X;
  const zn = D65.Z;
  for (let i = 0, p = outStart; i < count; i++, p += 3) {
    const fy = (L[lStart + i]! + 16) / 116;
    const fx = fy + a[i]! / 500;
    const fz = fy - b[i]! / 200;
    const X = xn * (fx > DELTA ? fx * fx * fx : (116 * fx - 16) / KAPPA);
    const Y = fy > DELTA ? fy * fy * fy : (116 * fy - 16) / KAPPA;
    const Z = zn * (fz > DELTA ? fz * fz * fz : (116 * fz - 16) / KAPPA);
    out[p] = linearToSrgb8(3.2404542 * X - 1.5371385 * Y - 0.4985314 * Z);
    out[p + 1] = linearToSrgb8(-0.969266 * X + 1.8760108 * Y + 0.041556 * Z);
    out[p + 2] = linearToSrgb8(0.0556434 * X - 0.2040259 * Y + 1.0572252 * Z);
  }
}

/** Join a full-resolution L with a and b (same length) into interleaved 8-bit sRGB. */
export function labToSrgb8(L: Float32Array, a: Float32Array, b: Float32Array, out: Uint8Array): void {
  labRowToSrgb8(L, 0, a, b, out, 0, L.length);
}
