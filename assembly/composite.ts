// The composite kernel in WebAssembly (AssemblyScript): the photo's own L joined with the model's
// ab planes, upsampled bilinearly, converted Lab -> 8-bit sRGB, a row at a time. It computes what
// src/model/ddcolor.ts `composite` computes, operation for operation in the same precision (f32
// where that keeps f32 values, f64 elsewhere), so the two agree bit for bit; the tests compare them.
//
// Memory is laid out by the caller (src/image/composite-wasm.ts): the tables once, then per call
// the pixels, the quantized ab planes, the taps, two scratch rows and the output. No allocation here.

const EPSILON: f64 = 216.0 / 24389.0;
const KAPPA: f64 = 24389.0 / 27.0;
const DELTA: f64 = 6.0 / 29.0;
const XN: f64 = 0.95047;
const ZN: f64 = 1.08883;
const CBRT_STEPS: f64 = 4096.0;
const LIN_STEPS: f64 = 65536.0;

// Offsets of the tables inside the tables block (bytes).
const GRAY8_TO_L: usize = 0; // f32[256]
const SRGB8_TO_LINEAR: usize = 1024; // f64[256]
const CBRT_TABLE: usize = 3072; // f64[4098]
const LINEAR_TO_SRGB8: usize = 3072 + 4098 * 8; // u8[65536]
/** Bytes the caller reserves for the tables. */
export const TABLES_BYTES: i32 = <i32>(LINEAR_TO_SRGB8 + 65536);

/** Where the caller may start laying out memory (after this module's own data). */
export function heapBase(): usize {
  return __heap_base;
}

@inline
function labFFast(t: usize, y: f64): f64 {
  if (y <= EPSILON) return (KAPPA * y + 16.0) / 116.0;
  const x = y * CBRT_STEPS;
  const i = <i32>x;
  const frac = x - <f64>i;
  const p = t + CBRT_TABLE + (<usize>i << 3);
  const c0 = load<f64>(p);
  return c0 + (load<f64>(p, 8) - c0) * frac;
}

@inline
function linearToSrgb8(t: usize, v: f64): u8 {
  if (v <= 0) return 0;
  if (v >= 1) return 255;
  return load<u8>(t + LINEAR_TO_SRGB8 + <usize>(<i32>(v * LIN_STEPS)));
}

@inline
function labFInv(f: f64): f64 {
  return f > DELTA ? f * f * f : (116.0 * f - 16.0) / KAPPA;
}

@inline
function lightnessAt(t: usize, pix: usize, channels: i32, i: usize): f64 {
  if (channels == 1) return <f64>load<f32>(t + GRAY8_TO_L + (<usize>load<u8>(pix + i) << 2));
  const p = pix + i * 3;
  const r = load<u8>(p);
  const g = load<u8>(p, 1);
  const b = load<u8>(p, 2);
  if (r == g && g == b) return <f64>load<f32>(t + GRAY8_TO_L + (<usize>r << 2));
  const lut = t + SRGB8_TO_LINEAR;
  const y = 0.2126729 * load<f64>(lut + (<usize>r << 3)) + 0.7151522 * load<f64>(lut + (<usize>g << 3)) + 0.072175 * load<f64>(lut + (<usize>b << 3));
  return <f64><f32>(116.0 * labFFast(t, y) - 16.0);
}

/** Dequantize the ab planes (q - 128) scaled by the saturation, as f32, into A and B. */
export function dequantize(abq: usize, count: i32, saturation: f64, A: usize, B: usize): void {
  for (let i: usize = 0; i < <usize>count; i++) {
    store<f32>(A + (i << 2), <f32>((<f64>load<u8>(abq + i) - 128.0) * saturation));
    store<f32>(B + (i << 2), <f32>((<f64>load<u8>(abq + <usize>count + i) - 128.0) * saturation));
  }
}

/** One output row: vertical pass on the small ab rows into aSrc/bSrc, then per pixel the rest. */
function row(
  t: usize, pix: usize, channels: i32, width: i32, y: i32, sw: i32,
  A: usize, B: usize, xi0: usize, xi1: usize, xf: usize, r0: usize, r1: usize, fy: f64,
  aSrc: usize, bSrc: usize, out: usize,
): void {
  const gy = 1.0 - fy;
  for (let x: usize = 0; x < <usize>sw; x++) {
    const o = x << 2;
    store<f32>(aSrc + o, <f32>(gy * <f64>load<f32>(A + ((r0 + x) << 2)) + fy * <f64>load<f32>(A + ((r1 + x) << 2))));
    store<f32>(bSrc + o, <f32>(gy * <f64>load<f32>(B + ((r0 + x) << 2)) + fy * <f64>load<f32>(B + ((r1 + x) << 2))));
  }
  const base = <usize>y * <usize>width;
  let p = out + base * 3;
  let x: usize = 0;
  for (; x + 1 < <usize>width; x += 2) {
    const L0 = lightnessAt(t, pix, channels, base + x);
    const L1 = lightnessAt(t, pix, channels, base + x + 1);
    const a = f64x2(abAt(aSrc, xi0, xi1, xf, x), abAt(aSrc, xi0, xi1, xf, x + 1));
    const b = f64x2(abAt(bSrc, xi0, xi1, xf, x), abAt(bSrc, xi0, xi1, xf, x + 1));
    storePair(t, p, f64x2(L0, L1), a, b);
    p += 6;
  }
  if (x < <usize>width) {
    const a = abAt(aSrc, xi0, xi1, xf, x);
    const b = abAt(bSrc, xi0, xi1, xf, x);
    storeOne(t, p, lightnessAt(t, pix, channels, base + x), a, b);
  }
}

/** One pixel's Lab to sRGB at p, as lab.ts labRowToSrgb8 does it. */
function storeOne(t: usize, p: usize, L: f64, a: f64, b: f64): void {
  const fy = (L + 16.0) / 116.0;
  const X = XN * labFInv(fy + a / 500.0);
  const Y = labFInv(fy);
  const Z = ZN * labFInv(fy - b / 200.0);
  store<u8>(p, linearToSrgb8(t, 3.2404542 * X - 1.5371385 * Y - 0.4985314 * Z));
  store<u8>(p, linearToSrgb8(t, -0.969266 * X + 1.8760108 * Y + 0.041556 * Z), 1);
  store<u8>(p, linearToSrgb8(t, 0.0556434 * X - 0.2040259 * Y + 1.0572252 * Z), 2);
}

/** a or b at output column x: the vertically interpolated source row, interpolated across (f32). */
@inline
function abAt(src: usize, xi0: usize, xi1: usize, xf: usize, x: usize): f64 {
  const c0 = <usize>load<i32>(xi0 + (x << 2)) << 2;
  const c1 = <usize>load<i32>(xi1 + (x << 2)) << 2;
  const fx = <f64>load<f32>(xf + (x << 2));
  const v0 = <f64>load<f32>(src + c0);
  return <f64><f32>(v0 + fx * (<f64>load<f32>(src + c1) - v0));
}

/** Lab f^-1 on two lanes, both branches computed and one kept (as labFInv, lane by lane). */
@inline
function labFInv2(f: v128): v128 {
  const cube = f64x2.mul(f64x2.mul(f, f), f);
  const line = f64x2.div(f64x2.sub(f64x2.mul(f64x2.splat(116.0), f), f64x2.splat(16.0)), f64x2.splat(KAPPA));
  return v128.bitselect(cube, line, f64x2.gt(f, f64x2.splat(DELTA)));
}

/** Two linear values to table indexes: linearToSrgb8's branches as a clamp (table[0] = 0, table[65535] = 255). */
@inline
function srgbIndex2(v: v128): v128 {
  const i = i32x4.trunc_sat_f64x2_s_zero(f64x2.mul(v, f64x2.splat(LIN_STEPS)));
  return i32x4.min_s(i32x4.max_s(i, i32x4.splat(0)), i32x4.splat(65535));
}

/**
 * Two pixels' Lab to sRGB at p (6 bytes; the first pixel's 3 when there is one). The same
 * operations, in the same order and precision, as the scalar conversion of lab.ts.
 */
@inline
function storePair(t: usize, p: usize, L: v128, a: v128, b: v128): void {
  const fy = f64x2.div(f64x2.add(L, f64x2.splat(16.0)), f64x2.splat(116.0));
  const X = f64x2.mul(f64x2.splat(XN), labFInv2(f64x2.add(fy, f64x2.div(a, f64x2.splat(500.0)))));
  const Y = labFInv2(fy);
  const Z = f64x2.mul(f64x2.splat(ZN), labFInv2(f64x2.sub(fy, f64x2.div(b, f64x2.splat(200.0)))));
  const R = f64x2.sub(f64x2.sub(f64x2.mul(f64x2.splat(3.2404542), X), f64x2.mul(f64x2.splat(1.5371385), Y)), f64x2.mul(f64x2.splat(0.4985314), Z));
  const G = f64x2.add(f64x2.add(f64x2.mul(f64x2.splat(-0.969266), X), f64x2.mul(f64x2.splat(1.8760108), Y)), f64x2.mul(f64x2.splat(0.041556), Z));
  const B = f64x2.add(f64x2.sub(f64x2.mul(f64x2.splat(0.0556434), X), f64x2.mul(f64x2.splat(0.2040259), Y)), f64x2.mul(f64x2.splat(1.0572252), Z));
  const lut = t + LINEAR_TO_SRGB8;
  const r = srgbIndex2(R);
  const g = srgbIndex2(G);
  const bb = srgbIndex2(B);
  store<u8>(p, load<u8>(lut + <usize>i32x4.extract_lane(r, 1)), 3);
  store<u8>(p, load<u8>(lut + <usize>i32x4.extract_lane(g, 1)), 4);
  store<u8>(p, load<u8>(lut + <usize>i32x4.extract_lane(bb, 1)), 5);
  store<u8>(p, load<u8>(lut + <usize>i32x4.extract_lane(r, 0)));
  store<u8>(p, load<u8>(lut + <usize>i32x4.extract_lane(g, 0)), 1);
  store<u8>(p, load<u8>(lut + <usize>i32x4.extract_lane(bb, 0)), 2);
}

/**
 * The whole composite: `out` receives width*height*3 bytes. A and B hold the dequantized planes
 * (dequantize), xi0/xi1/xf and yi0/yi1/yf the taps of image/resize.ts `linearTaps`.
 */
export function composite(
  t: usize, pix: usize, channels: i32, width: i32, height: i32, sw: i32,
  A: usize, B: usize, xi0: usize, xi1: usize, xf: usize, yi0: usize, yi1: usize, yf: usize,
  aSrc: usize, bSrc: usize, out: usize,
): void {
  for (let y: i32 = 0; y < height; y++) {
    const o = <usize>y << 2;
    const r0 = <usize>load<i32>(yi0 + o) * <usize>sw;
    const r1 = <usize>load<i32>(yi1 + o) * <usize>sw;
    row(t, pix, channels, width, y, sw, A, B, xi0, xi1, xf, r0, r1, <f64>load<f32>(yf + o), aSrc, bSrc, out);
  }
}

/**
 * A gray scan saved as RGB (R = G = B at every pixel) packed in place to one channel: returns 1
 * when it was (the first n bytes are then the gray values), 0 and nothing changed when it was not.
 */
export function packNeutral(pix: usize, n: i32): i32 {
  const count = <usize>n;
  for (let i: usize = 0, p = pix; i < count; i++, p += 3) {
    const r = load<u8>(p);
    if (r != load<u8>(p, 1) || r != load<u8>(p, 2)) return 0;
  }
  for (let i: usize = 0; i < count; i++) store<u8>(pix + i, load<u8>(pix + i * 3));
  return 1;
}
