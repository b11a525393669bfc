/**
 * Is a photo already in colour? Measured on a small copy (at most 160 pixels a side), in CIELAB:
 *
 * - a black-and-white scan, even saved as RGB, slightly tinted, or toned (sepia, selenium,
 *   cyanotype), has a and b that follow its lightness: at a given L, one colour. So the spread of
 *   ab around their mean at each level of L stays small (noise and JPEG artefacts: a few units);
 * - a colour photo has different colours at the same lightness (a red coat beside green leaves):
 *   that spread is large, even in a faded print. A colour photo whose colours happen to sit at
 *   different lightness (blue sky over green grass) is caught by the second measure: the hue of
 *   the per-level means swings widely, where a toned print keeps one hue.
 *
 * `colourfulness` is in chroma units: the larger of the within-level spread and, when the levels'
 * hues span more than 60 degrees, their chroma. Compare it with a threshold (default 6,
 * DEFAULT_COLOUR_THRESHOLD in pipeline/options.ts).
 */
import { rgbToLab } from './lab.js';
import { resizeLinear } from './resize.js';

const SIDE = 160;
const LEVELS = 20;
const HUE_SPAN_DEGREES = 60;

export function colourfulness(pixels: Uint8Array, channels: 1 | 3, width: number, height: number): number {
  if (channels === 1) return 0;
  const scale = Math.min(1, SIDE / Math.max(width, height));
  const w = Math.max(1, Math.round(width * scale));
  const h = Math.max(1, Math.round(height * scale));
  const small = resizeLinear(pixels, 3, width, height, w, h);
  const n = w * h;
  const lab = new Float32Array(n * 3);
  const sums = new Float64Array(LEVELS * 3); // a, b, count per level of L
  for (let i = 0; i < n; i++) {
    const [L, a, b] = rgbToLab(small[i * 3]! * 255, small[i * 3 + 1]! * 255, small[i * 3 + 2]! * 255);
    lab[i * 3] = L;
    lab[i * 3 + 1] = a;
    lab[i * 3 + 2] = b;
    const k = level(L);
    sums[k * 3] += a;
    sums[k * 3 + 1] += b;
    sums[k * 3 + 2]++;
  }
  let spread = 0;
  for (let i = 0; i < n; i++) {
    const k = level(lab[i * 3]!);
    const count = sums[k * 3 + 2]!;
    const da = lab[i * 3 + 1]! - sums[k * 3]! / count;
    const db = lab[i * 3 + 2]! - sums[k * 3 + 1]! / count;
    spread += da * da + db * db;
  }
  return Math.max(Math.sqrt(spread / n), levelsHueSwing(sums, n));
}

function level(L: number): number {
  return Math.min(LEVELS - 1, Math.max(0, Math.floor((L / 100) * LEVELS)));
}

/**
 * The chroma of the levels' mean colours when their hues span more than HUE_SPAN_DEGREES (a colour
 * photo whose colours sit at different lightness), else 0. Levels holding under 2 % of the pixels
 * or with a mean chroma under 2 are left out.
 */
function levelsHueSwing(sums: Float64Array, n: number): number {
  const hues: Array<{ hue: number; chroma: number }> = [];
  for (let k = 0; k < LEVELS; k++) {
    const count = sums[k * 3 + 2]!;
    if (count < 0.02 * n) continue;
    const a = sums[k * 3]! / count;
    const b = sums[k * 3 + 1]! / count;
    const chroma = Math.hypot(a, b);
    if (chroma >= 2) hues.push({ hue: (Math.atan2(b, a) * 180) / Math.PI, chroma });
  }
  if (hues.length < 2) return 0;
  let span = 0;
  for (const x of hues) for (const y of hues) span = Math.max(span, Math.abs(((x.hue - y.hue + 540) % 360) - 180));
  return span > HUE_SPAN_DEGREES ? Math.min(...hues.map((x) => x.chroma).sort((p, q) => q - p).slice(0, 2)) : 0;
}
