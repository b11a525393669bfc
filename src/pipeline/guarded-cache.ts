/**
 * The cache as the pipeline sees it: never the reason a run fails. The first error warns once and
 * marks the run degraded; the cache is then left alone for a while (`retryAfterMs`) and tried again,
 * so a Redis that comes back within the run is used again. A lookup that fails is a miss; a write
 * that fails is dropped.
 */
import { errorMessage } from '../errors.js';
import type { CacheEntry, CacheStore } from '../cache/store.js';
import { redactSecrets } from '../redact.js';

export interface CacheHealth {
  degraded: boolean;
  errors: number;
  firstError: string | null;
}

export class GuardedCache {
  private pausedUntil = 0;
  readonly health: CacheHealth = { degraded: false, errors: 0, firstError: null };

  constructor(
    readonly store: CacheStore | null,
    private readonly warn: (message: string) => void,
    private readonly retryAfterMs = 10_000,
    private readonly now: () => number = Date.now,
    /** Whether closing closes the store (not when the caller keeps it open across runs). */
    private readonly owned = true,
  ) {}

  /** Record a failure to open the cache at all. */
  failedToOpen(err: unknown): void {
    this.fail('open', err);
  }

  private fail(what: string, err: unknown): void {
    this.health.errors++;
    this.pausedUntil = this.now() + this.retryAfterMs;
    if (!this.health.degraded) {
      this.health.degraded = true;
      this.health.firstError = redactSecrets(errorMessage(err));
      this.warn(`cache ${what} failed (${errorMessage(err)}): continuing without the cache; every photo is still colorized`);
    }
  }

  get usable(): boolean {
    return this.store !== null && this.store.backend !== 'none' && this.now() >= this.pausedUntil;
  }

  async getMany(keys: readonly string[]): Promise<Array<Buffer | null>> {
    if (!this.usable || keys.length === 0) return keys.map(() => null);
    try {
      return await this.store!.getMany(keys);
    } catch (err) {
      this.fail('lookup', err);
      return keys.map(() => null);
    }
  }

  async setMany(entries: readonly CacheEntry[], ttlMs: number): Promise<boolean> {
    if (!this.usable || entries.length === 0) return false;
    try {
      await this.store!.setMany(entries, ttlMs);
      return true;
    } catch (err) {
      this.fail('write', err);
      return false;
    }
  }

  /** Whether locks mean anything: a shared store that is working. */
  get coordinates(): boolean {
    return this.usable;
  }

  /** Take locks; when the cache is not usable every lock is granted (nothing to coordinate with). */
  async tryLock(keys: readonly string[], owner: string, ttlMs: number): Promise<boolean[]> {
    if (!this.usable || keys.length === 0) return keys.map(() => true);
    try {
      return await this.store!.tryLock(keys, owner, ttlMs);
    } catch (err) {
      this.fail('lock', err);
      return keys.map(() => true);
    }
  }

  /** Release locks; while the cache is unusable they are left to expire by themselves (nothing waits on a dead server). */
  async unlock(keys: readonly string[], owner: string): Promise<void> {
    if (!this.usable || keys.length === 0) return;
    try {
      await this.store!.unlock(keys, owner);
    } catch (err) {
      this.fail('unlock', err);
    }
  }

  async refreshLocks(keys: readonly string[], owner: string, ttlMs: number): Promise<void> {
    if (!this.usable || keys.length === 0) return;
    try {
      await this.store!.refreshLocks(keys, owner, ttlMs);
    } catch (err) {
      this.fail('lock refresh', err);
    }
  }

  async addCounters(hits: number, misses: number): Promise<void> {
    if (!this.usable || hits + misses === 0) return;
    try {
      await this.store!.addCounters(hits, misses);
    } catch (err) {
      this.fail('counter update', err);
    }
  }

  /** Close the store; one that failed is dropped at once rather than asked to say goodbye. */
  async close(): Promise<void> {
    if (!this.owned) return;
    try {
      await this.store?.close(!this.usable);
    } catch {
      // closing a broken connection is not worth a warning
    }
  }
}
