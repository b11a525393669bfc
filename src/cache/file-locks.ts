/**
 * The embedded store's per-photo locks, shared by every process on the machine that uses the same
 * folder: `<root>/v1/locks/<sha256(key)>`, created exclusively, holding the owner and an expiry.
 * An expired lock (its owner died) is moved aside atomically before it is reclaimed, so only one
 * process reclaims it. Only the owner releases or extends its lock.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pMap from 'p-map';
import { writeFileAtomically } from '../io/atomic-write.js';
import { ownerIsGone } from '../io/owner.js';

interface Held {
  owner: string;
  expiresAt: number;
}

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

  private async read(path: string): Promise<Held | null> {
    const text = await readFile(path, 'utf8').catch(() => null);
    if (text === null) return null;
    const [owner, expires] = text.split('\n');
    return { owner: owner ?? '', expiresAt: Number(expires) || 0 };
  }

  /** A lock counts while it has not expired and its owner is not provably gone (a killed run on this host). */
  private live(held: Held): boolean {
    return held.expiresAt > this.now() && !ownerIsGone(held.owner);
  }

  /** Remove the lock files of finished or killed runs (expired, or their owner gone); returns how many. */
  async sweep(): Promise<number> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    let removed = 0;
    await pMap(names, async (name) => {
      const path = join(this.dir, name);
      const held = await this.read(path);
      if (held && this.live(held)) return;
      // Moved aside first, so a lock taken meanwhile under this name is never removed.
      const aside = join(this.tmp, `stale-lock-${randomBytes(8).toString('hex')}`);
      if (!(await rename(path, aside).then(() => true, () => false))) return;
      const moved = await this.read(aside);
      if (moved && this.live(moved)) await rename(aside, path).catch(() => undefined);
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
      try {
        await writeFile(path, body, { flag: 'wx' });
        return true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const held = await this.read(path);
      if (held && this.live(held)) return false;
      // Expired, or its owner is gone: move it aside atomically, so only one run reclaims it.
      const aside = join(this.tmp, `stale-lock-${randomBytes(8).toString('hex')}`);
      try {
        await rename(path, aside);
      } catch {
        continue;
      }
      const moved = await this.read(aside);
      if (moved && this.live(moved)) {
        // Someone reclaimed it between our read and the rename: give it back.
        await rename(aside, path).catch(() => undefined);
        return false;
      }
      await rm(aside, { force: true });
    }
    return false;
  }

  async tryLock(keys: readonly string[], owner: string, ttlMs: number): Promise<boolean[]> {
    await mkdir(this.dir, { recursive: true });
    return pMap(keys, (k) => this.lockOne(k, owner, ttlMs), { concurrency: 16 });
  }

  async unlock(keys: readonly string[], owner: string): Promise<void> {
    await pMap(keys, async (k) => {
      const path = this.pathFor(k);
      const held = await this.read(path);
      if (held?.owner === owner) await unlink(path).catch(() => undefined);
    }, { concurrency: 16 });
  }

  async refresh(keys: readonly string[], owner: string, ttlMs: number): Promise<void> {
    await pMap(keys, async (k) => {
      const path = this.pathFor(k);
      const held = await this.read(path);
      if (held?.owner !== owner) return;
      await writeFileAtomically(path, `${owner}\n${this.now() + ttlMs}\n`, this.tmp);
    }, { concurrency: 16 });
  }
}
