/**
 * One `colorize` run: scan -> state -> hash -> lookup (batched) -> hits | misses -> composite ->
 * encode -> write -> report (DESIGN.md, "The flow of one run").
 *
 * Photos move through in chunks. For a chunk, the cheap stages run with high concurrency: a stat
 * per photo against the manifest (an up-to-date output is `skipped` without reading the photo),
 * hashing of the rest, and one batched cache lookup for all their keys. The heavy stages (decode,
 * inference, composite, encode) run under a concurrency limit, so memory stays bounded whatever
 * the size of the archive; the next chunk is hashed and looked up while the current one is
 * decoded, inferred and written.
 *
 * Identical photos are inferred once: the first becomes the producer, the others wait for its
 * result (and count as hits). Results are stored in the cache in batches.
 */
import { access, constants, mkdir, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { removeOnAbandon, writeAtomically } from '../io/atomic-write.js';
import { CorruptValueError, decodeAb, encodeAb, quantizeAb, type AbPlanes } from '../chroma/codec.js';
import { cacheKey } from '../cache/keys.js';
import { describeSpec, openCache, type CacheSpec, type OpenCacheOptions } from '../cache/open.js';
import type { CacheEntry, CacheStore } from '../cache/store.js';
import { hitRate } from '../cache/store.js';
import { DdcolorError, errorMessage } from '../errors.js';
import { newOwner } from '../io/owner.js';
import { decodeImage, pixelCount, type DecodedImage } from '../image/decode.js';
import { encodeImage, type FormatChoice } from '../image/encode.js';
import { composite, PROCESSING_VERSION } from '../model/ddcolor.js';
import { openSession, type Device, type ExecutionProvider, type ModelInfo, type ModelSession } from '../model/session.js';
import { emptyTotals, REPORT_SCHEMA, type FileRecord, type RunReport, type StageTimings, type Totals } from '../report/report.js';
import { InferenceBatcher } from './batcher.js';
import { checkColorizeOptions } from './check-options.js';
import { defaultMemoryBudget, PixelBudget } from './budget.js';
import { GuardedCache } from './guarded-cache.js';
import { Limiter } from './limiter.js';
import { Manifest } from './manifest.js';
import { FileStates } from './file-states.js';
import { clearLeftovers, removeTmpDir, TMP_DIR } from './leftovers.js';
import { lockOutputFolder } from './out-lock.js';
import { planOutputs, type PlannedFile } from './outputs.js';
import { sha256File } from '../io/hash.js';
import { scanPaths, type ScanProblem } from './scan.js';

export type RunEvent =
  | { type: 'stage'; stage: 'scan' | 'colorize' | 'finish' }
  | { type: 'scanned'; files: number; problems: ScanProblem[] }
  | { type: 'model-loaded'; provider: ExecutionProvider; ms: number }
  | { type: 'warning'; message: string }
  | { type: 'file'; record: FileRecord; done: number; total: number; totals: Totals };

export interface ColorizeOptions {
  paths: string[];
  outDir: string;
  model: ModelInfo;
  /** The model's input size S (see resolveInputSize). */
  size: number;
  /** Why S differs from what was asked, if it does. */
  sizeNote?: string | null;
  device: Device;
  /** Photos per inference batch; 'auto' (the default): 4 on CUDA, 1 on the CPU. */
  batchSize?: number | 'auto';
  concurrency: number;
  cache: CacheSpec;
  cacheOptions?: OpenCacheOptions;
  ttlMs: number;
  format: FormatChoice;
  quality: number;
  force: boolean;
  /** Replace outputs that ddcolor did not write, or that were changed since (default: leave them, and fail the photo). */
  overwrite?: boolean;
  /** Bytes that photos in flight may hold at once, roughly (default: a quarter of RAM, at most 4 GiB). */
  memoryBudget?: number;
  /** Refuse photos with more pixels than this. */
  maxPixels?: number;
  /** Threads for the CPU provider (default: onnxruntime's own choice). */
  threads?: number;
  /** After a cache failure, leave the cache alone this long before trying it again (default 10 s). */
  cacheRetryMs?: number;
  /** When another run holds the output folder: wait for it (true) or fail (false, the default). */
  waitLock?: boolean;
  /** Lifetime of the per-photo locks shared with other runs (default 2 minutes, extended while held). */
  lockTtlMs?: number;
  /** Abort: no new photo is started; photos in flight are finished; the report says interrupted. */
  signal?: AbortSignal;
  onEvent?: (event: RunEvent) => void;
}

const CHUNK = 256;
/** A lock outlives a stalled or killed run by at most this long; held locks are extended meanwhile. */
export const DEFAULT_LOCK_TTL_MS = 120_000;
const WRITE_BATCH = 32;
/** Results kept in memory for duplicates later in the same run (encoded: tens of KB each). */
const RECENT_RESULTS = 512;

interface Prepared {
  index: number;
  file: PlannedFile;
  size: number;
  mtimeMs: number;
  sha: string;
}

/** Check the output folder can be written before doing any work (exit 2 otherwise). */
async function ensureWritable(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
    await access(dir, constants.W_OK);
  } catch (err) {
    throw new DdcolorError('config', `output folder ${dir} cannot be written: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`, dir);
  }
}

export async function colorize(opts: ColorizeOptions): Promise<RunReport> {
  checkColorizeOptions(opts);
  const started = Date.now();
  const emit = opts.onEvent ?? (() => undefined);
  const outDir = resolve(opts.outDir);
  const timings: StageTimings = { scanMs: 0, hashMs: 0, lookupMs: 0, decodeMs: 0, inferenceMs: 0, compositeMs: 0, encodeMs: 0, modelLoadMs: 0 };

  emit({ type: 'stage', stage: 'scan' });
  const t0 = performance.now();
  const scan = await scanPaths(opts.paths, { exclude: [outDir] });
  timings.scanMs = performance.now() - t0;
  emit({ type: 'scanned', files: scan.files.length, problems: scan.problems });
  await ensureWritable(outDir);
  const releaseOutput = await lockOutputFolder(outDir, {
    wait: opts.waitLock ?? false,
    ...(opts.signal ? { signal: opts.signal } : {}),
    onWait: (h) =>
      emit({ type: 'warning', message: `waiting for another ddcolor run (${h ? `pid ${h.pid} on ${h.host}` : 'unknown owner'}) writing to ${outDir}` }),
    onTakeover: (h, why) =>
      emit({ type: 'warning', message: `took over the lock on ${outDir} left by ${h ? `pid ${h.pid} on ${h.host}` : 'an unknown run'}: ${why}` }),
  });

  const planned = planOutputs(scan.files, outDir, opts.format);
  let states: FileStates;
  try {
    states = await FileStates.take(planned);
  } catch (err) {
    await releaseOutput();
    throw err;
  }
  const manifest = await new Manifest(outDir).load();
  if (manifest.readError) {
    emit({ type: 'warning', message: `cannot read ${manifest.path} (${errorMessage(manifest.readError)}): outputs are checked again, and the file is kept as it is` });
  }

  let store: CacheStore | null = null;
  let openError: unknown = null;
  try {
    store = await openCache(opts.cache, opts.cacheOptions);
  } catch (err) {
    // A cache that is down degrades to none; one that is wrongly configured stops the run.
    if (err instanceof DdcolorError) {
      await releaseOutput();
      throw err;
    }
    openError = err;
  }
  const leftovers = await clearLeftovers(outDir);
  if (leftovers > 0) emit({ type: 'warning', message: `removed ${leftovers} temporary file${leftovers > 1 ? 's' : ''} that an interrupted run left in ${outDir}` });
  const tmpDir = join(outDir, TMP_DIR);
  await mkdir(tmpDir, { recursive: true });
  const forgetTmpDir = removeOnAbandon(tmpDir);
  const cache = new GuardedCache(store, (message) => emit({ type: 'warning', message }), opts.cacheRetryMs ?? 10_000);
  if (openError) cache.failedToOpen(openError);

  let session: Promise<ModelSession> | null = null;
  let provider: ExecutionProvider | null = null;
  const getSession = (): Promise<ModelSession> => {
    session ??= (async () => {
      const t = performance.now();
      const s = await openSession(opts.model, opts.device, opts.threads);
      timings.modelLoadMs = performance.now() - t;
      provider = s.provider;
      emit({ type: 'model-loaded', provider: s.provider, ms: timings.modelLoadMs });
      return s;
    })();
    return session;
  };
  const S = opts.size;
  const batcher = new InferenceBatcher(getSession, S, opts.batchSize ?? 'auto', opts.model.fixedBatch);
  const limiter = new Limiter(Math.max(1, opts.concurrency));
  const budget = PixelBudget.forBytes(opts.memoryBudget ?? defaultMemoryBudget());

  const records: FileRecord[] = planned.map((f) => ({ input: f.path, output: f.output, sha256: null, status: 'failed', error: null }));
  const totals = emptyTotals();
  totals.files = planned.length;
  let done = 0;
  let fatal = null as DdcolorError | null;
  let lookups = 0;
  let lookupHits = 0;

  const finish = (i: number, status: FileRecord['status'], error: string | null = null): void => {
    const r = records[i]!;
    r.status = status;
    r.error = error;
    if (status === 'failed' || status === 'not-processed') r.output = null;
    if (status === 'not-processed') totals.notProcessed++;
    else totals[status]++;
    done++;
    emit({ type: 'file', record: r, done, total: planned.length, totals: { ...totals } });
  };
  const failName = (f: PlannedFile, err: unknown): string => `${f.path}: ${errorMessage(err)}`;

  // Results produced in this run, for identical photos: in flight, and recently finished.
  const inflight = new Map<string, Promise<AbPlanes>>();
  const recent = new Map<string, Buffer>();
  const remember = (sha: string, value: Buffer): void => {
    recent.set(sha, value);
    if (recent.size > RECENT_RESULTS) recent.delete(recent.keys().next().value!);
  };

  // Locks: a photo is inferred by the run that holds its lock; others wait for the result.
  const owner = newOwner();
  const lockTtl = opts.lockTtlMs ?? DEFAULT_LOCK_TTL_MS;
  const held = new Set<string>();
  const refresher = setInterval(() => void cache.refreshLocks([...held], owner, lockTtl), Math.max(200, lockTtl / 3));
  refresher.unref();
  const release = async (keys: string[]): Promise<void> => {
    const mine = keys.filter((k) => held.delete(k));
    await cache.unlock(mine, owner);
  };

  // Results are written as they come: one write at a time, the next batch gathering meanwhile,
  // so other runs waiting on a photo see its result soon. A lock is released once its result is stored.
  let writes: CacheEntry[] = [];
  let writing: Promise<void> | null = null;
  const drainWrites = async (): Promise<void> => {
    while (writes.length > 0) {
      const batch = writes.splice(0, WRITE_BATCH);
      await cache.setMany(batch, opts.ttlMs);
      await release(batch.map((e) => e.key));
    }
    writing = null;
  };
  const flushWrites = (): Promise<void> => (writing ??= drainWrites());

  const keyOf = (sha: string): string => cacheKey(opts.model.id, S, sha);
  const params = { modelId: opts.model.id, modelSize: S, processing: PROCESSING_VERSION, quality: opts.quality };

  const render = async (p: Prepared, decoded: DecodedImage, ab: AbPlanes): Promise<void> => {
    let t = performance.now();
    const rgb = composite(decoded.L, decoded.width, decoded.height, ab);
    timings.compositeMs += performance.now() - t;
    t = performance.now();
    const bytes = await encodeImage({
      source: p.file.path,
      rgb,
      width: decoded.width,
      height: decoded.height,
      alpha: decoded.alpha,
      format: p.file.format,
      quality: opts.quality,
      decode: opts.maxPixels ? { maxPixels: opts.maxPixels } : {},
    });
    timings.encodeMs += performance.now() - t;
    // The manifest line is written before the rename (the size and mtime survive it): a run killed
    // at any point never leaves an output of its own that the next run does not know as ddcolor's.
    await writeAtomically(p.file.output, (tmp) => writeFile(tmp, bytes), {
      tmpDir,
      beforeRename: async (ready) => {
        const out = await stat(ready);
        await manifest.record({
          output: p.file.outputRel,
          input: p.file.path,
          inputSize: p.size,
          inputMtimeMs: p.mtimeMs,
          sha256: p.sha,
          ...params,
          format: p.file.format,
          outputSize: out.size,
          outputMtimeMs: out.mtimeMs,
        });
      },
    });
  };

  const decode = async (p: Prepared, size: number | null): Promise<DecodedImage> => {
    const t = performance.now();
    try {
      return await decodeImage(p.file.path, size, opts.maxPixels ? { maxPixels: opts.maxPixels } : {});
    } finally {
      timings.decodeMs += performance.now() - t;
    }
  };

  /** A photo whose result is known (cache hit or another photo of this run): decode L, composite, write. */
  const fromResult = async (p: Prepared, result: Promise<AbPlanes>): Promise<void> => {
    let ab: AbPlanes;
    try {
      ab = await result;
    } catch (err) {
      finish(p.index, 'failed', failName(p.file, err));
      return;
    }
    await limiter.run(async () => {
      const giveBack = await budget.acquire(await pixelCount(p.file.path));
      try {
        if (fatal || opts.signal?.aborted) return finishAborted(p);
        const decoded = await decode(p, null);
        await render(p, decoded, ab);
        finish(p.index, 'hit');
      } catch (err) {
        finish(p.index, 'failed', failName(p.file, err));
      } finally {
        giveBack();
      }
    });
  };

  const finishAborted = (p: Prepared): void => {
    records[p.index]!.sha256 = p.sha;
    finish(p.index, 'not-processed', fatal ? `${p.file.path}: not processed (${fatal.message})` : `${p.file.path}: not processed (interrupted)`);
  };

  /** The first photo of its content with no cached result: decode, infer, store, write. */
  const produce = (p: Prepared): Promise<void> => {
    let resolveResult!: (ab: AbPlanes) => void;
    let rejectResult!: (err: unknown) => void;
    const result = new Promise<AbPlanes>((res, rej) => {
      resolveResult = res;
      rejectResult = rej;
    });
    result.catch(() => undefined);
    inflight.set(p.sha, result);
    // Memory first, then the batcher: a photo waiting for memory is not yet expected by the
    // batcher, so a batch never waits for a photo that waits for the batch to free memory.
    return limiter.run(async () => {
      const giveBack = await budget.acquire(await pixelCount(p.file.path));
      try {
        await work();
      } finally {
        giveBack();
      }
    });

    async function work(): Promise<void> {
      if (fatal || opts.signal?.aborted) {
        rejectResult(new Error('not processed'));
        inflight.delete(p.sha);
        void release([keyOf(p.sha)]);
        return finishAborted(p);
      }
      batcher.expect();
      let decoded: DecodedImage;
      try {
        decoded = await decode(p, S);
      } catch (err) {
        batcher.cancel();
        rejectResult(err);
        inflight.delete(p.sha);
        void release([keyOf(p.sha)]);
        finish(p.index, 'failed', failName(p.file, err));
        return;
      }
      let ab: AbPlanes;
      try {
        const raw = await batcher.infer(decoded.small!);
        ab = quantizeAb(raw, S, S);
      } catch (err) {
        rejectResult(err);
        inflight.delete(p.sha);
        void release([keyOf(p.sha)]);
        if (err instanceof DdcolorError && (err.kind === 'config' || err.kind === 'usage')) fatal ??= err;
        finish(p.index, 'failed', failName(p.file, err));
        return;
      }
      const value = encodeAb(ab);
      resolveResult(ab);
      inflight.delete(p.sha);
      remember(p.sha, value);
      writes.push({ key: keyOf(p.sha), value });
      void flushWrites();
      try {
        await render(p, decoded, ab);
        finish(p.index, 'inferred');
      } catch (err) {
        finish(p.index, 'failed', failName(p.file, err));
      }
    }
  };

  /** Cheap stages for one chunk: stat, manifest, hash. Returns the photos that need work. */
  const prepare = async (start: number, files: PlannedFile[]): Promise<Prepared[]> => {
    const out: Prepared[] = [];
    const hashLimit = new Limiter(4);
    await Promise.all(
      files.map((file, k) =>
        hashLimit.run(async () => {
          const index = start + k;
          let st = states.input(index);
          if (!st) {
            try {
              st = await stat(file.path);
            } catch (err) {
              return finish(index, 'failed', failName(file, err));
            }
          }
          if (st.size === 0) return finish(index, 'failed', `${file.path}: empty file (0 bytes)`);
          const onDisk = states.output(index);
          // The entry of the output on disk when there is one (then it is ddcolor's), else the latest.
          const ours = onDisk ? manifest.describing(file.outputRel, onDisk) : undefined;
          const entry = ours ?? manifest.get(file.outputRel);
          let sha: string;
          const known = entry && entry.input === file.path && entry.inputSize === st.size && entry.inputMtimeMs === st.mtimeMs;
          if (known) sha = entry.sha256;
          else {
            const t = performance.now();
            try {
              sha = await sha256File(file.path);
            } catch (err) {
              return finish(index, 'failed', failName(file, err));
            } finally {
              timings.hashMs += performance.now() - t;
            }
          }
          records[index]!.sha256 = sha;
          if (
            !opts.force &&
            ours &&
            ours.sha256 === sha &&
            ours.modelId === params.modelId &&
            ours.modelSize === params.modelSize &&
            ours.processing === params.processing &&
            ours.quality === params.quality &&
            ours.format === file.format
          ) {
            if (!known || ours !== manifest.get(file.outputRel)) {
              await manifest.record({ ...ours, input: file.path, inputSize: st.size, inputMtimeMs: st.mtimeMs });
            }
            return finish(index, 'skipped');
          }
          // An output of ddcolor's is replaced when out of date; anything else there is the user's.
          if (!opts.force && !opts.overwrite && onDisk && !ours) {
            return finish(
              index,
              'failed',
              `${file.output}: already exists and was not written by ddcolor, or was changed since; left as it is (move it away, or pass --overwrite to replace it)`,
            );
          }
          out.push({ index, file, size: st.size, mtimeMs: st.mtimeMs, sha });
        }),
      ),
    );
    return out.sort((a, b) => a.index - b.index);
  };

  // Photos whose lock another run holds: looked up again later, and inferred here only if the
  // other run never stores a result (its lock then expires).
  const deferred = new Map<string, Prepared[]>();

  /** Take the locks of photos with no known result: produce those granted, defer the others. */
  const claim = async (groups: Map<string, Prepared[]>, tasks: Promise<void>[]): Promise<void> => {
    const shas = [...groups.keys()];
    if (shas.length === 0) return;
    const keys = shas.map(keyOf);
    const coordinated = cache.coordinates && !opts.force;
    const granted = coordinated ? await cache.tryLock(keys, owner, lockTtl) : keys.map(() => true);
    // Double-check under the lock: another run may have stored a result and released its lock
    // between our lookup and our lock.
    const late = new Map<string, AbPlanes>();
    if (coordinated) {
      const mine = shas.filter((_, i) => granted[i] && cache.coordinates);
      const values = await cache.getMany(mine.map(keyOf));
      mine.forEach((sha, i) => {
        const v = values[i];
        const ab = v ? usable(groups.get(sha)![0]!, v) : null;
        if (ab) late.set(sha, ab);
      });
      if (late.size > 0) await cache.unlock([...late.keys()].map(keyOf), owner);
    }
    shas.forEach((sha, i) => {
      const items = groups.get(sha)!;
      const ab = late.get(sha);
      if (ab) {
        lookupHits++;
        for (const p of items) tasks.push(fromResult(p, Promise.resolve(ab)));
        return;
      }
      if (!granted[i]) {
        deferred.set(sha, [...(deferred.get(sha) ?? []), ...items]);
        return;
      }
      if (coordinated) held.add(keys[i]!);
      tasks.push(produce(items[0]!));
      for (const p of items.slice(1)) tasks.push(fromResult(p, inflight.get(sha)!));
    });
  };

  /** A cached value, decoded; null (with a warning) when it is damaged. */
  const damaged = new Set<string>();
  const usable = (p: Prepared, value: Buffer): AbPlanes | null => {
    try {
      return decodeAb(value, S);
    } catch (err) {
      if (!(err instanceof CorruptValueError)) throw err;
      // Looked up again under its lock: said once.
      if (!damaged.has(p.sha)) emit({ type: 'warning', message: `cached result for ${p.file.path} is damaged (${err.message}): inferring it again` });
      damaged.add(p.sha);
      return null;
    }
  };

  /** Batched lookup for a chunk, then hand every photo to its path. */
  const dispatch = async (items: Prepared[]): Promise<Promise<void>[]> => {
    const need = new Set<string>();
    for (const p of items) if (!inflight.has(p.sha) && !recent.has(p.sha) && !deferred.has(p.sha)) need.add(p.sha);
    const shas = opts.force ? [] : [...need];
    const t = performance.now();
    const values = await cache.getMany(shas.map(keyOf));
    timings.lookupMs += performance.now() - t;
    const first = new Map<string, Prepared>();
    for (const p of items) if (!first.has(p.sha)) first.set(p.sha, p);
    const found = new Map<string, AbPlanes | null>();
    shas.forEach((sha, i) => {
      const v = values[i];
      if (v) found.set(sha, usable(first.get(sha)!, v));
    });
    lookups += shas.length;
    const tasks: Promise<void>[] = [];
    const toClaim = new Map<string, Prepared[]>();
    for (const p of items) {
      if (opts.signal?.aborted || fatal) {
        finishAborted(p);
        continue;
      }
      const running = inflight.get(p.sha);
      if (running) {
        tasks.push(fromResult(p, running));
        continue;
      }
      const cached = found.get(p.sha) ?? null;
      const recentValue = recent.get(p.sha);
      const ab = cached ?? (recentValue ? usable(p, recentValue) : null);
      if (ab) {
        tasks.push(fromResult(p, Promise.resolve(ab)));
        continue;
      }
      const waiting = deferred.get(p.sha);
      if (waiting) {
        waiting.push(p);
        continue;
      }
      toClaim.set(p.sha, [...(toClaim.get(p.sha) ?? []), p]);
    }
    lookupHits += [...found.values()].filter((v) => v !== null).length;
    await claim(toClaim, tasks);
    return tasks;
  };

  /** Come back for deferred photos until each is served from the cache or inferred here. */
  const settleDeferred = async (tasks: Promise<void>[]): Promise<void> => {
    if (deferred.size > 0) {
      emit({
        type: 'warning',
        message: `waiting for ${deferred.size} photo${deferred.size > 1 ? 's' : ''} that another ddcolor run sharing the cache is inferring (a run that died frees them within ${Math.round(lockTtl / 1000)} s)`,
      });
    }
    let wait = 100;
    while (deferred.size > 0) {
      if (opts.signal?.aborted || fatal) {
        for (const items of deferred.values()) for (const p of items) finishAborted(p);
        deferred.clear();
        return;
      }
      await new Promise((res) => setTimeout(res, wait));
      wait = Math.min(wait * 2, 2000);
      const shas = [...deferred.keys()];
      const t = performance.now();
      const values = await cache.getMany(shas.map(keyOf));
      timings.lookupMs += performance.now() - t;
      const again = new Map<string, Prepared[]>();
      shas.forEach((sha, i) => {
        const items = deferred.get(sha)!;
        deferred.delete(sha);
        const v = values[i];
        const ab = v ? usable(items[0]!, v) : null;
        if (ab) {
          lookupHits++;
          for (const p of items) tasks.push(fromResult(p, Promise.resolve(ab)));
        } else again.set(sha, items);
      });
      await claim(again, tasks);
    }
  };

  emit({ type: 'stage', stage: 'colorize' });
  const all: Promise<void>[] = [];
  try {
    let next: Promise<Prepared[]> | null = planned.length ? prepare(0, planned.slice(0, CHUNK)) : null;
    for (let start = 0; next; start += CHUNK) {
      const items = await next;
      const following = start + CHUNK;
      next = following < planned.length && !opts.signal?.aborted && !fatal ? prepare(following, planned.slice(following, following + CHUNK)) : null;
      all.push(...(await dispatch(items)));
      await limiter.settle();
      if ((opts.signal?.aborted || fatal) && next) {
        // Let the chunk being prepared finish its bookkeeping, then mark the rest not processed.
        const rest = await next;
        for (const p of rest) finishAborted(p);
        next = null;
        for (let i = following + CHUNK; i < planned.length; i++) {
          finish(i, 'not-processed', `${planned[i]!.path}: not processed (${fatal ? fatal.message : 'interrupted'})`);
        }
      }
    }
    await settleDeferred(all);
    await Promise.all(all);
    await flushWrites();
    await cache.addCounters(lookupHits, lookups - lookupHits);
  } finally {
    clearInterval(refresher);
    await cache.unlock([...held], owner);
    held.clear();
    await manifest.save().catch(() => manifest.close());
    await removeTmpDir(outDir);
    forgetTmpDir();
    await releaseOutput();
    await cache.close();
    if (session) await (await (session as Promise<ModelSession>).catch(() => null))?.release();
  }
  if (fatal) throw fatal;

  emit({ type: 'stage', stage: 'finish' });
  timings.inferenceMs = batcher.inferenceMs;
  const desc = store ? { backend: store.backend, location: store.location } : describeSpec(opts.cache);
  return {
    schema: REPORT_SCHEMA,
    startedAt: new Date(started).toISOString(),
    finishedAt: new Date().toISOString(),
    durationMs: Date.now() - started,
    interrupted: opts.signal?.aborted ?? false,
    model: { path: opts.model.path, id: opts.model.id, inputSize: S, device: provider, note: opts.sizeNote ?? null },
    cache: { ...desc, degraded: cache.health.degraded, errors: cache.health.errors, error: cache.health.firstError },
    output: outDir,
    totals,
    hitRate: hitRate(totals.hit, totals.inferred),
    timings: Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, Math.round(v * 10) / 10])) as unknown as StageTimings,
    problems: scan.problems,
    files: records,
  };
}


