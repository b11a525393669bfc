/**
 * The cache interface shared by the Redis and embedded implementations. Every call is batched:
 * the pipeline asks for many keys at once and each implementation turns that into as few round
 * trips (or file reads) as it can.
 */
export type CacheBackend = 'redis' | 'file' | 'none';

export interface CacheEntry {
  key: string;
  value: Buffer;
}

export interface ModelUsage {
  modelId: string;
  size: number;
  entries: number;
  bytes: number;
}

export interface RedisMemoryInfo {
  usedMemory: number;
  maxmemory: number;
  policy: string;
  evictedKeys: number;
}

export interface CacheStats {
  backend: CacheBackend;
  location: string;
  entries: number;
  bytes: number;
  hits: number;
  misses: number;
  /** hits / (hits + misses), or null before any lookup. */
  hitRate: number | null;
  byModel: ModelUsage[];
  /** Redis: its memory and eviction policy (null for the other backends). */
  redis: RedisMemoryInfo | null;
  /** Embedded store: its size cap in bytes (null for the other backends). */
  maxBytes: number | null;
  warnings: string[];
}

export interface CacheStore {
  readonly backend: CacheBackend;
  /** Where the cache is: host:port or a folder. Never carries a password. */
  readonly location: string;
  /** Values for `keys`, in order; null for a miss. */
  getMany(keys: readonly string[]): Promise<Array<Buffer | null>>;
  /** Store entries with a TTL in milliseconds (each entry gets its own jitter). */
  setMany(entries: readonly CacheEntry[], ttlMs: number): Promise<void>;
  /** Delete these keys; returns how many existed. */
  deleteKeys(keys: readonly string[]): Promise<number>;
  /** Delete every ddcolor entry whose parsed key passes `match`; returns how many were removed. */
  deleteWhere(match: (key: string) => boolean): Promise<number>;
  /** Every ddcolor entry key that passes `match` (a full scan: for commands, never for a run). */
  keysWhere(match: (key: string) => boolean): Promise<string[]>;
  /**
   * Take short-lived locks guarding these entry keys (SET NX PX on Redis, exclusive files on the
   * embedded store); true where this owner got the lock. A lock expires by itself after `ttlMs`,
   * so a run that dies never blocks the others for long.
   */
  tryLock(keys: readonly string[], owner: string, ttlMs: number): Promise<boolean[]>;
  /** Release locks, only those this owner still holds. */
  unlock(keys: readonly string[], owner: string): Promise<void>;
  /** Extend locks this owner still holds. */
  refreshLocks(keys: readonly string[], owner: string, ttlMs: number): Promise<void>;
  /** Add to the lifetime hit/miss counters (called once a run, not per file). */
  addCounters(hits: number, misses: number): Promise<void>;
  stats(): Promise<CacheStats>;
  /** Close; `immediately`: drop the connection without waiting for the server (it failed). */
  close(immediately?: boolean): Promise<void>;
}

export function hitRate(hits: number, misses: number): number | null {
  return hits + misses === 0 ? null : hits / (hits + misses);
}

export function groupUsage(items: Iterable<{ modelId: string; size: number; bytes: number }>): ModelUsage[] {
  const map = new Map<string, ModelUsage>();
  for (const it of items) {
    const id = `${it.modelId}:${it.size}`;
    let u = map.get(id);
    if (!u) {
      u = { modelId: it.modelId, size: it.size, entries: 0, bytes: 0 };
      map.set(id, u);
    }
    u.entries++;
    u.bytes += it.bytes;
  }
  return [...map.values()].sort((a, b) => b.bytes - a.bytes);
}
