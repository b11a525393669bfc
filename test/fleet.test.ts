import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { cacheKey, lockKeyFor } from '../src/cache/keys.js';
import { inspectModel, type ModelInfo } from '../src/inference/model-info.js';
import { tintModel } from '../src/models/tiny-model.js';
import { lockOutputFolder } from '../src/pipeline/out-lock.js';
import { colorize, type ColorizeOptions } from '../src/pipeline/index.js';
import { distinctPhotos } from './fixtures.js';
import { ALBUM, cleanup, runCli, spawnCli, startRedis, tempDir } from './helpers.js';

let modelPath: string;
let tint: ModelInfo;
let album: string;
const PHOTOS = 16;

before(async () => {
  const dir = await tempDir();
  modelPath = join(dir, 'tint.onnx');
  await writeFile(modelPath, tintModel(null));
  tint = await inspectModel(modelPath);
  album = await distinctPhotos(dir, PHOTOS, 300, 4);
});
after(cleanup);

interface ReportJson {
  interrupted: boolean;
  totals: { files: number; hit: number; inferred: number; skipped: number; failed: number; notProcessed: number };
  files: Array<{ input: string; status: string; sha256: string | null }>;
}

async function report(out: string): Promise<ReportJson> {
  return JSON.parse(await readFile(join(out, 'ddcolor-report.json'), 'utf8')) as ReportJson;
}

const common = (out: string, cache: string): string[] => ['colorize', album, '-o', out, '--model', modelPath, '--size', '256', '--cache', cache, '--concurrency', '1', '-q'];

test('two runs started together over the same photos, sharing Redis, infer each photo once between them', async () => {
  const server = await startRedis();
  const dir = await tempDir();
  const [a, b] = await Promise.all([runCli(common(join(dir, 'a'), server.url)), runCli(common(join(dir, 'b'), server.url))]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
  const [ra, rb] = await Promise.all([report(join(dir, 'a')), report(join(dir, 'b'))]);
  assert.equal(ra.totals.inferred + rb.totals.inferred, PHOTOS, `inferred ${ra.totals.inferred} + ${rb.totals.inferred}`);
  assert.equal(ra.totals.hit + ra.totals.inferred, PHOTOS);
  assert.equal(rb.totals.hit + rb.totals.inferred, PHOTOS, "the other run's results count as hits");
  assert.deepEqual(await server.client().keys('ddcolor:lock:*'), [], 'every lock released');
});

test('two runs on one machine sharing the embedded store infer each photo once between them', async () => {
  const dir = await tempDir();
  const cache = `file:${join(dir, 'cache')}`;
  const [a, b] = await Promise.all([runCli(common(join(dir, 'a'), cache)), runCli(common(join(dir, 'b'), cache))]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
  const [ra, rb] = await Promise.all([report(join(dir, 'a')), report(join(dir, 'b'))]);
  assert.equal(ra.totals.inferred + rb.totals.inferred, PHOTOS, `inferred ${ra.totals.inferred} + ${rb.totals.inferred}`);
  assert.equal(rb.totals.failed + ra.totals.failed, 0);
  assert.deepEqual(await readdir(join(dir, 'cache', 'v1', 'locks')), [], 'lock files removed');
});

test("a photo locked by a run that died is inferred once the lock expires", async () => {
  const server = await startRedis();
  const dir = await tempDir();
  const sha = createHash('sha256').update(await readFile(join(album, 'photo-03.png'))).digest('hex');
  await server.client().set(lockKeyFor(cacheKey(tint.id, 128, sha)), 'a-run-that-died', 'PX', 1500);
  const options: ColorizeOptions = {
    paths: [album],
    outDir: join(dir, 'out'),
    model: tint,
    size: 128,
    device: 'cpu',
    batchSize: 2,
    concurrency: 2,
    cache: { kind: 'redis', url: server.url },
    ttlMs: 86_400_000,
    format: 'same',
    quality: 90,
    force: false,
  };
  const started = Date.now();
  const r = await colorize(options);
  assert.equal(r.totals.inferred, PHOTOS);
  assert.equal(r.files.find((f) => f.input.endsWith('photo-03.png'))!.status, 'inferred');
  assert.ok(Date.now() - started >= 1000, 'it waited for the lock');
  // The dead run's lock was respected, then taken: the result is stored and no lock is left.
  const admin = server.client();
  assert.equal(await admin.exists(cacheKey(tint.id, 128, sha)), 1, 'photo-03\'s result stored');
  assert.equal(await admin.exists(lockKeyFor(cacheKey(tint.id, 128, sha))), 0, 'its lock released');
});

test('a slow Redis (commands past the timeout) degrades the run, which still finishes every photo', async () => {
  const server = await startRedis(['--enable-debug-command', 'yes']);
  const dir = await tempDir();
  const admin = server.client();
  void admin.call('DEBUG', 'SLEEP', '4').catch(() => undefined);
  await new Promise((r) => setTimeout(r, 100));
  const started = Date.now();
  const r = await colorize({
    paths: [album],
    outDir: join(dir, 'out'),
    model: tint,
    size: 64,
    device: 'cpu',
    batchSize: 2,
    concurrency: 2,
    cache: { kind: 'redis', url: server.url },
    cacheOptions: { timeouts: { connectTimeoutMs: 500, commandTimeoutMs: 500 } },
    ttlMs: 86_400_000,
    format: 'png',
    quality: 90,
    force: false,
  });
  assert.equal(r.cache.degraded, true);
  assert.equal(r.totals.failed, 0);
  assert.equal(r.totals.inferred, PHOTOS);
  assert.ok(Date.now() - started < 30_000);
});

test('SIGINT stops cleanly: outputs whole or absent, locks released, report marked interrupted, exit 130', async () => {
  const server = await startRedis();
  const dir = await tempDir();
  const out = join(dir, 'out');
  const { child, done } = spawnCli(['colorize', album, '-o', out, '--model', modelPath, '--size', '512', '--cache', server.url, '--concurrency', '1', '--no-progress']);
  // Wait for the first finished photo, then interrupt.
  await new Promise<void>((resolve) => {
    const onData = (d: Buffer): void => {
      if (/1\/16 photos/.test(d.toString())) {
        child.stderr!.off('data', onData);
        resolve();
      }
    };
    child.stderr!.on('data', onData);
  });
  child.kill('SIGINT');
  const r = await done;
  assert.equal(r.code, 130, r.stderr);
  const rep = await report(out);
  assert.equal(rep.interrupted, true);
  assert.ok(rep.totals.inferred >= 1 && rep.totals.inferred < PHOTOS, `inferred ${rep.totals.inferred}`);
  assert.equal(rep.totals.failed, 0, 'photos never started are not failures');
  assert.equal(rep.totals.inferred + rep.totals.hit + rep.totals.notProcessed, PHOTOS);
  // The last progress line counts only the photos done, and says how many were not processed.
  const progress = r.stderr.split('\n').filter((l) => / photos \(hit/.test(l));
  assert.ok(rep.totals.notProcessed > 0, 'some photos were never started');
  assert.match(progress.at(-1) ?? '', new RegExp(`^ddcolor: ${PHOTOS - rep.totals.notProcessed}/${PHOTOS} photos \\(.*, not processed ${rep.totals.notProcessed}\\)$`), r.stderr);
  const names = await readdir(out);
  assert.deepEqual(names.filter((n) => n.startsWith('.ddcolor-tmp')), [], 'no partial files');
  assert.ok(!names.includes('.ddcolor-lock'), 'output folder unlocked');
  for (const n of names.filter((x) => x.endsWith('.png'))) await sharp(join(out, n)).stats(); // every output decodes
  assert.equal(names.filter((x) => x.endsWith('.png')).length, rep.totals.inferred + rep.totals.hit);
  assert.deepEqual(await server.client().keys('ddcolor:lock:*'), []);
});

test('a second SIGINT exits at once: code 130, no half-written file, the output folder unlocked', async () => {
  const dir = await tempDir();
  const big = join(dir, 'big');
  await mkdir(big);
  // 12 MP scans, so a photo is still in flight when the second Ctrl-C comes.
  for (let i = 0; i < 4; i++) {
    await sharp(join(ALBUM, 'family/cafe.jpg')).resize(4000, 3000, { fit: 'fill' }).modulate({ brightness: 1 + i / 20 }).jpeg().toFile(join(big, `scan-${i}.jpg`));
  }
  const out = join(dir, 'out');
  const { child, done } = spawnCli(['colorize', big, '-o', out, '--model', modelPath, '--size', '64', '--cache', 'none', '--concurrency', '1', '--no-progress']);
  // The model loads for the first photo's batch: that photo is then inferred, composited and
  // encoded (half a second for 12 MP), so it is surely in flight when both signals come.
  await new Promise<void>((resolve) => {
    const onData = (d: Buffer): void => {
      if (/model loaded/.test(d.toString())) {
        child.stderr!.off('data', onData);
        resolve();
      }
    };
    child.stderr!.on('data', onData);
  });
  child.kill('SIGINT');
  await new Promise((r) => setTimeout(r, 100));
  child.kill('SIGINT');
  const r = await done;
  assert.equal(r.code, 130, r.stderr);
  const names = await readdir(out);
  assert.deepEqual(names.filter((n) => n.startsWith('.ddcolor-tmp')), [], 'no temporary file left behind');
  assert.ok(!names.includes('.ddcolor-lock'), 'output folder unlocked');
  assert.ok(!names.includes('ddcolor-report.json'), `exited before the report: at once, not after the photos in flight\n${r.stderr}`);
  for (const n of names.filter((x) => x.endsWith('.jpg'))) await sharp(join(out, n)).stats(); // every output that is there is whole
});

test('a second run into the same output folder exits with a clear message, or waits with --wait-lock', async () => {
  const dir = await tempDir();
  const out = join(dir, 'out');
  await mkdir(out);
  // A live holder: this test process.
  await writeFile(join(out, '.ddcolor-lock'), JSON.stringify({ pid: process.pid, host: hostname(), startedAt: new Date().toISOString() }));
  const args = ['colorize', join(album, 'photo-00.png'), '-o', out, '--model', modelPath, '--size', '64', '--cache', 'none', '-q'];
  const busy = await runCli(args);
  assert.equal(busy.code, 2);
  assert.match(busy.stderr, new RegExp(`another ddcolor run \\(pid ${process.pid} on .*\\) is writing to ${out}.*--wait-lock`));
  const waiting = spawnCli([...args, '--wait-lock']);
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(waiting.child.exitCode, null, 'still waiting');
  await writeFile(join(out, '.ddcolor-lock'), '');
  const { rm } = await import('node:fs/promises');
  await rm(join(out, '.ddcolor-lock'));
  const r = await waiting.done;
  assert.equal(r.code, 0, r.stderr);
  // A lock left by a process that no longer exists is taken over.
  await writeFile(join(out, '.ddcolor-lock'), JSON.stringify({ pid: 2 ** 22 + 12345, host: hostname(), startedAt: '2020-01-01T00:00:00Z' }));
  const stale = await runCli(args);
  assert.equal(stale.code, 0, stale.stderr);
  assert.match(stale.stderr, /took over the lock .* process \d+ no longer exists/);

  // Another machine's lock (a folder shared over NFS): respected while its owner touches it,
  // taken over once nobody has for 10 minutes.
  const lock = join(out, '.ddcolor-lock');
  await writeFile(lock, JSON.stringify({ pid: 4242, host: 'gpu-7.archive.lan', startedAt: '2026-11-24T02:15:00Z' }));
  const remote = await runCli(args);
  assert.equal(remote.code, 2);
  assert.match(remote.stderr, /pid 4242 on gpu-7\.archive\.lan/);
  const elevenMinutesAgo = new Date(Date.now() - 11 * 60_000);
  await utimes(lock, elevenMinutesAgo, elevenMinutesAgo);
  const takeover = await runCli(args);
  assert.equal(takeover.code, 0, takeover.stderr);
  assert.match(takeover.stderr, /took over the lock .* left by pid 4242 on gpu-7\.archive\.lan: not touched for 11 min/);
  assert.ok(!(await readdir(out)).includes('.ddcolor-lock'), 'released at the end');
});

test('the output-folder lock is touched while its run holds it, and removed when released', async () => {
  const out = await tempDir();
  const release = await lockOutputFolder(out, { wait: false, heartbeatMs: 50 });
  const lock = join(out, '.ddcolor-lock');
  const old = new Date(Date.now() - 60 * 60_000);
  await utimes(lock, old, old);
  await new Promise((r) => setTimeout(r, 300));
  assert.ok(Date.now() - (await stat(lock)).mtimeMs < 5_000, 'the heartbeat refreshed it');
  await assert.rejects(lockOutputFolder(out, { wait: false }), /another ddcolor run \(pid \d+/, 'a second taker is refused');
  await release();
  assert.deepEqual(await readdir(out), []);
});

test('invalidate by --sha256 and by --model (all sizes), prune other models and the embedded store by size, metrics', async () => {
  const dir = await tempDir();
  const cacheDir = join(dir, 'cache');
  const cache = `file:${cacheDir}`;
  const other = join(dir, 'other.onnx');
  await writeFile(other, tintModel(null).toString('latin1').replace('ddcolor-tiny-model', 'ddcolor-tiny-other') as unknown as string, 'latin1');
  const metrics = join(dir, 'ddcolor.prom');
  for (const [model, size] of [[modelPath, '64'], [modelPath, '96'], [other, '64']] as const) {
    const r = await runCli(['colorize', album, '-o', join(dir, `out-${size}-${model === other ? 'o' : 't'}`), '--model', model, '--size', size, '--cache', cache, '-q', '--metrics', metrics]);
    assert.equal(r.code, 0, r.stderr);
  }
  const prom = await readFile(metrics, 'utf8');
  assert.match(prom, /# TYPE ddcolor_files gauge\nddcolor_files\{status="hit"\} 0\nddcolor_files\{status="inferred"\} 16\n/);
  assert.match(prom, /ddcolor_hit_rate 0\n/);
  assert.match(prom, /ddcolor_stage_seconds\{stage="inference"\} [\d.]+\n/);
  assert.match(prom, /ddcolor_cache_degraded\{backend="file"\} 0\n/);
  const stats = async (): Promise<{ entries: number; byModel: Array<{ modelId: string; size: number; entries: number }> }> =>
    JSON.parse((await runCli(['cache', 'stats', '--cache', cache, '--json'])).stdout) as { entries: number; byModel: Array<{ modelId: string; size: number; entries: number }> };
  assert.equal((await stats()).entries, 3 * PHOTOS);

  const sha = createHash('sha256').update(await readFile(join(album, 'photo-05.png'))).digest('hex');
  let r = await runCli(['cache', 'invalidate', '--sha256', sha, '--cache', cache, '--json']);
  assert.equal((JSON.parse(r.stdout) as { removed: number }).removed, 3, 'every model and size');
  r = await runCli(['cache', 'invalidate', '--model', tint.id, '--cache', cache, '--json']);
  assert.equal((JSON.parse(r.stdout) as { removed: number }).removed, 2 * (PHOTOS - 1), 'both sizes of the model');
  const left = await stats();
  assert.deepEqual(left.byModel.map((m) => m.modelId), [(await inspectModel(other)).id]);

  // Put the tint model's results back, then prune everything but it.
  await runCli(['colorize', album, '-o', join(dir, 'again'), '--model', modelPath, '--size', '64', '--cache', cache, '-q']);
  r = await runCli(['cache', 'prune', '--keep', modelPath, '--cache', cache, '--json']);
  assert.equal((JSON.parse(r.stdout) as { removed: number }).removed, PHOTOS - 1);
  assert.deepEqual((await stats()).byModel.map((m) => [m.modelId, m.entries]), [[tint.id, PHOTOS]]);
  r = await runCli(['cache', 'prune', '--keep', modelPath, '--max-size', '20KB', '--cache', cache, '--json']);
  const pruned = JSON.parse(r.stdout) as { evicted: number; bytes: number };
  assert.ok(pruned.evicted > 0 && pruned.bytes <= 20 * 1000, JSON.stringify(pruned));
  // Pruning by size needs no model: with none installed (the tests' empty DDCOLOR_HOME), only the size is pruned.
  r = await runCli(['cache', 'prune', '--max-size', '10KB', '--cache', cache]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^no model installed: results of every model kept; evicted \d+ least recently used entr(y|ies)/);
  r = await runCli(['cache', 'prune', '--max-size', '1GB', '--cache', 'redis://127.0.0.1:1']);
  assert.equal(r.code, 2);
});
