/**
 * state and hash: for each photo of a chunk, whether its output is up to date (skipped without
 * reading the photo when its size and mtime are unchanged), whose file is at its output's place,
 * and its content hash. Returns the photos that need work.
 */
import { stat } from 'node:fs/promises';
import { sha256File } from '../../io/hash.js';
import { ALREADY_IN_COLOUR, colourLimit, outputParams, type Prepared, type RunContext } from '../context.js';
import { Limiter } from '../limiter.js';
import { madeWith } from '../manifest.js';
import { foundInColour, recorded, upToDate, type Recorded } from '../up-to-date.js';
import type { SizeTime } from '../file-states.js';
import type { PlannedFile } from '../outputs.js';

const HASH_CONCURRENCY = 4;

export async function prepareChunk(ctx: RunContext, start: number, files: readonly PlannedFile[]): Promise<Prepared[]> {
  const out: Prepared[] = [];
  const limit = new Limiter(HASH_CONCURRENCY);
  const rest: Array<Promise<void>> = [];
  files.forEach((file, k) => {
    // Most photos of a nightly re-run are settled here at once, without a promise each.
    if (settledUnread(ctx, start + k, file)) return;
    rest.push(
      limit.run(async () => {
        const p = await preparePhoto(ctx, start + k, file);
        if (p) out.push(p);
      }),
    );
  });
  await Promise.all(rest);
  return out.sort((a, b) => a.index - b.index);
}

/** What the records say of a photo whose input is `st` now (see up-to-date.ts). */
function recordedFor(ctx: RunContext, index: number, file: PlannedFile, st: SizeTime): Recorded & { onDisk: SizeTime | null } {
  const onDisk = ctx.states.output(index);
  return { onDisk, ...recorded(ctx.manifest, file.outputRel, file.path, st, onDisk) };
}

/**
 * A photo finished without reading it or writing a record: unchanged since the run that recorded
 * it, and its output up to date (skipped), or found in colour then (skipped). False: see preparePhoto.
 */
function settledUnread(ctx: RunContext, index: number, file: PlannedFile): boolean {
  const st = ctx.states.input(index);
  if (!st || st.size === 0 || ctx.opts.force) return false;
  const seen = recordedFor(ctx, index, file, st);
  const { known } = seen;
  if (!known) return false;
  const inColour = foundInColour(known, colourLimit(ctx));
  if (!inColour && !upToDate(ctx.manifest, file.outputRel, file.format, outputParams(ctx), seen)) return false;
  ctx.ledger.setSha(index, known.sha256);
  if (inColour) ctx.ledger.skip(index, ALREADY_IN_COLOUR);
  else ctx.ledger.finish(index, 'skipped');
  return true;
}

/** One photo: finished here (skipped or failed), or returned with its hash for the next stages. */
async function preparePhoto(ctx: RunContext, index: number, file: PlannedFile): Promise<Prepared | null> {
  const { ledger, manifest, opts } = ctx;
  let st = ctx.states.input(index);
  if (!st) {
    try {
      st = await stat(file.path);
    } catch (err) {
      ledger.fail(index, err);
      return null;
    }
  }
  if (st.size === 0) {
    ledger.finish(index, 'failed', `${file.path}: empty file (0 bytes)`);
    return null;
  }
  const { onDisk, ours, known } = recordedFor(ctx, index, file, st);
  const sha = known ? known.sha256 : await hashPhoto(ctx, index, file);
  if (sha === null) return null;
  ledger.setSha(index, sha);
  // Found in colour by an earlier run with --skip-color, and unchanged since: not read again.
  if (foundInColour(known, colourLimit(ctx))) {
    ledger.skip(index, ALREADY_IN_COLOUR);
    return null;
  }
  // Changed (or touched) since its record, but the same bytes: its output is still up to date.
  const madeAlready = ours && ours.sha256 === sha && madeWith(ours, outputParams(ctx), file.format);
  if (!opts.force && madeAlready) {
    if (!known || ours !== manifest.get(file.outputRel)) await manifest.record({ ...ours, input: file.path, inputSize: st.size, inputMtimeMs: st.mtimeMs });
    ledger.finish(index, 'skipped');
    return null;
  }
  // An output of ddcolor's is replaced when out of date. A file there that the manifest does not
  // know is compared, once this run has made the output, with what it made: the same bytes are
  // ddcolor's (a lost manifest, a copied folder); anything else is the user's and left alone.
  const unknownOutput = onDisk !== null && !ours && (file.keepForeign === true || (!opts.force && !opts.overwrite));
  return { index, file, size: st.size, mtimeMs: st.mtimeMs, sha, hasOutput: ours !== undefined, unknownOutput };
}

async function hashPhoto(ctx: RunContext, index: number, file: PlannedFile): Promise<string | null> {
  const t = performance.now();
  try {
    return await sha256File(file.path);
  } catch (err) {
    ctx.ledger.fail(index, err);
    return null;
  } finally {
    ctx.timings.hashMs += performance.now() - t;
    ctx.profile.span('hash', t, performance.now());
  }
}
