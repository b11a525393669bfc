/**
 * The embedded store: a folder of small entry files, one per key, addressed by the SHA-256 of the
 * key (like cacache's content folders), written to a temporary name and renamed so a reader never
 * sees half an entry, and checked at every read (magic, lengths, key, digest, expiry).
 *
 *   <root>/v1/entries/ab/cd/<sha256(key)>   one entry
 *   <root>/v1/tmp/                          writes in progress
 *   <root>/v1/locks/<sha256(key)>           short-lived locks: owner and expiry, created exclusively
 *   <root>/v1/stats.log                     lifetime counters, one appended line per run
 *
 * Least recently used entries go first when the folder grows past its size cap: a hit touches its
 * entry's mtime. The entry format and its checks live in file-entry.ts, the locks in file-locks.ts.
 */
import { createHash } from 'node:crypto';
import { appendFile, mkdir, readdir, readFile, rm, stat, unlink, utimes } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import pMap from 'p-map';
import { writeFileAtomically } from '../io/atomic-write.js';
import { decodeEntry, encodeEntry, readEntryKey } from './file-entry.js';
import { FileLocks } from './file-locks.js';
import { jitteredTtl, parseKey } from './keys.js';
import { groupUsage, hitRate, type CacheEntry, type CacheStats, type CacheStore } from './store.js';
import { formatBytes, GB } from '../units.js';

export const DEFAULT_MAX_BYTES = 2 * GB;

export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME && env.XDG_CACHE_HOME.length > 0 ? env.XDG_CACHE_HOME : join(homedir(), '.cache');
  return join(base, 'ddcolor');
}

interface EntryFile {
  path: string;
  size: number;
  mtimeMs: number;
}

export interface FileStoreOptions {
  maxBytes?: number;
  now?: () => number;
}

export class FileStore implements CacheStore {
  readonly backend = 'file' as const;
  readonly location: string;
  readonly maxBytes: number;
  private readonly base: string;
  private readonly now: () => number;
  private readonly locks: FileLocks;
  private wrote = false;

  constructor(readonly root: string, options: FileStoreOptions = {}) {
    this.location = root;
    this.base = join(root, 'v1');
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
    this.now = options.now ?? Date.now;
    this.locks = new FileLocks(this.base, join(this.base, 'tmp'), this.now);
  }

  /** Create the folders; fails with the folder's name when it cannot be written. */
  async open(): Promise<this> {
    await mkdir(join(this.base, 'entries'), { recursive: true });
    await mkdir(join(this.base, 'tmp'), { recursive: true });
    // What finished or killed runs left: their locks, and temporary files an hour old.
    await this.locks.sweep();
    await sweepOld(join(this.base, 'tmp'), this.now() - 3_600_000);
    return this;
  }

  pathFor(key: string): string {
    const h = createHash('sha256').update(key).digest('hex');
    return join(this.base, 'entries', h.slice(0, 2), h.slice(2, 4), h);
  }

  private async readEntry(key: string): Promise<Buffer | null> {
    const path = this.pathFor(key);
    let buf: Buffer;
    try {
      buf = await readFile(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    const entry = decodeEntry(buf);
    if (!entry || entry.key !== key || entry.expiresAt <= this.now()) {
      await unlink(path).catch(() => undefined);
      return null;
    }
    const t = new Date(this.now());
    await utimes(path, t, t).catch(() => undefined);
    return entry.value;
  }

  async getMany(keys: readonly string[]): Promise<Array<Buffer | null>> {
    return pMap(keys, (k) => this.readEntry(k), { concurrency: 16 });
  }

  async setMany(entries: readonly CacheEntry[], ttlMs: number): Promise<void> {
    await pMap(entries, async ({ key, value }) => {
      const path = this.pathFor(key);
      const expiresAt = ttlMs > 0 ? this.now() + jitteredTtl(ttlMs) : Number.MAX_VALUE;
      await writeFileAtomically(path, encodeEntry(key, value, expiresAt), join(this.base, 'tmp'));
    }, { concurrency: 8 });
    if (entries.length > 0) this.wrote = true;
  }

  async deleteKeys(keys: readonly string[]): Promise<number> {
    const removed = await pMap(keys, async (k) => {
      try {
        await unlink(this.pathFor(k));
        return 1;
      } catch {
        return 0;
      }
    }, { concurrency: 16 });
    return removed.reduce<number>((a, b) => a + b, 0);
  }

  tryLock(keys: readonly string[], owner: string, ttlMs: number): Promise<boolean[]> {
    return this.locks.tryLock(keys, owner, ttlMs);
  }

  unlock(keys: readonly string[], owner: string): Promise<void> {
    return this.locks.unlock(keys, owner);
  }

  refreshLocks(keys: readonly string[], owner: string, ttlMs: number): Promise<void> {
    return this.locks.refresh(keys, owner, ttlMs);
  }

  /** Every entry file with its size and mtime. */
  async listFiles(): Promise<EntryFile[]> {
    const files: EntryFile[] = [];
    const top = join(this.base, 'entries');
    const level1 = await readdir(top).catch(() => [] as string[]);
    for (const a of level1) {
      const level2 = await readdir(join(top, a)).catch(() => [] as string[]);
      for (const b of level2) {
        const dir = join(top, a, b);
        const names = await readdir(dir).catch(() => [] as string[]);
        const stats = await pMap(names, async (n) => {
          const p = join(dir, n);
          const s = await stat(p).catch(() => null);
          return s ? { path: p, size: s.size, mtimeMs: s.mtimeMs } : null;
        }, { concurrency: 32 });
        for (const s of stats) if (s) files.push(s);
      }
    }
    return files;
  }

  async keysWhere(match: (key: string) => boolean): Promise<string[]> {
    const keys = await pMap(await this.listFiles(), (f) => readEntryKey(f.path), { concurrency: 16 });
    return keys.filter((k): k is string => k !== null && match(k));
  }

  async deleteWhere(match: (key: string) => boolean): Promise<number> {
    const files = await this.listFiles();
    const removed = await pMap(files, async (f) => {
      const key = await readEntryKey(f.path);
      if (key === null || !match(key)) return 0;
      await unlink(f.path).catch(() => undefined);
      return 1;
    }, { concurrency: 16 });
    return removed.reduce<number>((a, b) => a + b, 0);
  }

  async addCounters(hits: number, misses: number): Promise<void> {
    if (hits === 0 && misses === 0) return;
    await appendFile(join(this.base, 'stats.log'), `${hits} ${misses}\n`);
  }

  private async counters(): Promise<{ hits: number; misses: number }> {
    const text = await readFile(join(this.base, 'stats.log'), 'utf8').catch(() => '');
    let hits = 0;
    let misses = 0;
    for (const line of text.split('\n')) {
      const m = /^(\d+) (\d+)$/.exec(line);
      if (m) {
        hits += Number(m[1]);
        misses += Number(m[2]);
      }
    }
    return { hits, misses };
  }

  async stats(): Promise<CacheStats> {
    const files = await this.listFiles();
    const keyed = await pMap(files, async (f) => ({ key: await readEntryKey(f.path), bytes: f.size }), { concurrency: 16 });
    const usage: Array<{ modelId: string; size: number; bytes: number }> = [];
    for (const k of keyed) {
      const parsed = k.key ? parseKey(k.key) : null;
      if (parsed) usage.push({ modelId: parsed.modelId, size: parsed.size, bytes: k.bytes });
    }
    const { hits, misses } = await this.counters();
    const bytes = files.reduce((a, f) => a + f.size, 0);
    const warnings: string[] = [];
    if (bytes > this.maxBytes) warnings.push(`the store holds ${formatBytes(bytes)}, over its cap of ${formatBytes(this.maxBytes)}`);
    return {
      backend: 'file',
      location: this.location,
      entries: files.length,
      bytes,
      hits,
      misses,
      hitRate: hitRate(hits, misses),
      byModel: groupUsage(usage),
      redis: null,
      maxBytes: this.maxBytes,
      warnings,
    };
  }

  /** Delete least recently used entries until the store fits in `maxBytes`; returns how many went. */
  async prune(maxBytes: number = this.maxBytes): Promise<{ removed: number; bytes: number }> {
    const files = await this.listFiles();
    let total = files.reduce((a, f) => a + f.size, 0);
    let removed = 0;
    if (total > maxBytes) {
      files.sort((a, b) => a.mtimeMs - b.mtimeMs);
      for (const f of files) {
        if (total <= maxBytes) break;
        await unlink(f.path).catch(() => undefined);
        total -= f.size;
        removed++;
      }
    }
    return { removed, bytes: total };
  }

  async close(): Promise<void> {
    if (this.wrote) {
      this.wrote = false;
      await this.prune();
      // Leftovers of killed writers.
      const tmp = join(this.base, 'tmp');
      const names = await readdir(tmp).catch(() => [] as string[]);
      for (const n of names) {
        const s = await stat(join(tmp, n)).catch(() => null);
        if (s && this.now() - s.mtimeMs > 3600_000) await rm(join(tmp, n), { force: true });
      }
    }
  }
}

/** Remove files in `dir` last modified before `before` (ms since the epoch). */
async function sweepOld(dir: string, before: number): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  await pMap(names, async (name) => {
    const path = join(dir, name);
    const st = await stat(path).catch(() => null);
    if (st && st.mtimeMs < before) await rm(path, { force: true });
  }, { concurrency: 16 });
}
