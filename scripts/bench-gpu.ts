/**
 * The GPU benchmark (issue 25, point 5), ready for a machine with a GPU: the model alone at batch 1
 * and 8 (images/s), then whole 12 MP scans end to end (photos/s, cold: every photo inferred, no
 * cache), beside the official DDColor pipeline measured on one H200 with 16 cores (torch 2.11):
 *   model alone, DDColor tiny at 512:  48.7 images/s (fp32, batch 1), 147 (batch 8), 206 (fp16, batch 8)
 *   model alone, DDColor large:        43 / 66 / 136
 *   the official pipeline, per 12 MP scan: 0.58 s (read 105 ms, preprocess 147, model 18,
 *   postprocess 228, write 80), one photo after another: 1.7 photos/s
 *
 *   node dist/scripts/bench-gpu.js [--model <file>] [--device cuda|cpu|auto] [--size 512] [--photos 48]
 *
 * Without --model it runs a stand-in of known cost (tiny-model.ts costModel), so the script runs
 * anywhere; the figures that compare with the official ones are those of the real DDColor file.
 * Figures are printed and written to bench-gpu-results.json, never asserted.
 */
import { relaunchWithThreadPool } from './threadpool.js';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import type { Device } from '../src/inference/devices.js';
import { openSession } from '../src/inference/session.js';
import { inspectModel, type ModelInfo } from '../src/inference/model-info.js';
import { costModel } from '../src/models/tiny-model.js';
import { colorize } from '../src/pipeline/run.js';
import { defaultConcurrency } from '../src/pipeline/options.js';
import type { RunReport } from '../src/report/report.js';
import { GB } from '../src/units.js';

await relaunchWithThreadPool();

const OFFICIAL = {
  tiny: { batch1: 48.7, batch8: 147, fp16batch8: 206 },
  large: { batch1: 43, batch8: 66, fp16batch8: 136 },
  pipelinePhotosPerSecond: 1 / 0.58,
};

interface Figure {
  name: string;
  value: number;
  unit: string;
  compare: string;
}

const figures: Figure[] = [];

function say(f: Figure): void {
  figures.push(f);
  console.log(`${f.name.padEnd(46)} ${f.value.toFixed(1).padStart(8)} ${f.unit.padEnd(9)} ${f.compare}`);
}

/** Images a second of the model alone at `batch`: two warm-up calls, then calls for about `seconds`. */
async function modelAlone(model: ModelInfo, device: Device, size: number, batch: number, seconds: number): Promise<{ perSecond: number; provider: string }> {
  const session = await openSession(model, device);
  try {
    const input = new Float32Array(batch * 3 * size * size).map((_, i) => ((i * 2654435761) % 1000) / 1000);
    for (let k = 0; k < 2; k++) await session.run(input, batch, size);
    let images = 0;
    const t = performance.now();
    while (performance.now() - t < seconds * 1000) {
      await session.run(input, batch, size);
      images += batch;
    }
    return { perSecond: images / ((performance.now() - t) / 1000), provider: session.provider };
  } finally {
    await session.release();
  }
}

/** `n` 12 MP gray scans (RGB with R = G = B, as many scanners save them), each a little different. */
async function makeScans(dir: string, n: number): Promise<string> {
  const album = join(dir, 'scans');
  await mkdir(album);
  const base = await sharp(join('samples', 'album', 'family', 'cafe.jpg')).resize(4000, 3000, { fit: 'fill' }).greyscale().raw().toBuffer({ resolveWithObject: true });
  for (let i = 0; i < n; i++) {
    await sharp(base.data, { raw: base.info }).modulate({ brightness: 1 + i / (2 * n) }).jpeg({ quality: 90 }).toFile(join(album, `scan-${i}.jpg`));
  }
  return album;
}

/** Cores the run kept busy: every stage's busy time (the model's too) over the run's wall time. */
function coresUsed(r: RunReport, wallMs: number): number {
  return r.profile.reduce((s, row) => s + row.busyMs, 0) / wallMs;
}

async function endToEnd(model: ModelInfo, device: Device, size: number, album: string, photos: number, dir: string, batch: number): Promise<void> {
  const concurrency = defaultConcurrency(batch);
  const t = performance.now();
  const r = await colorize({ paths: [album], outDir: join(dir, `out-${batch}`), model, size, device, batchSize: batch, concurrency, cache: { kind: 'none' }, ttlMs: 0, format: 'jpg', quality: 90, force: false });
  const wall = performance.now() - t;
  if (r.totals.inferred !== photos) throw new Error(`${r.totals.inferred} of ${photos} photos inferred (${r.files.find((f) => f.error)?.error ?? ''})`);
  const infer = r.profile.find((p) => p.stage === 'infer');
  const idle = infer && infer.wallMs > 0 ? (100 * (infer.wallMs - infer.busyMs)) / infer.wallMs : 0;
  const perSecond = r.totals.inferred / (wall / 1000);
  console.log(`  (batch ${batch}, ${concurrency} in flight: ${r.totals.inferred}/${photos} inferred in ${(wall / 1000).toFixed(1)} s; model busy ${((infer?.busyMs ?? 0) / 1000).toFixed(1)} s, waiting for input ${idle.toFixed(1)} % of its time; cores used ${coresUsed(r, wall).toFixed(1)} of ${availableParallelism()})`);
  say({ name: `12 MP scans end to end, batch ${batch}`, value: perSecond, unit: 'photos/s', compare: `official pipeline ${OFFICIAL.pipelinePhotosPerSecond.toFixed(1)} photos/s (${(perSecond / OFFICIAL.pipelinePhotosPerSecond).toFixed(1)}x)` });
  say({ name: `  the model waiting for input, batch ${batch}`, value: idle, unit: '%', compare: 'target < 5 % where the model is the slower side' });
}

const { values: args } = parseArgs({
  options: {
    model: { type: 'string' },
    device: { type: 'string', default: 'auto' },
    size: { type: 'string', default: '512' },
    photos: { type: 'string', default: '48' },
    seconds: { type: 'string', default: '5' },
  },
});
const device = args.device as Device;
if (!['cuda', 'cpu', 'auto'].includes(device)) throw new Error(`--device ${device}: expected cuda, cpu or auto`);
const size = Number(args.size);
const photos = Number(args.photos);
const dir = await mkdtemp(join(tmpdir(), 'ddcolor-bench-gpu-'));
try {
  console.log(`machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / GB).toFixed(0)} GB, Node ${process.version}`);
  let modelFile = args.model;
  if (!modelFile) {
    modelFile = join(dir, 'stand-in.onnx');
    await writeFile(modelFile, costModel(size, 64, 12));
    console.log('model: the stand-in of known cost (64 channels, 14 convolutions; not DDColor): its figures do not compare with the official ones');
  }
  const model = await inspectModel(modelFile);
  for (const batch of [1, 8]) {
    const alone = await modelAlone(model, device, size, batch, Number(args.seconds));
    const official = batch === 1 ? OFFICIAL.tiny.batch1 : OFFICIAL.tiny.batch8;
    say({ name: `model alone at ${size}, batch ${batch} (${alone.provider})`, value: alone.perSecond, unit: 'images/s', compare: `official tiny ${official}, large ${batch === 1 ? OFFICIAL.large.batch1 : OFFICIAL.large.batch8} (fp32)` });
  }
  const album = await makeScans(dir, photos);
  for (const batch of [1, 8]) await endToEnd(model, device, size, album, photos, dir, batch);
  await writeFile('bench-gpu-results.json', JSON.stringify({ date: new Date().toISOString(), cpus: cpus().length, model: model.path, device, figures }, null, 2) + '\n');
  console.log('figures written to bench-gpu-results.json');
} finally {
  await rm(dir, { recursive: true, force: true });
}
