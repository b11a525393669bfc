import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readdir, readFile, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { encodeAb, quantizeAb } from '../src/chroma/codec.js';
import { cacheKey } from '../src/cache/keys.js';
import { FileStore } from '../src/cache/file.js';
import type { CacheSpec } from '../src/cache/open.js';
import { EnvironmentError, InvalidOptionError, photoFailure } from '../src/errors.js';
import { rgbToLab } from '../src/image/lab.js';
import { inspectModel, type ModelInfo } from '../src/inference/model-info.js';
import { packageVersion } from '../src/version.js';
import { buildConvModel, linearAbModel, tintModel } from '../src/models/tiny-model.js';
import { colorize, type ColorizeOptions } from '../src/pipeline/index.js';
import { PixelPool, pixelThreads } from '../src/index.js';
import { scanPaths } from '../src/pipeline/scan.js';
import { Manifest, MANIFEST_NAME, type ManifestEntry } from '../src/pipeline/manifest.js';
import type { RunReport } from '../src/report/report.js';
import { KINDS, SIZE } from './colour-kinds.js';
import * as fx from './fixtures.js';
import { ALBUM, cleanup, storeWithHook, tempDir } from './helpers.js';

let work: string;
let tint: ModelInfo;

before(async () => {
  work = await tempDir();
  await writeFile(join(work, 'tint.onnx'), tintModel(null));
  tint = await inspectModel(join(work, 'tint.onnx'));
});
after(cleanup);

function options(paths: string[], outDir: string, cache: CacheSpec, extra: Partial<ColorizeOptions> = {}): ColorizeOptions {
  return {
    paths,
    outDir,
    model: tint,
    size: 64,
    device: 'cpu',
    batchSize: 2,
    concurrency: 3,
    cache,
    ttlMs: 86_400_000,
    format: 'same',
    quality: 90,
    force: false,
    ...extra,
  };
}

function byName(report: RunReport): Map<string, RunReport['files'][number]> {
  return new Map(report.files.map((f) => [f.input.split('/').slice(-2).join('/'), f]));
}

async function sha(path: string): Promise<string> {
  return createHash('sha256').update(await readFile(path)).digest('hex');
}

async function labAt(path: string, x: number, y: number): Promise<[number, number, number]> {
  const { data, info } = await sharp(path).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  const p = (y * info.width + x) * info.channels;
  return rgbToLab(data[p]!, data[p + 1]!, data[p + 2]!);
}

test("a model's constant tint reaches every pixel at full size, with the photo's own L (placement: placement.test.ts)", async () => {
  const dir = await tempDir();
  // A gray gradient, 300x100: L from about 30 to 65, where a = 20, b = -30 is in the sRGB gamut.
  const w = 300;
  const h = 100;
  const gray = Buffer.alloc(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) gray[y * w + x] = 70 + Math.round((x / (w - 1)) * 100);
  const input = join(dir, 'gradient.png');
  await sharp(gray, { raw: { width: w, height: h, channels: 1 } }).png().toFile(input);
  await writeFile(join(dir, 'const.onnx'), linearAbModel(null, [[0, 0, 0], [0, 0, 0]], [20, -30]));
  const model = await inspectModel(join(dir, 'const.onnx'));
  const report = await colorize(options([input], join(dir, 'out'), { kind: 'none' }, { model, size: 32 }));
  assert.equal(report.totals.inferred, 1);
  const out = join(dir, 'out', 'gradient.png');
  const meta = await sharp(out).metadata();
  assert.equal(meta.width, w);
  assert.equal(meta.height, h);
  for (const x of [10, 150, 290]) {
    const [L, a, b] = await labAt(out, x, 50);
    const L0 = rgbToLab(gray[50 * w + x]!, gray[50 * w + x]!, gray[50 * w + x]!)[0];
    assert.ok(Math.abs(L - L0) < 1.5, `L kept at x=${x}: ${L} vs ${L0}`);
    assert.ok(Math.abs(a - 20) < 2.5, `a at x=${x}: ${a}`);
    assert.ok(Math.abs(b - -30) < 2.5, `b at x=${x}: ${b}`);
  }
});

test('the model is fed the gray picture (L with a = b = 0) and its ab follows the photo', async () => {
  const dir = await tempDir();
  const w = 128;
  const h = 64;
  const gray = Buffer.alloc(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) gray[y * w + x] = x < w / 2 ? 60 : 200;
  const input = join(dir, 'halves.png');
  await sharp(gray, { raw: { width: w, height: h, channels: 1 } }).png().toFile(input);
  // a = 60 * R - 30, where R is the model's red input plane (the gray value in [0, 1]).
  await writeFile(join(dir, 'lin.onnx'), linearAbModel(null, [[60, 0, 0], [0, 0, 0]], [-30, 0]));
  const model = await inspectModel(join(dir, 'lin.onnx'));
  await colorize(options([input], join(dir, 'out'), { kind: 'none' }, { model, size: 64 }));
  const out = join(dir, 'out', 'halves.png');
  const [, aDark] = await labAt(out, 10, 32);
  const [, aLight] = await labAt(out, 118, 32);
  assert.ok(Math.abs(aDark - (60 * (60 / 255) - 30)) < 2, `a on the dark half: ${aDark}`);
  assert.ok(Math.abs(aLight - (60 * (200 / 255) - 30)) < 2, `a on the light half: ${aLight}`);
});

test('the sample album end to end: outputs mirror the folders, a re-run skips without hashing, a cache serves a new folder', async () => {
  const dir = await tempDir();
  const album = join(dir, 'album');
  await mkdir(join(album, 'family'), { recursive: true });
  for (const f of ['cameraman.png', 'coins.png', 'family/astronaut-1984.jpg', 'family/cafe.jpg', 'family/cat.jpg']) {
    await copyFile(join(ALBUM, f), join(album, f));
  }
  const before = await Promise.all(['cameraman.png', 'family/cat.jpg'].map((f) => sha(join(album, f))));
  const cache: CacheSpec = { kind: 'file', dir: join(dir, 'cache') };
  const out = join(dir, 'out');

  const first = await colorize(options([album], out, cache));
  assert.deepEqual(first.totals, { files: 5, hit: 0, inferred: 5, skipped: 0, failed: 0, notProcessed: 0 });
  assert.equal(first.schema, 'ddcolor.report/v1');
  assert.equal(first.model.id, tint.id);
  assert.equal(first.model.inputSize, 64);
  assert.equal(first.model.device, 'cpu');
  assert.equal(first.cache.backend, 'file');
  assert.equal(first.cache.degraded, false);
  for (const f of first.files) assert.match(f.sha256 ?? '', /^[0-9a-f]{64}$/);
  const names = (await readdir(out, { recursive: true })).sort();
  assert.deepEqual(names, ['.ddcolor-manifest.ndjson', 'cameraman.png', 'coins.png', 'family', 'family/astronaut-1984.jpg', 'family/cafe.jpg', 'family/cat.jpg']);
  for (const f of ['cameraman.png', 'family/cat.jpg']) {
    const [a, b] = await Promise.all([sharp(join(album, f)).metadata(), sharp(join(out, f)).metadata()]);
    assert.equal(b.width, a.width);
    assert.equal(b.height, a.height);
    assert.equal(b.format, a.format);
    assert.equal(b.channels, 3, `${f} is written in colour`);
  }
  // Inputs are never modified.
  assert.deepEqual(await Promise.all(['cameraman.png', 'family/cat.jpg'].map((f) => sha(join(album, f)))), before);

  const second = await colorize(options([album], out, cache));
  assert.deepEqual(second.totals, { files: 5, hit: 0, inferred: 0, skipped: 5, failed: 0, notProcessed: 0 });
  assert.equal(second.timings.hashMs, 0, 'unchanged files are not hashed');
  assert.equal(second.model.device, null, 'the model is never loaded when nothing needs it');

  // A touched file is hashed again, found unchanged, and skipped; an edited one is inferred again.
  const t = new Date(Date.now() + 5000);
  await utimes(join(album, 'coins.png'), t, t);
  await sharp(join(ALBUM, 'family/cat.jpg')).flop().jpeg().toFile(join(album, 'family/cat.jpg'));
  const third = await colorize(options([album], out, cache));
  const files = byName(third);
  assert.equal(files.get('album/coins.png')!.status, 'skipped');
  assert.equal(files.get('family/cat.jpg')!.status, 'inferred');
  assert.equal(third.totals.skipped, 4);

  // A deleted output is rendered again from the cache; another output folder is served by the cache.
  await rm(join(out, 'cameraman.png'));
  const fourth = await colorize(options([album], out, cache));
  assert.equal(byName(fourth).get('album/cameraman.png')!.status, 'hit');
  const other = await colorize(options([album], join(dir, 'other'), cache));
  assert.deepEqual(other.totals, { files: 5, hit: 5, inferred: 0, skipped: 0, failed: 0, notProcessed: 0 });
  // The output of a hit is the same picture as the output of the inference.
  assert.deepEqual(await readFile(join(dir, 'other', 'coins.png')), await readFile(join(out, 'coins.png')));

  // --force infers everything again.
  const forced = await colorize(options([album], out, cache, { force: true }));
  assert.equal(forced.totals.inferred, 5);
  // A different model size is a different result: nothing is skipped or served.
  const bigger = await colorize(options([album], out, cache, { size: 96 }));
  assert.equal(bigger.totals.inferred, 5);
});

test('identical photos in one run are inferred once', async () => {
  const dir = await tempDir();
  const src = join(dir, 'in');
  await mkdir(join(src, 'a'), { recursive: true });
  await mkdir(join(src, 'b'), { recursive: true });
  for (const p of ['a/cat.jpg', 'b/cat.jpg', 'b/cat-copy.jpg']) await copyFile(join(ALBUM, 'family/cat.jpg'), join(src, p));
  await copyFile(fx.CAMERAMAN, join(src, 'a', 'cameraman.png'));
  const report = await colorize(options([src], join(dir, 'out'), { kind: 'none' }));
  assert.equal(report.totals.inferred, 2);
  assert.equal(report.totals.hit, 2);
  assert.equal(report.totals.failed, 0);
});

test('bad files fail with a reason naming them; the rest of the run goes on', async () => {
  const dir = await tempDir();
  const scans = await fx.mixedFolder(dir);
  const report = await colorize(options([scans], join(dir, 'out'), { kind: 'none' }));
  const files = byName(report);
  assert.equal(report.totals.files, 5, 'notes.txt is not a photo');
  assert.equal(files.get('scans/cameraman.png')!.status, 'inferred');
  assert.equal(files.get('box1/cat.jpg')!.status, 'inferred');
  for (const bad of ['scans/empty.jpg', 'scans/letter.jpg', 'scans/truncated.jpg']) {
    const r = files.get(bad)!;
    assert.equal(r.status, 'failed', bad);
    assert.ok(r.error?.includes(join(scans, bad.split('/')[1]!)), `${bad}: ${r.error}`);
    assert.equal(r.output, null);
  }
  assert.match(files.get('scans/empty.jpg')!.error!, /empty file/);
  // Each failure is typed (the photo's own fault, a stable code) and said in plain words, never in the decoder's.
  const codes = ['scans/empty.jpg', 'scans/letter.jpg', 'scans/truncated.jpg'].map((n) => [files.get(n)!.code, files.get(n)!.transient, files.get(n)!.blocked]);
  assert.deepEqual(codes, [['EMPTY', undefined, undefined], ['NOT_AN_IMAGE', undefined, undefined], ['DAMAGED', undefined, undefined]]);
  assert.match(files.get('scans/letter.jpg')!.error!, /letter\.jpg: not an image ddcolor can read/);
  assert.match(files.get('scans/truncated.jpg')!.error!, /truncated\.jpg: truncated or damaged JPEG/);
  for (const r of report.files) assert.doesNotMatch(r.error ?? '', /vips|failOn|libpng|sharp/i);
  // No partial or temporary files are left behind.
  const left = await readdir(join(dir, 'out'), { recursive: true });
  assert.deepEqual(left.filter((n) => n.includes('tmp')), []);
  assert.deepEqual(left.filter((n) => /empty|letter|truncated/.test(n)), []);
});

test('every kind of scan: EXIF orientation, 16-bit, palette, alpha, CMYK, multi-frame', async () => {
  const dir = await tempDir();
  const src = join(dir, 'kinds');
  await mkdir(src);
  await fx.orientedJpeg(join(src, 'oriented.jpg'));
  await fx.sixteenBitPng(join(src, 'deep.png'));
  await fx.palettePng(join(src, 'palette.png'));
  await fx.alphaPng(join(src, 'alpha.png'));
  await fx.cmykJpeg(join(src, 'cmyk.jpg'));
  await fx.multiFrameGif(join(src, 'frames.gif'));
  await fx.multiPageTiff(join(src, 'pages.tiff'));
  await fx.bmp(join(src, 'gray8.bmp'), 8);
  await fx.bmp(join(src, 'rgb24.bmp'), 24);
  const out = join(dir, 'out');
  const report = await colorize(options([src], out, { kind: 'none' }));
  assert.deepEqual(report.totals, { files: 9, hit: 0, inferred: 9, skipped: 0, failed: 0, notProcessed: 0 }, JSON.stringify(report.files.filter((f) => f.error)));
  for (const f of ['gray8.png', 'rgb24.png']) {
    const m = await sharp(join(out, f)).metadata();
    assert.deepEqual([m.format, m.width, m.height], ['png', 60, 40], `${f}: BMP written as PNG`);
  }
  // The BMP's pixels are the picture's: its L matches the gray source.
  const [bmpOut, pngRef] = await Promise.all([
    sharp(join(out, 'gray8.png')).greyscale().raw().toBuffer(),
    sharp(fx.CAMERAMAN).resize(60, 40, { fit: 'fill' }).greyscale().raw().toBuffer(),
  ]);
  let diff = 0;
  for (let i = 0; i < bmpOut.length; i++) diff += Math.abs(bmpOut[i]! - pngRef[i]!);
  assert.ok(diff / bmpOut.length < 4, `mean gray difference ${diff / bmpOut.length}`);

  const oriented = await sharp(join(out, 'oriented.jpg')).metadata();
  assert.equal(oriented.width, 80, 'EXIF orientation applied: the picture is upright');
  assert.equal(oriented.height, 120);
  assert.ok(oriented.orientation === undefined || oriented.orientation === 1, 'orientation reset');
  const exif = oriented.exif?.toString('latin1') ?? '';
  assert.ok(exif.includes('Kodak') && exif.includes('Brownie') && exif.includes('Grandma at the lake') && exif.includes('1952:07:14'), 'EXIF kept');
  assert.ok(oriented.icc && oriented.icc.toString('latin1').includes('s\0R\0G\0B'), 'sRGB ICC profile');

  const alpha = await sharp(join(out, 'alpha.png')).metadata();
  assert.equal(alpha.hasAlpha, true, 'alpha is kept in a PNG');
  const [outPx, inPx] = await Promise.all([sharp(join(out, 'alpha.png')).raw().toBuffer(), sharp(join(src, 'alpha.png')).raw().toBuffer()]);
  assert.equal(outPx[3], inPx[3], "alpha values are the input's");
  assert.ok(inPx[3]! > 100 && inPx[3]! < 150);

  const gif = await sharp(join(out, 'frames.gif')).metadata();
  assert.deepEqual([gif.width, gif.height], [40, 30], 'first frame of a GIF');
  const tiff = await sharp(join(out, 'pages.tiff')).metadata();
  assert.deepEqual([tiff.width, tiff.height, tiff.pages ?? 1], [50, 40, 1], 'first page of a TIFF');
  for (const f of ['deep.png', 'palette.png', 'cmyk.jpg']) {
    const m = await sharp(join(out, f)).metadata();
    assert.equal(m.space, 'srgb', `${f} is written as sRGB`);
    assert.equal(m.depth, 'uchar', `${f} is 8-bit`);
  }
});

test('--format names outputs by the format and never lets two inputs overwrite one output', async () => {
  const dir = await tempDir();
  const src = join(dir, 'in');
  await mkdir(src);
  await copyFile(join(ALBUM, 'family/cat.jpg'), join(src, 'a.jpg'));
  await copyFile(fx.CAMERAMAN, join(src, 'a.png'));
  const out = join(dir, 'out');
  const report = await colorize(options([src], out, { kind: 'none' }, { format: 'png' }));
  assert.equal(report.totals.failed, 0);
  const outputs = new Map(report.files.map((f) => [f.input.split('/').pop(), f.output!.split('/').pop()]));
  assert.equal(outputs.get('a.png'), 'a.png');
  assert.equal(outputs.get('a.jpg'), 'a-jpg.png');
  assert.equal((await sharp(join(out, 'a-jpg.png')).metadata()).format, 'png');
  const jpg = await colorize(options([join(src, 'a.png')], join(dir, 'jpg'), { kind: 'none' }, { format: 'jpg' }));
  assert.equal(jpg.files[0]!.output, join(dir, 'jpg', 'a.jpg'));
});

test('an output folder inside the input folder is not walked', async () => {
  const dir = await tempDir();
  await copyFile(fx.CAMERAMAN, join(dir, 'cameraman.png'));
  await colorize(options([dir], join(dir, 'colorized'), { kind: 'none' }));
  const again = await colorize(options([dir], join(dir, 'colorized'), { kind: 'none' }));
  assert.equal(again.totals.files, 1);
  assert.equal(again.totals.skipped, 1);
});

test('a damaged cached value is a miss: inferred again and overwritten', async () => {
  const dir = await tempDir();
  await copyFile(fx.CAMERAMAN, join(dir, 'c.png'));
  const store = await new FileStore(join(dir, 'cache')).open();
  const key = cacheKey(tint.id, 64, await sha(join(dir, 'c.png')));
  await store.setMany([{ key, value: Buffer.from('DDAB garbage that is not a value') }], 60_000);
  const warnings: string[] = [];
  const report = await colorize(
    options([join(dir, 'c.png')], join(dir, 'out'), { kind: 'file', dir: join(dir, 'cache') }, {
      onEvent: (e) => e.type === 'warning' && warnings.push(e.message),
    }),
  );
  assert.equal(report.totals.inferred, 1);
  assert.equal(warnings.filter((w) => /damaged/.test(w)).length, 1, `said once: ${warnings.join('\n')}`);
  const [value] = await store.getMany([key]);
  assert.ok(value && value.subarray(0, 4).toString() === 'DDAB' && value.length > 40, 'overwritten with a good value');
  const again = await colorize(options([join(dir, 'c.png')], join(dir, 'out2'), { kind: 'file', dir: join(dir, 'cache') }));
  assert.equal(again.totals.hit, 1);
});

test('upgrading from ddcolor 0.1: its outputs are made again, its cached results are never served', async () => {
  const dir = await tempDir();
  await mkdir(join(dir, 'in'));
  await copyFile(fx.CAMERAMAN, join(dir, 'in', 'c.png'));
  const cacheDir = join(dir, 'cache');
  const out = join(dir, 'out');
  const first = await colorize(options([join(dir, 'in')], out, { kind: 'file', dir: cacheDir }));
  assert.equal(first.totals.inferred, 1);
  const fresh = await readFile(join(out, 'c.png'));
  // What 0.1 left behind: manifest lines without a processing version, results under v1 keys.
  const manifestPath = join(out, MANIFEST_NAME);
  const lines = (await readFile(manifestPath, 'utf8')).trim().split('\n');
  const old = lines.map((l) => {
    const { processing, ...rest } = JSON.parse(l) as ManifestEntry;
    assert.equal(processing, 2);
    return JSON.stringify(rest);
  });
  await writeFile(manifestPath, old.join('\n') + '\n');
  await rm(cacheDir, { recursive: true });
  const store = await new FileStore(cacheDir).open();
  const v1 = cacheKey(tint.id, 64, await sha(join(dir, 'in', 'c.png'))).replace(/^ddcolor:v2:/, 'ddcolor:v1:');
  await store.setMany([{ key: v1, value: encodeAb(quantizeAb(new Float32Array(2 * 64 * 64).fill(60), 64, 64)) }], 60_000);

  const upgraded = await colorize(options([join(dir, 'in')], out, { kind: 'file', dir: cacheDir }));
  assert.deepEqual(upgraded.totals, { files: 1, hit: 0, inferred: 1, skipped: 0, failed: 0, notProcessed: 0 }, 'made again, from the model, not the old entry');
  assert.deepEqual(await readFile(join(out, 'c.png')), fresh);
  const after = await colorize(options([join(dir, 'in')], out, { kind: 'file', dir: cacheDir }));
  assert.equal(after.totals.skipped, 1, 'and up to date from then on');
});

test('an interrupted run starts nothing new and says so', async () => {
  const dir = await tempDir();
  const ac = new AbortController();
  ac.abort();
  const report = await colorize(options([ALBUM], join(dir, 'out'), { kind: 'none' }, { signal: ac.signal }));
  assert.equal(report.interrupted, true);
  assert.equal(report.totals.inferred, 0);
  assert.ok(report.files.every((f) => f.status === 'not-processed' && /not processed \(interrupted\)/.test(f.error ?? '')));
  assert.deepEqual(report.totals, { files: 5, hit: 0, inferred: 0, skipped: 0, failed: 0, notProcessed: 5 }, 'not counted as failures');
});

test('scan: image extensions in any case, links followed once, loops and broken links reported, never fatal', async () => {
  const root = join(work, 'scan');
  const other = join(work, 'scan-other');
  await mkdir(join(root, 'b', 'deep'), { recursive: true });
  await mkdir(join(root, 'folder.jpg'));
  await mkdir(other);
  for (const f of ['a.JPG', 'b/deep/c.tiff', 'b/notes.txt', 'b/.hidden.png']) await writeFile(join(root, f), 'x');
  await writeFile(join(other, 'd.png'), 'x');
  await symlink(root, join(root, 'b', 'loop'));
  await symlink(other, join(root, 'linked'));
  await symlink(join(work, 'nowhere.png'), join(root, 'gone.png'));
  const r = await scanPaths([root]);
  assert.deepEqual(r.files.map((f) => f.rel), ['a.JPG', 'b/deep/c.tiff', 'linked/d.png']);
  assert.deepEqual(
    r.problems.map((p) => [p.path, /symlink loop/.test(p.reason) ? 'loop' : /broken symlink/.test(p.reason) ? 'broken' : p.reason]).sort(),
    [[join(root, 'b', 'loop'), 'loop'], [join(root, 'gone.png'), 'broken']],
  );
  const direct = await scanPaths([join(root, 'a.JPG'), join(root, 'b', 'notes.txt')]);
  assert.deepEqual(direct.files.map((f) => f.rel), ['a.JPG'], 'a file given directly: its basename');
  assert.match(direct.problems[0]!.reason, /not an image file name/);
  await assert.rejects(scanPaths([join(work, 'missing')]), /missing: no such file or folder/);
});

test('manifest: many entries round-trip as a stream, a torn line is ignored, an unreadable manifest is never rewritten', async () => {
  const dir = join(work, 'manifest');
  await mkdir(dir);
  const entry = (i: number): ManifestEntry => ({
    // Names with characters of two and three bytes: chunks of the file split some of them.
    output: `box-${i % 7}/scan-${i}${i % 3 ? '-é' : '-写真'}.png`,
    input: `/archive/box-${i % 7}/scan-${i}.png`,
    inputSize: 1000 + i,
    inputMtimeMs: 1.7e12 + i + 0.25,
    sha256: createHash('sha256').update(String(i)).digest('hex'),
    modelId: '3594b9b53e35242b',
    modelSize: 512,
    processing: 2,
    format: 'png',
    quality: 90,
    saturation: 1,
    outputSize: 5000 + i,
    outputMtimeMs: 1.7e12 + i,
  });
  const N = 20_000;
  const m = new Manifest(dir);
  for (let i = 0; i < N; i++) await m.record(entry(i));
  await m.record({ ...entry(5), outputSize: 1 }); // a later record of one output replaces the earlier
  await m.save();
  await writeFile(join(dir, MANIFEST_NAME), '{"output":"torn', { flag: 'a' });
  const back = await new Manifest(dir).load();
  assert.equal(back.size, N);
  assert.equal(back.readError, null);
  for (let i = 0; i < N; i++) if (i !== 5) assert.deepEqual(back.get(entry(i).output), entry(i));
  assert.equal(back.get(entry(5).output)!.outputSize, 1);
  await back.save();
  assert.equal((await readFile(join(dir, MANIFEST_NAME), 'utf8')).split('\n').length, N + 1, 'compacted: the torn line is gone');
  const { ino } = await stat(join(dir, MANIFEST_NAME));
  await (await new Manifest(dir).load()).save();
  assert.equal((await stat(join(dir, MANIFEST_NAME))).ino, ino, 'an unchanged, compact manifest is not rewritten');

  // A manifest that cannot be read (here a folder in its place) is reported and left alone.
  const odd = join(work, 'manifest-odd');
  await mkdir(join(odd, MANIFEST_NAME), { recursive: true });
  const unreadable = await new Manifest(odd).load();
  assert.match(String(unreadable.readError), /EISDIR/);
  await unreadable.save();
  assert.deepEqual(await readdir(join(odd, MANIFEST_NAME)), []);
  assert.deepEqual(await readdir(odd), [MANIFEST_NAME], 'no temporary file left behind');
});

test('manifest: a line recorded after a torn last line (a killed run) is read back even if this run is killed too', async () => {
  const dir = join(work, 'manifest-torn');
  await mkdir(dir);
  const line = (name: string): ManifestEntry => ({
    output: name, input: `/archive/${name}`, inputSize: 10, inputMtimeMs: 1.7e12, sha256: createHash('sha256').update(name).digest('hex'),
    modelId: '3594b9b53e35242b', modelSize: 512, processing: 2, format: 'png', quality: 90, saturation: 1, outputSize: 50, outputMtimeMs: 1.7e12,
  });
  const first = new Manifest(dir);
  await first.record(line('a.png'));
  await first.close();
  // A run killed in the middle of its line.
  await writeFile(join(dir, MANIFEST_NAME), '{"output":"b.png","inp', { flag: 'a' });
  const second = await new Manifest(dir).load();
  await second.record(line('c.png'));
  // Killed again before its save: only its appended line tells of c.png, whose output is on disk.
  await second.close();
  const back = await new Manifest(dir).load();
  assert.deepEqual([back.get('a.png'), back.get('c.png')], [line('a.png'), line('c.png')]);
  assert.equal(back.get('b.png'), undefined);
});

test('outputs ddcolor did not write, or that were edited since, are never overwritten without --overwrite', async () => {
  const dir = join(work, 'foreign');
  const album = join(dir, 'album');
  const out = join(dir, 'out');
  await mkdir(album, { recursive: true });
  await mkdir(out);
  for (const f of ['coins.png', 'cameraman.png']) await copyFile(join(ALBUM, f), join(album, f));
  const cache: CacheSpec = { kind: 'none' };
  // The user's own file where an output would go.
  await writeFile(join(out, 'coins.png'), 'my own coins.png');
  const first = await colorize(options([album], out, cache));
  const coins = byName(first).get('album/coins.png')!;
  assert.equal(coins.status, 'failed');
  assert.match(coins.error ?? '', new RegExp(`its output ${join(out, 'coins.png')} already exists and was not written by ddcolor.*--overwrite`));
  assert.equal(byName(first).get('album/cameraman.png')!.status, 'inferred', 'the rest of the run goes on');
  assert.equal(await readFile(join(out, 'coins.png'), 'utf8'), 'my own coins.png');

  // An output the user retouched after ddcolor wrote it stays, even when its input changes.
  await writeFile(join(out, 'cameraman.png'), 'retouched by hand');
  await sharp(join(ALBUM, 'cameraman.png')).flop().png().toFile(join(album, 'cameraman.png'));
  const second = await colorize(options([album], out, cache));
  assert.equal(byName(second).get('album/cameraman.png')!.status, 'failed');
  assert.equal(await readFile(join(out, 'cameraman.png'), 'utf8'), 'retouched by hand');

  // --overwrite replaces both; after that they are ddcolor's and are kept up to date as usual.
  const third = await colorize(options([album], out, cache, { overwrite: true }));
  assert.deepEqual(third.totals, { files: 2, hit: 0, inferred: 2, skipped: 0, failed: 0, notProcessed: 0 });
  assert.equal((await sharp(join(out, 'coins.png')).metadata()).channels, 3);
  await sharp(join(ALBUM, 'coins.png')).flip().png().toFile(join(album, 'coins.png'));
  const fourth = await colorize(options([album], out, cache));
  assert.deepEqual([byName(fourth).get('album/coins.png')!.status, byName(fourth).get('album/cameraman.png')!.status], ['inferred', 'skipped']);
});

test('memory budget: photos wait for pixels first come first served, a photo larger than the budget runs alone', async () => {
  const { PixelBudget } = await import('../src/pipeline/budget.js');
  const budget = new PixelBudget(100);
  const order: string[] = [];
  const a = await budget.acquire(60);
  const b = budget.acquire(50).then((give) => (order.push('b'), give));
  const c = budget.acquire(10).then((give) => (order.push('c'), give));
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(order.length, 0, 'c fits, but waits behind b: large photos are not starved');
  a();
  a(); // giving back twice is harmless
  const giveB = await b;
  const giveC = await c;
  assert.deepEqual(order, ['b', 'c']);
  assert.equal(budget.inUse, 60);
  const huge = budget.acquire(10_000).then((give) => (order.push('huge'), give));
  giveB();
  giveC();
  (await huge)();
  assert.deepEqual(order, ['b', 'c', 'huge'], 'larger than the budget: runs alone');
  assert.equal(budget.inUse, 0);

  // In a run: one photo in memory at a time, batches of two, four photos in flight: no deadlock
  // between photos waiting for memory and a batch waiting for photos.
  const out = join(work, 'budget-out');
  const report = await colorize(options([ALBUM], out, { kind: 'none' }, { memoryBudget: 1, batchSize: 2, concurrency: 4 }));
  assert.deepEqual(report.totals, { files: 5, hit: 0, inferred: 5, skipped: 0, failed: 0, notProcessed: 0 });
});

test('options are checked once, at the entry, naming the option and what was expected', async () => {
  const dir = await tempDir();
  const out = join(dir, 'out');
  const closed = new PixelPool(1);
  await closed.close();
  const cases: Array<[Partial<ColorizeOptions>, RegExp]> = [
    [{ sharedPixels: closed }, /^sharedPixels: expected an open PixelPool/],
    [{ inputRoots: ['archive'] }, /^inputRoots: expected one or more absolute paths of folders/],
    [{ inputRoots: [] }, /^inputRoots: expected one or more absolute paths of folders/],
    [{ quality: 500 }, /^quality: expected a whole number from 1 to 100, got 500$/],
    [{ size: 100 }, /^size: expected a multiple of 32 from 32 to 4096, got 100$/],
    [{ concurrency: 0 }, /^concurrency: expected a whole number from 1 to 256, got 0$/],
    [{ format: 'bmp' as ColorizeOptions['format'] }, /^format: expected one of same, png, jpg, webp, tiff, got "bmp"$/],
    [{ paths: [] }, /^paths: expected at least one file or folder/],
  ];
  for (const [extra, said] of cases) {
    await assert.rejects(colorize(options([ALBUM], out, { kind: 'none' }, extra)), (e: unknown) => e instanceof InvalidOptionError && said.test(e.message), JSON.stringify(extra));
  }
  await assert.rejects(stat(out), 'nothing was created');
});

test('interrupted in the middle of a large run: every photo is accounted for exactly once', async () => {
  const dir = await tempDir();
  const src = join(dir, 'many');
  await mkdir(src);
  const tiny = await sharp({ create: { width: 8, height: 8, channels: 3, background: { r: 90, g: 90, b: 90 } } }).png().toBuffer();
  for (let i = 0; i < 600; i++) await writeFile(join(src, `p-${String(i).padStart(3, '0')}.png`), Buffer.concat([tiny, Buffer.from(`${i}`)]));
  const ac = new AbortController();
  let events = 0;
  const report = await colorize(
    options([src], join(dir, 'out'), { kind: 'none' }, { signal: ac.signal, onEvent: (e) => e.type === 'file' && ++events === 3 && ac.abort() }),
  );
  const t = report.totals;
  assert.equal(report.interrupted, true);
  assert.equal(t.hit + t.inferred + t.skipped + t.failed + t.notProcessed, 600);
  assert.equal(events, 600, 'one file event per photo');
  assert.ok(t.notProcessed > 0 && t.failed === 0, JSON.stringify(t));
});

/** Every tag exiftool reads in a file, by group:name (an independent reader of the metadata). */
function exiftool(path: string): Record<string, unknown> {
  const r = spawnSync('exiftool', ['-j', '-G1', '-a', '-n', path], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return (JSON.parse(r.stdout) as Array<Record<string, unknown>>)[0]!;
}

test("provenance in every output: IPTC digital source type, software, model; the scan's EXIF and XMP kept, orientation reset, sRGB profile", async () => {
  const dir = await tempDir();
  const src = join(dir, 'in');
  await mkdir(src);
  const xmp = '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:CreatorTool="ScanSoft 2.1"><dc:title><rdf:Alt><rdf:li xml:lang="x-default">Lake 1952</rdf:li></rdf:Alt></dc:title></rdf:Description></rdf:RDF></x:xmpmeta>';
  await sharp(fx.CAMERAMAN)
    .resize(120, 80, { fit: 'fill' })
    .jpeg({ quality: 92 })
    .withMetadata({ orientation: 6 })
    .withExif({
      IFD0: { Make: 'Kodak', Model: 'Brownie', ImageDescription: 'Grandma at the lake' },
      IFD2: { DateTimeOriginal: '1952:07:14 15:30:00', PixelXDimension: '120', PixelYDimension: '80' },
    })
    .withXmp(xmp)
    .toFile(join(src, 'lake.jpg'));
  for (const format of ['jpg', 'png', 'webp', 'tiff'] as const) {
    const out = join(dir, `out-${format}`);
    const report = await colorize(options([src], out, { kind: 'none' }, { format }));
    assert.equal(report.totals.inferred, 1, JSON.stringify(report.files));
    const file = join(out, `lake.${format}`);
    const tags = exiftool(file);
    const tag = (name: string): unknown => Object.entries(tags).find(([k]) => k.endsWith(`:${name}`))?.[1];
    const what = `${format}: ${JSON.stringify(tags)}`;
    // The tint model is one of ddcolor's test networks: its outputs never claim a trained model.
    assert.equal(tag('DigitalSourceType'), 'http://cv.iptc.org/newscodes/digitalsourcetype/algorithmicallyEnhanced', what);
    const xmpModel = Object.entries(tags).find(([k]) => k.startsWith('XMP') && k.endsWith(':Model'))?.[1];
    assert.match(String(xmpModel), /\(test model: tints photos sepia; does not colorize\)$/, what);
    assert.equal(tag('CreatorTool'), `ddcolor ${packageVersion()}`, `${what}: the scan's creator tool replaced`);
    assert.equal(tag('ModelId'), tint.id, what);
    assert.equal(tag('InputSize'), 64, what);
    assert.equal(tag('Title'), 'Lake 1952', `${what}: the scan's XMP kept`);
    if (format !== 'tiff') {
      // libvips writes no EXIF into TIFF files: those keep the XMP above and the profile.
      assert.equal(tag('Software'), `ddcolor ${packageVersion()}`, what);
      assert.equal(tag('Make'), 'Kodak', what);
      assert.equal(tag('Model'), 'Brownie', what);
      assert.equal(tag('ImageDescription'), 'Grandma at the lake', what);
      assert.equal(tag('DateTimeOriginal'), '1952:07:14 15:30:00', what);
      assert.deepEqual([tag('ExifImageWidth'), tag('ExifImageHeight')], [80, 120], `${what}: EXIF dimensions upright`);
    }
    assert.ok(tag('Orientation') === undefined || tag('Orientation') === 1, `${what}: orientation reset`);
    assert.deepEqual([tag('ImageWidth'), tag('ImageHeight')], [80, 120], `${what}: upright`);
    assert.match(String(tag('ProfileDescription')), /sRGB/, `${what}: sRGB profile`);
    // The pixels are the composite's: decoding with or without the profile gives the same numbers.
    const [managed, rawPx] = await Promise.all([sharp(file).raw().toBuffer(), sharp(file).keepIccProfile().raw().toBuffer()]);
    assert.deepEqual(managed, rawPx, `${format}: the profile changes no pixel`);
  }
  // A model that is not one of ddcolor's test networks (a stand-in for a real export): its outputs say a trained model made them.
  await writeFile(join(dir, 'export.onnx'), buildConvModel({ size: null, producer: 'pytorch', layers: [{ outChannels: 2, inChannels: 3, kernel: 1, weights: [1, 0, 0, 0, 1, 0], bias: [3, 5] }] }));
  const exported = await inspectModel(join(dir, 'export.onnx'));
  assert.equal(exported.testModel, null);
  assert.equal(tint.testModel, 'tints photos sepia; does not colorize');
  const out = join(dir, 'out-export');
  const report = await colorize({ ...options([src], out, { kind: 'none' }), model: exported });
  assert.equal(report.model.testModel, null);
  const tags = exiftool(join(out, 'lake.jpg'));
  const xmpTag = (name: string): unknown => Object.entries(tags).find(([k]) => k.startsWith('XMP') && k.endsWith(`:${name}`))?.[1];
  assert.equal(xmpTag('DigitalSourceType'), 'http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia', JSON.stringify(tags));
  assert.equal(xmpTag('Model'), 'export', JSON.stringify(tags));
});

test('--saturation, --format and --quality re-render from the cache and never re-infer; saturation scales the chroma', async () => {
  const dir = await tempDir();
  const src = join(dir, 'in');
  await mkdir(src);
  // A gray gradient, where the model's colour is well inside the gamut.
  const w = 96;
  const gray = Buffer.from(Array.from({ length: w * 48 }, (_, i) => 80 + Math.round(((i % w) / w) * 90)));
  await sharp(gray, { raw: { width: w, height: 48, channels: 1 } }).png().toFile(join(src, 'ramp.png'));
  await writeFile(join(dir, 'lin.onnx'), linearAbModel(null, [[0, 0, 0], [0, 0, 0]], [12, -16]));
  const model = await inspectModel(join(dir, 'lin.onnx'));
  const cache: CacheSpec = { kind: 'file', dir: join(dir, 'cache') };
  const out = join(dir, 'out');
  const run = (extra: Partial<ColorizeOptions>): Promise<RunReport> => colorize(options([src], out, cache, { model, size: 32, format: 'png', ...extra }));
  assert.equal((await run({})).totals.inferred, 1);
  const [, a1, b1] = await labAt(join(out, 'ramp.png'), 48, 24);
  for (const [extra, label] of [
    [{ saturation: 1.5 }, 'saturation'],
    [{ saturation: 1.5, quality: 70 }, 'quality'],
    [{ saturation: 1.5, format: 'jpg' }, 'format'],
  ] as Array<[Partial<ColorizeOptions>, string]>) {
    const r = await run(extra);
    assert.deepEqual([r.totals.hit, r.totals.inferred, r.totals.skipped], [1, 0, 0], `${label}: re-rendered from the cache`);
  }
  const [, a15, b15] = await labAt(join(out, 'ramp.png'), 48, 24);
  assert.ok(Math.abs(a15 - 1.5 * a1) < 1.5 && Math.abs(b15 - 1.5 * b1) < 1.5, `chroma scaled 1.5x: a ${a1} -> ${a15}, b ${b1} -> ${b15}`);
  assert.equal((await run({ saturation: 1.5, quality: 70 })).totals.skipped, 1, 'the same settings again: up to date');
  const zero = await run({ saturation: 0 });
  assert.equal(zero.totals.hit, 1);
  const [, a0, b0] = await labAt(join(out, 'ramp.png'), 48, 24);
  assert.ok(Math.abs(a0) < 1 && Math.abs(b0) < 1, `saturation 0 is gray: ${a0}, ${b0}`);
});

test('--skip-color leaves colour photos alone (also faded ones) and colorizes gray, tinted and toned scans; the next run does not read them again', async () => {
  const dir = await tempDir();
  const src = join(dir, 'in');
  await mkdir(src);
  for (const [name, kind] of Object.entries(KINDS)) {
    await sharp(await kind.make(), { raw: { ...SIZE, channels: 3 } }).png().toFile(join(src, `${name}.png`));
  }
  for (const f of ['cameraman.png', 'coins.png', 'family/cat.jpg']) await copyFile(join(ALBUM, f), join(src, `album-${f.split('/').pop()}`));
  const out = join(dir, 'out');
  const cache: CacheSpec = { kind: 'file', dir: join(dir, 'cache') };
  const report = await colorize(options([src], out, cache, { skipColor: true }));
  const byFile = new Map(report.files.map((f) => [f.input.split('/').pop()!, f]));
  for (const [name, kind] of Object.entries(KINDS)) {
    const f = byFile.get(`${name}.png`)!;
    if (kind.colour) {
      assert.deepEqual([f.status, f.reason, f.output], ['skipped', 'already in colour', null], `${name} is colour`);
      await assert.rejects(stat(join(out, `${name}.png`)), `${name}: nothing written`);
    } else assert.equal(f.status, 'inferred', `${name} is not colour: colorized`);
  }
  for (const f of ['album-cameraman.png', 'album-coins.png', 'album-cat.jpg']) assert.equal(byFile.get(f)!.status, 'inferred', `${f}: the sample album is black and white`);
  const colourCount = Object.values(KINDS).filter((k) => k.colour).length;
  assert.equal(report.totals.skipped, colourCount);
  assert.equal(report.totals.inferred, Object.keys(KINDS).length - colourCount + 3, 'no inference spent on colour photos');
  const again = await colorize(options([src], out, cache, { skipColor: true }));
  assert.equal(again.totals.skipped, again.totals.files, 'all skipped again');
  assert.equal(again.timings.decodeMs, 0, 'colour photos are not decoded again');
  assert.equal(again.timings.hashMs, 0, 'nor hashed');
  // A colour photo whose result is cached (colorized before without --skip-color) is still left alone.
  const plain = join(dir, 'plain');
  await colorize(options([join(src, 'painted.png')], plain, cache));
  const hit = await colorize(options([join(src, 'painted.png')], join(dir, 'other'), cache, { skipColor: true }));
  assert.deepEqual([hit.files[0]!.status, hit.files[0]!.reason], ['skipped', 'already in colour']);
  assert.equal(hit.model.device, null, 'the model is never loaded');
  // A high threshold colorizes even the faded print.
  const lenient = await colorize(options([join(src, 'faded-print.png')], join(dir, 'lenient'), { kind: 'none' }, { skipColor: true, colorThreshold: 50 }));
  assert.equal(lenient.totals.inferred, 1);
});

test('a lost manifest: outputs holding exactly what the run makes are known as ddcolor\'s again; a retouched one is still left alone', async () => {
  const dir = await tempDir();
  const src = join(dir, 'in');
  await mkdir(src);
  for (const f of ['cameraman.png', 'coins.png']) await copyFile(join(ALBUM, f), join(src, f));
  await copyFile(join(ALBUM, 'family', 'cat.jpg'), join(src, 'cat.jpg'));
  const out = join(dir, 'out');
  const cache: CacheSpec = { kind: 'file', dir: join(dir, 'cache') };
  assert.equal((await colorize(options([src], out, cache))).totals.inferred, 3);
  const before = await Promise.all(['cameraman.png', 'coins.png', 'cat.jpg'].map((f) => sha(join(out, f))));
  await rm(join(out, MANIFEST_NAME));
  // The user retouched one output meanwhile.
  await sharp(join(out, 'coins.png')).modulate({ brightness: 1.1 }).png().toFile(join(dir, 'retouched.png'));
  await copyFile(join(dir, 'retouched.png'), join(out, 'coins.png'));
  const retouched = await sha(join(out, 'coins.png'));
  const again = await colorize(options([src], out, cache));
  const files = byName(again);
  assert.equal(files.get('in/cameraman.png')!.status, 'hit');
  assert.equal(files.get('in/cat.jpg')!.status, 'hit');
  assert.equal(files.get('in/coins.png')!.status, 'failed');
  assert.match(files.get('in/coins.png')!.error ?? '', /coins\.png already exists and was not written by ddcolor/);
  assert.deepEqual(await Promise.all(['cameraman.png', 'coins.png', 'cat.jpg'].map((f) => sha(join(out, f)))), [before[0], retouched, before[2]], 'nothing rewritten');
  const third = await colorize(options([src], out, cache));
  assert.equal(byName(third).get('in/cameraman.png')!.status, 'skipped', 'known again');
});

test('a warm run looks its photos up a few at first, then in chunks that double: the pixel threads get their first photos once 4 are hashed, not the first 256', async () => {
  const src = join(work, 'chunks');
  await mkdir(src);
  // 14 photos of 14 contents: a gradient each, a gray level apart.
  const gradient = Buffer.alloc(48 * 32);
  for (let i = 0; i < 14; i++) {
    for (let p = 0; p < gradient.length; p++) gradient[p] = (p % 48) * 4 + i;
    await sharp(gradient, { raw: { width: 48, height: 32, channels: 1 } }).png().toFile(join(src, `g-${String(i).padStart(2, '0')}.png`));
  }
  const cacheDir = join(work, 'chunks-cache');
  const cold = await colorize(options([src], join(work, 'chunks-cold'), { kind: 'file', dir: cacheDir }));
  assert.equal(cold.totals.inferred, 14);
  const lookups: number[] = [];
  const store = await storeWithHook(cacheDir, (keys) => lookups.push(keys.length));
  try {
    const warm = await colorize(options([src], join(work, 'chunks-warm'), { kind: 'file', dir: cacheDir }, { openStore: store }));
    assert.equal(warm.totals.hit, 14, warm.files.map((f) => f.error ?? '').join('\n'));
    assert.deepEqual(lookups, [4, 8, 2], 'the photos looked up in each round trip');
  } finally {
    await store.close();
  }
});

test('a pixel task the pool itself fails (its thread stopped before it ran) is the machine\'s fault, named and typed, never the photo\'s (a fleet would remember the photo as bad for good)', async () => {
  const pool = new PixelPool(1);
  const path = join(ALBUM, 'cameraman.png');
  const task = pool.prepare({ path, sha256: await sha(path), size: 64 });
  const failed = assert.rejects(task, (err: unknown) => {
    assert.ok(err instanceof EnvironmentError, `not typed: ${String(err)}`);
    assert.equal(err.code, 'PIXEL_THREAD');
    assert.match(err.message, /cameraman\.png: the pixel thread working on it failed \(.+\)/);
    assert.equal(err.transient, true);
    assert.equal(photoFailure(path, err), err, 'kept as it is when a photo fails with it');
    return true;
  });
  await pool.close();
  await failed;
});

test('runs given the caller\'s pixel threads (a fleet worker\'s, or a library user\'s as the README shows) start them at their first photo to decode, leave them running for the next run, whose outputs are the same; a re-run with nothing to do starts none, a run of one photo one', async () => {
  const src = join(work, 'shared-pixels');
  await mkdir(src);
  for (const n of ['cameraman.png', 'coins.png']) await copyFile(join(ALBUM, n), join(src, n));
  const pool = new PixelPool(pixelThreads(2));
  const idle = new PixelPool(pixelThreads(2));
  const single = new PixelPool(pixelThreads(2));
  try {
    assert.deepEqual(pool.threadIds(), [], 'no thread starts before a photo needs one');
    const first = await colorize(options([src], join(work, 'shared-pixels-1'), { kind: 'none' }, { sharedPixels: pool }));
    const started = pool.threadIds();
    assert.equal(started.length, pixelThreads(2), 'the run starts every thread of the pool');
    const second = await colorize(options([src], join(work, 'shared-pixels-2'), { kind: 'none' }, { sharedPixels: pool }));
    assert.deepEqual(pool.threadIds(), started, 'the run closed or replaced the caller\'s threads');
    for (const r of [first, second]) assert.equal(r.totals.inferred, 2, r.files.map((f) => f.error ?? '').join('\n'));
    for (const n of ['cameraman.png', 'coins.png']) assert.equal(await sha(join(work, 'shared-pixels-2', n)), await sha(join(work, 'shared-pixels-1', n)));
    // A nightly re-run over photos that did not change: every one skipped, and no thread started
    // (each start is about 0.4 s of a core: 16 of them on a 16-core machine, for nothing).
    const unchanged = await colorize(options([src], join(work, 'shared-pixels-1'), { kind: 'none' }, { sharedPixels: idle }));
    assert.equal(unchanged.totals.skipped, 2);
    assert.deepEqual(idle.threadIds(), [], 'a run with nothing to decode started the pixel threads');
    // One photo to make: one thread, whatever the pool's size.
    const one = await colorize(options([join(src, 'coins.png')], join(work, 'shared-pixels-3'), { kind: 'none' }, { sharedPixels: single }));
    assert.equal(one.totals.inferred, 1);
    assert.equal(single.threadIds().length, 1, 'a run of one photo started more threads than it had photos');
  } finally {
    await pool.close();
    await idle.close();
    await single.close();
  }
});
