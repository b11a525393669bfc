import type { CacheStats, CacheStore } from './store.js';

/** `--cache none`: every lookup misses, nothing is stored. */
export class NoneStore implements CacheStore {
  readonly backend = 'none' as const;
  readonly location = 'none';

  async getMany(keys: readonly string[]): Promise<Array<Buffer | null>> {
    return keys.map(() => null);
  }
  async setMany(): Promise<void> {}
  async deleteKeys(): Promise<number> {
    return 0;
  }
  async deleteWhere(): Promise<number> {
    return 0;
  }
  async keysWhere(): Promise<string[]> {
    return [];
  }
  /** Nothing is shared, so every lock is granted. */
  async tryLock(keys: readonly string[]): Promise<boolean[]> {
    return keys.map(() => true);
  }
  async unlock(): Promise<void> {}
  async refreshLocks(): Promise<void> {}
  async addCounters(): Promise<void> {}
  async stats(): Promise<CacheStats> {
    return { backend: 'none', location: 'none', entries: 0, bytes: 0, hits: 0, misses: 0, hitRate: null, byModel: [], redis: null, maxBytes: null, warnings: [] };
  }
  async close(): Promise<void> {}
}
