/**
 * Per-photo locks shared with other runs through the cache: a photo is inferred by the run that
 * holds its lock; the others wait for its result. Held locks are extended while the run makes
 * progress, released once the result is stored, and all released when the run ends. A run whose
 * model call has not returned for longer than its stall limit (a wedged GPU, a native call that
 * never returns) stops extending them: they expire, and a waiting run infers the photos itself.
 */
import { newOwner } from '../io/owner.js';
import type { GuardedCache } from './guarded-cache.js';

export class PhotoLocks {
  readonly owner = newOwner();
  private readonly held = new Set<string>();
  private readonly refresher: NodeJS.Timeout;

  constructor(
    private readonly cache: GuardedCache,
    readonly ttlMs: number,
    /** Whether the run has stopped making progress (then its locks are left to expire). */
    private readonly stalled: () => boolean = () => false,
  ) {
    this.refresher = setInterval(() => {
      if (!this.stalled()) void cache.refreshLocks([...this.held], this.owner, ttlMs);
    }, Math.max(200, ttlMs / 3));
    this.refresher.unref();
  }

  /** Whether locks mean anything now (a shared cache that works). */
  get coordinated(): boolean {
    return this.cache.coordinates;
  }

  /** Try to take these entry keys' locks; true where granted (always, when nothing coordinates). */
  async take(keys: readonly string[]): Promise<boolean[]> {
    return this.cache.tryLock(keys, this.owner, this.ttlMs);
  }

  /** Remember a granted lock as held (extended until released). */
  hold(key: string): void {
    this.held.add(key);
  }

  /** Give back locks this run took but will not hold (their result turned up meanwhile). */
  async giveBack(keys: readonly string[]): Promise<void> {
    await this.cache.unlock(keys, this.owner);
  }

  /** Release held locks among `keys`. */
  async release(keys: readonly string[]): Promise<void> {
    const mine = keys.filter((k) => this.held.delete(k));
    await this.cache.unlock(mine, this.owner);
  }

  /** Stop extending and release every lock still held. */
  async close(): Promise<void> {
    clearInterval(this.refresher);
    await this.cache.unlock([...this.held], this.owner);
    this.held.clear();
  }
}
