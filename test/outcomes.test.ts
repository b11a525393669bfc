/**
 * A photo's outcome is its own: a photo waiting for an identical one is not failed when the run
 * stops (it is not processed, and the next run does it), nor when the other file fails for a
 * reason of that file (it changed on disk): its own bytes decide. A full disk is the
 * environment's fault, said in words, and never a bad photo.
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { copyFile, mkdir, readdir, unlink, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { type ModelSession } from '../src/inference/session.js';
import { inspectModel, type ModelInfo } from '../src/inference/model-info.js';
import { tintModel } from '../src/models/tiny-model.js';
import type { ColorizeOptions } from '../src/pipeline/options.js';
import { colorize } from '../src/pipeline/index.js';
import { ALBUM, cleanup, startRedis, storeWithHook, tempDir } from './helpers.js';

let dir: string;
let model: ModelInfo;

before(async () => {
  dir = await tempDir();
  await writeFile(join(dir, 'tint.onnx'), tintModel(null));
  model = await inspectModel(join(dir, 'tint.onnx'));
});
after(cleanup);

function options(src: string, out: string, more: Partial<ColorizeOptions> = {}): ColorizeOptions {
  return { paths: [src], outDir: out, model, size: 64, device: 'cpu', concurrency: 1, cache: { kind: 'none' }, ttlMs: 0, format: 'png', quality: 90, force: false, ...more };
}

test('Ctrl-C while copies of a photo wait for its first copy: they are not processed, never failed, and the next run does them', async () => {
  const src = join(dir, 'dups');
  await mkdir(src);
  await copyFile(join(ALBUM, 'coins.png'), join(src, 'a.png'));
  for (const n of ['b.png', 'c1.png', 'c2.png', 'c3.png', 'c4.png']) await copyFile(join(ALBUM, 'cameraman.png'), join(src, n));
  const out = join(dir, 'dups-out');
  const stop = new AbortController();
  // One photo at a time: a.png is inferring when the run is stopped, b.png waits for a slot, its copies wait for b.png.
  const report = await colorize(options(src, out, { signal: stop.signal, onEvent: (e) => e.type === 'model-loaded' && stop.abort() }));
  assert.equal(report.interrupted, true);
  assert.equal(report.totals.failed, 0, report.files.map((f) => `${f.input}: ${f.status} ${f.error ?? ''}`).join('\n'));
  assert.ok(report.totals.notProcessed >= 4, 'the waiting copies are not processed');
  for (const f of report.files.filter((r) => r.status === 'not-processed')) assert.match(f.error ?? '', /not processed \(interrupted\)/);
  const next = await colorize(options(src, out));
  assert.equal(next.totals.failed, 0);
  assert.equal(next.totals.inferred + next.totals.hit + next.totals.skipped, 6);
});

test('the first copy of a photo changes on disk after it was hashed: it fails as changed, its unchanged copies are made from their own files', async () => {
  const src = join(dir, 'changed');
  await mkdir(src);
  const first = join(src, 'a-first.png');
  await copyFile(join(ALBUM, 'cameraman.png'), first);
  await copyFile(join(ALBUM, 'cameraman.png'), join(src, 'b-copy.png'));
  await copyFile(join(ALBUM, 'cameraman.png'), join(src, 'c-copy.png'));
  const out = join(dir, 'changed-out');
  let swapped = false;
  const store = await storeWithHook(join(dir, 'changed-cache'), () => {
    if (!swapped) copyFileSync(join(ALBUM, 'coins.png'), first);
    swapped = true;
  });
  const report = await colorize(options(src, out, { cache: { kind: 'file', dir: join(dir, 'changed-cache') }, openStore: store, concurrency: 2 }));
  const by = new Map(report.files.map((f) => [f.input, f]));
  assert.equal(by.get(first)!.status, 'failed');
  assert.match(by.get(first)!.error ?? '', /a-first\.png: changed while ddcolor was working on it/);
  for (const n of ['b-copy.png', 'c-copy.png']) {
    const f = by.get(join(src, n))!;
    assert.ok(f.status === 'inferred' || f.status === 'hit', `${n}: ${f.status} ${f.error ?? ''}`);
  }
});

test('a full disk (ENOSPC) fails the photos as the environment\'s fault, in words; with space back the next run writes them all', async () => {
  const src = join(dir, 'full');
  await mkdir(src);
  for (const n of ['a.png', 'b.png']) await copyFile(join(ALBUM, n === 'a.png' ? 'cameraman.png' : 'coins.png'), join(src, n));
  const out = join(dir, 'full-out');
  await mkdir(out);
  // Once the run has loaded its manifest, every line it appends goes to a device that is always full.
  const store = await storeWithHook(join(dir, 'full-cache'), () => {
    symlinkSync('/dev/full', join(out, '.ddcolor-manifest.ndjson'));
  });
  const full = await colorize(options(src, out, { cache: { kind: 'file', dir: join(dir, 'full-cache') }, openStore: store }));
  assert.equal(full.totals.failed, 2);
  for (const f of full.files) {
    assert.match(f.error ?? '', /the disk is full \(ENOSPC/, f.error ?? '');
    assert.equal(f.transient, true, 'the environment\'s fault, to be tried again: never a bad input');
  }
  await unlink(join(out, '.ddcolor-manifest.ndjson'));
  const again = await colorize(options(src, out));
  assert.equal(again.totals.inferred, 2, again.files.map((f) => f.error).join('\n'));
});

test('a file of the user\'s that appears at an output\'s place while the run works is left as it is: that photo fails as OUTPUT_TAKEN, the others are written', async () => {
  const src = join(dir, 'appears');
  await mkdir(src);
  await copyFile(join(ALBUM, 'cameraman.png'), join(src, 'a.png'));
  await copyFile(join(ALBUM, 'coins.png'), join(src, 'b.png'));
  const out = join(dir, 'appears-out');
  const mine = Buffer.from('the user\'s own picture, saved there during the run');
  // Once the photos are planned (their output places empty) and hashed, before any output is written.
  const store = await storeWithHook(join(dir, 'appears-cache'), () => {
    if (!existsSync(join(out, 'a.png'))) writeFileSync(join(out, 'a.png'), mine);
  });
  const report = await colorize(options(src, out, { cache: { kind: 'file', dir: join(dir, 'appears-cache') }, openStore: store }));
  const by = new Map(report.files.map((f) => [basename(f.input), f]));
  assert.equal(by.get('a.png')!.status, 'failed');
  assert.equal(by.get('a.png')!.code, 'OUTPUT_TAKEN');
  assert.equal(by.get('a.png')!.blocked, true);
  assert.deepEqual(readFileSync(join(out, 'a.png')), mine, 'the user\'s file is as it was');
  assert.equal(by.get('b.png')!.status, 'inferred', by.get('b.png')!.error ?? '');
  // The next run still knows it is not ddcolor's: left alone again, never written over.
  const next = await colorize(options(src, out));
  assert.equal(new Map(next.files.map((f) => [basename(f.input), f])).get('a.png')!.code, 'OUTPUT_TAKEN');
  assert.deepEqual(readFileSync(join(out, 'a.png')), mine);
  assert.deepEqual((await readdir(join(out, '.ddcolor-tmp')).catch(() => [])), [], 'nothing left in the temporary folder');
});

test('the very output a run makes, put at its place meanwhile (the same job given to two fleet workers at once), is taken as the run\'s own: not a failure, and up to date after', async () => {
  const src = join(dir, 'twice');
  await mkdir(src);
  await copyFile(join(ALBUM, 'cameraman.png'), join(src, 'a.png'));
  // What the other worker made: the same photo, model and settings, into another folder.
  await colorize(options(src, join(dir, 'twice-other')));
  const theirs = readFileSync(join(dir, 'twice-other', 'a.png'));
  const out = join(dir, 'twice-out');
  const store = await storeWithHook(join(dir, 'twice-cache'), () => {
    if (!existsSync(join(out, 'a.png'))) writeFileSync(join(out, 'a.png'), theirs);
  });
  const report = await colorize(options(src, out, { cache: { kind: 'file', dir: join(dir, 'twice-cache') }, openStore: store }));
  assert.equal(report.files[0]!.status, 'inferred', report.files[0]!.error ?? '');
  assert.deepEqual(readFileSync(join(out, 'a.png')), theirs);
  const next = await colorize(options(src, out));
  assert.deepEqual([next.files[0]!.status, next.files[0]!.reason], ['skipped', undefined], 'up to date: its record describes the file in place');
  // The same over an older output of its own: the other worker's new output is taken, not refused.
  await colorize(options(src, join(dir, 'twice-other-80'), { quality: 80 }));
  const theirs80 = readFileSync(join(dir, 'twice-other-80', 'a.png'));
  const store80 = await storeWithHook(join(dir, 'twice-cache'), () => writeFileSync(join(out, 'a.png'), theirs80));
  const remade = await colorize(options(src, out, { quality: 80, cache: { kind: 'file', dir: join(dir, 'twice-cache') }, openStore: store80 }));
  assert.equal(remade.files[0]!.status, 'hit', remade.files[0]!.error ?? '');
  assert.deepEqual(readFileSync(join(out, 'a.png')), theirs80);
  assert.equal((await colorize(options(src, out, { quality: 80 }))).files[0]!.status, 'skipped');
});

test('an output of ddcolor\'s that the user retouches while a run remakes it (another quality) is left as the user saved it: that photo fails as OUTPUT_TAKEN', async () => {
  const src = join(dir, 'retouched');
  await mkdir(src);
  await copyFile(join(ALBUM, 'cameraman.png'), join(src, 'a.png'));
  const out = join(dir, 'retouched-out');
  assert.equal((await colorize(options(src, out, { cache: { kind: 'file', dir: join(dir, 'retouched-cache') } }))).totals.inferred, 1);
  const retouched = Buffer.from('the output, retouched by hand during the second run');
  const store = await storeWithHook(join(dir, 'retouched-cache'), () => {
    if (readFileSync(join(out, 'a.png')).length !== retouched.length) writeFileSync(join(out, 'a.png'), retouched);
  });
  const report = await colorize(options(src, out, { quality: 80, cache: { kind: 'file', dir: join(dir, 'retouched-cache') }, openStore: store }));
  assert.equal(report.files[0]!.code, 'OUTPUT_TAKEN', report.files[0]!.error ?? '');
  assert.deepEqual(readFileSync(join(out, 'a.png')), retouched, 'the retouched file is as the user saved it');
});

test('a folder of ddcolor\'s removed while it works (the run\'s temporary folder) fails the photo as the machine\'s fault, not as a photo gone missing; the next run makes it', async () => {
  const src = join(dir, 'gone-tmp');
  await mkdir(src);
  await copyFile(join(ALBUM, 'cameraman.png'), join(src, 'a.png'));
  const out = join(dir, 'gone-tmp-out');
  let removed = false;
  const store = await storeWithHook(join(dir, 'gone-tmp-cache'), () => {
    if (removed) return;
    removed = true;
    rmSync(join(out, '.ddcolor-tmp'), { recursive: true, force: true });
  });
  const gone = await colorize(options(src, out, { cache: { kind: 'file', dir: join(dir, 'gone-tmp-cache') }, openStore: store }));
  assert.ok(removed);
  const f = gone.files[0]!;
  assert.equal(f.status, 'failed');
  assert.equal(f.code, 'ENOENT', f.error ?? '');
  assert.equal(f.transient, true, 'the machine\'s fault, to be tried again: never a bad input');
  assert.match(f.error ?? '', /a\.png: a file or folder it needs is missing or not what it should be \(ENOENT, .*\.ddcolor-tmp/);
  const again = await colorize(options(src, out));
  assert.equal(again.totals.inferred, 1, again.files.map((r) => r.error).join('\n'));
});

test('a model replaced while a run starts (models pull --force): the run refuses to load it, and nothing is stored under the old model\'s id', async () => {
  const src = join(dir, 'pinned');
  await mkdir(src);
  await copyFile(join(ALBUM, 'cameraman.png'), join(src, 'a.png'));
  const path = join(dir, 'pinned.onnx');
  await writeFile(path, tintModel(null));
  const first = await inspectModel(path);
  const cache = join(dir, 'pinned-cache');
  const run = colorize(
    options(src, join(dir, 'pinned-out'), {
      model: first,
      cache: { kind: 'file', dir: cache },
      // Once the photos are found, before the model is loaded, another network takes the file's place.
      onEvent: (e) => e.type === 'scanned' && writeFileSync(path, tintModel(128)),
    }),
  );
  await assert.rejects(run, /pinned\.onnx: the file changed since this run started/);
  const entries = await readdir(join(cache, 'v1', 'entries'), { recursive: true }).catch(() => [] as string[]);
  assert.deepEqual(entries.filter((e) => /[0-9a-f]{64}$/.test(String(e))), [], 'nothing cached');
  assert.notEqual((await inspectModel(path)).id, first.id);
});

test('a photo task that throws (here: the caller\'s event handler) settles every other photo before the run closes: no photo works on after the run has returned', async () => {
  const src = join(dir, 'teardown');
  await mkdir(src);
  for (let i = 0; i < 6; i++) await copyFile(join(ALBUM, i % 2 ? 'coins.png' : 'cameraman.png'), join(src, `p${i}-${i % 2}.png`));
  // Make each photo distinct, so that each is a task of its own.
  for (let i = 0; i < 6; i++) await writeFile(join(src, `p${i}-${i % 2}.png`), await sharp(join(src, `p${i}-${i % 2}.png`)).modulate({ brightness: 1 + i / 20 }).png().toBuffer());
  let settled = false;
  const late: string[] = [];
  let victim: string | null = null;
  const run = colorize(
    options(src, join(dir, 'teardown-out'), {
      concurrency: 3,
      onEvent: (e) => {
        if (e.type !== 'file') return;
        if (settled) late.push(e.record.input);
        // Every event of the first photo to finish throws: its task rejects.
        victim ??= e.record.input;
        if (e.record.input === victim) throw new Error('the caller\'s handler failed');
      },
    }),
  );
  await assert.rejects(run, /the caller's handler failed/);
  settled = true;
  await new Promise((r) => setTimeout(r, 1500));
  assert.deepEqual(late, [], 'photos still finishing after the run returned');
});

test('a lock holder whose model call never returns (a wedged GPU): another run sharing the cache infers the photo itself once the holder\'s lock expires, with the same pixels', async () => {
  const redis = await startRedis();
  const src = join(dir, 'hung');
  await mkdir(src);
  await copyFile(join(ALBUM, 'cameraman.png'), join(src, 'a.png'));
  const cache = { kind: 'redis' as const, url: redis.url };
  // A session whose run never returns: the native call of a wedged device.
  const wedged: ModelSession = { provider: 'cpu', run: () => new Promise<Float32Array>(() => undefined), release: async () => undefined };
  let inModel!: () => void;
  const holding = new Promise<void>((resolve) => (inModel = resolve));
  const stopA = new AbortController();
  const a = colorize(options(src, join(dir, 'hung-a'), { cache, sharedSession: async () => wedged, lockTtlMs: 1500, inferenceStallMs: 1000, signal: stopA.signal, onEvent: (e) => e.type === 'model-loaded' && inModel() }));
  a.catch(() => undefined);
  await holding;
  const b = await Promise.race([colorize(options(src, join(dir, 'hung-b'), { cache, lockTtlMs: 1500 })), new Promise<null>((r) => setTimeout(() => r(null), 30_000).unref())]);
  stopA.abort();
  assert.ok(b, 'the other run finished: the stalled holder stopped extending its lock');
  assert.equal(b.totals.inferred, 1, b.files.map((f) => `${f.status} ${f.error ?? ''}`).join('\n'));
  const alone = await colorize(options(src, join(dir, 'hung-alone')));
  assert.equal(alone.totals.inferred, 1);
  const pixels = (p: string): Promise<Buffer> => sharp(p).raw().toBuffer();
  assert.deepEqual(await pixels(join(dir, 'hung-b', 'a.png')), await pixels(join(dir, 'hung-alone', 'a.png')), 'the same pixels as a run on its own');
});
