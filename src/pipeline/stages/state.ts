/**
 * state and hash: for each photo of a chunk, whether its output is up to date (skipped without
 * reading the photo when its size and mtime are unchanged), whose file is at its output's place,
 * and its content hash. Returns the photos that need work, and starts the pixel threads at the
 * first of them: a run with nothing to do starts none.
 */
import { stat } from 'node:fs/promises';
import { BadPhotoError } from '../../errors.js';
import { sha256File } from '../../io/hash.js';
import { openedInputCheck } from '../../io/roots.js';
import { loadHeaderReader } from '../../image/pixel-count.js';
import { colourLimit, outputParams, type Prepared, type RunContext } from '../context.js';
import { Limiter } from '../limiter.js';
import { madeWith } from '../manifest.js';
import { foundInColour, leftAlone, recorded, type Recorded } from '../up-to-date.js';
import type { SizeTime } from '../file-states.js';
import type { PlannedFile } from '../outputs.js';
import type { Photo } from '../photo.js';

const HASH_CONCURRENCY = 4;

export async function prepareChunk(ctx: RunContext, photos: readonly Photo[]): Promise<Prepared[]> {
  // Most photos of a nightly re-run are settled here at once, without a promise each.
  const toRead = photos.filter((photo) => !settledUnread(ctx, photo));
  // The photos that may need work: this chunk's that are read, and all of the chunks after it.
  const mayNeedWork = toRead.length + ctx.photos.length - (photos.at(-1)?.index ?? 0) - 1;
  const out: Prepared[] = [];
  const limit = new Limiter(HASH_CONCURRENCY);
  await Promise.all(
    toRead.map((photo) =>
      limit.run(async () => {
        const p = await preparePhoto(ctx, photo);
        if (!p) return;
        // A photo needs pixel work: the threads start loading while this chunk is hashed and looked
        // up, and the main thread's header reader with them (an install that cannot load it stops the run).
        ctx.pixels.start(mayNeedWork);
        await loadHeaderReader();
        out.push(p);
      }),
    ),
  );
  return out.sort((a, b) => a.photo.index - b.photo.index);
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
function settledUnread(ctx: RunContext, photo: Photo): boolean {
  const st = ctx.states.input(photo.index);
  if (!st || st.size === 0 || ctx.opts.force) return false;
  const alone = leftAlone(ctx.manifest, photo.file, st, ctx.states.output(photo.index), outputParams(ctx), colourLimit(ctx));
  if (!alone) return false;
  photo.skip(alone.reason, alone.known.sha256);
  return true;
}

/** One photo: finished here (skipped or failed), or returned with its hash for the next stages. */
async function preparePhoto(ctx: RunContext, photo: Photo): Promise<Prepared | null> {
  const { manifest, opts } = ctx;
  const { index, file } = photo;
  let st = ctx.states.input(index);
  if (!st) {
    try {
      st = await stat(file.path);
    } catch (err) {
      photo.fail(err);
      return null;
    }
  }
  if (st.size === 0) {
    photo.fail(new BadPhotoError(file.path, 'EMPTY', 'empty file (0 bytes)'));
    return null;
  }
  const { onDisk, ours, known } = recordedFor(ctx, index, file, st);
  const sha = known ? known.sha256 : await hashPhoto(ctx, photo);
  if (sha === null) return null;
  photo.hashed(sha);
  // Found in colour by an earlier run with --skip-color, and unchanged since: not read again.
  if (foundInColour(known, colourLimit(ctx))) {
    photo.skip('already in colour');
    return null;
  }
  // Changed (or touched) since its record, but the same bytes: its output is still up to date.
  const madeAlready = ours && ours.sha256 === sha && madeWith(ours, outputParams(ctx), file.format);
  if (!opts.force && madeAlready) {
    if (!known || ours !== manifest.get(file.outputRel)) await photo.skipRecorded('up to date', { ...ours, input: file.path, inputSize: st.size, inputMtimeMs: st.mtimeMs });
    else photo.skip('up to date');
    return null;
  }
  // An output of ddcolor's is replaced when out of date. A file there that the manifest does not
  // know is compared, once this run has made the output, with what it made: the same bytes are
  // ddcolor's (a lost manifest, a copied folder); anything else is the user's and left alone.
  const unknownOutput = onDisk !== null && !ours && (file.keepForeign === true || (!opts.force && !opts.overwrite));
  return { photo, file, size: st.size, mtimeMs: st.mtimeMs, sha, hasOutput: ours !== undefined, unknownOutput, outputSeen: onDisk };
}

async function hashPhoto(ctx: RunContext, photo: Photo): Promise<string | null> {
  const t = performance.now();
  try {
    return await sha256File(photo.file.path, openedInputCheck(ctx.opts.inputRoots, photo.file.path));
  } catch (err) {
    photo.fail(err);
    return null;
  } finally {
    ctx.timings.hashMs += performance.now() - t;
    ctx.profile.span('hash', t, performance.now());
  }
}
