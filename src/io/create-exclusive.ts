/**
 * Creating a small file (a lock) only if nothing is at its name, with its content in it from the
 * first instant: written to a temporary name first, then hard-linked into place. A link fails
 * when the name exists, atomically, on local disks and NFS alike, so a reader never finds the
 * lock empty or half written (an exclusive create followed by a write leaves that instant, in
 * which another run took a fresh lock for an abandoned one).
 *
 * File systems without hard links (FAT and exFAT USB disks, some SMB shares) get the exclusive
 * create instead; readers still treat a lock they cannot read as held until it is old.
 */
import { randomBytes } from 'node:crypto';
import { link, unlink, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { errnoOf } from '../errors.js';
import { removeOnAbandon } from './atomic-write.js';

/** Errnos of a file system that has no hard links. */
export const NO_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV']);

/** Create `path` holding `data` unless something is there (false then); `tmpDir` must be on the same file system. */
export async function createExclusive(path: string, data: string, tmpDir: string): Promise<boolean> {
  const tmp = join(tmpDir, `${basename(path)}.${randomBytes(6).toString('hex')}.new`);
  const forget = removeOnAbandon(tmp);
  try {
    await writeFile(tmp, data, { flag: 'wx' });
    try {
      await link(tmp, path);
      return true;
    } catch (err) {
      const code = errnoOf(err);
      if (code === 'EEXIST') return false;
      if (!code || !NO_LINKS.has(code)) throw err;
    }
    try {
      await writeFile(path, data, { flag: 'wx' });
      return true;
    } catch (err) {
      if (errnoOf(err) === 'EEXIST') return false;
      throw err;
    }
  } finally {
    await unlink(tmp).catch(() => undefined);
    forget();
  }
}
