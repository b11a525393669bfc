/**
 * Writing a file so that no reader, and no killed run, ever sees half of it: the content goes to a
 * temporary name beside the destination (`.ddcolor-tmp-<random>-<name>`, on the same file system)
 * and is renamed into place. A failed write removes its temporary file.
 *
 * Files in progress are remembered, so that a process that must exit at once (a second Ctrl-C)
 * can remove them synchronously first: `removeAbandonedFiles()`. Other files that belong to the
 * run alone (the output folder's lock) can be registered for that too.
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

const abandonOnExit = new Set<string>();

/** Remove `path` if the process has to exit at once; returns the function that forgets it. */
export function removeOnAbandon(path: string): () => void {
  abandonOnExit.add(path);
  return () => abandonOnExit.delete(path);
}

/** Synchronously remove every file in progress and every registered file (for an immediate exit). */
export function removeAbandonedFiles(): void {
  for (const path of abandonOnExit) {
    try {
      rmSync(path, { force: true });
    } catch {
      // nothing more can be done on the way out
    }
  }
  abandonOnExit.clear();
}

/** Write `dest` through `write(tmp)` and a rename; resolves to what `write` resolved to. */
export async function writeAtomically<T>(dest: string, write: (tmp: string) => Promise<T>): Promise<T> {
  await mkdir(dirname(dest), { recursive: true });
  const tmp = join(dirname(dest), `.ddcolor-tmp-${randomBytes(6).toString('hex')}-${basename(dest)}`);
  const forget = removeOnAbandon(tmp);
  try {
    const result = await write(tmp);
    await rename(tmp, dest);
    return result;
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  } finally {
    forget();
  }
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
