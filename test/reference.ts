/**
 * An independent computation of what a colorized photo must look like, for the colour-placement
 * tests. Written apart from src/ on purpose: its own OpenCV-style bilinear resize, its own exact
 * sRGB -> CIELAB (float64, Math.pow), its own EXIF orientation mapping. Pixels are read back with
 * libvips (sharp) and converted to Lab by libvips itself.
 */
import sharp from 'sharp';

/** Pixels as float64 values in [0, 1], interleaved, row-major. */
export interface Picture {
  width: number;
  height: number;
  channels: 1 | 3;
  data: Float64Array;
}

/**
 * OpenCV's `cv2.resize(..., interpolation=INTER_LINEAR)` on a float picture (what DDColor's
 * official inference does to the photo): each output sample at ((x + 0.5)·scale − 0.5) in the
 * source, from the 2x2 nearest source samples, edges clamped, no antialiasing. The same formula
 * is torch's `interpolate(mode='bilinear', align_corners=False)`, used here to upsample ab.
 */
export function cvResizeLinear(src: Picture, width: number, height: number): Picture {
  // As OpenCV's resize: the source position, its floor and fraction; clamped at both edges.
  const taps = (from: number, to: number, i: number): [number, number, number] => {
    const s = (i + 0.5) * (from / to) - 0.5;
    let lo = Math.floor(s);
    let f = s - lo;
    if (lo < 0) [lo, f] = [0, 0];
    if (lo >= from - 1) [lo, f] = [from - 1, 0];
    return [lo, Math.min(lo + 1, from - 1), f];
  };
  const ch = src.channels;
  const out = new Float64Array(width * height * ch);
  for (let y = 0; y < height; y++) {
    const [y0, y1, fy] = taps(src.height, height, y);
    for (let x = 0; x < width; x++) {
      const [x0, x1, fx] = taps(src.width, width, x);
      for (let c = 0; c < ch; c++) {
        const at = (xx: number, yy: number): number => src.data[(yy * src.width + xx) * ch + c]!;
        const top = at(x0, y0) * (1 - fx) + at(x1, y0) * fx;
        const bottom = at(x0, y1) * (1 - fx) + at(x1, y1) * fx;
        out[(y * width + x) * ch + c] = top * (1 - fy) + bottom * fy;
      }
    }
  }
  return { width, height, channels: ch, data: out };
}

const linear = (v: number): number => (v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4));
const f = (t: number): number => (t > 216 / 24389 ? Math.cbrt(t) : ((24389 / 27) * t + 16) / 116);
const finv = (t: number): number => (t > 6 / 29 ? t * t * t : (116 * t - 16) / (24389 / 27));
const encode = (v: number): number => (v <= 0.0031308 ? 12.92 * v : 1.055 * Math.pow(v, 1 / 2.4) - 0.055);

/** CIELAB L (D65) of each pixel of a picture. */
export function lightnessOf(p: Picture): Float64Array {
  const n = p.width * p.height;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let y: number;
    if (p.channels === 1) y = linear(p.data[i]!);
    else {
      const o = i * 3;
      y = 0.2126729 * linear(p.data[o]!) + 0.7151522 * linear(p.data[o + 1]!) + 0.072175 * linear(p.data[o + 2]!);
    }
    out[i] = 116 * f(y) - 16;
  }
  return out;
}

/** Lab (D65) to unclamped sRGB-encoded values. */
export function labToSrgb(L: number, a: number, b: number): [number, number, number] {
  const fy = (L + 16) / 116;
  const X = 0.95047 * finv(fy + a / 500);
  const Y = finv(fy);
  const Z = 1.08883 * finv(fy - b / 200);
  const lin = [3.2404542 * X - 1.5371385 * Y - 0.4985314 * Z, -0.969266 * X + 1.8760108 * Y + 0.041556 * Z, 0.0556434 * X - 0.2040259 * Y + 1.0572252 * Z];
  return lin.map((v) => (v < 0 ? -encode(-v) : encode(v))) as [number, number, number];
}

/** The ab a position-sensitive model `ab = [k, −k]·(L − 50)` gives, as the cache keeps it (rounded, −128..127). */
function quantized(v: number): number {
  return Math.min(127, Math.max(-128, Math.round(v)));
}

/**
 * The a and b planes a colorized photo must have at full resolution, for the lightness model with
 * gain `k` run at `size`: the upright photo shrunk to size x size as DDColor's official code does,
 * the model applied per pixel, ab quantized, then upsampled bilinearly to the photo's own size.
 */
export function expectedAb(upright: Picture, size: number, k: number): { a: Float64Array; b: Float64Array } {
  const small = cvResizeLinear(upright, size, size);
  const L = lightnessOf(small);
  const planes: Picture = { width: size, height: size, channels: 3, data: new Float64Array(size * size * 3) };
  for (let i = 0; i < L.length; i++) {
    planes.data[i * 3] = quantized(k * (L[i]! - 50));
    planes.data[i * 3 + 1] = quantized(-k * (L[i]! - 50));
  }
  const full = cvResizeLinear(planes, upright.width, upright.height);
  const n = upright.width * upright.height;
  const a = new Float64Array(n);
  const b = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    a[i] = full.data[i * 3]!;
    b[i] = full.data[i * 3 + 1]!;
  }
  return { a, b };
}

/** An output file's L, a and b planes, converted to Lab by libvips (alpha dropped). */
export async function readLab(path: string): Promise<{ width: number; height: number; L: Float32Array; a: Float32Array; b: Float32Array }> {
  const { data, info } = await sharp(path).removeAlpha().toColourspace('lab').raw({ depth: 'float' }).toBuffer({ resolveWithObject: true });
  const v = new Float32Array(data.buffer, data.byteOffset, data.byteLength / 4);
  const n = info.width * info.height;
  const L = new Float32Array(n);
  const a = new Float32Array(n);
  const b = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    L[i] = v[i * 3]!;
    a[i] = v[i * 3 + 1]!;
    b[i] = v[i * 3 + 2]!;
  }
  return { width: info.width, height: info.height, L, a, b };
}

/** A file's stored pixels as libvips decodes them, with no orientation applied, as sRGB. */
export async function storedPixels(path: string): Promise<Picture> {
  const { data, info } = await sharp(path, { pages: 1 }).removeAlpha().toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  const out = new Float64Array(info.width * info.height * 3);
  for (let i = 0; i < out.length; i++) out[i] = data[i]! / 255;
  return { width: info.width, height: info.height, channels: 3, data: out };
}

/**
 * Where an upright pixel (x, y) sits in the stored picture for EXIF orientation 1-8 (the stored
 * picture is sw x sh). Orientation 6: stored row 0 is the visual right-hand side, column 0 the top.
 */
export function storedIndex(orientation: number, x: number, y: number, sw: number, sh: number): [number, number] {
  switch (orientation) {
    case 1:
      return [x, y];
    case 2:
      return [sw - 1 - x, y];
    case 3:
      return [sw - 1 - x, sh - 1 - y];
    case 4:
      return [x, sh - 1 - y];
    case 5:
      return [y, x];
    case 6:
      return [y, sh - 1 - x];
    case 7:
      return [sw - 1 - y, sh - 1 - x];
    case 8:
      return [sw - 1 - y, x];
    default:
      throw new Error(`orientation ${orientation}`);
  }
}

/**
 * Between the stored picture and the upright one for EXIF orientation `o`: `toUpright` turns a
 * stored picture upright; otherwise the stored picture that shows `picture` upright is made.
 */
export function reorient(picture: Picture, o: number, toUpright: boolean): Picture {
  const turned = o >= 5;
  const width = turned ? picture.height : picture.width;
  const height = turned ? picture.width : picture.height;
  const up = toUpright ? { width, height } : picture;
  const stored = toUpright ? picture : { width, height };
  const ch = picture.channels;
  const data = new Float64Array(width * height * ch);
  for (let y = 0; y < up.height; y++) {
    for (let x = 0; x < up.width; x++) {
      const [sx, sy] = storedIndex(o, x, y, stored.width, stored.height);
      const u = (y * up.width + x) * ch;
      const t = (sy * stored.width + sx) * ch;
      for (let c = 0; c < ch; c++) {
        if (toUpright) data[u + c] = picture.data[t + c]!;
        else data[t + c] = picture.data[u + c]!;
      }
    }
  }
  return { width, height, channels: ch, data };
}

export interface Placement {
  /** Largest |Δa|, |Δb| over the compared pixels. */
  maxError: number;
  /** Mean |Δa| + |Δb| over the compared pixels, halved. */
  meanError: number;
  /** The same against the expectation moved one pixel right (or down for a one-pixel-wide picture). */
  shiftedError: number;
  /** Largest |ΔL| between the output and the upright source. */
  maxLError: number;
  compared: number;
  total: number;
}

/**
 * Compare an output's a and b with the expectation, pixel by pixel, where the expected colour is
 * well inside the sRGB gamut and not too dark for 8 bits to carry its chroma.
 */
export function comparePlacement(
  out: { width: number; height: number; L: Float32Array; a: Float32Array; b: Float32Array },
  upright: Picture,
  want: { a: Float64Array; b: Float64Array },
): Placement {
  const { width, height } = upright;
  if (out.width !== width || out.height !== height) throw new Error(`output is ${out.width}x${out.height}, expected ${width}x${height}`);
  const L = lightnessOf(upright);
  const usable = (i: number): boolean => {
    if (L[i]! < 15 || L[i]! > 95) return false;
    return labToSrgb(L[i]!, want.a[i]!, want.b[i]!).every((v) => v > 0.02 && v < 0.98);
  };
  const byX = width > 1;
  let maxError = 0;
  let sumError = 0;
  let shiftedError = 0;
  let maxLError = 0;
  let compared = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      maxLError = Math.max(maxLError, Math.abs(out.L[i]! - L[i]!));
      if (!usable(i)) continue;
      compared++;
      const da = Math.abs(out.a[i]! - want.a[i]!);
      const db = Math.abs(out.b[i]! - want.b[i]!);
      maxError = Math.max(maxError, da, db);
      sumError += (da + db) / 2;
      const j = byX ? (x > 0 ? i - 1 : -1) : y > 0 ? i - width : -1;
      if (j >= 0) shiftedError = Math.max(shiftedError, Math.abs(out.a[i]! - want.a[j]!), Math.abs(out.b[i]! - want.b[j]!));
    }
  }
  return { maxError, meanError: compared ? sumError / compared : 0, shiftedError, maxLError, compared, total: width * height };
}
