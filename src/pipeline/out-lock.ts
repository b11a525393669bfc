/**
 * The output folder's lock (`<out>/.ddcolor-lock`): two runs writing into one folder (two cron
 * jobs that overlap) would fight over the manifest and the outputs. The lock file is created
 * exclusively and holds the owner's pid, host and start time; a lock left by a process that no
 * longer exists on this host is taken over.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { DdcolorError } from '../errors.js';

export const LOCK_NAME = '.ddcolor-lock';

export interface LockHolder {
  pid: number;
  host: string;
  startedAt: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function holder(path: string): Promise<LockHolder | null> {
  try {
    const v = JSON.parse(await readFile(path, 'utf8')) as LockHolder;
    return typeof v.pid === 'number' && typeof v.host === 'string' ? v : null;
  } catch {
    return null;
  }
}

export interface OutputLockOptions {
  /** Wait for the other run to finish instead of failing. */
  wait: boolean;
  pollMs?: number;
  signal?: AbortSignal;
  /** Called once when the lock is busy and the caller waits. */
  onWait?: (holder: LockHolder | null) => void;
}

/** Take the output folder's lock; resolves to a function that releases it. */
export async function lockOutputFolder(outDir: string, options: OutputLockOptions): Promise<() => Promise<void>> {
  const path = join(outDir, LOCK_NAME);
  const me: LockHolder = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString() };
  let told = false;
  for (;;) {
    try {
      await writeFile(path, JSON.stringify(me) + '\n', { flag: 'wx' });
      return async () => {
        const h = await holder(path);
        if (h && h.pid === me.pid && h.host === me.host) await rm(path, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const h = await holder(path);
    if (h && h.host === me.host && !alive(h.pid)) {
      // Left by a run that died: take it over.
      await rm(path, { force: true });
      continue;
    }
    if (!options.wait) {
      const who = h ? `pid ${h.pid} on ${h.host}, started ${h.startedAt}` : 'unknown owner';
      throw new DdcolorError(
        'config',
        `another ddcolor run (${who}) is writing to ${outDir}; wait for it to finish, pass --wait-lock to wait, or remove ${path} if no run is active`,
        outDir,
      );
    }
    if (!told) {
      told = true;
      options.onWait?.(h);
    }
    if (options.signal?.aborted) throw new DdcolorError('interrupted', `interrupted while waiting for the lock on ${outDir}`);
    await new Promise((res) => setTimeout(res, options.pollMs ?? 1000));
  }
}
