import { mkdtemp, mkdir, writeFile, copyFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { colorize } from '/work/main/dist/src/pipeline/run.js';
import { inspectModel } from '/work/main/dist/src/model/session.js';
import { tintModel } from '/work/main/dist/src/models/tiny-model.js';
const root='/work/main';
const dir = await mkdtemp(join(tmpdir(), 'warm-'));
const album = join(dir, 'album'); await mkdir(album);
const names = ['cameraman.png', 'coins.png', 'family/astronaut-1984.jpg', 'family/cafe.jpg', 'family/cat.jpg'];
for (let copy = 0; copy < 8; copy++) for (const n of names) await sharp(join(root, 'samples', 'album', n)).rotate(copy * 90 % 360).flop(copy >= 4).toFile(join(album, `${copy}-${n.split('/').pop()}`));
await writeFile(join(dir, 'tint.onnx'), tintModel(null));
const model = await inspectModel(join(dir, 'tint.onnx'));
const base = { paths: [album], model, size: 512, device: 'cpu', batchSize: 1, concurrency: 4, cache: { kind: 'file', dir: join(dir, 'cache') }, ttlMs: 86_400_000, format: 'same', quality: 90, force: false };
for (const out of ['a','b','c','d']) { const t = performance.now(); const r = await colorize({ ...base, outDir: join(dir, out) }); console.log(out, Math.round(performance.now() - t), JSON.stringify(r.timings)); }
await rm(dir, { recursive: true, force: true });
