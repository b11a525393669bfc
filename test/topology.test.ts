import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { cacheKey, KEY_PREFIX } from '../src/cache/keys.js';
import { openCache, parseCacheUrl } from '../src/cache/open.js';
import { inspectModel, type ModelInfo } from '../src/inference/model-info.js';
import { tintModel } from '../src/models/tiny-model.js';
import { colorize, type ColorizeOptions } from '../src/pipeline/index.js';
import { ALBUM, TLS_DIR, cleanup, runCli, startCluster, startSentinel, startTlsCluster, tempDir } from './helpers.js';

let tint: ModelInfo;
let modelPath: string;
let album: string;

before(async () => {
  const dir = await tempDir();
  modelPath = join(dir, 'tint.onnx');
  await writeFile(modelPath, tintModel(null));
  tint = await inspectModel(modelPath);
  album = join(dir, 'album');
  await mkdir(album);
  for (let i = 0; i < 10; i++) {
    await sharp(join(ALBUM, 'coins.png')).resize(64 + 8 * i).png().toFile(join(album, `coins-${i}.png`));
  }
});
after(cleanup);

function options(outDir: string, cache: string, extra: Partial<ColorizeOptions> = {}): ColorizeOptions {
  return {
    paths: [album],
    outDir,
    model: tint,
    size: 64,
    device: 'cpu',
    batchSize: 2,
    concurrency: 2,
    cache: parseCacheUrl(cache),
    cacheOptions: { timeouts: { connectTimeoutMs: 2000, commandTimeoutMs: 3000 } },
    ttlMs: 86_400_000,
    format: 'png',
    quality: 90,
    force: false,
    ...extra,
  };
}

test('cache URLs: cluster and sentinel forms parse, credentials never reach the location', () => {
  assert.deepEqual(parseCacheUrl('redis-cluster://10.0.0.1:7000,10.0.0.2:7001'), {
    kind: 'redis-cluster',
    nodes: [{ host: '10.0.0.1', port: 7000 }, { host: '10.0.0.2', port: 7001 }],
    tls: false,
  });
  assert.deepEqual(parseCacheUrl('rediss-cluster://u:p%40ss@h:7000'), { kind: 'redis-cluster', nodes: [{ host: 'h', port: 7000 }], tls: true, username: 'u', password: 'p@ss' });
  assert.deepEqual(parseCacheUrl('redis-sentinel://:secret@s1:26379,s2:26380/mymaster/2'), {
    kind: 'redis-sentinel',
    sentinels: [{ host: 's1', port: 26379 }, { host: 's2', port: 26380 }],
    name: 'mymaster',
    db: 2,
    tls: false,
    password: 'secret',
  });
  assert.throws(() => parseCacheUrl('redis-sentinel://s1:26379'), /master's name/);
});

test('Redis Cluster: batches span slots and nodes, keys spread over every master, runs share results', async () => {
  const cluster = await startCluster(3);
  const store = await openCache(parseCacheUrl(cluster.url));
  const entries = Array.from({ length: 300 }, (_, i) => ({ key: cacheKey('m', 512, i.toString(16).padStart(64, '0')), value: Buffer.from(`v${i}`) }));
  await store.setMany(entries, 60_000);
  const got = await store.getMany([...entries.map((e) => e.key), cacheKey('m', 512, 'f'.repeat(64))]);
  assert.deepEqual(got.slice(0, 300).map((v) => v?.toString()), entries.map((_, i) => `v${i}`));
  assert.equal(got[300], null);
  const sizes = await Promise.all(cluster.nodes.map((n) => n.client().dbsize()));
  assert.ok(sizes.every((n) => n > 50), `keys on every master: ${sizes.join(', ')}`);
  const locks = await store.tryLock(entries.slice(0, 20).map((e) => e.key), 'me', 10_000);
  assert.ok(locks.every(Boolean));
  assert.ok((await store.tryLock(entries.slice(0, 20).map((e) => e.key), 'other', 10_000)).every((l) => !l));
  await store.unlock(entries.slice(0, 20).map((e) => e.key), 'other');
  assert.ok((await store.tryLock([entries[0]!.key], 'other', 10_000)).every((l) => !l), 'only the owner releases');
  await store.unlock(entries.slice(0, 20).map((e) => e.key), 'me');
  assert.ok((await store.tryLock([entries[0]!.key], 'other', 10_000)).every(Boolean));
  assert.equal(await store.deleteWhere(() => true), 300);
  await store.close();

  const dir = await tempDir();
  const first = await colorize(options(join(dir, 'a'), cluster.url));
  assert.deepEqual([first.totals.inferred, first.totals.failed, first.cache.degraded], [10, 0, false], first.cache.error ?? '');
  assert.match(first.cache.location, /^cluster 127\.0\.0\.1:\d+,/);
  const second = await colorize(options(join(dir, 'b'), cluster.url));
  assert.equal(second.totals.hit, 10);

  const stats = await runCli(['cache', 'stats', '--cache', cluster.url, '--json']);
  assert.equal(stats.code, 0, `exit ${stats.code}: ${stats.stderr}`);
  const s = JSON.parse(stats.stdout) as { entries: number; hits: number; misses: number };
  assert.deepEqual([s.entries, s.hits, s.misses], [10, 10, 10]);
  const inv = await runCli(['cache', 'invalidate', '--all', '--yes', '--cache', cluster.url, '--json']);
  assert.equal((JSON.parse(inv.stdout) as { removed: number }).removed, 10);
  const left = await Promise.all(cluster.nodes.map((n) => n.client().keys(`${KEY_PREFIX}*`)));
  assert.equal(left.flat().length, 0);
});

test('Sentinel: results survive a failover and the next run uses the promoted replica', async () => {
  const setup = await startSentinel();
  const dir = await tempDir();
  const first = await colorize(options(join(dir, 'a'), setup.url));
  assert.equal(first.totals.inferred, 10);
  assert.match(first.cache.location, /^sentinel 127\.0\.0\.1:\d+\/ddcolor-master$/);
  // Let the replica catch up, then kill the master and wait for the Sentinel to promote the replica.
  const deadline0 = Date.now() + 10_000;
  while ((await setup.replica.client().dbsize()) < 10 && Date.now() < deadline0) await new Promise((r) => setTimeout(r, 100));
  await setup.master.stop();
  const deadline = Date.now() + 30_000;
  while ((await setup.masterPort()) !== setup.replica.port) {
    if (Date.now() > deadline) throw new Error('no failover');
    await new Promise((r) => setTimeout(r, 200));
  }
  const second = await colorize(options(join(dir, 'b'), setup.url));
  assert.equal(second.cache.degraded, false);
  assert.equal(second.totals.hit, 10);
});

test('Redis Cluster over TLS (rediss-cluster://): colorize, a second run served from the cache, stats', async () => {
  const cluster = await startTlsCluster(3);
  const trust = { NODE_EXTRA_CA_CERTS: join(TLS_DIR, 'localhost.crt') };
  const dir = await tempDir();
  const run = async (out: string): Promise<{ totals: { hit: number; inferred: number; failed: number }; cache: { degraded: boolean; error: string | null } }> => {
    const r = await runCli(['colorize', album, '-o', join(dir, out), '--model', modelPath, '--size', '64', '--cache', cluster.url, '--json'], trust);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as { totals: { hit: number; inferred: number; failed: number }; cache: { degraded: boolean; error: string | null } };
  };
  const first = await run('a');
  assert.deepEqual([first.totals.inferred, first.cache.degraded], [10, false], first.cache.error ?? '');
  const second = await run('b');
  assert.deepEqual([second.totals.hit, second.cache.degraded], [10, false]);
  const stats = await runCli(['cache', 'stats', '--cache', cluster.url, '--json'], trust);
  assert.equal(stats.code, 0, stats.stderr);
  assert.equal((JSON.parse(stats.stdout) as { entries: number }).entries, 10);
});
