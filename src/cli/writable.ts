/**
 * Checking, before any work, that a file the run will write at its end (the report, the metrics)
 * can be written there: a folder, a path under /proc or a read-only place is found at once and is
 * a usage error (exit 2), not a failure after hours of work.
 */
import { rm, mkdir, open, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { UsageError } from '../errors.js';

/** Throws a usage error naming `flag` and the path when `path` cannot be written as a file. */
export async function ensureWritableFile(path: string, flag: string): Promise<void> {
  const fail = (why: string): never => {
    throw new UsageError(`${flag} ${path}: ${why}`, path);
  };
  const existing = await stat(path).catch(() => null);
  if (existing?.isDirectory()) fail('is a folder; give a file name');
  try {
    await mkdir(dirname(path), { recursive: true });
    // Opening for append creates the file if need be and changes nothing in one that exists.
    const handle = await open(path, 'a');
    await handle.close();
    if (!existing) await rm(path, { force: true });
  } catch (err) {
    fail(`cannot be written (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}
