/**
 * Opening a run: scan, the output folder (writable, locked, cleared of a killed run's leftovers),
 * the outputs' plan and the files' states, the manifest, the cache, the model; and closing it.
 * Everything that can refuse the run (exit 2) does so here, before any photo is touched.
 */
import { access, constants, mkdir } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { openCache } from '../cache/open.js';
import type { CacheStore } from '../cache/store.js';
import { DdcolorError, errorMessage, ConfigError, unloadable } from '../errors.js';
import { removeOnAbandon } from '../io/atomic-write.js';
import { checkOwnFolder } from '../io/roots.js';
import type { Device } from '../inference/devices.js';
import { tintModel } from '../models/tiny-model.js';
import { emptyTimings, type StageTimings } from '../report/report.js';
import { packageVersion } from '../version.js';
import { defaultMemoryBudget, PixelBudget } from './budget.js';
import { RunStop, type RunContext } from './context.js';
import { FileStates } from './file-states.js';
import { GuardedCache } from './guarded-cache.js';
import { clearLeftovers, removeTmpDir, TMP_DIR } from './leftovers.js';
import { Ledger } from './ledger.js';
import { Limiter } from './limiter.js';
import { Manifest, type ManifestEntry, type OutputRecords } from './manifest.js';
import { ModelRunner } from './model-runner.js';
import type { ColorizeOptions, RunEvent } from './options.js';
import { lockOutputFolder } from './out-lock.js';
import { planOutputs, type PlannedFile } from './outputs.js';
import { Photo } from './photo.js';
import { PhotoLocks } from './photo-locks.js';
import { StageProfile } from './profile.js';
import { PixelPool, pixelThreads } from './pixel-pool.js';
import { Results } from './results.js';
import { scanPaths, type ScanProblem } from './scan.js';

/** A lock outlives a stalled or killed run by at most this long; held locks are extended meanwhile. */
export const DEFAULT_LOCK_TTL_MS = 120_000;
/** A model call running longer than this is taken as stalled: the run's photo locks are left to expire. */
export const DEFAULT_INFERENCE_STALL_MS = 600_000;

/** Check the output folder can be written before doing any work (exit 2 otherwise). */
async function ensureWritable(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
    await access(dir, constants.W_OK);
  } catch (err) {
    throw new ConfigError(`output folder ${dir} cannot be written: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`, dir);
  }
}

/** Take the output folder's lock, saying when it waits or takes over a dead run's. */
function lockOutput(outDir: string, opts: ColorizeOptions, emit: (e: RunEvent) => void): Promise<() => Promise<void>> {
  const who = (h: { pid: number; host: string } | null, none: string): string => (h ? `pid ${h.pid} on ${h.host}` : none);
  return lockOutputFolder(outDir, {
    wait: opts.waitLock ?? false,
    ...(opts.signal ? { signal: opts.signal } : {}),
    onWait: (h) => emit({ type: 'warning', message: `waiting for another ddcolor run (${who(h, 'unknown owner')}) writing to ${outDir}` }),
    onTakeover: (h, why) => emit({ type: 'warning', message: `took over the lock on ${outDir} left by ${who(h, 'an unknown run')}: ${why}` }),
  });
}

/** Open the cache; one that is down degrades to none, one that is wrongly configured stops the run. */
async function openRunCache(opts: ColorizeOptions, emit: (e: RunEvent) => void): Promise<{ store: CacheStore | null; cache: GuardedCache }> {
  if (opts.openStore) return { store: opts.openStore, cache: new GuardedCache(opts.openStore, (message) => emit({ type: 'warning', message }), opts.cacheRetryMs ?? 10_000, Date.now, false) };
  let store: CacheStore | null = null;
  let openError: unknown = null;
  try {
    store = await openCache(opts.cache, opts.cacheOptions);
  } catch (err) {
    if (err instanceof DdcolorError) throw err;
    openError = err;
  }
  const cache = new GuardedCache(store, (message) => emit({ type: 'warning', message }), opts.cacheRetryMs ?? 10_000);
  if (openError) cache.failedToOpen(openError);
  return { store, cache };
}

/**
 * With `device: 'cuda'`, prove the CUDA provider loads (a session of a tiny network) before
 * anything is scanned or written: a machine without it fails at once with the reason, even when
 * every photo would come from the cache, never photo by photo.
 */
export async function checkDevice(device: Device): Promise<void> {
  if (device !== 'cuda') return;
  // onnxruntime is loaded here, for this check, and otherwise by the model's thread alone.
  const { checkCuda } = await import('../inference/session.js').catch((err: unknown) => {
    throw unloadable('onnxruntime-node', 'runs the model', err);
  });
  await checkCuda(tintModel(32));
}

export async function openRun(opts: ColorizeOptions): Promise<RunContext> {
  const started = Date.now();
  const emit = opts.onEvent ?? (() => undefined);
  await checkDevice(opts.device);
  const outDir = resolve(opts.outDir);
  emit({ type: 'stage', stage: 'scan' });
  const profile = new StageProfile();
  const t0 = performance.now();
  const scan = await scanPaths(opts.paths, { exclude: [outDir] });
  profile.span('scan', t0, performance.now());
  emit({ type: 'scanned', files: scan.files.length, problems: scan.problems });
  await ensureWritable(outDir);
  const releaseOutputFolder = await lockOutput(outDir, opts, emit);
  try {
    const planned = planOutputs(scan.files, outDir, opts.format);
    // Three independent reads at once: the stats wait on the disk while the manifest is parsed.
    const [manifest, leftovers, states] = await Promise.all([new Manifest(outDir).load(), clearLeftovers(outDir), FileStates.take(planned)]);
    if (manifest.readError) {
      emit({ type: 'warning', message: `cannot read ${manifest.path} (${errorMessage(manifest.readError)}): outputs are checked again, and the file is kept as it is` });
    }
    if (leftovers > 0) emit({ type: 'warning', message: `removed ${leftovers} temporary file${leftovers > 1 ? 's' : ''} that an interrupted run left in ${outDir}` });
    const place: WorkPlace = { planned, states, problems: scan.problems, records: manifest, tmpDir: join(outDir, TMP_DIR), releaseOutputFolder };
    return await openWork(opts, place, { started, profile, scanMs: performance.now() - t0 });
  } catch (err) {
    await releaseOutputFolder();
    throw err;
  }
}

/** Where a run's photos go and what is known of them: made by openRun from a scan, or given by a fleet worker for a job. */
export interface WorkPlace {
  planned: PlannedFile[];
  /** Their inputs' and outputs' states, when already taken (else openWork takes them). */
  states?: FileStates;
  problems: ScanProblem[];
  records: OutputRecords;
  /** Where outputs in progress are written (inside the output folder: same file system). */
  tmpDir: string;
  /** Release the output folder (its lock, when the run holds one). */
  releaseOutputFolder: () => Promise<void>;
}

/** Open the rest of a run for photos already planned: their states, the cache, the model, the pools. */
export async function openWork(
  opts: ColorizeOptions,
  place: WorkPlace,
  begun: { started: number; profile: StageProfile; scanMs: number } = { started: Date.now(), profile: new StageProfile(), scanMs: 0 },
): Promise<RunContext> {
  const emit = opts.onEvent ?? (() => undefined);
  const timings: StageTimings = { ...emptyTimings(), scanMs: begun.scanMs };
  const { planned, tmpDir } = place;
  const states = place.states ?? (await FileStates.take(planned));
  const { store, cache } = await openRunCache(opts, emit);
  // Never through a link: the temporary folder, and a worker's own folder inside it.
  for (const dir of new Set([join(resolve(opts.outDir), TMP_DIR), tmpDir])) await checkOwnFolder(dir);
  await mkdir(tmpDir, { recursive: true });
  const model = new ModelRunner(opts, timings, emit, begun.profile);
  const stallMs = opts.inferenceStallMs ?? DEFAULT_INFERENCE_STALL_MS;
  let said = false;
  const stalled = (): boolean => {
    const ms = model.batcher.callRunningMs();
    if (ms <= stallMs) return false;
    if (!said) emit({ type: 'warning', message: `the model has not answered for ${Math.round(ms / 1000)} s; this run's photo locks are left to expire, so that other runs can infer those photos` });
    said = true;
    return true;
  };
  const locks = new PhotoLocks(cache, opts.lockTtlMs ?? DEFAULT_LOCK_TTL_MS, stalled);
  const ledger = new Ledger(planned, emit);
  const records = place.records;
  const writers = { ended: (photo: Photo) => ledger.ended(photo), record: (entry: ManifestEntry) => records.record(entry) };
  return {
    opts,
    outDir: resolve(opts.outDir),
    tmpDir,
    emit,
    started: begun.started,
    timings,
    profile: begun.profile,
    problems: place.problems,
    photos: planned.map((file, i) => new Photo(i, file, writers)),
    ledger,
    states,
    manifest: place.records,
    store,
    cache,
    locks,
    results: new Results(cache, locks, opts.size, opts.ttlMs, (message) => emit({ type: 'warning', message })),
    model,
    pixels: opts.sharedPixels ?? new PixelPool(pixelThreads(opts.concurrency)),
    limiter: new Limiter(Math.max(1, opts.concurrency)),
    budget: PixelBudget.forBytes(opts.memoryBudget ?? defaultMemoryBudget()),
    stop: new RunStop(opts.signal),
    provenance: { software: `ddcolor ${packageVersion()}`, modelName: basename(opts.model.path).replace(/\.onnx$/i, ''), modelId: opts.model.id, inputSize: opts.size, saturation: opts.saturation ?? 1, testModel: opts.model.testModel ?? null },
    deferred: new Map(),
    counters: { lookups: 0, lookupHits: 0 },
    releaseOutputFolder: place.releaseOutputFolder,
    forgetTmpDir: removeOnAbandon(tmpDir),
  };
}

/** How long one closing step may take before the run gives up on it and goes on with the next. */
export const CLOSE_STEP_MS = 30_000;

/** One closing step on its own: its failure, or its taking longer than `ms`, is returned, never thrown. */
async function closeStep(name: string, step: () => Promise<void>, ms = CLOSE_STEP_MS): Promise<Error | null> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<Error>((resolve) => {
    timer = setTimeout(() => resolve(new Error(`closing the run: ${name} took longer than ${ms / 1000} s; left as it is`)), ms);
    timer.unref();
  });
  try {
    return await Promise.race([step().then(() => null, (err: unknown) => new Error(`closing the run: ${name}: ${errorMessage(err)}`, { cause: err })), late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Release everything the run holds: locks, the manifest (compacted), the temporary folder, the
 * output folder, the cache, the model, the pixel threads. Each step runs whatever the others did,
 * within its own time limit; returns the first step's failure, if any (the caller throws it once
 * nothing is left open).
 */
export async function closeRun(ctx: RunContext): Promise<Error | null> {
  const steps: Array<[string, () => Promise<void>]> = [
    ['the photo locks', () => ctx.locks.close()],
    // A manifest that cannot be compacted keeps its appended lines, each already on the disk.
    ['the manifest', () => ctx.manifest.save().catch(() => ctx.manifest.close())],
    ['the temporary folder', async () => {
      await removeTmpDir(ctx.tmpDir);
      ctx.forgetTmpDir();
    }],
    ['the output folder', () => ctx.releaseOutputFolder()],
    ['the cache', () => ctx.cache.close()],
    ['the model', () => ctx.model.close()],
    // A caller's own threads (sharedPixels) stay for its next run.
    ['the pixel threads', async () => void (ctx.opts.sharedPixels ? undefined : await ctx.pixels.close())],
  ];
  let first: Error | null = null;
  for (const [name, step] of steps) {
    const failed = await closeStep(name, step);
    first ??= failed;
  }
  return first;
}
