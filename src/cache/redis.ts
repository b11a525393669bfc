/**
 * Redis implementation of the cache, on ioredis.
 *
 * ioredis queues commands while disconnected and has no command timeout by default, so a dead
 * server makes a run wait forever. Here the offline queue is off, connect and commands have bounded
 * timeouts, and a request is retried at most once: a server that goes away fails fast, and the
 * pipeline degrades to no cache.
 *
 * Lookups are pipelined MGETs of at most `batchKeys` keys each (values are tens of KB, so a batch
 * stays a few MB): one round trip per call, never one per file.
 */
import { Redis, type RedisOptions } from 'ioredis';
import { KEY_PREFIX, STATS_KEY, jitteredTtl, parseKey } from './keys.js';
import { groupUsage, hitRate, type CacheEntry, type CacheStats, type CacheStore, type RedisMemoryInfo } from './store.js';

export interface RedisTimeouts {
  connectTimeoutMs: number;
  commandTimeoutMs: number;
}

export const DEFAULT_TIMEOUTS: RedisTimeouts = { connectTimeoutMs: 3000, commandTimeoutMs: 10000 };

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

/** host:port[/db] of a redis URL, without credentials. */
export function redisLocation(url: string): string {
  const u = new URL(url);
  const db = u.pathname && u.pathname !== '/' ? u.pathname : '';
  return `${u.hostname}:${u.port || '6379'}${db}`;
}

export function parseInfo(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) m.set(line.slice(0, i), line.slice(i + 1).trim());
  }
  return m;
}

export function memoryWarnings(info: RedisMemoryInfo): string[] {
  const w: string[] = [];
  if (info.maxmemory === 0) {
    w.push('maxmemory is not set: Redis will grow until the machine runs out of memory; set maxmemory and maxmemory-policy allkeys-lru (or volatile-lru)');
  }
  if (info.policy === 'noeviction') {
    w.push('maxmemory-policy is noeviction: once Redis is full it refuses writes instead of evicting old results; use allkeys-lru or volatile-lru');
  }
  return w;
}

export class RedisStore implements CacheStore {
  readonly backend = 'redis' as const;
  lastError: Error | null = null;

  constructor(
    readonly client: Redis,
    readonly location: string,
    readonly batchKeys = 64,
  ) {
    client.on('error', (err: Error) => {
      this.lastError = err;
    });
  }

  static fromUrl(url: string, timeouts: RedisTimeouts = DEFAULT_TIMEOUTS): RedisStore {
    return new RedisStore(new Redis(url, safeRedisOptions(timeouts)), redisLocation(url));
  }

  /** Connect within the connect timeout; rejects with the server's address in the message. */
  async open(): Promise<this> {
    if (this.client.status === 'ready') return this;
    try {
      await this.client.connect();
    } catch (err) {
      this.client.disconnect();
      throw new Error(`cannot connect to Redis at ${this.location}: ${(err as Error).message}`);
    }
    return this;
  }

  private chunks<T>(items: readonly T[], size = this.batchKeys): T[][] {
    const out: T[][] = [];
    for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
    return out;
  }

  async getMany(keys: readonly string[]): Promise<Array<Buffer | null>> {
    if (keys.length === 0) return [];
    const pipe = this.client.pipeline();
    const batches = this.chunks(keys);
    for (const b of batches) pipe.mgetBuffer(...b);
    const results = await pipe.exec();
    if (!results) throw new Error('Redis pipeline was aborted');
    const out: Array<Buffer | null> = [];
    for (const [err, values] of results) {
      if (err) throw err;
      out.push(...(values as Array<Buffer | null>));
    }
    return out;
  }

  async setMany(entries: readonly CacheEntry[], ttlMs: number): Promise<void> {
    for (const batch of this.chunks(entries)) {
      const pipe = this.client.pipeline();
      for (const { key, value } of batch) {
        if (ttlMs > 0) pipe.set(key, value, 'PX', jitteredTtl(ttlMs));
        else pipe.set(key, value);
      }
      const results = await pipe.exec();
      for (const [err] of results ?? []) if (err) throw err;
    }
  }

  async deleteKeys(keys: readonly string[]): Promise<number> {
    let n = 0;
    for (const batch of this.chunks(keys, 500)) n += await this.client.unlink(...batch);
    return n;
  }

  /** SCAN (never KEYS) over ddcolor's entries in batches. */
  private async scanKeys(onBatch: (keys: string[]) => Promise<void>): Promise<void> {
    let cursor = '0';
    do {
      const [next, keys] = await this.client.scan(cursor, 'MATCH', `${KEY_PREFIX}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await onBatch(keys);
    } while (cursor !== '0');
  }

  async deleteWhere(match: (key: string) => boolean): Promise<number> {
    let n = 0;
    await this.scanKeys(async (keys) => {
      const doomed = keys.filter((k) => parseKey(k) !== null && match(k));
      if (doomed.length > 0) n += await this.client.unlink(...doomed);
    });
    return n;
  }

  async addCounters(hits: number, misses: number): Promise<void> {
    if (hits === 0 && misses === 0) return;
    await this.client.pipeline().hincrby(STATS_KEY, 'hits', hits).hincrby(STATS_KEY, 'misses', misses).exec();
  }

  async memoryInfo(): Promise<RedisMemoryInfo> {
    const mem = parseInfo(await this.client.info('memory'));
    const st = parseInfo(await this.client.info('stats'));
    return {
      usedMemory: Number(mem.get('used_memory') ?? 0),
      maxmemory: Number(mem.get('maxmemory') ?? 0),
      policy: mem.get('maxmemory_policy') ?? 'unknown',
      evictedKeys: Number(st.get('evicted_keys') ?? 0),
    };
  }

  async stats(): Promise<CacheStats> {
    const usage: Array<{ modelId: string; size: number; bytes: number }> = [];
    await this.scanKeys(async (keys) => {
      const pipe = this.client.pipeline();
      for (const k of keys) pipe.strlen(k);
      const res = (await pipe.exec()) ?? [];
      keys.forEach((k, i) => {
        const parsed = parseKey(k);
        const bytes = Number(res[i]?.[1] ?? 0);
        if (parsed) usage.push({ modelId: parsed.modelId, size: parsed.size, bytes });
      });
    });
    const counters = await this.client.hgetall(STATS_KEY);
    const hits = Number(counters.hits ?? 0);
    const misses = Number(counters.misses ?? 0);
    const redis = await this.memoryInfo();
    return {
      backend: 'redis',
      location: this.location,
      entries: usage.length,
      bytes: usage.reduce((a, u) => a + u.bytes, 0),
      hits,
      misses,
      hitRate: hitRate(hits, misses),
      byModel: groupUsage(usage),
      redis,
      warnings: memoryWarnings(redis),
    };
  }

  async close(): Promise<void> {
    if (this.client.status === 'ready') {
      await this.client.quit().catch(() => this.client.disconnect());
    } else {
      this.client.disconnect();
    }
  }
}
