// The composite kernel in WebAssembly (AssemblyScript): the photo's own L joined with the model's
// ab planes, upsampled bilinearly, converted Lab -> 8-bit sRGB, a row at a time, four pixels at a
// time in 128-bit SIMD (f32x4). It computes what src/model/ddcolor.ts `composite` (the reference,
// in f64) computes, in single precision and with the bilinear passes taken in the other order:
// the tests hold it within one code of the reference on every channel, and to the exact
// conversion pixel by pixel.
//
// Memory is laid out by the caller (src/image/composite-wasm.ts): the tables once, then per call
// the pixels, the quantized ab planes, the taps, five scratch rows and the output. No allocation here.

const EPSILON: f64 = 216.0 / 24389.0;
const KAPPA: f64 = 24389.0 / 27.0;
const DELTA: f32 = <f32>(6.0 / 29.0);
const CBRT_STEPS: f64 = 4096.0;

// Offsets of the tables inside the tables block (bytes).
const GRAY8_TO_FY: usize = 0; // f32[256]: a gray code's Lab f(Y), (L + 16) / 116
const SRGB8_TO_LINEAR: usize = 1024; // f64[256]
const CBRT_TABLE: usize = 3072; // f64[4098]
const LINEAR_TO_SRGB8: usize = CBRT_TABLE + 4098 * 8; // u8[65536]
/** Bytes the caller reserves for the tables. */
export const TABLES_BYTES: i32 = <i32>(LINEAR_TO_SRGB8 + 65536);

/** Where the caller may start laying out memory (after this module's own data). */
export function heapBase(): usize {
  return __heap_base;
}

/** Lab f() of a luminance in [0, 1]: the interpolated cube-root table (as lab.ts labFFast). */
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

/** Dequantize the ab planes (q - 128) scaled by the saturation, as f32, into A and B. */
export function dequantize(abq: usize, count: i32, saturation: f64, A: usize, B: usize): void {
  for (let i: usize = 0; i < <usize>count; i++) {
    store<f32>(A + (i << 2), <f32>((<f64>load<u8>(abq + i) - 128.0) * saturation));
    store<f32>(B + (i << 2), <f32>((<f64>load<u8>(abq + <usize>count + i) - 128.0) * saturation));
  }
}

/** One row of `width` pixels' f(Y) into fyRow: gray codes by table, colour by formula. */
function lightnessRow(t: usize, pix: usize, channels: i32, width: i32, fyRow: usize): void {
  const n = <usize>width;
  if (channels == 1) {
    for (let x: usize = 0; x < n; x++) store<f32>(fyRow + (x << 2), load<f32>(t + GRAY8_TO_FY + (<usize>load<u8>(pix + x) << 2)));
    return;
  }
  const lut = t + SRGB8_TO_LINEAR;
  for (let x: usize = 0, p = pix; x < n; x++, p += 3) {
    const r = load<u8>(p);
    const g = load<u8>(p, 1);
    const b = load<u8>(p, 2);
    if (r == g && g == b) {
      store<f32>(fyRow + (x << 2), load<f32>(t + GRAY8_TO_FY + (<usize>r << 2)));
    } else {
      const y = 0.2126729 * load<f64>(lut + (<usize>r << 3)) + 0.7151522 * load<f64>(lut + (<usize>g << 3)) + 0.072175 * load<f64>(lut + (<usize>b << 3));
      store<f32>(fyRow + (x << 2), <f32>labFFast(t, y));
    }
  }
}

/** Source row `r` of plane P (sw wide) upsampled across to `width` values at h (f32). */
function across(P: usize, r: i32, sw: i32, width: i32, xi0: usize, xi1: usize, xf: usize, h: usize): void {
  const src = P + ((<usize>r * <usize>sw) << 2);
  for (let x: usize = 0; x < <usize>width; x++) {
    const o = x << 2;
    const v0 = load<f32>(src + (<usize>load<i32>(xi0 + o) << 2));
    const v1 = load<f32>(src + (<usize>load<i32>(xi1 + o) << 2));
    store<f32>(h + o, v0 + load<f32>(xf + o) * (v1 - v0));
  }
}

/** Lab f^-1 on four lanes: both branches computed and one kept. */
@inline
function labFInv4(f: v128): v128 {
  const cube = f32x4.mul(f32x4.mul(f, f), f);
  const line = f32x4.sub(f32x4.mul(f, f32x4.splat(<f32>(116.0 / KAPPA))), f32x4.splat(<f32>(16.0 / KAPPA)));
  return v128.bitselect(cube, line, f32x4.gt(f, f32x4.splat(DELTA)));
}

/** Four linear values to indexes of the 64 Ki table (below 0 -> 0, 1 and above -> the last). */
@inline
function srgbIndex4(v: v128): v128 {
  const i = i32x4.trunc_sat_f32x4_s(f32x4.mul(v, f32x4.splat(65536.0)));
  return i32x4.min_s(i32x4.max_s(i, i32x4.splat(0)), i32x4.splat(65535));
}

/** One pixel's three codes from the table, stored at p. */
@inline
function storeCodes(lut: usize, p: usize, r: i32, g: i32, b: i32): void {
  store<u8>(p, load<u8>(lut + <usize>r));
  store<u8>(p, load<u8>(lut + <usize>g), 1);
  store<u8>(p, load<u8>(lut + <usize>b), 2);
}

/**
 * Four pixels from column x: a and b between the two upsampled source rows (weights gy, fy), with
 * their f(Y) in `f` (and Y = f^-1 of it, computed here rather than read from a table), to sRGB
 * codes at p; `count` (1 to 4) of them are stored.
 */
@inline
function quad(
  lut: usize, o: usize, count: usize, p: usize, f: v128,
  ha0: usize, ha1: usize, hb0: usize, hb1: usize, gy: v128, fy: v128,
): void {
  const a = f32x4.add(f32x4.mul(v128.load(ha0 + o), gy), f32x4.mul(v128.load(ha1 + o), fy));
  const b = f32x4.add(f32x4.mul(v128.load(hb0 + o), gy), f32x4.mul(v128.load(hb1 + o), fy));
  const Y = labFInv4(f);
  const X = f32x4.mul(f32x4.splat(0.95047), labFInv4(f32x4.add(f, f32x4.mul(a, f32x4.splat(<f32>(1.0 / 500.0))))));
  const Z = f32x4.mul(f32x4.splat(1.08883), labFInv4(f32x4.sub(f, f32x4.mul(b, f32x4.splat(<f32>(1.0 / 200.0))))));
  const R = f32x4.sub(f32x4.sub(f32x4.mul(f32x4.splat(3.2404542), X), f32x4.mul(f32x4.splat(1.5371385), Y)), f32x4.mul(f32x4.splat(0.4985314), Z));
  const G = f32x4.add(f32x4.add(f32x4.mul(f32x4.splat(-0.969266), X), f32x4.mul(f32x4.splat(1.8760108), Y)), f32x4.mul(f32x4.splat(0.041556), Z));
  const B = f32x4.add(f32x4.sub(f32x4.mul(f32x4.splat(0.0556434), X), f32x4.mul(f32x4.splat(0.2040259), Y)), f32x4.mul(f32x4.splat(1.0572252), Z));
  const r = srgbIndex4(R);
  const g = srgbIndex4(G);
  const bb = srgbIndex4(B);
  storeCodes(lut, p, i32x4.extract_lane(r, 0), i32x4.extract_lane(g, 0), i32x4.extract_lane(bb, 0));
  if (count > 1) storeCodes(lut, p + 3, i32x4.extract_lane(r, 1), i32x4.extract_lane(g, 1), i32x4.extract_lane(bb, 1));
  if (count > 2) storeCodes(lut, p + 6, i32x4.extract_lane(r, 2), i32x4.extract_lane(g, 2), i32x4.extract_lane(bb, 2));
  if (count > 3) storeCodes(lut, p + 9, i32x4.extract_lane(r, 3), i32x4.extract_lane(g, 3), i32x4.extract_lane(bb, 3));
}

/**
 * One output row at out, four pixels at a time. A gray row's f(Y) comes from the table straight
 * into the lanes; a colour row's (and a gray row's last 1 to 3 pixels') through fyRow first.
 */
function row(
  t: usize, pix: usize, channels: i32, width: i32, fyRow: usize,
  ha0: usize, ha1: usize, hb0: usize, hb1: usize, fy: f32, out: usize,
): void {
  const lut = t + LINEAR_TO_SRGB8;
  const gy4 = f32x4.splat(<f32>1.0 - fy);
  const fy4 = f32x4.splat(fy);
  const n = <usize>width;
  let x: usize = 0;
  if (channels == 1) {
    const tf = t + GRAY8_TO_FY;
    for (; x + 4 <= n; x += 4) {
      const q = load<u32>(pix + x);
      let f = f32x4.splat(load<f32>(tf + ((<usize>q & 255) << 2)));
      f = f32x4.replace_lane(f, 1, load<f32>(tf + ((<usize>(q >> 8) & 255) << 2)));
      f = f32x4.replace_lane(f, 2, load<f32>(tf + ((<usize>(q >> 16) & 255) << 2)));
      f = f32x4.replace_lane(f, 3, load<f32>(tf + (<usize>(q >> 24) << 2)));
      quad(lut, x << 2, 4, out + x * 3, f, ha0, ha1, hb0, hb1, gy4, fy4);
    }
  }
  lightnessRow(t, pix + x * <usize>channels, channels, width - <i32>x, fyRow + (x << 2));
  for (; x + 4 <= n; x += 4) quad(lut, x << 2, 4, out + x * 3, v128.load(fyRow + (x << 2)), ha0, ha1, hb0, hb1, gy4, fy4);
  if (x < n) quad(lut, x << 2, n - x, out + x * 3, v128.load(fyRow + (x << 2)), ha0, ha1, hb0, hb1, gy4, fy4);
}

/**
 * The whole composite: `out` receives width*height*3 bytes. A and B hold the dequantized planes
 * (dequantize), xi0/xi1/xf and yi0/yi1/yf the taps of image/resize.ts `linearTaps`; `rows` is
 * scratch for five rows of `stride` bytes (stride >= 4 * width, a multiple of 16). Each source row
 * is upsampled across once and kept while the output rows between it and the next need it.
 */
export function composite(
  t: usize, pix: usize, channels: i32, width: i32, height: i32, sw: i32,
  A: usize, B: usize, xi0: usize, xi1: usize, xf: usize, yi0: usize, yi1: usize, yf: usize,
  rows: usize, stride: usize, out: usize,
): void {
  const fyRow = rows;
  let ha0 = rows + stride;
  let hb0 = rows + 2 * stride;
  let ha1 = rows + 3 * stride;
  let hb1 = rows + 4 * stride;
  let have0: i32 = -1;
  let have1: i32 = -1;
  const rowBytes = <usize>width * <usize>channels;
  for (let y: i32 = 0; y < height; y++) {
    const o = <usize>y << 2;
    const r0 = load<i32>(yi0 + o);
    const r1 = load<i32>(yi1 + o);
    if (r0 != have0) {
      if (r0 == have1) {
        const sa = ha0; ha0 = ha1; ha1 = sa;
        const sb = hb0; hb0 = hb1; hb1 = sb;
        have1 = have0;
      } else {
        across(A, r0, sw, width, xi0, xi1, xf, ha0);
        across(B, r0, sw, width, xi0, xi1, xf, hb0);
      }
      have0 = r0;
    }
    if (r1 != have1) {
      across(A, r1, sw, width, xi0, xi1, xf, ha1);
      across(B, r1, sw, width, xi0, xi1, xf, hb1);
      have1 = r1;
    }
    const p = pix + <usize>y * rowBytes;
    row(t, p, channels, width, fyRow, ha0, ha1, hb0, hb1, load<f32>(yf + o), out + <usize>y * <usize>width * 3);
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
