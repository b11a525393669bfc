/**
 * Two levels of cache: the embedded store on this machine's disk in front of the shared Redis.
 * Hits come from the local disk; misses are looked up in Redis in batches (and kept locally);
 * results are written to both. Locks and counters are the shared level's: they coordinate machines.
 *
 * A local level never serves what the shared level has invalidated since:
 * - it belongs to one Redis (its folder is named after the server's address and an identity kept in
 *   the server, so a Redis that lost its data gets a new, empty local level);
 * - it remembers the last invalidation generation it applied; when it opens behind the shared
 *   counter it replays the invalidations it missed from the shared log, or starts empty when the
 *   log no longer reaches back that far;
 * - while open it listens for invalidations (Redis pub/sub) and applies each at once;
 * - what was published while its connection was down is never heard: from the moment the
 *   listening connection drops until it is back and the level has caught up again (replaying the
 *   log as at open), the local level serves nothing and keeps nothing;
 * - a value it keeps (fetched from or written to Redis) is dropped again when the shared
 *   generation moved while it was being kept: an invalidation may have landed between the two
 *   levels' writes, and the local level must not hold what Redis no longer does.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Cluster, type Redis } from 'ioredis';
import { writeFileAtomically } from '../io/atomic-write.js';
import { FileStore } from './file.js';
import { applyRule, GENERATION_KEY, INVALIDATION_CHANNEL, INVALIDATIONS_KEY, parseInvalidation, type Invalidation } from './invalidation.js';
import type { RedisStore } from './redis.js';
import type { CacheEntry, CacheStats, CacheStore } from './store.js';

/** Identifies the server's data: set once (no TTL, never evicted under volatile-lru). */
export const IDENTITY_KEY = 'ddcolor:identity:v1';
/** How long a value fetched from the shared level lives in the local one. */
const LOCAL_TTL_MS = 30 * 86_400_000;
/** The local level is brought back under its cap after this many bytes written (a worker runs for weeks). */
const PRUNE_EVERY_BYTES = 256 * 1024 ** 2;

async function identityOf(client: Redis | Cluster): Promise<string> {
  await client.set(IDENTITY_KEY, randomBytes(8).toString('hex'), 'NX');
  return (await client.get(IDENTITY_KEY)) ?? 'unknown';
}

async function readGeneration(path: string): Promise<number> {
  const n = Number((await readFile(path, 'utf8').catch(() => '')).trim());
  return Number.isInteger(n) && n >= 0 ? n : -1;
}

export class TieredStore implements CacheStore {
  readonly backend = 'redis' as const;
  private gen = -1;
  private subscriber: Redis | Cluster | null = null;
  private applying: Promise<unknown> = Promise.resolve();
  private writtenSincePrune = 0;
  /** The listening connection is up and the level caught up since it came up: only then is the local level used. */
  private live = false;
  /** The catch-up under way after a (re)connect, if any. */
  private catchingUp: Promise<void> | null = null;

  private constructor(
    readonly local: FileStore,
    readonly shared: RedisStore,
    private readonly genPath: string,
  ) {}

  get location(): string {
    return this.shared.location;
  }

  /** The local level for `shared` under `localRoot`, brought up to date with the shared generation, listening. */
  static async open(shared: RedisStore, localRoot: string): Promise<TieredStore> {
    const identity = await identityOf(shared.client);
    const id = createHash('sha256').update(`${shared.location}\n${identity}`).digest('hex').slice(0, 16);
    const dir = join(localRoot, 'levels', id);
    const store = new TieredStore(await new FileStore(dir).open(), shared, join(dir, 'generation'));
    try {
      await store.listen();
      await store.catchUp();
      store.live = true;
    } catch (err) {
      store.subscriber?.disconnect();
      throw err;
    }
    return store;
  }

  /** Subscribe first, so that nothing published between catching up and listening is missed. */
  private async listen(): Promise<void> {
    const client = this.shared.client;
    // Its own connection (a subscribed one can do nothing else), that queues the SUBSCRIBE while it connects.
    const sub: Redis | Cluster = client instanceof Cluster ? client.duplicate(undefined, { enableOfflineQueue: true, lazyConnect: false }) : client.duplicate({ enableOfflineQueue: true, lazyConnect: false });
    sub.on('error', () => undefined);
    sub.on('message', (_channel: string, text: string) => {
      // A message that is not an invalidation still says something was dropped: drop it all here.
      const inv = parseInvalidation(text);
      this.applying = this.applying.then(() => (inv ? this.apply(inv) : this.dropAll())).catch(() => undefined);
    });
    // Dropped: whatever is published now is not heard. Back (ioredis subscribes again): catch up first.
    sub.on('close', () => {
      this.live = false;
    });
    sub.on('ready', () => {
      if (this.subscriber === sub && !this.live) void this.recover();
    });
    this.subscriber = sub;
    await sub.subscribe(INVALIDATION_CHANNEL);
  }

  /** After a reconnect: replay what was missed, then use the local level again. */
  private recover(): Promise<void> {
    this.catchingUp ??= this.catchUp()
      .then(() => {
        this.live = this.subscriber?.status === 'ready';
      })
      .catch(() => undefined)
      .finally(() => {
        this.catchingUp = null;
      });
    return this.catchingUp;
  }

  /** Replay the invalidations this level missed, or empty it when the log does not reach back. */
  private async catchUp(): Promise<void> {
    const mine = await readGeneration(this.genPath);
    const current = Number((await this.shared.client.get(GENERATION_KEY)) ?? 0);
    if (mine === current) {
      this.gen = mine;
      return;
    }
    const missed = (await this.shared.client.lrange(INVALIDATIONS_KEY, 0, -1))
      .map(parseInvalidation)
      .filter((i): i is Invalidation => i !== null && i.gen > mine && i.gen <= current)
      .sort((a, b) => a.gen - b.gen);
    const complete = mine >= 0 && missed.length === current - mine;
    if (complete) for (const inv of missed) await applyRule(this.local, inv.rule);
    else await this.local.deleteWhere(() => true);
    await this.setGeneration(current);
  }

  private async dropAll(): Promise<void> {
    await this.local.deleteWhere(() => true);
  }

  private async apply(inv: Invalidation): Promise<void> {
    await applyRule(this.local, inv.rule);
    await this.setGeneration(Math.max(this.gen, inv.gen));
  }

  private async setGeneration(gen: number): Promise<void> {
    this.gen = gen;
    await writeFileAtomically(this.genPath, String(gen));
  }

  async getMany(keys: readonly string[]): Promise<Array<Buffer | null>> {
    // Not listening, or not caught up since the connection came back: catch up, or Redis alone answers.
    if (!this.live && this.subscriber?.status === 'ready') await this.recover();
    if (!this.live) return this.shared.getMany(keys);
    const out = await this.local.getMany(keys);
    const missing = keys.filter((_, i) => out[i] === null);
    if (missing.length === 0) return out;
    const genBefore = this.gen;
    const fetched = await this.shared.getMany(missing);
    const keep: CacheEntry[] = [];
    let m = 0;
    for (let i = 0; i < keys.length; i++) {
      if (out[i] !== null) continue;
      const v = fetched[m++] ?? null;
      out[i] = v;
      if (v) keep.push({ key: keys[i]!, value: v });
    }
    // An invalidation that came in meanwhile may concern these values: serve them, keep none.
    await this.applying;
    if (keep.length > 0 && this.gen === genBefore) await this.keepLocally(keep, LOCAL_TTL_MS, genBefore);
    return out;
  }

  async setMany(entries: readonly CacheEntry[], ttlMs: number): Promise<void> {
    const genBefore = this.gen;
    await this.shared.setMany(entries, ttlMs);
    if (this.live) await this.keepLocally(entries, ttlMs > 0 ? Math.min(ttlMs, LOCAL_TTL_MS) : LOCAL_TTL_MS, genBefore);
  }

  /**
   * Write to the local level (a failure there only costs a later lookup), keeping it under its cap;
   * then, when the shared generation is no longer the one this started from (an invalidation may
   * have landed between the Redis write or read and this one), drop them again.
   */
  private async keepLocally(entries: readonly CacheEntry[], ttlMs: number, genBefore: number): Promise<void> {
    await this.local.setMany(entries, ttlMs).catch(() => undefined);
    const now = await this.shared.client.get(GENERATION_KEY).then((g) => Number(g ?? 0), () => Number.NaN);
    if (now !== genBefore) await this.local.deleteKeys(entries.map((e) => e.key)).catch(() => undefined);
    this.writtenSincePrune += entries.reduce((n, e) => n + e.value.length, 0);
    if (this.writtenSincePrune >= PRUNE_EVERY_BYTES) {
      this.writtenSincePrune = 0;
      await this.local.prune().catch(() => undefined);
    }
  }

  async deleteKeys(keys: readonly string[]): Promise<number> {
    await this.local.deleteKeys(keys);
    return this.shared.deleteKeys(keys);
  }

  async deleteWhere(match: (key: string) => boolean): Promise<number> {
    await this.local.deleteWhere(match);
    return this.shared.deleteWhere(match);
  }

  /** The shared level holds every entry the local one may. */
  keysWhere(match: (key: string) => boolean): Promise<string[]> {
    return this.shared.keysWhere(match);
  }

  tryLock(keys: readonly string[], owner: string, ttlMs: number): Promise<boolean[]> {
    return this.shared.tryLock(keys, owner, ttlMs);
  }

  unlock(keys: readonly string[], owner: string): Promise<void> {
    return this.shared.unlock(keys, owner);
  }

  refreshLocks(keys: readonly string[], owner: string, ttlMs: number): Promise<void> {
    return this.shared.refreshLocks(keys, owner, ttlMs);
  }

  addCounters(hits: number, misses: number): Promise<void> {
    return this.shared.addCounters(hits, misses);
  }

  stats(): Promise<CacheStats> {
    return this.shared.stats();
  }

  async close(immediately?: boolean): Promise<void> {
    this.subscriber?.disconnect();
    this.subscriber = null;
    await this.applying;
    await this.local.close();
    await this.shared.close(immediately);
  }
}
