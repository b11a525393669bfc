/**
 * Two levels of cache: the local disk in front of a real shared Redis. Hits come from the local
 * level; an invalidation on the shared level reaches running local levels at once (pub/sub) and
 * levels opened later (the generation counter); two workers with an invalidate between their runs
 * infer again instead of serving what was invalidated.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createConnection, createServer, type Socket } from 'node:net';
import { GENERATION_KEY, INVALIDATION_CHANNEL, INVALIDATIONS_KEY, invalidate } from '../src/cache/invalidation.js';
import { cacheKey } from '../src/cache/keys.js';
import { openCache } from '../src/cache/open.js';
import { TieredStore } from '../src/cache/tiered.js';
import { tintModel } from '../src/models/tiny-model.js';
import { distinctPhotos } from './fixtures.js';
import { cleanup, runCli, spawnCli, startRedis, tempDir, type RedisServer, until } from './helpers.js';

let dir: string;
let redis: RedisServer;

before(async () => {
  dir = await tempDir();
  redis = await startRedis(['--maxmemory', '128mb', '--maxmemory-policy', 'volatile-lru']);
});
after(cleanup);

const sha = (i: number): string => createHash('sha256').update(String(i)).digest('hex');
const key = (i: number): string => cacheKey('tiermodel', 512, sha(i));

async function mgets(): Promise<number> {
  return Number(/cmdstat_mget:calls=(\d+)/.exec(await redis.client().info('commandstats'))?.[1] ?? 0);
}

async function openTiered(local: string): Promise<TieredStore> {
  const store = await openCache({ kind: 'redis', url: redis.url }, { localLevel: local });
  assert.ok(store instanceof TieredStore);
  return store;
}

/** Entries held in a local level's folders. */
async function localEntries(root: string): Promise<number> {
  const files = await readdir(join(root, 'levels'), { recursive: true }).catch(() => [] as string[]);
  return files.filter((f) => /entries\/..\/..\/[0-9a-f]{64}$/.test(f)).length;
}


test('hits come from the local level; misses are looked up in Redis, in one batch, and kept locally', async () => {
  const a = await openTiered(join(dir, 'local-a'));
  await a.setMany([1, 2, 3].map((i) => ({ key: key(i), value: Buffer.from(`value ${i}`) })), 60_000);
  const b = await openTiered(join(dir, 'local-b'));
  let before = await mgets();
  const first = await b.getMany([key(1), key(2), key(3), key(4)]);
  assert.deepEqual(first.map((v) => v?.toString() ?? null), ['value 1', 'value 2', 'value 3', null]);
  assert.equal((await mgets()) - before, 1, 'the misses in one MGET');
  before = await mgets();
  const again = await b.getMany([key(1), key(2), key(3)]);
  assert.deepEqual(again.map((v) => v?.toString()), ['value 1', 'value 2', 'value 3']);
  assert.equal(await mgets(), before, 'served from the local disk: Redis not asked');
  await a.close();
  await b.close();
});

test('an invalidation reaches a running local level at once, and one opened later; a level too far behind starts empty', async () => {
  const running = await openTiered(join(dir, 'local-run'));
  const later = join(dir, 'local-later');
  const early = await openTiered(later);
  await running.setMany([5, 6, 7].map((i) => ({ key: key(i), value: Buffer.from(`v${i}`) })), 60_000);
  await early.getMany([key(5), key(6), key(7)]); // now held locally there too
  await early.close();
  const r = await runCli(['cache', 'invalidate', '--sha256', sha(5), '--cache', redis.url, '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal((JSON.parse(r.stdout) as { removed: number }).removed, 1);
  // The running level dropped it when the message came (its local store alone is asked here).
  await until(async () => (await running.local.getMany([key(5)]))[0] === null);
  assert.notEqual((await running.local.getMany([key(6)]))[0], null, 'the others stay');
  // The level opened later replays what it missed on opening.
  const reopened = await openTiered(later);
  assert.equal((await reopened.local.getMany([key(5)]))[0], null, 'caught up on opening');
  assert.notEqual((await reopened.local.getMany([key(6)]))[0], null);
  await reopened.close();
  // A level that missed more than the log holds starts empty.
  const admin = redis.client();
  await admin.incrby(GENERATION_KEY, 5000);
  await admin.del(INVALIDATIONS_KEY);
  const behind = await openTiered(later);
  assert.deepEqual(await behind.local.getMany([key(6), key(7)]), [null, null]);
  assert.equal((await behind.getMany([key(6)]))[0]?.toString(), 'v6', 'still in Redis');
  await behind.close();
  await running.close();
});

test('an invalidation message that is not one (another program wrote to Redis) is never trusted: the local level assumes the worst and empties', async () => {
  const root = join(dir, 'local-garbage');
  const level = await openTiered(root);
  await level.setMany([21, 22].map((i) => ({ key: key(i), value: Buffer.from(`v${i}`) })), 60_000);
  assert.equal(await localEntries(root), 2);
  const admin = redis.client();
  // Well-formed JSON of the wrong shape: applied as it was, its "keys" string would drop nothing.
  const gen = await admin.incr(GENERATION_KEY);
  const bad = JSON.stringify({ gen, rule: { kind: 'keys', keys: key(21) } });
  await admin.lpush(INVALIDATIONS_KEY, bad);
  await admin.publish(INVALIDATION_CHANNEL, bad);
  await until(async () => (await localEntries(root)) === 0);
  assert.equal((await level.getMany([key(22)]))[0]?.toString(), 'v22', 'Redis still answers');
  await level.close();
  // A level opened later finds the bad entry in the log: it cannot replay it, so it starts empty.
  const later = join(dir, 'local-garbage-later');
  const early = await openTiered(later);
  await early.getMany([key(22)]);
  await early.close();
  const gen2 = await admin.incr(GENERATION_KEY);
  await admin.lpush(INVALIDATIONS_KEY, JSON.stringify({ gen: gen2, rule: { kind: 'match', shas: ['not-a-hash'], model: null } }));
  const reopened = await openTiered(later);
  assert.equal(await localEntries(later), 0);
  await reopened.close();
});

test('two workers, an invalidate between their runs: the second run infers again instead of serving the invalidated results', async () => {
  const model = join(dir, 'tint.onnx');
  await writeFile(model, tintModel(null));
  const album = await distinctPhotos(join(dir, 'w'), 4, 120, 8);
  const locals = [join(dir, 'worker-a'), join(dir, 'worker-b')];
  const workers = locals.map((l) => spawnCli(['worker', '--input-root', dir, '--output-root', dir, '--redis', redis.url, '--queue', 'tiers', '--model', model, '--local-cache', l, '--threads', '1']));
  const submit = (out: string) => runCli(['submit', album, '-o', join(dir, out), '--redis', redis.url, '--queue', 'tiers', '--model', model, '--size', '64', '--job-size', '1', '--wait', '--json']);
  const first = JSON.parse((await submit('out-1')).stdout) as { totals: { inferred: number; hit: number } };
  assert.equal(first.totals.inferred, 4);
  const held = (await localEntries(locals[0]!)) + (await localEntries(locals[1]!));
  assert.ok(held >= 4, `the workers' local levels hold the results (${held})`);
  const inv = await runCli(['cache', 'invalidate', album, '--model', model, '--size', '64', '--cache', redis.url]);
  assert.equal(inv.code, 0, inv.stderr);
  assert.match(inv.stdout, /removed 4 cached results/);
  await until(async () => (await localEntries(locals[0]!)) + (await localEntries(locals[1]!)) === 0);
  const second = JSON.parse((await submit('out-2')).stdout) as { totals: { inferred: number; hit: number } };
  assert.deepEqual([second.totals.inferred, second.totals.hit], [4, 0], 'inferred again, nothing served from a local level');
  for (const w of workers) w.child.kill('SIGTERM');
  for (const w of workers) assert.equal((await w.done).code, 0);
  const gen = await readFile(join(locals[0]!, 'levels', (await readdir(join(locals[0]!, 'levels')))[0]!, 'generation'), 'utf8');
  assert.equal(Number(gen), Number(await redis.client().get(GENERATION_KEY)), 'the local level is at the shared generation');
});

/** A TCP proxy in front of Redis that can be cut (every connection dropped, none accepted) and restored: a network cut. */
async function tcpProxy(target: number): Promise<{ port: number; cut(): Promise<void>; restore(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = createConnection(target, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    async cut() {
      const closed = new Promise<void>((res) => server.close(() => res()));
      for (const s of sockets) s.destroy();
      await closed;
    },
    async restore() {
      await new Promise<void>((res) => server.listen(port, '127.0.0.1', res));
    },
  };
}

test('a network cut: an invalidation published while the local level could not hear it is never served after the reconnect', async () => {
  const proxy = await tcpProxy(redis.port);
  const a = await openCache({ kind: 'redis', url: `redis://127.0.0.1:${proxy.port}` }, { localLevel: join(dir, 'local-cut') });
  assert.ok(a instanceof TieredStore);
  const k = key(101);
  await a.setMany([{ key: k, value: Buffer.from('old colours') }], 60_000);
  assert.equal((await a.getMany([k]))[0]?.toString(), 'old colours');
  await proxy.cut();
  // Another process (straight to Redis) invalidates the photo during the cut.
  const other = await openCache({ kind: 'redis', url: redis.url });
  await invalidate(other, { kind: 'keys', keys: [k] });
  await other.close();
  await proxy.restore();
  await until(async () => (await a.shared.client.ping().catch(() => null)) === 'PONG', 20_000);
  assert.deepEqual(await a.getMany([k]), [null], 'not served from the local level: Redis holds nothing');
  // Once caught up, the local level is used again.
  await until(async () => (await a.shared.client.ping().catch(() => null)) === 'PONG' && (await a.getMany([key(102)]), true), 20_000);
  await a.setMany([{ key: key(102), value: Buffer.from('new') }], 60_000);
  await a.shared.client.del(key(102));
  assert.equal((await a.getMany([key(102)]))[0]?.toString(), 'new', 'a hit from the local level again');
  await a.close();
});

test('an invalidation landing between the Redis write and the local write leaves nothing in the local level', async () => {
  const a = await openTiered(join(dir, 'local-race'));
  const other = await openCache({ kind: 'redis', url: redis.url });
  const k = key(201);
  const write = a.shared.setMany.bind(a.shared);
  a.shared.setMany = async (entries, ttlMs) => {
    await write(entries, ttlMs);
    // Between the two writes: another process invalidates, and its message reaches this level first.
    await invalidate(other, { kind: 'keys', keys: [k] });
    await new Promise((r) => setTimeout(r, 200));
  };
  await a.setMany([{ key: k, value: Buffer.from('stale') }], 60_000);
  a.shared.setMany = write;
  assert.equal(await redis.client().exists(k), 0, 'Redis holds nothing');
  assert.deepEqual(await a.getMany([k]), [null], 'nor does the local level');
  await other.close();
  await a.close();
});
