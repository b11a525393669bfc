/**
 * The output folder's lock (`<out>/.ddcolor-lock`): two runs writing into one folder (two cron
 * jobs that overlap) would fight over the manifest and the outputs. The lock file is created
 * exclusively and holds the owner's pid, host and start time, and its owner touches it every
 * 30 seconds while it runs. A lock is taken over when it was left by a process that no longer
 * exists on this host, or when nobody has touched it for 10 minutes: its owner died on another
 * machine sharing the folder (NFS), or the machine rebooted and its pid now names another process.
 *
 * A takeover is atomic: many runs may find the same dead lock at once (cron jobs started
 * together), so only the one that creates `<out>/.ddcolor-lock.takeover` exclusively may remove
 * the dead lock, after checking under it that the lock is still the dead one; then every run
 * competes for a new lock with an exclusive create again, and one wins.
 *
 * The lock is created with its content already in it (io/create-exclusive.ts): no run ever reads
 * it empty. Why not proper-lockfile: its lock is a folder whose only content is its mtime, so a
 * busy folder could not say which run holds it (pid, host, start), and a run killed on this
 * machine would block the folder for the whole stale time instead of being seen gone at once.
 */
import { randomBytes } from 'node:crypto';
import { readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { removeOnAbandon } from '../io/atomic-write.js';
import { createExclusive } from '../io/create-exclusive.js';
import { ConfigError, InterruptedError } from '../errors.js';
import { processAlive } from '../io/owner.js';

export const LOCK_NAME = '.ddcolor-lock';

export interface LockHolder {
  pid: number;
  host: string;
  startedAt: string;
  /** Tells two holders apart even within one process (absent in locks of older versions). */
  token?: string;
}

function sameHolder(a: LockHolder | null, b: LockHolder | null): boolean {
  return !!a && !!b && a.pid === b.pid && a.host === b.host && a.startedAt === b.startedAt && a.token === b.token;
}

async function holder(path: string): Promise<LockHolder | null> {
  try {
    const v = JSON.parse(await readFile(path, 'utf8')) as LockHolder;
    return typeof v.pid === 'number' && typeof v.host === 'string' ? v : null;
  } catch {
    return null;
  }
}

/** How often a holder touches its lock, and how long an untouched lock is respected. */
export const LOCK_HEARTBEAT_MS = 30_000;
export const LOCK_STALE_MS = 10 * 60_000;

/** Milliseconds since the lock file was last touched (Infinity when it is gone). */
async function idleMs(path: string): Promise<number> {
  try {
    return Date.now() - (await stat(path)).mtimeMs;
  } catch {
    return Infinity;
  }
}

export interface OutputLockOptions {
  /** Wait for the other run to finish instead of failing. */
  wait: boolean;
  pollMs?: number;
  heartbeatMs?: number;
  staleMs?: number;
  /** Called when a stale lock is taken over (who held it, and why it counts as stale). */
  onTakeover?: (holder: LockHolder | null, reason: string) => void;
  signal?: AbortSignal;
  /** Called once when the lock is busy and the caller waits. */
  onWait?: (holder: LockHolder | null) => void;
}

/**
 * Remove the dead lock of `dead` under the takeover lock; false when another run holds the takeover
 * lock or the lock changed meanwhile (the caller then looks again).
 */
async function removeDeadLock(path: string, dead: LockHolder | null, staleMs: number): Promise<boolean> {
  const takeover = `${path}.takeover`;
  try {
    await writeFile(takeover, `${process.pid}\n`, { flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    // A run that died during its takeover leaves this behind; it takes milliseconds when alive.
    if ((await idleMs(takeover)) > Math.min(staleMs, 30_000)) await rm(takeover, { force: true });
    return false;
  }
  const forget = removeOnAbandon(takeover);
  try {
    const now = await holder(path);
    // An unreadable lock counts as dead only by age: a new one is unreadable for an instant too.
    const unchanged = dead === null ? now === null && (await idleMs(path)) > staleMs : sameHolder(now, dead);
    if (!unchanged) return false;
    await rm(path, { force: true });
    return true;
  } finally {
    await rm(takeover, { force: true });
    forget();
  }
}

/** Take the output folder's lock; resolves to a function that releases it. */
export async function lockOutputFolder(outDir: string, options: OutputLockOptions): Promise<() => Promise<void>> {
  const path = join(outDir, LOCK_NAME);
  const me: LockHolder = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), token: randomBytes(8).toString('hex') };
  let told = false;
  for (;;) {
    if (await createExclusive(path, JSON.stringify(me) + '\n', outDir)) {
      const forget = removeOnAbandon(path);
      const heartbeat = setInterval(() => {
        const now = new Date();
        utimes(path, now, now).catch(() => undefined);
      }, options.heartbeatMs ?? LOCK_HEARTBEAT_MS);
      heartbeat.unref();
      return async () => {
        clearInterval(heartbeat);
        forget();
        if (sameHolder(await holder(path), me)) await rm(path, { force: true });
      };
    }
    const h = await holder(path);
    const idle = await idleMs(path);
    const staleMs = options.staleMs ?? LOCK_STALE_MS;
    const reason =
      h && h.host === me.host && !processAlive(h.pid)
        ? `process ${h.pid} no longer exists`
        : idle !== Infinity && idle > staleMs
          ? `not touched for ${Math.round(idle / 60_000)} min (a live run touches it every ${Math.round((options.heartbeatMs ?? LOCK_HEARTBEAT_MS) / 1000)} s)`
          : null;
    if (reason) {
      // Left by a run that died: take it over, unless another run is doing so right now.
      if (await removeDeadLock(path, h, staleMs)) options.onTakeover?.(h, reason);
      else await new Promise((res) => setTimeout(res, 50));
      continue;
    }
    if (!options.wait) {
      const who = h ? `pid ${h.pid} on ${h.host}, started ${h.startedAt}` : 'unknown owner';
      throw new ConfigError(
        `another ddcolor run (${who}) is writing to ${outDir}; wait for it to finish, pass --wait-lock to wait, or remove ${path} if no run is active`,
        outDir,
      );
    }
    if (!told) {
      told = true;
      options.onWait?.(h);
    }
    if (options.signal?.aborted) throw new InterruptedError(`interrupted while waiting for the lock on ${outDir}`);
    await new Promise((res) => setTimeout(res, options.pollMs ?? 1000));
  }
}
