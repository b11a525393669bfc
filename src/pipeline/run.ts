/**
 * One `colorize` run, as a table of contents (DESIGN.md, "The flow of one run"):
 *
 *   open     options checked; scan; the output folder locked and cleared of a killed run's
 *            leftovers; outputs planned; files stat'ed once; manifest, cache (open-run.ts)
 *   state    per photo: up to date (skipped without reading it)? else its content hash (stages/state.ts)
 *   look up  one batched cache lookup per chunk; results known are rendered from, the others
 *            claimed under per-photo locks shared with other runs (stages/lookup.ts)
 *   produce  decode, infer the misses in batches, store results, composite, encode (stages/produce.ts)
 *   write    atomically, recorded in the manifest (stages/write.ts)
 *   report   what happened to every photo (below)
 *
 * Photos move through in chunks: the next chunk is stat'ed, hashed and looked up while the current
 * one is produced. The heavy stages run under a concurrency limit and a memory budget, so memory
 * stays bounded whatever the size of the archive. Identical photos are inferred once.
 */
import { describeSpec } from '../cache/open.js';
import { hitRate } from '../cache/store.js';
import { REPORT_SCHEMA, type RunReport, type StageTimings } from '../report/report.js';
import type { Prepared, RunContext } from './context.js';
import { closeRun, openRun, openWork, type WorkPlace } from './open-run.js';
import { PhotoTasks } from './photo-tasks.js';
import { checkColorizeOptions, type ColorizeOptions } from './options.js';
import { dispatch, settleDeferred } from './stages/lookup.js';
import { prepareChunk } from './stages/state.js';

export { DEFAULT_LOCK_TTL_MS, type WorkPlace } from './open-run.js';

/**
 * Photos stat'ed, hashed and looked up together: FIRST_CHUNK, then twice as many each time up to
 * CHUNK, so that the pixel threads get their first photos after a few are hashed rather than all
 * of the first 256 (a few more lookups, each one round trip).
 */
const FIRST_CHUNK = 4;
const CHUNK = 256;

export async function colorize(opts: ColorizeOptions): Promise<RunReport> {
  checkColorizeOptions(opts);
  return runAll(await openRun(opts));
}

/**
 * The same run over photos already planned, into a folder the caller answers for: a fleet worker's
 * job (fleet/worker.ts), whose photos were scanned by `submit` and whose outputs' records are shared.
 */
export async function colorizeFiles(opts: ColorizeOptions, place: WorkPlace): Promise<RunReport> {
  checkColorizeOptions(opts);
  return runAll(await openWork(opts, place));
}

async function runAll(ctx: RunContext): Promise<RunReport> {
  let failure: { error: unknown } | null = null;
  try {
    ctx.emit({ type: 'stage', stage: 'colorize' });
    const work = new PhotoTasks();
    await runChunks(ctx, work);
    await settleDeferred(ctx, work);
    // Every photo settles before anything closes: one that fails must not pull the stores from under the others.
    const rejected = await work.settle();
    await ctx.results.flush();
    await ctx.cache.addCounters(ctx.counters.lookupHits, ctx.counters.lookups - ctx.counters.lookupHits);
    failure = rejected;
  } catch (err) {
    failure = { error: err };
  }
  const closing = await closeRun(ctx);
  if (failure) throw failure.error;
  if (ctx.stop.fatal) throw ctx.stop.fatal;
  if (closing) throw closing;
  ctx.emit({ type: 'stage', stage: 'finish' });
  return report(ctx);
}

/** State and look up each chunk while the previous one is produced, adding the photos' work to `work`. */
async function runChunks(ctx: RunContext, work: PhotoTasks): Promise<void> {
  const { photos } = ctx;
  let preparedUpTo = 0;
  let size = FIRST_CHUNK;
  const chunkAt = (start: number, n: number): Promise<Prepared[]> | null => {
    if (start >= photos.length || ctx.stop.stopped) return null;
    preparedUpTo = Math.min(start + n, photos.length);
    return prepareChunk(ctx, photos.slice(start, preparedUpTo));
  };
  let next = chunkAt(0, size);
  for (let start = 0; next; ) {
    const items = await next;
    start += size;
    size = Math.min(CHUNK, size * 2);
    next = chunkAt(start, size);
    await dispatch(ctx, items, work);
    await ctx.limiter.settle();
    if (ctx.stop.stopped && next) {
      // Let the chunk being prepared finish its bookkeeping, then mark its photos not processed.
      for (const p of await next) p.photo.cancel(ctx.stop.why);
      next = null;
    }
  }
  // Photos of chunks never prepared: the run stopped first.
  for (let i = preparedUpTo; i < photos.length; i++) photos[i]!.cancel(ctx.stop.why);
}

function report(ctx: RunContext): RunReport {
  const { opts, ledger, cache, timings } = ctx;
  timings.inferenceMs = ctx.model.batcher.inferenceMs;
  const desc = ctx.store ? { backend: ctx.store.backend, location: ctx.store.location } : describeSpec(opts.cache);
  return {
    schema: REPORT_SCHEMA,
    startedAt: new Date(ctx.started).toISOString(),
    finishedAt: new Date().toISOString(),
    durationMs: Date.now() - ctx.started,
    interrupted: ctx.stop.interrupted,
    model: { path: opts.model.path, id: opts.model.id, inputSize: opts.size, device: ctx.model.provider, note: opts.sizeNote ?? null, testModel: opts.model.testModel ?? null },
    cache: { ...desc, degraded: cache.health.degraded, errors: cache.health.errors, error: cache.health.firstError },
    output: ctx.outDir,
    totals: ledger.totals,
    hitRate: hitRate(ledger.totals.hit, ledger.totals.inferred),
    timings: Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, Math.round(v * 10) / 10])) as unknown as StageTimings,
    problems: ctx.problems,
    profile: ctx.profile.rows(),
    files: ledger.records,
  };
}
