/**
 * Peak memory over a large archive (BENCHMARKS.md, "peak RSS"): N distinct 12 MP scans colorized
 * cold (every photo inferred) and then warm (every photo a cache hit, into a new output folder),
 * each run in its own process so that its peak RSS (worker threads included) is its own. Run at
 * 200 and at N photos, the figures show whether memory grows with the number of photos.
 *
 *   npm run build && node dist/scripts/bench-memory.js [N=2000] [folder]
 *
 * Each run also prints the highest RSS in each tenth of its time, which shows a plateau or growth.
 * It takes a while (about 2 x N x 0.5 s on 2 cores) and N x ~1 MB of disk twice; the folder is
 * removed at the end unless given.
 */
import { relaunchWithThreadPool } from './threadpool.js';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { openSession } from '../src/inference/session.js';
import { inspectModel } from '../src/inference/model-info.js';
import { tintModel } from '../src/models/tiny-model.js';
import { colorize } from '../src/pipeline/run.js';
import { defaultConcurrency } from '../src/pipeline/options.js';
import { MB } from '../src/units.js';

await relaunchWithThreadPool();

const W = 4000;
const H = 3000;

/** Photo i: the sample scan at 12 MP with a white block whose place depends on i (distinct bytes, same decode cost). */
async function makePhotos(dir: string, n: number): Promise<void> {
  await mkdir(dir, { recursive: true });
  const base = await sharp(join('samples', 'album', 'family', 'cafe.jpg')).resize(W, H, { fit: 'fill' }).greyscale().raw().toBuffer({ resolveWithObject: true });
  const block = Buffer.alloc(40 * 40, 255);
  let next = 0;
  const one = async (): Promise<void> => {
    for (let i = next++; i < n; i = next++) {
      const file = join(dir, `scan-${String(i).padStart(5, '0')}.jpg`);
      if (existsSync(file)) continue;
      const input = { raw: { width: W, height: H, channels: 1 as const } };
      await sharp(base.data, input)
        .composite([{ input: block, raw: { width: 40, height: 40, channels: 1 }, left: 40 * (i % 100), top: 40 * Math.floor(i / 100) }])
        .jpeg({ quality: 90 })
        .toFile(file);
    }
  };
  await Promise.all(Array.from({ length: availableParallelism() }, one));
}

/** In a child process: one run over the first `count` photos; prints its peak RSS in MB (and the highest in each tenth of the run), and its wall time. */
async function child(dir: string, kind: string, count: number): Promise<void> {
  const model = await inspectModel(join(dir, 'tint.onnx'));
  let tenths: number[] = [];
  if (kind === 'model') {
    const session = await openSession(model, 'cpu');
    const x = new Float32Array(3 * 512 * 512).fill(0.5);
    await session.run(x, 1, 512);
    await session.release();
  } else {
    const t = performance.now();
    // RSS sampled through the run, to tell growth (rising to the end) from a plateau.
    const samples: number[] = [];
    const timer = setInterval(() => samples.push(process.memoryUsage.rss() / MB), 250);
    const r = await colorize({
      paths: [join(dir, `photos-${count}`)],
      outDir: join(dir, `${kind}-${count}`),
      model,
      size: 512,
      device: 'cpu',
      // As `colorize` runs without flags (the CPU's batch of one).
      concurrency: Number(process.env.BENCH_CONCURRENCY ?? defaultConcurrency(1)),
      cache: { kind: 'file', dir: join(dir, `cache-${count}`) },
      ttlMs: 86_400_000,
      format: 'jpg',
      quality: 90,
      force: false,
    });
    clearInterval(timer);
    tenths = Array.from({ length: 10 }, (_, k) => Math.round(Math.max(0, ...samples.slice(Math.floor((k * samples.length) / 10), Math.floor(((k + 1) * samples.length) / 10)))));
    console.error(`${kind} ${count}: highest RSS in each tenth of the run (MB): ${tenths.join(' ')}`);
    const { failed, hit, inferred } = r.totals;
    if (failed > 0 || hit + inferred !== count) throw new Error(`${kind} run of ${count}: ${failed} failed, ${hit + inferred} colorized`);
    console.error(`${kind} ${count}: ${((performance.now() - t) / 1000).toFixed(0)} s, ${r.totals.hit} hits, ${r.totals.inferred} inferred`);
  }
  console.log(JSON.stringify({ peakMB: (process.resourceUsage().maxRSS * 1024) / MB, tenths }));
}

interface Peak {
  peakMB: number;
  /** The highest RSS in each tenth of the run's time, MB. */
  tenths: number[];
}

function peakOf(dir: string, kind: string, count: number): Peak {
  const r = spawnSync(process.execPath, [process.argv[1]!, '--child', dir, kind, String(count)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`child ${kind} ${count} failed (${r.status})`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Peak;
}

async function main(): Promise<void> {
  if (process.argv[2] === '--child') return child(process.argv[3]!, process.argv[4]!, Number(process.argv[5]));
  const n = Number(process.argv[2] ?? 2000);
  const given = process.argv[3];
  const dir = given ?? (await mkdtemp(join(tmpdir(), 'ddcolor-bench-memory-')));
  try {
    await writeFile(join(dir, 'tint.onnx'), tintModel(null));
    const all = join(dir, 'photos-all');
    await makePhotos(all, n);
    const figures: Array<{ photos: number; modelMB: number; coldMB: number; warmMB: number; coldTenths: number[]; warmTenths: number[] }> = [];
    const modelMB = peakOf(dir, 'model', 0).peakMB;
    for (const count of [...new Set([Math.min(200, n), n])]) {
      // Each size gets its own folder of links to the first `count` photos.
      const photos = join(dir, `photos-${count}`);
      await mkdir(photos, { recursive: true });
      for (let i = 0; i < count; i++) {
        const name = `scan-${String(i).padStart(5, '0')}.jpg`;
        if (!existsSync(join(photos, name))) spawnSync('ln', [join(all, name), join(photos, name)]);
      }
      // A folder given again: the last benchmark's outputs and cache go, or every photo is skipped.
      for (const leftover of [`cold-${count}`, `warm-${count}`, `cache-${count}`]) await rm(join(dir, leftover), { recursive: true, force: true });
      const cold = peakOf(dir, 'cold', count);
      const warm = peakOf(dir, 'warm', count);
      const [coldMB, warmMB] = [cold.peakMB, warm.peakMB];
      figures.push({ photos: count, modelMB, coldMB, warmMB, coldTenths: cold.tenths, warmTenths: warm.tenths });
      console.log(`${count} photos: peak RSS cold ${coldMB.toFixed(0)} MB (the model alone: ${modelMB.toFixed(0)} MB), warm ${warmMB.toFixed(0)} MB`);
    }
    await writeFile('bench-memory.json', JSON.stringify({ date: new Date().toISOString(), figures }, null, 2) + '\n');
  } finally {
    if (!given) await rm(dir, { recursive: true, force: true });
  }
}

await main();
