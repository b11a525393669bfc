/**
 * Checking, before any work, that a file the run will write at its end (the report, the metrics,
 * the page) can be written there: a folder, a path through a file, a folder that does not exist,
 * a path under /proc or a read-only place is found at once and is a usage error (exit 2) said in
 * words, not a failure after hours of work. Nothing is created: a folder that does not exist is
 * a mistake in the path (a typo), except inside the run's output folder, which the run makes.
 */
import { open, rm, stat } from 'node:fs/promises';
import { dirname, relative, isAbsolute } from 'node:path';
import { environmentWords, errnoOf, UsageError } from '../errors.js';

/** What an errno means for a path given on the command line, in words. */
function pathWords(err: unknown): string {
  const code = errnoOf(err);
  if (code === 'ENOENT') return 'its folder does not exist (create it first, or check the path)';
  if (code === 'ENOTDIR' || code === 'EEXIST') return 'a part of the path is a file, not a folder';
  if (code === 'EISDIR') return 'is a folder; give a file name';
  const env = environmentWords(err);
  return `cannot be written: ${env ? env.words : String(err)}`;
}

function inside(folder: string, path: string): boolean {
  const rel = relative(folder, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/** Throws a usage error naming `flag` and the path when `path` cannot be written as a file; `outDir` is the run's output folder, which the run creates. */
export async function ensureWritableFile(path: string, flag: string, outDir?: string): Promise<void> {
  const fail = (why: string): never => {
    throw new UsageError(`${flag} ${path}: ${why}`, path);
  };
  const existing = await stat(path).catch(() => null);
  if (existing?.isDirectory()) fail('is a folder; give a file name');
  const folder = await stat(dirname(path)).then(
    (st) => ({ st, err: null }),
    (err: unknown) => ({ st: null, err }),
  );
  if (folder.err !== null) {
    // Inside the output folder, the run makes the folders on the way.
    if (errnoOf(folder.err) === 'ENOENT' && outDir !== undefined && inside(outDir, path)) return;
    fail(pathWords(folder.err));
  } else if (!folder.st!.isDirectory()) fail('a part of the path is a file, not a folder');
  try {
    // Opening for append creates the file if need be and changes nothing in one that exists.
    const handle = await open(path, 'a');
    await handle.close();
    if (!existing) await rm(path, { force: true });
  } catch (err) {
    // The folder is there: a file that cannot be made in it (/proc, /sys) is not a missing folder.
    fail(errnoOf(err) === 'ENOENT' ? 'cannot be written: this folder does not take new files' : pathWords(err));
  }
}
