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
  const there = await readFile(p.file.output).catch(() => null);
  if (there && Buffer.compare(there, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)) === 0) {
    await p.photo.outputReady(manifestEntry(ctx, p, await stat(p.file.output)));
    return;
  }
  throw foreignOutput(p);
}

/** A file of the user's at an output's place: the photo fails (the file's fault, not the photo's), the file is left as it is. */
function foreignOutput(p: Prepared): BlockedError {
  const out = p.file.output;
  return new BlockedError(p.file.path, out, 'OUTPUT_TAKEN', `its output ${out} already exists and was not written by ddcolor, or was changed since; left as it is (move it away, or pass --overwrite to replace it)`);
}

/**
 * Write through the run's temporary folder; the manifest line goes in just before the rename. An
 * output whose place was empty when the photo was planned is put there only if it still is: a
 * file that appeared there meanwhile (the user's, another program's) is left as it is.
 */
async function writeNew(ctx: RunContext, p: Prepared, bytes: Uint8Array): Promise<void> {
  try {
    await writeAtomically(p.file.output, (tmp) => writeFile(tmp, bytes), {
      tmpDir: ctx.tmpDir,
      createOnly: p.outputAbsent,
      ...(ctx.opts.confineOutputs ? { checkFolder: (dir: string) => checkOutputInside(ctx.outDir, dir, p.file.path) } : {}),
      beforeRename: async (ready) => {
        const out = await stat(ready);
        await p.photo.outputReady(manifestEntry(ctx, p, out));
      },
    });
  } catch (err) {
    if (p.outputAbsent && errnoOf(err) === 'EEXIST' && (err as NodeJS.ErrnoException).path === p.file.output) throw foreignOutput(p);
    throw err;
  }
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
