/**
 * Redis implementation of the cache, on ioredis: a single server, Sentinel (failover followed by
 * ioredis), or Redis Cluster.
 *
 * ioredis queues commands while disconnected and has no command timeout by default, so a dead
 * server makes a run wait forever. Here the offline queue is off, connect and commands have bounded
 * timeouts, and a request is retried at most once: a server that goes away fails fast, and the
 * pipeline degrades to no cache; ioredis keeps reconnecting in the background, so a server that
 * comes back is used again.
 *
 * Lookups are MGETs, never one command per file: a call's keys go in round trips of about
 * TRIP_BYTES of entries each (at most `batchKeys` keys), two under way at a time, so that Redis
 * never holds megabytes of replies for us; writes are pipelined SETs in round trips of the same
 * size. In a cluster, MGET across slots is refused (CROSSSLOT) and a pipeline must stay on one
 * node, so keys are grouped by node, then by slot: each node's round trips, nodes in parallel.
 */
import calculateSlot from 'cluster-key-slot';
import pMap from 'p-map';
import { Cluster, Redis, type ChainableCommander, type ClientContext, type ClusterOptions, type RedisOptions, type Result } from 'ioredis';
import { ConfigError } from '../errors.js';
import { ownerIsGone } from '../io/owner.js';
import { KEY_PREFIX, STATS_KEY, jitteredTtl, lockKeyFor, parseKey } from './keys.js';
import { DEFAULT_TIMEOUTS, redisLocation, type RedisTimeouts } from './redis-location.js';
import { hitRate, type CacheEntry, type CacheStats, type CacheStore, type ModelUsage, type RedisMemoryInfo } from './store.js';

/** ioredis options that never hang: no offline queue, bounded connect and command times. */
export function safeRedisOptions(t: RedisTimeouts = DEFAULT_TIMEOUTS): RedisOptions {
  return {
    lazyConnect: true,
    connectTimeout: t.connectTimeoutMs,
    commandTimeout: t.commandTimeoutMs,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    // Keep reconnecting in the background (a restarted server is used again), never faster than 0.2 s.
    retryStrategy: (times: number) => Math.min(200 * times, 2000),
  };
}

export type Topology = 'single' | 'sentinel' | 'cluster';

export function parseInfo(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) m.set(line.slice(0, i), line.slice(i + 1).trim());
  }
  return m;
}

/** How long an entry stored "for ever" (`--ttl 0`) lives on Redis: a year, so that it stays evictable. */
export const REDIS_FOREVER_MS = 365 * 86_400_000;

/**
 * What is wrong with a Redis's memory settings for ddcolor. Every cache entry has a TTL and no
 * queue key has one, so `volatile-lru` evicts old results and never the job queue.
 */
export function memoryWarnings(info: RedisMemoryInfo): string[] {
  const w: string[] = [];
  if (info.maxmemory === 0) {
    w.push('maxmemory is not set: Redis will grow until the machine runs out of memory; set maxmemory and maxmemory-policy volatile-lru');
  }
  if (info.policy.split(',').includes('noeviction')) {
    w.push('maxmemory-policy is noeviction: once Redis is full it refuses writes (results and queue alike) instead of evicting old results; use volatile-lru');
  }
  if (info.policy.split(',').some((p) => p.startsWith('allkeys-'))) {
    w.push(
      `maxmemory-policy ${info.policy} may evict any key, a job queue's too (ddcolor submit and worker): use volatile-lru, which evicts only keys with a TTL (every cache entry has one, no queue key does), or give the queue a Redis of its own (--queue-redis)`,
    );
  }
  return w;
}

/**
 * The lock scripts, defined once per client with ioredis' defineCommand: sent by EVALSHA (a
 * 40-byte hash instead of the script), loaded by ioredis where a server does not know them yet.
 */
const LOCK_SCRIPTS = {
  /** Compare-and-delete: release a lock only if this run still owns it. */
  ddcolorUnlock: { numberOfKeys: 1, lua: "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end" },
  /** Compare-and-extend: keep a lock this run still owns (ARGV[2]: milliseconds). */
  ddcolorRefreshLock: { numberOfKeys: 1, lua: "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end" },
};

declare module 'ioredis' {
  interface RedisCommander<Context extends ClientContext = { type: 'default' }> {
    ddcolorUnlock(key: string, owner: string): Result<number, Context>;
    ddcolorRefreshLock(key: string, owner: string, ttlMs: string): Result<number, Context>;
  }
}

type Client = Redis | Cluster;

/**
 * Why a connection failed, in words a user can act on. ioredis rejects connect() with
 * "Connection is closed." and reports the cause (a refused connection, a TLS certificate it
 * does not trust, a wrong password) on its 'error' event: say that cause.
 */
export function connectFailure(err: Error, cause: Error | null): string {
  const reason = cause && cause.message !== err.message ? cause.message : err.message;
  const code = (cause as NodeJS.ErrnoException | null)?.code ?? '';
  const tlsTrust = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code) || /certificate/i.test(reason);
  return tlsTrust ? `${reason} (TLS: to trust a private CA, set NODE_EXTRA_CA_CERTS to its PEM file)` : reason;
}

/** Keys sent together (one MGET, or one SET each), with their places in the caller's list. */
interface KeyGroup {
  indices: number[];
  keys: string[];
}

/** Keys of one batch that go to one node, split into groups that may share a multi-key command. */
interface NodeGroup {
  node: string;
  groups: KeyGroup[];
}

/**
 * The most entry bytes one round trip asks a node to send or take. A pipeline of megabytes makes
 * Redis buffer the whole reply (or request) in fresh memory before it goes out; round trips of
 * about half a megabyte, two under way at a time, keep its buffers small and reused (measured:
 * scripts/bench-targets.ts redis, BENCHMARKS.md), with still few round trips a batch.
 */
export const TRIP_BYTES = 512 * 1024;
/** Round trips under way to one node at once: while Redis answers one, the next is on its way. */
const TRIPS_IN_FLIGHT = 2;

function keysPerTrip(meanEntryBytes: number, most: number): number {
  return Math.max(1, Math.min(most, Math.floor(TRIP_BYTES / Math.max(1, meanEntryBytes))));
}

/** Groups of at most `size` of these key indices. */
function chunked(indices: number[], keys: readonly string[], size: number): KeyGroup[] {
  const out: KeyGroup[] = [];
  for (let i = 0; i < indices.length; i += size) {
    const part = indices.slice(i, i + size);
    out.push({ indices: part, keys: part.map((j) => keys[j]!) });
  }
  return out;
}

/** Consecutive groups packed into round trips of at most `perTrip` keys (a group never split). */
function trips(groups: KeyGroup[], perTrip: number): KeyGroup[][] {
  const out: KeyGroup[][] = [];
  let current: KeyGroup[] = [];
  let n = 0;
  for (const g of groups) {
    if (current.length && n + g.keys.length > perTrip) {
      out.push(current);
      current = [];
      n = 0;
    }
    current.push(g);
    n += g.keys.length;
  }
  if (current.length) out.push(current);
  return out;
}

export class RedisStore implements CacheStore {
  readonly backend = 'redis' as const;
  lastError: Error | null = null;
  /** The mean size of the entries the last lookup found (a guess until one is found). */
  private meanEntryBytes = 16 * 1024;

  constructor(
    readonly client: Client,
    readonly location: string,
    readonly topology: Topology = client instanceof Cluster ? 'cluster' : 'single',
    readonly batchKeys = 64,
  ) {
    client.on('error', (err: Error) => {
      this.lastError = err;
    });
    for (const [name, script] of Object.entries(LOCK_SCRIPTS)) client.defineCommand(name, script);
  }

  static single(url: string, timeouts: RedisTimeouts = DEFAULT_TIMEOUTS, location?: string): RedisStore {
    return new RedisStore(new Redis(url, safeRedisOptions(timeouts)), location ?? redisLocation(url), 'single');
  }

  static sentinel(options: RedisOptions, location: string, timeouts: RedisTimeouts = DEFAULT_TIMEOUTS): RedisStore {
    return new RedisStore(new Redis({ ...safeRedisOptions(timeouts), ...options }), location, 'sentinel');
  }

  static cluster(nodes: Array<{ host: string; port: number }>, redisOptions: RedisOptions, location: string, timeouts: RedisTimeouts = DEFAULT_TIMEOUTS): RedisStore {
    const options: ClusterOptions = {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRedirections: 4,
      retryDelayOnFailover: 100,
      retryDelayOnClusterDown: 100,
      slotsRefreshTimeout: timeouts.connectTimeoutMs,
      clusterRetryStrategy: (times: number) => Math.min(200 * times, 2000),
      // Node connections queue while they connect (the cluster's own CLUSTER SLOTS goes through them);
      // their command timeout still bounds every wait, and the cluster itself has no offline queue.
      redisOptions: { ...safeRedisOptions(timeouts), lazyConnect: false, enableOfflineQueue: true, ...redisOptions },
    };
    return new RedisStore(new Cluster(nodes, options), location, 'cluster');
  }

  /** Connect within the connect timeout; rejects with the server's address in the message. */
  async open(timeoutMs = DEFAULT_TIMEOUTS.connectTimeoutMs * 2): Promise<this> {
    if (this.client.status === 'ready') return this;
    let timer: NodeJS.Timeout | undefined;
    try {
      // A cluster or a Sentinel keeps retrying behind connect(); bound the wait here.
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      });
      if (this.topology === 'single') {
        await Promise.race([this.client.connect(), deadline]);
      } else {
        // A cluster (or a Sentinel) may fail its first ready check and get ready on a retry, and
        // ioredis then leaves connect()'s promise pending: wait for the 'ready' event instead.
        const ready = new Promise<void>((resolve) => this.client.once('ready', () => resolve()));
        this.client.connect().catch(() => undefined);
        await Promise.race([ready, deadline]);
        await Promise.race([this.client.ping(), deadline]);
      }
    } catch (err) {
      this.client.disconnect();
      throw new Error(`cannot connect to Redis at ${this.location}: ${connectFailure(err as Error, this.lastError)}`);
    } finally {
      clearTimeout(timer);
    }
    await this.checkDatabase();
    return this;
  }

  /**
   * ioredis selects the URL's database on connect but ignores the server's refusal (an index past
   * its `databases` setting) and goes on in database 0. Select it again and wait for the answer: a
   * database the server does not have is a configuration error, never another database.
   */
  private async checkDatabase(): Promise<void> {
    if (this.client instanceof Cluster) return;
    const db = Number(this.client.options.db ?? 0);
    if (!db) return;
    try {
      await this.client.select(db);
    } catch (err) {
      this.client.disconnect();
      throw new ConfigError(`Redis at ${this.location}: database ${db}: ${(err as Error).message} (the server's 'databases' setting says how many it has)`);
    }
  }

  /**
   * Group keys so that each pipeline talks to one node and each multi-key command to one slot,
   * with at most `size` keys a group.
   */
  private plan(keys: readonly string[], size: number): NodeGroup[] {
    if (!(this.client instanceof Cluster)) return [{ node: 'single', groups: chunked(keys.map((_, i) => i), keys, size) }];
    const slots = this.client.slots;
    const byNode = new Map<string, Map<number, number[]>>();
    keys.forEach((key, i) => {
      const slot = calculateSlot(key);
      const node = slots[slot]?.[0] ?? 'unknown';
      let n = byNode.get(node);
      if (!n) byNode.set(node, (n = new Map()));
      let g = n.get(slot);
      if (!g) n.set(slot, (g = []));
      g.push(i);
    });
    return [...byNode].map(([node, m]) => ({ node, groups: [...m.values()].flatMap((indices) => chunked(indices, keys, size)) }));
  }

  /**
   * Run the groups' commands, nodes in parallel; on each node, pipelines of at most `perTrip` keys,
   * TRIPS_IN_FLIGHT at a time (all in one pipeline by default). `add` queues a group's commands.
   */
  private async perNode(
    keys: readonly string[],
    add: (pipe: ChainableCommander, group: KeyGroup) => number,
    take: (result: unknown, group: KeyGroup, commandIndex: number) => void,
    perTrip = Infinity,
  ): Promise<void> {
    if (keys.length === 0) return;
    await Promise.all(
      this.plan(keys, Math.min(perTrip, this.batchKeys)).map(async (node) => {
        await pMap(trips(node.groups, perTrip), (trip) => this.roundTrip(trip, add, take), { concurrency: TRIPS_IN_FLIGHT });
      }),
    );
  }

  /** One pipeline of these groups' commands, its replies handed to `take`. */
  private async roundTrip(
    groups: KeyGroup[],
    add: (pipe: ChainableCommander, group: KeyGroup) => number,
    take: (result: unknown, group: KeyGroup, commandIndex: number) => void,
  ): Promise<void> {
    const pipe = this.client.pipeline();
    const counts = groups.map((g) => add(pipe, g));
    const results = await pipe.exec();
    if (!results) throw new Error('Redis pipeline was aborted');
    let r = 0;
    groups.forEach((g, gi) => {
      for (let c = 0; c < counts[gi]!; c++, r++) {
        const [err, value] = results[r]!;
        if (err) throw err;
        take(value, g, c);
      }
    });
  }

  /** Keys a round trip of lookups asks for: about TRIP_BYTES of the entries seen so far. */
  lookupKeysPerTrip(): number {
    return keysPerTrip(this.meanEntryBytes, this.batchKeys);
  }

  async getMany(keys: readonly string[]): Promise<Array<Buffer | null>> {
    const out: Array<Buffer | null> = new Array(keys.length).fill(null);
    let found = 0;
    let bytes = 0;
    await this.perNode(
      keys,
      (pipe, g) => {
        pipe.mgetBuffer(...g.keys);
        return 1;
      },
      (values, g) =>
        (values as Array<Buffer | null>).forEach((v, k) => {
          out[g.indices[k]!] = v;
          if (!v) return;
          found++;
          bytes += v.length;
        }),
      this.lookupKeysPerTrip(),
    );
    if (found) this.meanEntryBytes = bytes / found;
    return out;
  }

  async setMany(entries: readonly CacheEntry[], ttlMs: number): Promise<void> {
    const byKey = new Map(entries.map((e) => [e.key, e.value]));
    if (byKey.size === 0) return;
    const mean = [...byKey.values()].reduce((n, v) => n + v.length, 0) / byKey.size;
    await this.perNode(
      [...byKey.keys()],
      (pipe, g) => {
        for (const key of g.keys) {
          pipe.set(key, byKey.get(key)!, 'PX', jitteredTtl(ttlMs > 0 ? ttlMs : REDIS_FOREVER_MS));
        }
        return g.keys.length;
      },
      () => undefined,
      keysPerTrip(mean, this.batchKeys),
    );
  }

  async deleteKeys(keys: readonly string[]): Promise<number> {
    let n = 0;
    await this.perNode(
      keys,
      (pipe, g) => {
        pipe.unlink(...g.keys);
        return 1;
      },
      (count) => (n += Number(count)),
    );
    return n;
  }

  /**
   * SET NX PX each lock; a lock held by a run that is provably gone (same host, its process no
   * longer exists: a killed run) is deleted, only if still that run's, and taken at once.
   */
  async tryLock(keys: readonly string[], owner: string, ttlMs: number): Promise<boolean[]> {
    const out = await this.setLocks(keys, owner, ttlMs);
    const denied = keys.filter((_, i) => !out[i]);
    if (denied.length === 0) return out;
    const holders = await this.lockHolders(denied);
    const byGoneOwner = new Map<string, string[]>();
    denied.forEach((k, i) => {
      const h = holders[i];
      if (h && ownerIsGone(h)) byGoneOwner.set(h, [...(byGoneOwner.get(h) ?? []), k]);
    });
    if (byGoneOwner.size === 0) return out;
    for (const [gone, ks] of byGoneOwner) await this.unlock(ks, gone);
    const retry = [...byGoneOwner.values()].flat();
    const again = await this.setLocks(retry, owner, ttlMs);
    const index = new Map(keys.map((k, i) => [k, i]));
    retry.forEach((k, i) => (out[index.get(k)!] = again[i]!));
    return out;
  }

  private async setLocks(keys: readonly string[], owner: string, ttlMs: number): Promise<boolean[]> {
    const out: boolean[] = new Array(keys.length).fill(false);
    await this.perNode(
      keys.map(lockKeyFor),
      (pipe, g) => {
        for (const k of g.keys) pipe.set(k, owner, 'PX', ttlMs, 'NX');
        return g.keys.length;
      },
      (reply, g, c) => (out[g.indices[c]!] = reply === 'OK'),
    );
    return out;
  }

  /** Who holds each of these entries' locks (null: nobody). */
  private async lockHolders(keys: readonly string[]): Promise<Array<string | null>> {
    const out: Array<string | null> = new Array(keys.length).fill(null);
    await this.perNode(
      keys.map(lockKeyFor),
      (pipe, g) => {
        for (const k of g.keys) pipe.get(k);
        return g.keys.length;
      },
      (reply, g, c) => (out[g.indices[c]!] = typeof reply === 'string' ? reply : null),
    );
    return out;
  }

  async unlock(keys: readonly string[], owner: string): Promise<void> {
    await this.perNode(
      keys.map(lockKeyFor),
      (pipe, g) => {
        for (const k of g.keys) pipe.ddcolorUnlock(k, owner);
        return g.keys.length;
      },
      () => undefined,
    );
  }

  async refreshLocks(keys: readonly string[], owner: string, ttlMs: number): Promise<void> {
    await this.perNode(
      keys.map(lockKeyFor),
      (pipe, g) => {
        for (const k of g.keys) pipe.ddcolorRefreshLock(k, owner, String(ttlMs));
        return g.keys.length;
      },
      () => undefined,
    );
  }

  /** The servers that hold data: the masters of a cluster, or the one server. */
  private masters(): Redis[] {
    return this.client instanceof Cluster ? this.client.nodes('master') : [this.client];
  }

  /** SCAN (never KEYS) over ddcolor's entries in batches, on every master. */
  private async scanKeys(onBatch: (node: Redis, keys: string[]) => Promise<void>): Promise<void> {
    for (const node of this.masters()) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', `${KEY_PREFIX}*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) await onBatch(node, keys);
      } while (cursor !== '0');
    }
  }

  async keysWhere(match: (key: string) => boolean): Promise<string[]> {
    const found: string[] = [];
    await this.scanKeys(async (_node, keys) => {
      for (const k of keys) if (parseKey(k) !== null && match(k)) found.push(k);
    });
    return found;
  }

  async deleteWhere(match: (key: string) => boolean): Promise<number> {
    let n = 0;
    await this.scanKeys(async (node, keys) => {
      const doomed = keys.filter((k) => parseKey(k) !== null && match(k));
      if (doomed.length === 0) return;
      // UNLINK in one call per slot (a cluster refuses multi-key commands across slots).
      const bySlot = new Map<number, string[]>();
      for (const k of doomed) {
        const s = this.client instanceof Cluster ? calculateSlot(k) : 0;
        bySlot.set(s, [...(bySlot.get(s) ?? []), k]);
      }
      const pipe = node.pipeline();
      for (const ks of bySlot.values()) pipe.unlink(...ks);
      for (const [err, count] of (await pipe.exec()) ?? []) {
        if (err) throw err;
        n += Number(count);
      }
    });
    return n;
  }

  async addCounters(hits: number, misses: number): Promise<void> {
    if (hits === 0 && misses === 0) return;
    await this.client.pipeline().hincrby(STATS_KEY, 'hits', hits).hincrby(STATS_KEY, 'misses', misses).exec();
  }

  async memoryInfo(): Promise<RedisMemoryInfo> {
    const infos = await Promise.all(
      this.masters().map(async (node) => ({ mem: parseInfo(await node.info('memory')), st: parseInfo(await node.info('stats')) })),
    );
    const sum = (f: (i: (typeof infos)[number]) => string | undefined): number => infos.reduce((a, i) => a + Number(f(i) ?? 0), 0);
    const policies = [...new Set(infos.map((i) => i.mem.get('maxmemory_policy') ?? 'unknown'))];
    const anyUnlimited = infos.some((i) => Number(i.mem.get('maxmemory') ?? 0) === 0);
    return {
      usedMemory: sum((i) => i.mem.get('used_memory')),
      maxmemory: anyUnlimited ? 0 : sum((i) => i.mem.get('maxmemory')),
      policy: policies.includes('noeviction') ? 'noeviction' : policies.join(','),
      evictedKeys: sum((i) => i.st.get('evicted_keys')),
    };
  }

  async stats(): Promise<CacheStats> {
    // Summed batch by batch: a Redis with millions of entries is never held key by key in memory.
    const totals = new Map<string, ModelUsage>();
    await this.scanKeys(async (node, keys) => {
      const pipe = node.pipeline();
      for (const k of keys) pipe.strlen(k);
      const res = (await pipe.exec()) ?? [];
      keys.forEach((k, i) => {
        const parsed = parseKey(k);
        if (!parsed) return;
        const id = `${parsed.modelId}:${parsed.size}`;
        const t = totals.get(id) ?? { modelId: parsed.modelId, size: parsed.size, entries: 0, bytes: 0 };
        t.entries++;
        t.bytes += Number(res[i]?.[1] ?? 0);
        totals.set(id, t);
      });
    });
    const byModel = [...totals.values()].sort((a, b) => b.bytes - a.bytes);
    // Counters are Redis data: one another program set to a non-count reads as 0, never NaN.
    const counters = await this.client.hgetall(STATS_KEY);
    const asCount = (v: string | undefined): number => (v !== undefined && /^\d{1,16}$/.test(v) ? Number(v) : 0);
    const hits = asCount(counters.hits);
    const misses = asCount(counters.misses);
    const redis = await this.memoryInfo();
    return {
      backend: 'redis',
      location: this.location,
      entries: byModel.reduce((a, u) => a + u.entries, 0),
      bytes: byModel.reduce((a, u) => a + u.bytes, 0),
      hits,
      misses,
      hitRate: hitRate(hits, misses),
      byModel,
      redis,
      maxBytes: null,
      warnings: memoryWarnings(redis),
    };
  }

  async close(immediately = false): Promise<void> {
    if (this.client.status === 'ready' && !immediately) {
      await this.client.quit().catch(() => this.client.disconnect());
    } else {
      this.client.disconnect();
    }
  }
}
