/**
 * The embedded store's per-photo locks, shared by every process on the machine that uses the same
 * folder: `<root>/v1/locks/<sha256(key)>`, created exclusively with its content already in it
 * (io/create-exclusive.ts), holding the owner and an expiry. An expired lock (its owner died) is
 * moved aside atomically before it is reclaimed, so only one process reclaims it; one that cannot
 * be read is held until it is older than the lock's lifetime. Only the owner releases or extends
 * its lock.
 *
 * Why not proper-lockfile: its locks are folders whose only content is their mtime, so they cannot
 * say who holds them; a lock is stale only when its mtime is old, so a run killed on this machine
 * blocks the photos it held for the whole stale time instead of being seen gone at once; and it
 * refreshes every lock on a timer, where these are extended only while the model works.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import pMap from 'p-map';
import { writeFileAtomically } from '../io/atomic-write.js';
import { createExclusive } from '../io/create-exclusive.js';
import { ownerIsGone } from '../io/owner.js';

interface Held {
  owner: string;
  expiresAt: number;
}

/** How old a lock that cannot be read must be to count as abandoned, when no lifetime is known (the sweep). */
const UNREADABLE_STALE_MS = 10 * 60_000;

export class FileLocks {
  private readonly dir: string;

  /** `base`: the store's versioned folder; `tmp`: a folder on the same file system for renames. */
  constructor(
    base: string,
    private readonly tmp: string,
    private readonly now: () => number,
  ) {
    this.dir = join(base, 'locks');
  }

  private pathFor(key: string): string {
    return join(this.dir, createHash('sha256').update(key).digest('hex'));
  }

  /** The lock at `path`: null when there is none, 'unreadable' when it holds no owner and expiry. */
  private async read(path: string): Promise<Held | 'unreadable' | null> {
    const text = await readFile(path, 'utf8').catch(() => null);
    if (text === null) return null;
    const [owner, expires] = text.split('\n');
    const expiresAt = Number(expires);
    return owner && Number.isFinite(expiresAt) && expiresAt > 0 ? { owner, expiresAt } : 'unreadable';
  }

  /**
   * A lock counts while it has not expired and its owner is not provably gone (a killed run on this
   * host); one that cannot be read counts until it is older than `staleMs` (it may be another
   * program's, or left half written by an older ddcolor).
   */
  private async live(held: Held | 'unreadable', path: string, staleMs: number): Promise<boolean> {
    if (held !== 'unreadable') return held.expiresAt > this.now() && !ownerIsGone(held.owner);
    const mtime = await stat(path).then((s) => s.mtimeMs, () => 0);
    return Date.now() - mtime <= staleMs;
  }

  /** Remove the lock files of finished or killed runs (expired, or their owner gone); returns how many. */
  async sweep(): Promise<number> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    let removed = 0;
    await pMap(names, async (name) => {
      const path = join(this.dir, name);
      const held = await this.read(path);
      if (held && (await this.live(held, path, UNREADABLE_STALE_MS))) return;
      // Moved aside first, so a lock taken meanwhile under this name is never removed.
      const aside = join(this.tmp, `stale-lock-${randomBytes(8).toString('hex')}`);
      if (!(await rename(path, aside).then(() => true, () => false))) return;
      const moved = await this.read(aside);
      if (moved && (await this.live(moved, aside, UNREADABLE_STALE_MS))) await rename(aside, path).catch(() => undefined);
      else {
        await rm(aside, { force: true });
        removed++;
      }
    }, { concurrency: 16 });
    return removed;
  }

  private async lockOne(key: string, owner: string, ttlMs: number): Promise<boolean> {
    const path = this.pathFor(key);
    const body = `${owner}\n${this.now() + ttlMs}\n`;
    for (let attempt = 0; attempt < 2; attempt++) {
      if (await createExclusive(path, body, this.tmp)) return true;
      const held = await this.read(path);
      if (held && (await this.live(held, path, ttlMs))) return false;
      // Expired, or its owner is gone: move it aside atomically, so only one run reclaims it.
      const aside = join(this.tmp, `stale-lock-${randomBytes(8).toString('hex')}`);
      try {
        await rename(path, aside);
      } catch {
        continue;
      }
      const moved = await this.read(aside);
      if (moved && (await this.live(moved, aside, ttlMs))) {
        // Someone reclaimed it between our read and the rename: give it back.
        await rename(aside, path).catch(() => undefined);
        return false;
      }
      await rm(aside, { force: true });
    }
    return false;
  }

  async tryLock(keys: readonly string[], owner: string, ttlMs: number): Promise<boolean[]> {
    await Promise.all([mkdir(this.dir, { recursive: true }), mkdir(this.tmp, { recursive: true })]);
    return pMap(keys, (k) => this.lockOne(k, owner, ttlMs), { concurrency: 16 });
  }

  async unlock(keys: readonly string[], owner: string): Promise<void> {
    await pMap(keys, async (k) => {
      const path = this.pathFor(k);
      const held = await this.read(path);
      if (held !== 'unreadable' && held?.owner === owner) await unlink(path).catch(() => undefined);
    }, { concurrency: 16 });
  }

  async refresh(keys: readonly string[], owner: string, ttlMs: number): Promise<void> {
    await pMap(keys, async (k) => {
      const path = this.pathFor(k);
      const held = await this.read(path);
      if (held === 'unreadable' || held?.owner !== owner) return;
      await writeFileAtomically(path, `${owner}\n${this.now() + ttlMs}\n`, this.tmp);
    }, { concurrency: 16 });
  }
}
