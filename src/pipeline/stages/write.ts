/**
 * write: an output's bytes to its place, atomically, through the run's temporary folder. The
 * manifest line goes in just before the rename (size and mtime survive it), so a run killed at any
 * point never leaves an output of its own that the next run does not know as ddcolor's.
 */
import { readFile, stat, writeFile } from 'node:fs/promises';
import { BlockedError, errnoOf } from '../../errors.js';
import { writeAtomically } from '../../io/atomic-write.js';
import { checkOutputInside } from '../../io/roots.js';
import { outputParams, type Prepared, type RunContext } from '../context.js';
import type { ManifestEntry } from '../manifest.js';

export async function writeOutput(ctx: RunContext, p: Prepared, bytes: Uint8Array): Promise<void> {
  const t = performance.now();
  if (p.unknownOutput) await adoptOrRefuse(ctx, p, bytes);
  else await writeNew(ctx, p, bytes);
  ctx.profile.span('write', t, performance.now());
}

/** The output's place holds a file the manifest does not know: ddcolor's if it is these very bytes. */
async function adoptOrRefuse(ctx: RunContext, p: Prepared, bytes: Uint8Array): Promise<void> {
  if (!(await holds(p.file.output, bytes))) throw foreignOutput(p);
  await p.photo.outputReady(manifestEntry(ctx, p, await stat(p.file.output)));
}

/** Whether the file at `path` holds exactly `bytes`. */
async function holds(path: string, bytes: Uint8Array): Promise<boolean> {
  const there = await readFile(path).catch(() => null);
  return there !== null && Buffer.compare(there, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)) === 0;
}

/** A file of the user's at an output's place: the photo fails (the file's fault, not the photo's), the file is left as it is. */
function foreignOutput(p: Prepared): BlockedError {
  const out = p.file.output;
  return new BlockedError(p.file.path, out, 'OUTPUT_TAKEN', `its output ${out} already exists and was not written by ddcolor, or was changed since; left as it is (move it away, or pass --overwrite to replace it)`);
}

/** Thrown at the rename when the output's place holds the very bytes the photo made: its output is in place already. */
class AlreadyInPlace extends Error {}

/**
 * Write through the run's temporary folder; the manifest line goes in just before the rename. The
 * output replaces only the file that was at its place when the photo was planned, and goes to an
 * empty place only if it is still empty: a file saved there meanwhile (the user's, another
 * program's) is left as it is, and the photo fails as OUTPUT_TAKEN, unless it holds the very bytes
 * the photo made (the same job given to two fleet workers at once): that file is then its output.
 */
async function writeNew(ctx: RunContext, p: Prepared, bytes: Uint8Array): Promise<void> {
  const empty = p.outputSeen === null;
  try {
    await writeAtomically(p.file.output, (tmp) => writeFile(tmp, bytes), {
      tmpDir: ctx.tmpDir,
      createOnly: empty,
      ...(ctx.opts.confineOutputs ? { checkFolder: (dir: string) => checkOutputInside(ctx.outDir, dir, p.file.path) } : {}),
      beforeRename: async (ready) => {
        await checkPlace(p, bytes);
        await p.photo.outputReady(manifestEntry(ctx, p, await stat(ready)));
      },
    });
  } catch (err) {
    if (err instanceof AlreadyInPlace) return p.photo.outputReady(manifestEntry(ctx, p, await stat(p.file.output)));
    // A file that appeared in the instant between that look and the link.
    if (empty && errnoOf(err) === 'EEXIST' && (err as NodeJS.ErrnoException).path === p.file.output) throw foreignOutput(p);
    throw err;
  }
}

/** The output's place is as the photo's planning saw it (or empty now); else AlreadyInPlace for its very bytes, or OUTPUT_TAKEN. */
async function checkPlace(p: Prepared, bytes: Uint8Array): Promise<void> {
  const now = await stat(p.file.output).catch(() => null);
  const seen = p.outputSeen;
  if (!now || (seen && now.size === seen.size && now.mtimeMs === seen.mtimeMs)) return;
  if (await holds(p.file.output, bytes)) throw new AlreadyInPlace();
  throw foreignOutput(p);
}

/** What the manifest remembers of a photo's output (`output` null: none written, sizes -1). */
export function manifestEntry(ctx: RunContext, p: Prepared, output: { size: number; mtimeMs: number } | null): ManifestEntry {
  return {
    output: p.file.outputRel,
    input: p.file.path,
    inputSize: p.size,
    inputMtimeMs: p.mtimeMs,
    sha256: p.sha,
    ...outputParams(ctx),
    format: p.file.format,
    outputSize: output?.size ?? -1,
    outputMtimeMs: output?.mtimeMs ?? -1,
  };
}
