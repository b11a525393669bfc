import assert from 'node:assert/strict';
import { copyFile, mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { STATS_KEY, cacheKey } from '../src/cache/keys.js';
import { RedisStore, TRIP_BYTES } from '../src/cache/redis.js';
import { inspectModel, type ModelInfo } from '../src/inference/model-info.js';
import { tintModel } from '../src/models/tiny-model.js';
import { colorize, type ColorizeOptions } from '../src/pipeline/index.js';
import { ALBUM, cleanup, freePort, startRedis, tempDir, type RedisServer } from './helpers.js';

let tint: ModelInfo;
let album: string;

before(async () => {
  const dir = await tempDir();
  await writeFile(join(dir, 'tint.onnx'), tintModel(null));
  tint = await inspectModel(join(dir, 'tint.onnx'));
  // Twelve distinct photos: the album, and flipped and resized variants.
  album = join(dir, 'album');
  await mkdir(album);
  const sources = ['cameraman.png', 'coins.png', 'family/astronaut-1984.jpg', 'family/cafe.jpg', 'family/cat.jpg'];
  for (const [i, f] of sources.entries()) {
    await copyFile(join(ALBUM, f), join(album, `${i}-${f.split('/').pop()}`));
    await sharp(join(ALBUM, f)).flop().resize(200).png().toFile(join(album, `${i}-flop.png`));
  }
  await sharp(join(ALBUM, 'coins.png')).flip().png().toFile(join(album, 'x-flip.png'));
  await sharp(join(ALBUM, 'cameraman.png')).flip().png().toFile(join(album, 'y-flip.png'));
});
after(cleanup);

function sha(n: number): string {
  return n.toString(16).padStart(64, '0');
}

function options(outDir: string, url: string, extra: Partial<ColorizeOptions> = {}): ColorizeOptions {
  return {
    paths: [album],
    outDir,
    model: tint,
    size: 64,
    device: 'cpu',
    batchSize: 2,
    concurrency: 2,
    cache: { kind: 'redis', url },
    cacheOptions: { timeouts: { connectTimeoutMs: 500, commandTimeoutMs: 1000 } },
    ttlMs: 86_400_000,
    format: 'png',
    quality: 90,
    force: false,
    ...extra,
  };
}

test('lookups are pipelined MGETs: one round trip for a batch, never one command per key', async () => {
  const server = await startRedis();
  const store = await RedisStore.single(server.url).open();
  const entries = Array.from({ length: 200 }, (_, i) => ({ key: cacheKey('m', 512, sha(i)), value: Buffer.from(`value ${i}`) }));
  await store.setMany(entries.slice(0, 150), 60_000);
  const admin = server.client();
  await admin.config('RESETSTAT');
  const perTrip = store.lookupKeysPerTrip();
  const values = await store.getMany(entries.map((e) => e.key));
  assert.equal(values.length, 200);
  assert.equal(values[3]!.toString(), 'value 3');
  assert.equal(values[199], null);
  const stats = await admin.info('commandstats');
  const mget = /cmdstat_mget:calls=(\d+)/.exec(stats);
  const get = /cmdstat_get:calls=(\d+)/.exec(stats);
  assert.equal(Number(mget?.[1]), Math.ceil(200 / perTrip), 'one MGET per round trip of keys');
  assert.equal(get, null, 'no single GETs');
  await store.close();
});

test('locks: only the owner releases or extends one, and the scripts go by EVALSHA (loaded once), never the whole script each time', async (t) => {
  const server = await startRedis();
  const store = await RedisStore.single(server.url).open();
  t.after(() => store.close());
  const admin = server.client();
  const keys = Array.from({ length: 30 }, (_, i) => cacheKey('m', 512, sha(1000 + i)));
  assert.ok((await store.tryLock(keys, 'me', 2_000)).every(Boolean));
  await admin.config('RESETSTAT');
  await store.refreshLocks(keys, 'other', 600_000);
  await store.refreshLocks(keys.slice(0, 10), 'me', 600_000);
  const lockKeys = await admin.keys('*lock*');
  const ttls = await Promise.all(lockKeys.map((k) => admin.pttl(k)));
  assert.equal(ttls.filter((t) => t > 100_000).length, 10, 'only the owner extends, and only the locks it names');
  await store.unlock(keys, 'other');
  assert.ok((await store.tryLock(keys, 'other', 2_000)).every((l) => !l), 'only the owner releases');
  await store.unlock(keys, 'me');
  assert.ok((await store.tryLock(keys, 'other', 2_000)).every(Boolean));
  const stats = await admin.info('commandstats');
  const evalsha = Number(/cmdstat_evalsha:calls=(\d+)/.exec(stats)?.[1] ?? 0);
  const whole = Number(/cmdstat_eval:calls=(\d+)/.exec(stats)?.[1] ?? 0);
  assert.equal(evalsha + whole, 30 + 10 + 30 + 30, 'one script call per lock refreshed or released');
  assert.ok(whole <= 2, `each script is sent whole at most once (to load it), then by its hash: ${whole} sent whole`);
});

test('large entries are looked up and written in round trips of about half a megabyte, intact', async () => {
  const server = await startRedis();
  const store = await RedisStore.single(server.url).open();
  try {
    const big = (i: number): Buffer => Buffer.alloc(100 * 1024, i);
    const entries = Array.from({ length: 40 }, (_, i) => ({ key: cacheKey('m', 512, sha(i)), value: big(i) }));
    const admin = server.client();
    await store.setMany(entries, 60_000);
    // 4 MB of values in 100 KB entries: 5 a round trip, so Redis never holds more than half a MB of them.
    await store.getMany(entries.map((e) => e.key)); // learns the entries' size
    assert.equal(store.lookupKeysPerTrip(), Math.floor(TRIP_BYTES / (100 * 1024)));
    await admin.config('RESETSTAT');
    const values = await store.getMany(entries.map((e) => e.key));
    values.forEach((v, i) => assert.ok(v?.equals(big(i)), `entry ${i} intact`));
    const mget = Number(/cmdstat_mget:calls=(\d+)/.exec(await admin.info('commandstats'))?.[1]);
    assert.equal(mget, Math.ceil(40 / store.lookupKeysPerTrip()), 'one MGET per round trip');
  } finally {
    // Closed whatever happens above: an open client would keep the test process from ending.
    await store.close();
  }
});

test('entries carry a jittered TTL; invalidation and stats never touch keys that are not ddcolor entries', async () => {
  const server = await startRedis(['--maxmemory', '64mb', '--maxmemory-policy', 'volatile-lru']);
  const store = await RedisStore.single(server.url).open();
  const admin = server.client();
  await admin.set('someone:else', 'keep me');
  await admin.set('ddcolor:v1:not-a-valid-key', 'keep me too');
  const ttl = 3_600_000;
  await store.setMany(Array.from({ length: 40 }, (_, i) => ({ key: cacheKey('m1', 512, sha(i)), value: Buffer.alloc(100, i) })), ttl);
  await store.setMany([{ key: cacheKey('m2', 1024, sha(1)), value: Buffer.alloc(50) }], ttl);
  const pttls = await Promise.all(Array.from({ length: 40 }, (_, i) => admin.pttl(cacheKey('m1', 512, sha(i)))));
  assert.ok(pttls.every((t) => t > ttl * 0.94 && t <= ttl * 1.05), `TTLs within ±5%: ${Math.min(...pttls)}..${Math.max(...pttls)}`);
  assert.ok(new Set(pttls.map((t) => Math.round(t / 1000))).size > 5, 'expiries are spread');
  await store.addCounters(7, 3);
  const stats = await store.stats();
  assert.equal(stats.entries, 41);
  assert.equal(stats.bytes, 40 * 100 + 50);
  assert.equal(stats.hits, 7);
  assert.equal(stats.misses, 3);
  assert.equal(stats.hitRate, 0.7);
  assert.deepEqual(stats.byModel.map((m) => [m.modelId, m.size, m.entries]), [['m1', 512, 40], ['m2', 1024, 1]]);
  assert.equal(stats.redis?.policy, 'volatile-lru');
  assert.equal(stats.redis?.maxmemory, 64 * 1024 * 1024);
  assert.deepEqual(stats.warnings, []);
  assert.equal(await store.deleteWhere((k) => k.includes(':m2:')), 1);
  assert.equal(await store.deleteWhere(() => true), 40);
  assert.equal(await admin.get('someone:else'), 'keep me');
  assert.equal(await admin.get('ddcolor:v1:not-a-valid-key'), 'keep me too');
  assert.equal(await admin.exists(STATS_KEY), 1);
  await store.close();
});

test('an entry kept "for ever" (--ttl 0) still has a TTL on Redis (a year), so volatile-lru can evict it; allkeys policies are warned of, for the queue', async () => {
  const server = await startRedis(['--maxmemory', '64mb', '--maxmemory-policy', 'allkeys-lru']);
  const store = await RedisStore.single(server.url).open();
  await store.setMany([{ key: cacheKey('m1', 512, sha(1)), value: Buffer.alloc(10) }], 0);
  const year = 365 * 86_400_000;
  const pttl = await server.client().pttl(cacheKey('m1', 512, sha(1)));
  assert.ok(pttl > year * 0.94 && pttl <= year * 1.05, `a year, give or take 5 %: ${pttl}`);
  const stats = await store.stats();
  assert.ok(stats.warnings.some((w) => /allkeys-lru may evict any key, a job queue's too.*volatile-lru/.test(w)), stats.warnings.join('\n'));
  await store.close();
});

test('stats warn when Redis would refuse writes (noeviction) or has no maxmemory', async () => {
  const server = await startRedis(['--maxmemory-policy', 'noeviction']);
  const store = await RedisStore.single(server.url).open();
  const stats = await store.stats();
  assert.equal(stats.redis?.policy, 'noeviction');
  assert.ok(stats.warnings.some((w) => /noeviction/.test(w)));
  assert.ok(stats.warnings.some((w) => /maxmemory is not set/.test(w)));
  await store.close();
});

test('a shared Redis serves a second run, in another folder, from the cache', async () => {
  const server = await startRedis();
  const dir = await tempDir();
  const first = await colorize(options(join(dir, 'a'), server.url));
  assert.equal(first.totals.inferred, 12);
  assert.equal(first.cache.backend, 'redis');
  assert.equal(first.cache.location, `127.0.0.1:${server.port}`);
  const second = await colorize(options(join(dir, 'b'), server.url));
  assert.deepEqual(second.totals, { files: 12, hit: 12, inferred: 0, skipped: 0, failed: 0, notProcessed: 0 });
  const counters = await server.client().hgetall(STATS_KEY);
  assert.equal(Number(counters.hits), 12);
  assert.equal(Number(counters.misses), 12);
});

test('a Redis that is down from the start: the run warns, finishes every output and is marked degraded', async () => {
  const port = await freePort();
  const dir = await tempDir();
  const warnings: string[] = [];
  const started = Date.now();
  const report = await colorize(options(join(dir, 'out'), `redis://127.0.0.1:${port}`, { onEvent: (e) => e.type === 'warning' && warnings.push(e.message) }));
  assert.equal(report.totals.inferred, 12);
  assert.equal(report.totals.failed, 0);
  assert.equal(report.cache.degraded, true);
  assert.equal(warnings.length, 1, 'warned once');
  assert.ok(Date.now() - started < 60_000);
  assert.equal((await readdir(join(dir, 'out'))).filter((n) => n.endsWith('.png')).length, 12);
});

test('a Redis killed in the middle of a run: warned once, degraded, every output written, no hang', async () => {
  const server = await startRedis();
  const dir = await tempDir();
  const warnings: string[] = [];
  let killed = false;
  const report = await colorize(
    options(join(dir, 'out'), server.url, {
      concurrency: 1,
      batchSize: 1,
      onEvent: (e) => {
        if (e.type === 'warning') warnings.push(e.message);
        if (e.type === 'file' && !killed) {
          killed = true;
          server.process.kill('SIGKILL');
        }
      },
    }),
  );
  assert.equal(report.totals.failed, 0, JSON.stringify(report.files.filter((f) => f.error)));
  assert.equal(report.totals.inferred + report.totals.hit, 12);
  assert.equal(report.cache.degraded, true);
  assert.equal(warnings.filter((w) => /cache/.test(w)).length, 1);
  assert.equal((await readdir(join(dir, 'out'))).filter((n) => n.endsWith('.png')).length, 12);
});

test('a damaged value in Redis is a miss and is overwritten', async () => {
  const server = await startRedis();
  const dir = await tempDir();
  const first = await colorize(options(join(dir, 'a'), server.url));
  const admin = server.client();
  const key = cacheKey(tint.id, 64, first.files[0]!.sha256!);
  const good = await admin.getBuffer(key);
  await admin.set(key, good!.subarray(0, good!.length - 10));
  const second = await colorize(options(join(dir, 'b'), server.url));
  assert.equal(second.totals.inferred, 1);
  assert.equal(second.totals.hit, 11);
  assert.deepEqual(await admin.getBuffer(key), good);
});

test('a Redis restarted during the run is used again once it is back', async () => {
  const server = await startRedis();
  const dir = await tempDir();
  const state: { killed: boolean; restarted: Promise<RedisServer> | null } = { killed: false, restarted: null };
  const report = await colorize(
    options(join(dir, 'out'), server.url, {
      concurrency: 1,
      batchSize: 1,
      size: 256,
      cacheRetryMs: 200,
      onEvent: (e) => {
        if (e.type === 'file' && e.done === 1 && !state.killed) {
          server.process.kill('SIGKILL');
          state.killed = true;
        }
        // Back once the run has found it gone (a server back before the run's next command would
        // never be missed, and the run would rightly not say it went without its cache).
        if (e.type === 'warning' && /cache/.test(e.message) && state.killed && !state.restarted) state.restarted = startRedis([], server.port);
      },
    }),
  );
  const again = await state.restarted!;
  assert.equal(report.cache.degraded, true);
  assert.equal(report.totals.failed, 0);
  // The last photo was done after the restart, once the cache was tried again: its result is in the new server.
  const last = report.files[report.files.length - 1]!;
  assert.equal(last.status, 'inferred');
  assert.equal(await again.client().exists(cacheKey(tint.id, 256, last.sha256!)), 1, 'the last photo\'s result written after the restart');
});
