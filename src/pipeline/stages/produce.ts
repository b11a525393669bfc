/**
 * produce: the heavy stages of one photo, under the run's concurrency limit and memory budget.
 * A photo whose result is known (a cache hit, or an identical photo of this run) is decoded for
 * its L, composited and written; the first photo of its content with no result is decoded, shrunk
 * for the model, inferred (in batches), its result stored, then composited and written.
 */
import { encodeAb, quantizeAb, type AbPlanes } from '../../chroma/codec.js';
import { CancelledError, DdcolorError, EnvironmentError, errorMessage } from '../../errors.js';
import type { DecodedImage } from '../../image/decode.js';
import { pixelCount } from '../../image/pixel-count.js';
import { colourLimit, keyOf, type Prepared, type RunContext } from '../context.js';
import type { PixelTimings } from '../pixel-work.js';
import { manifestEntry, writeOutput } from './write.js';

/** Run `work` within the concurrency limit, holding the photo's pixels of the memory budget. */
function heavy(ctx: RunContext, p: Prepared, work: () => Promise<void>): Promise<void> {
  const asked = performance.now();
  return ctx.limiter.run(async () => {
    const giveBack = await ctx.budget.acquire(await pixelCount(p.file.path));
    ctx.profile.wait('decode', performance.now() - asked);
    p.photo.working();
    try {
      await work();
    } finally {
      giveBack();
    }
  });
}

/** Add a worker task's own timings (the task ran from `start` to `end` as the main thread saw it) to the run's. */
function count(ctx: RunContext, t: PixelTimings, start: number, end: number): void {
  ctx.timings.decodeMs += t.decodeMs;
  ctx.timings.compositeMs += t.compositeMs;
  ctx.timings.encodeMs += t.encodeMs;
  if (t.decodeMs) ctx.profile.span('decode', start, start + t.decodeMs);
  if (t.compositeMs) ctx.profile.span('composite', end - t.encodeMs - t.compositeMs, end - t.encodeMs);
  if (t.encodeMs) ctx.profile.span('encode', end - t.encodeMs, end);
}

/** Thrown to the photos waiting on a result that will not come: the photo is already in colour. */
class AlreadyInColour extends Error {
  constructor(readonly colourfulness: number) {
    super('already in colour');
  }
}

/** A photo already in colour: skipped with its reason, remembered so the next run does not read it again. */
async function skipColour(ctx: RunContext, p: Prepared, colourfulness: number): Promise<void> {
  // An output made earlier (without --skip-color) stays ddcolor's: its entry is kept.
  if (p.hasOutput) p.photo.skip('already in colour');
  else await p.photo.skipRecorded('already in colour', { ...manifestEntry(ctx, p, null), colourfulness });
}

/**
 * Composite the photo's L with `ab`, encode (in a worker; `decoded` moves there), and put the
 * output in place (its record written first); the photo's colourfulness instead when it is found
 * in colour (a hit decoded here, checked with --skip-color). Ends nothing: the caller does, outside
 * its catch, so that a writer's own failure is never taken for the photo's.
 */
async function render(ctx: RunContext, p: Prepared, decoded: DecodedImage | null, ab: AbPlanes): Promise<{ inColour: number } | null> {
  const limit = decoded ? undefined : colourLimit(ctx);
  const start = performance.now();
  const rendered = await ctx.pixels.render({
    path: p.file.path,
    sha256: p.sha,
    ...(ctx.opts.inputRoots ? { inputRoots: ctx.opts.inputRoots } : {}),
    ...(decoded ? { decoded } : {}),
    ab,
    format: p.file.format,
    quality: ctx.opts.quality,
    saturation: ctx.opts.saturation ?? 1,
    provenance: ctx.provenance,
    ...(limit !== undefined ? { skipColourAbove: limit } : {}),
    ...(ctx.opts.maxPixels ? { maxPixels: ctx.opts.maxPixels } : {}),
  });
  count(ctx, rendered.timings, start, performance.now());
  if (!rendered.bytes) return { inColour: rendered.colourfulness ?? 0 };
  await writeOutput(ctx, p, rendered.bytes);
  return null;
}

/** Render, then end the photo: written, skipped in colour, or failed with what went wrong. */
async function renderAndEnd(ctx: RunContext, p: Prepared, decoded: DecodedImage | null, ab: AbPlanes): Promise<void> {
  let found: { inColour: number } | null;
  try {
    found = await render(ctx, p, decoded, ab);
  } catch (err) {
    return p.photo.fail(err);
  }
  if (found) return skipColour(ctx, p, found.inColour);
  p.photo.written();
}

/** Render `p` from its known result (a cache hit, or an identical photo's): decode its L, composite, write. */
export async function fromKnown(ctx: RunContext, p: Prepared, ab: AbPlanes): Promise<void> {
  p.photo.hit();
  await heavy(ctx, p, async () => {
    if (ctx.stop.stopped) return p.photo.cancel(ctx.stop.why);
    await renderAndEnd(ctx, p, null, ab);
  });
}

/**
 * A photo whose result an identical photo of this run is making: it waits, then is rendered from
 * that result. When the other photo gave up, its own bytes decide: the same content in colour is
 * skipped, a stopped run leaves it not processed, and any other failure of the other file (it
 * changed on disk, the model failed on it) is not this photo's: it is made from its own file.
 */
export async function afterDuplicate(ctx: RunContext, p: Prepared, result: Promise<AbPlanes>): Promise<void> {
  p.photo.wait('duplicate');
  let ab: AbPlanes;
  try {
    ab = await result;
  } catch (err) {
    if (err instanceof AlreadyInColour) return skipColour(ctx, p, err.colourfulness);
    if (err instanceof CancelledError) return p.photo.cancel(err.why);
    if (ctx.stop.stopped) return p.photo.cancel(ctx.stop.why);
    const other = ctx.results.inflight.get(p.sha);
    return other ? afterDuplicate(ctx, p, other) : produce(ctx, p);
  }
  return fromKnown(ctx, p, ab);
}

/** A deferred promise of a photo's result, for identical photos to wait on. */
function pending(): { promise: Promise<AbPlanes>; resolve: (ab: AbPlanes) => void; reject: (err: unknown) => void } {
  let resolve!: (ab: AbPlanes) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<AbPlanes>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

/** The first photo of its content with no cached result: decode, infer, store, write (`inferred`). */
export function produce(ctx: RunContext, p: Prepared): Promise<void> {
  p.photo.infer();
  const result = pending();
  ctx.results.inflight.set(p.sha, result.promise);
  const giveUp = (err: unknown): void => {
    result.reject(err);
    ctx.results.inflight.delete(p.sha);
    void ctx.locks.release([keyOf(ctx, p.sha)]);
  };
  // Memory first, then the batcher: a photo waiting for memory is not yet expected by the
  // batcher, so a batch never waits for a photo that waits for the batch to free memory.
  return heavy(ctx, p, async () => {
    if (ctx.stop.stopped) {
      giveUp(new CancelledError(ctx.stop.why));
      return p.photo.cancel(ctx.stop.why);
    }
    const made = await infer(ctx, p, giveUp);
    if (!made) return;
    if ('colourfulness' in made) {
      giveUp(new AlreadyInColour(made.colourfulness));
      return skipColour(ctx, p, made.colourfulness);
    }
    result.resolve(made.ab);
    ctx.results.inflight.delete(p.sha);
    ctx.results.store(p.sha, keyOf(ctx, p.sha), encodeAb(made.ab));
    await renderAndEnd(ctx, p, made.decoded, made.ab);
  });
}

/** Decode for the model (in a worker) and infer; null (the photo failed) when either fails. */
async function infer(
  ctx: RunContext,
  p: Prepared,
  giveUp: (err: unknown) => void,
): Promise<{ decoded: DecodedImage; ab: AbPlanes } | { colourfulness: number } | null> {
  const { batcher } = ctx.model;
  const S = ctx.opts.size;
  batcher.expect();
  let prepared;
  try {
    const start = performance.now();
    prepared = await ctx.pixels.prepare({
      path: p.file.path,
      sha256: p.sha,
      size: S,
      ...(ctx.opts.inputRoots ? { inputRoots: ctx.opts.inputRoots } : {}),
      ...(ctx.opts.maxPixels ? { maxPixels: ctx.opts.maxPixels } : {}),
    });
    count(ctx, prepared.timings, start, performance.now());
  } catch (err) {
    batcher.cancel();
    giveUp(err);
    p.photo.fail(err);
    return null;
  }
  const limit = colourLimit(ctx);
  if (limit !== undefined && prepared.colourfulness > limit) {
    batcher.cancel();
    return { colourfulness: prepared.colourfulness };
  }
  try {
    const raw = await batcher.infer(prepared.planes);
    const ab = quantizeAb(raw, S, S);
    // The scan's gray (or neutral RGB) decode is remembered with its result, for hits to decode it as gray.
    ab.scanIsGray = prepared.decoded.channels === 1;
    return { decoded: prepared.decoded, ab };
  } catch (err) {
    // A model or device that cannot work here stops the run: every other photo would fail the same way.
    if (err instanceof DdcolorError && (err.kind === 'config' || err.kind === 'usage')) ctx.stop.fatal ??= err;
    // The model failed (out of memory, a device error): not the photo's fault, so worth trying again.
    const fault = new EnvironmentError(p.file.path, 'MODEL', `the model failed: ${errorMessage(err)}`, err);
    giveUp(fault);
    p.photo.fail(fault);
    return null;
  }
}
