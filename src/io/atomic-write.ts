/**
 * Writing a file so that no reader, no killed run and no power cut ever sees half of it: the
 * content goes to a temporary name (`.ddcolor-tmp-<random>-<name>`), beside the destination or in
 * a given folder, is flushed to the disk (fsync), renamed into place, and the folder is flushed
 * so that the rename itself survives a power cut. A failed write removes its temporary file.
 *
 * Why not write-file-atomic: a run's temporary files live in one folder of the output folder (so
 * the next run can clear what a killed one left), the manifest line must go in between the flush
 * and the rename, and write-file-atomic does not flush the folder after its rename.
 *
 * Files in progress are remembered, so that a process that must exit at once (a second Ctrl-C)
 * can remove them synchronously first: `removeAbandonedFiles()`. Other files that belong to the
 * run alone (the output folder's lock) can be registered for that too.
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { copyFile, link, lstat, mkdir, open, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { errnoOf } from '../errors.js';
import { NO_LINKS } from './create-exclusive.js';

const abandonOnExit = new Set<string>();

/** Temporary files are named `.ddcolor-tmp-<random>-<name>`. */
export const TMP_PREFIX = '.ddcolor-tmp-';

/** Remove `path` (a file, or a folder with what is in it) if the process has to exit at once; returns the function that forgets it. */
export function removeOnAbandon(path: string): () => void {
  abandonOnExit.add(path);
  return () => abandonOnExit.delete(path);
}

/** Synchronously remove every file in progress and every registered file (for an immediate exit). */
export function removeAbandonedFiles(): void {
  for (const path of abandonOnExit) {
    try {
      rmSync(path, { force: true, recursive: true });
    } catch {
      // nothing more can be done on the way out
    }
  }
  abandonOnExit.clear();
}

export interface AtomicWriteOptions {
  /**
   * Where the temporary file goes (default: beside `dest`). A run keeps its outputs' temporary
   * files in one folder of the output folder, so that the next run can clear what a killed one
   * left there. On another file system than `dest`, the file is copied beside `dest` first.
   */
  tmpDir?: string;
  /** Called with the finished temporary file just before it is renamed into place (size and mtime survive the rename). */
  beforeRename?: (tmp: string) => Promise<void>;
  /** Called with the destination's folder once it exists and again just before the rename, and with the temporary file's folder before it is written: throws where it may not be written. */
  checkFolder?: (dir: string) => Promise<void>;
  /**
   * Put the file in place only if nothing is at `dest` (a hard link, which fails atomically when
   * the name exists), rejecting with EEXIST otherwise: what appeared there since the caller
   * looked is never replaced. Without hard links (FAT, some SMB shares), a look just before the rename.
   */
  createOnly?: boolean;
}

/** Write `dest` through `write(tmp)` and a rename; resolves to what `write` resolved to. */
export async function writeAtomically<T>(dest: string, write: (tmp: string) => Promise<T>, options: AtomicWriteOptions = {}): Promise<T> {
  await mkdir(dirname(dest), { recursive: true });
  await options.checkFolder?.(dirname(dest));
  const name = `${TMP_PREFIX}${randomBytes(6).toString('hex')}-${basename(dest)}`;
  const tmp = join(options.tmpDir ?? dirname(dest), name);
  const beside = join(dirname(dest), name);
  const forgetTmp = removeOnAbandon(tmp);
  const forgetBeside = removeOnAbandon(beside);
  try {
    if (options.tmpDir) await options.checkFolder?.(options.tmpDir);
    const result = await write(tmp);
    let ready = tmp;
    if (options.tmpDir && (await stat(tmp)).dev !== (await stat(dirname(dest))).dev) {
      // Another file system: a rename cannot cross it, so copy beside the destination first.
      await copyFile(tmp, beside);
      await rm(tmp, { force: true });
      ready = beside;
    }
    await syncPath(ready);
    await options.beforeRename?.(ready);
    await options.checkFolder?.(dirname(dest));
    await (options.createOnly ? placeNew(ready, dest) : rename(ready, dest));
    await syncPath(dirname(dest));
    return result;
  } catch (err) {
    await rm(tmp, { force: true });
    await rm(beside, { force: true });
    throw err;
  } finally {
    forgetTmp();
    forgetBeside();
  }
}

/** `ready` put at `dest` only where nothing is there: an EEXIST error whose `path` is `dest` otherwise. */
async function placeNew(ready: string, dest: string): Promise<void> {
  const taken = (): Error => Object.assign(new Error(`EEXIST: file already exists, ${dest}`), { code: 'EEXIST', path: dest });
  try {
    await link(ready, dest);
  } catch (err) {
    const code = errnoOf(err);
    if (code === 'EEXIST') throw taken();
    if (!code || !NO_LINKS.has(code)) throw err;
    if (await lstat(dest).then(() => true, () => false)) throw taken();
    await rename(ready, dest);
    return;
  }
  await unlink(ready);
}

/**
 * Flush a file's data, or a folder's entries, to the disk (fsync): what the README calls safe at a
 * power cut is on the disk once this resolves.
 */
export async function syncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Write `data` to `path` through a temporary file (beside it, or in `tmpDir`) and a rename. */
export async function writeFileAtomically(path: string, data: string | Uint8Array, tmpDir?: string): Promise<void> {
  await writeAtomically(path, (tmp) => writeFile(tmp, data), tmpDir ? { tmpDir } : {});
}

/**
 * Write text given in pieces (a generator, say) atomically, in blocks of about 1 MB: never one
 * string, so a file larger than V8's longest string (a manifest or report of millions of photos)
 * can be written.
 */
export async function writeTextAtomically(dest: string, pieces: Iterable<string>): Promise<void> {
  await writeAtomically(dest, async (tmp) => {
    const out = await open(tmp, 'w');
    try {
      let block: string[] = [];
      let chars = 0;
      for (const piece of pieces) {
        block.push(piece);
        chars += piece.length;
        if (chars >= 1 << 20) {
          await out.write(block.join(''));
          block = [];
          chars = 0;
        }
      }
      if (block.length) await out.write(block.join(''));
    } finally {
      await out.close();
    }
  });
}
