/**
 * The model's results within a run: those in flight (identical photos wait for the first), those
 * recently made (a duplicate later in the run), stored in the cache in batches as they come (one
 * write at a time, the next batch gathering meanwhile, so other runs waiting on a photo see its
 * result soon; its lock is released once stored), and cached values decoded and verified.
 */
import { CorruptValueError, decodeAb, type AbPlanes } from '../chroma/codec.js';
import type { CacheEntry } from '../cache/store.js';
import type { GuardedCache } from './guarded-cache.js';
import type { PhotoLocks } from './photo-locks.js';

const WRITE_BATCH = 32;
/** Results kept in memory for duplicates later in the same run (encoded: tens of KB each). */
const RECENT_RESULTS = 512;

export class Results {
  /** Results being made, by content hash. */
  readonly inflight = new Map<string, Promise<AbPlanes>>();
  private readonly recent = new Map<string, Buffer>();
  private readonly damaged = new Set<string>();
  private writes: CacheEntry[] = [];
  private writing: Promise<void> | null = null;

  constructor(
    private readonly cache: GuardedCache,
    private readonly locks: PhotoLocks,
    private readonly size: number,
    private readonly ttlMs: number,
    private readonly warn: (message: string) => void,
  ) {}

  /** A result made earlier in this run, still in memory. */
  recentValue(sha: string): Buffer | undefined {
    return this.recent.get(sha);
  }

  /** A new result: kept for duplicates, and queued for the cache under `key`. */
  store(sha: string, key: string, value: Buffer): void {
    this.recent.set(sha, value);
    if (this.recent.size > RECENT_RESULTS) this.recent.delete(this.recent.keys().next().value!);
    this.writes.push({ key, value });
    void this.flush();
  }

  /** Every queued result written (or dropped, when the cache fails). */
  flush(): Promise<void> {
    return (this.writing ??= this.drain());
  }

  private async drain(): Promise<void> {
    while (this.writes.length > 0) {
      const batch = this.writes.splice(0, WRITE_BATCH);
      await this.cache.setMany(batch, this.ttlMs);
      await this.locks.release(batch.map((e) => e.key));
    }
    this.writing = null;
  }

  /** A cached value decoded and verified; null (said once per photo) when it is damaged. */
  decode(sha: string, path: string, value: Buffer): AbPlanes | null {
    try {
      return decodeAb(value, this.size);
    } catch (err) {
      if (!(err instanceof CorruptValueError)) throw err;
      if (!this.damaged.has(sha)) this.warn(`cached result for ${path} is damaged (${err.message}): inferring it again`);
      this.damaged.add(sha);
      return null;
    }
  }
}
