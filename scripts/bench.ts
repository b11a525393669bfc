/**
 * Speed and memory figures (printed, never asserted): the per-pixel colour work on a 12 MP scan,
 * the cache codec, and a cold and a warm run of the sample album on the embedded store.
 *   npm run bench
 */
import { relaunchWithThreadPool } from './threadpool.js';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { decodeAb, encodeAb, quantizeAb } from '../src/chroma/codec.js';
import { lightness } from '../src/image/lab.js';
import { resizeLinear } from '../src/image/resize.js';
import { compositeWasm } from '../src/image/composite-wasm.js';
import { composite, preprocess } from '../src/inference/ddcolor.js';
import { inspectModel } from '../src/inference/model-info.js';
import { tintModel } from '../src/models/tiny-model.js';
import { cacheKey } from '../src/cache/keys.js';
import { RedisStore } from '../src/cache/redis.js';
import { Manifest, MANIFEST_NAME } from '../src/pipeline/manifest.js';
import { colorize } from '../src/pipeline/run.js';
import { KB, MB } from '../src/units.js';

await relaunchWithThreadPool();

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
time('L channel of a 12 MP colour (RGB) scan', () => lightness(px, 3, W * H));
const grayPx = new Uint8Array(W * H).map((_, i) => (i * 2654435761) >>> 24);
time('L channel of a 12 MP gray scan', () => lightness(grayPx, 1, W * H));
const S = 512;
const model = new Float32Array(3 * S * S);
time('model input at 512 from a 12 MP scan (cv2 bilinear, L)', () => preprocess({ pixels: resizeLinear(px, 3, W, H, S, S), channels: 3, size: S }, model, 0));
const ab = new Float32Array(2 * S * S).map((_, i) => Math.sin(i / 1000) * 40);
const q = quantizeAb(ab, S, S);
const value = time('encode ab 512x512 (quantized, deflated)', () => encodeAb(q), 5);
console.log(`${'  cached value size'.padEnd(48)} ${(value.length / KB).toFixed(1).padStart(8)} kB`);
time('decode and verify ab 512x512', () => decodeAb(value, S), 5);
const scratchRgb = new Uint8Array(W * H * 3);
time('composite 12 MP colour, JavaScript', () => composite({ pixels: px, channels: 3, width: W, height: H }, q, scratchRgb));
time('composite 12 MP colour, WebAssembly (used)', () => compositeWasm({ pixels: px, channels: 3, width: W, height: H }, q, 1));
time('composite 12 MP gray, JavaScript', () => composite({ pixels: grayPx, channels: 1, width: W, height: H }, q, scratchRgb));
time('composite 12 MP gray, WebAssembly (used)', () => compositeWasm({ pixels: grayPx, channels: 1, width: W, height: H }, q, 1));

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
  console.log(`${'peak RSS'.padEnd(48)} ${((process.resourceUsage().maxRSS * 1024) / MB).toFixed(0).padStart(8)} MB`);
  await benchRedisLookups(value);
  await benchManifest(join(dir, 'manifest'));
} finally {
  await rm(dir, { recursive: true, force: true });
}

/** A warm lookup on a local redis-server (if installed): 20,000 cached values, fetched in batches. */
async function benchRedisLookups(value: Buffer): Promise<void> {
  const port = await new Promise<number>((res) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => res(typeof a === 'object' && a ? a.port : 0));
    });
  });
  const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const failed = await new Promise<boolean>((res) => {
    server.once('error', () => res(true));
    setTimeout(() => res(false), 300);
  });
  if (failed) {
    console.log('redis lookups: skipped (redis-server is not installed)');
    return;
  }
  try {
    const store = await RedisStore.single(`redis://127.0.0.1:${port}`).open();
    const n = 20_000;
    const keys = Array.from({ length: n }, (_, i) => cacheKey('bench', 512, createHash('sha256').update(String(i)).digest('hex')));
    for (let i = 0; i < n; i += 1000) await store.setMany(keys.slice(i, i + 1000).map((key) => ({ key, value })), 3_600_000);
    const t = performance.now();
    let found = 0;
    for (let i = 0; i < n; i += 256) found += (await store.getMany(keys.slice(i, i + 256))).filter(Boolean).length;
    const ms = performance.now() - t;
    console.log(`${`warm Redis lookups, ${n} keys (${(value.length / KB).toFixed(0)} kB values)`.padEnd(48)} ${ms.toFixed(0).padStart(8)} ms   ${Math.round(n / (ms / 1000))} keys/s, ${found} found`);
    await store.close();
  } finally {
    server.kill('SIGKILL');
  }
}

/** An archive's manifest: a million outputs, loaded and compacted as a nightly re-run does. */
async function benchManifest(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const n = 1_000_000;
  const seed = new Manifest(dir);
  for (let i = 0; i < n; i++) {
    const rel = `box-${i >> 10}/folder-${(i >> 5) & 31}/scan-${i}.tif`;
    await seed.record({ output: rel, input: `/archive/scans/${rel}`, inputSize: 12_345_678 + i, inputMtimeMs: 1.7e12 + i, sha256: createHash('sha256').update(rel).digest('hex'), modelId: '3594b9b53e35242b', modelSize: 512, processing: 2, format: 'tiff', quality: 90, saturation: 1, outputSize: 23_456_789, outputMtimeMs: 1.7e12 + i });
  }
  await seed.close();
  const bytes = (await stat(join(dir, MANIFEST_NAME))).size;
  const heapBefore = process.memoryUsage().heapUsed;
  let t = performance.now();
  const m = await new Manifest(dir).load();
  const loadMs = performance.now() - t;
  const heapMb = (process.memoryUsage().heapUsed - heapBefore) / 1e6;
  t = performance.now();
  await m.save();
  const unchangedMs = performance.now() - t;
  // One photo changed: the manifest is compacted (rewritten) at the end of the run.
  await m.record({ output: 'box-0/new.tif', input: '/archive/scans/box-0/new.tif', inputSize: 1, inputMtimeMs: 1, sha256: '0'.repeat(64), modelId: '3594b9b53e35242b', modelSize: 512, processing: 2, format: 'tiff', quality: 90, saturation: 1, outputSize: 1, outputMtimeMs: 1 });
  t = performance.now();
  await m.save();
  const rewriteMs = performance.now() - t;
  console.log(
    `${`manifest of ${m.size} outputs (${(bytes / 1e6).toFixed(0)} MB)`.padEnd(48)} ${loadMs.toFixed(0).padStart(8)} ms load, ${heapMb.toFixed(0)} MB heap; save ${unchangedMs.toFixed(0)} ms unchanged, ${rewriteMs.toFixed(0)} ms rewritten`,
  );
}
