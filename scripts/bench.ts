/**
 * Speed and memory figures (printed, never asserted): the per-pixel colour work on a 12 MP scan,
 * the cache codec, and a cold and a warm run of the sample album on the embedded store.
 *   npm run bench
 */
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { decodeAb, encodeAb, quantizeAb } from '../src/cache/codec.js';
import { lightness } from '../src/image/lab.js';
import { composite } from '../src/model/ddcolor.js';
import { inspectModel } from '../src/model/session.js';
import { tintModel } from '../src/model/tiny-model.js';
import { colorize } from '../src/pipeline/run.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function time<T>(label: string, fn: () => T, runs = 3): T {
  let result!: T;
  let best = Infinity;
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    result = fn();
    best = Math.min(best, performance.now() - t);
  }
  console.log(`${label.padEnd(48)} ${best.toFixed(1).padStart(8)} ms`);
  return result;
}

const W = 4000;
const H = 3000;
const px = new Uint8Array(W * H * 3);
for (let i = 0; i < px.length; i++) px[i] = (i * 2654435761) >>> 24;
const L = time('L channel of a 12 MP colour (RGB) scan', () => lightness(px, 3, W * H));
const grayPx = new Uint8Array(W * H).map((_, i) => (i * 2654435761) >>> 24);
time('L channel of a 12 MP gray scan', () => lightness(grayPx, 1, W * H));
const S = 512;
const ab = new Float32Array(2 * S * S).map((_, i) => Math.sin(i / 1000) * 40);
const q = quantizeAb(ab, S, S);
const value = time('encode ab 512x512 (quantized, deflated)', () => encodeAb(q), 5);
console.log(`${'  cached value size'.padEnd(48)} ${(value.length / 1024).toFixed(1).padStart(8)} KB`);
time('decode and verify ab 512x512', () => decodeAb(value, S), 5);
time('composite 12 MP (bilinear ab + Lab -> sRGB)', () => composite(L, W, H, q));

const dir = await mkdtemp(join(tmpdir(), 'ddcolor-bench-'));
try {
  const album = join(dir, 'album');
  await mkdir(album);
  const names = ['cameraman.png', 'coins.png', 'family/astronaut-1984.jpg', 'family/cafe.jpg', 'family/cat.jpg'];
  for (let copy = 0; copy < 8; copy++) {
    for (const n of names) {
      // Distinct content per copy, so every photo is its own inference.
      await sharp(join(root, 'samples', 'album', n)).rotate(copy * 90 % 360).flop(copy >= 4).toFile(join(album, `${copy}-${n.split('/').pop()}`));
    }
  }
  await copyFile(join(root, 'samples', 'album', 'coins.png'), join(album, 'dup-coins.png'));
  await writeFile(join(dir, 'tint.onnx'), tintModel(null));
  const model = await inspectModel(join(dir, 'tint.onnx'));
  const base = { paths: [album], model, size: 512, device: 'cpu' as const, batchSize: 1, concurrency: 4, cache: { kind: 'file' as const, dir: join(dir, 'cache') }, ttlMs: 86_400_000, format: 'same' as const, quality: 90, force: false };
  for (const [label, out] of [['cold run (every photo inferred)', 'a'], ['warm run, new folder (every photo a hit)', 'b'], ['re-run, same folder (every photo skipped)', 'b']] as const) {
    const t = performance.now();
    const r = await colorize({ ...base, outDir: join(dir, out) });
    const ms = performance.now() - t;
    console.log(`${`${label}, ${r.totals.files} photos`.padEnd(48)} ${ms.toFixed(0).padStart(8)} ms   ${JSON.stringify(r.totals)}`);
  }
  console.log(`${'peak RSS'.padEnd(48)} ${(process.resourceUsage().maxRSS / 1024).toFixed(0).padStart(8)} MB`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
