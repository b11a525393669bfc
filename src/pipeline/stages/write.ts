/**
 * write: an output's bytes to its place, atomically, through the run's temporary folder. The
 * manifest line goes in just before the rename (size and mtime survive it), so a run killed at any
 * point never leaves an output of its own that the next run does not know as ddcolor's.
 */
import { stat, writeFile } from 'node:fs/promises';
import { writeAtomically } from '../../io/atomic-write.js';
import { outputParams, type Prepared, type RunContext } from '../context.js';
import type { ManifestEntry } from '../manifest.js';

export async function writeOutput(ctx: RunContext, p: Prepared, bytes: Uint8Array): Promise<void> {
  const t = performance.now();
  await writeOutput0(ctx, p, bytes);
  ctx.profile.span('write', t, performance.now());
}

async function writeOutput0(ctx: RunContext, p: Prepared, bytes: Uint8Array): Promise<void> {
  await writeAtomically(p.file.output, (tmp) => writeFile(tmp, bytes), {
    tmpDir: ctx.tmpDir,
    beforeRename: async (ready) => {
      const out = await stat(ready);
      await ctx.manifest.record(manifestEntry(ctx, p, out));
    },
  });
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
