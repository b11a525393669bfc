/**
 * What a run is asked to do (`ColorizeOptions`), checked once at the library's entry
 * (`checkColorizeOptions`), and what it tells as it goes (`RunEvent`). A wrong value fails with
 * the option's name and what was expected before anything is read or written, never deep inside
 * a stage (a JPEG quality of 500 used to fail inside sharp, photo by photo).
 */
import type { CacheSpec, OpenCacheOptions } from '../cache/open.js';
import { InvalidOptionError } from '../errors.js';
import { DEFAULT_BATCH } from './batcher.js';
import { FORMAT_CHOICES } from '../image/formats.js';
import { DEVICES } from '../inference/devices.js';
import { availableParallelism } from 'node:os';
import { isAbsolute } from 'node:path';
import { atLeast, integerIn, modelSize, nonEmptyString, oneOf } from '../validate.js';
import type { CacheStore } from '../cache/store.js';
import type { PhotoFailure } from '../errors.js';
import type { FormatChoice } from '../image/formats.js';
import type { Device } from '../inference/devices.js';
import type { ExecutionProvider, ModelSession } from '../inference/session.js';
import type { ModelInfo } from '../inference/model-info.js';
import type { PixelPool } from './pixel-pool.js';
import type { FileRecord, Totals } from '../report/report.js';
import type { ScanProblem } from './scan.js';

/**
 * Photos in flight without `concurrency`: three batches (one in the model, the next being decoded
 * and prepared meanwhile, the last being composited and written), and at least two more than the
 * cores (every pixel thread has a photo while the main thread reads and writes others). No fixed
 * cap: the memory budget bounds what they hold.
 */
export function defaultConcurrency(batchSize: number, cores = availableParallelism()): number {
  return Math.max(3 * batchSize, cores + 2);
}

/** The default photos in flight on `device`: for `batchSize`, else for the batch its provider gets (CUDA's, unless the device is the CPU). */
export function concurrencyFor(device: Device, batchSize?: number): number {
  return defaultConcurrency(batchSize ?? (device === 'cpu' ? DEFAULT_BATCH.cpu : DEFAULT_BATCH.cuda));
}

/** How colourful a photo must be, with --skip-color, to count as colour: a chroma (image/colourfulness.ts). */
export const DEFAULT_COLOUR_THRESHOLD = 6;

export type RunEvent =
  | { type: 'stage'; stage: 'scan' | 'colorize' | 'finish' }
  | { type: 'scanned'; files: number; problems: ScanProblem[] }
  | { type: 'model-loaded'; provider: ExecutionProvider; ms: number }
  | { type: 'warning'; message: string }
  /** A photo ended: its record, and when it failed, the typed failure (whose fault: `failure.fault`). */
  | { type: 'file'; record: FileRecord; failure: PhotoFailure | null; done: number; total: number; totals: Totals };

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
  /** A cache already open to use instead of opening `cache`, and to leave open (a fleet worker's, across its jobs). */
  openStore?: CacheStore;
  /** The model session to use, opened on first need by the caller and kept across runs (a fleet worker's); released by the caller. */
  sharedSession?: () => Promise<ModelSession>;
  /**
   * The pixel threads to use, started by the caller and kept across runs (a fleet worker's: each
   * thread's start, about 0.4 s of a core loading sharp and the kernel, is paid once, not per job);
   * closed by the caller.
   */
  sharedPixels?: PixelPool;
  /**
   * Read photos only from inside these folders (real, absolute paths: a fleet worker's input
   * roots), checked on each file as it is opened to be hashed or decoded: a photo whose path leads
   * elsewhere by then (a link swapped in since its job was checked) fails, OUTSIDE_ROOTS.
   */
  inputRoots?: readonly string[];
  /**
   * Write each output only where its folder's real location is inside `outDir`, checked as it is
   * written (a fleet worker's: a link swapped into the job's folder since the job was checked is
   * not followed out); an output whose folder leads elsewhere fails, OUTSIDE_ROOTS.
   */
  confineOutputs?: boolean;
  ttlMs: number;
  format: FormatChoice;
  quality: number;
  /** Chroma scale applied when compositing (1: the model's colours; 0: gray; 1.3: livelier). Changing it never re-infers. */
  saturation?: number;
  /** Leave photos that are already in colour alone: skipped, nothing written, no inference. */
  skipColor?: boolean;
  /** How colourful a photo must be to count as colour (image/colourfulness.ts; default 6). */
  colorThreshold?: number;
  force: boolean;
  /** Replace outputs that ddcolor did not write, or that were changed since (default: leave them, and fail the photo). */
  overwrite?: boolean;
  /** Bytes that photos in flight may hold at once, roughly (default: a quarter of RAM). */
  memoryBudget?: number;
  /** Refuse photos with more pixels than this. */
  maxPixels?: number;
  /** Threads the model uses on the CPU (default: one per core; onnxruntime's own default used one here). */
  threads?: number;
  /** After a cache failure, leave the cache alone this long before trying it again (default 10 s). */
  cacheRetryMs?: number;
  /** When another run holds the output folder: wait for it (true) or fail (false, the default). */
  waitLock?: boolean;
  /** Lifetime of the per-photo locks shared with other runs (default 2 minutes, extended while held). */
  lockTtlMs?: number;
  /** A model call running longer than this is taken as stalled and the run's photo locks are left to expire (default 10 minutes). */
  inferenceStallMs?: number;
  /** Abort: no new photo is started; photos in flight are finished; the report says interrupted. */
  signal?: AbortSignal;
  onEvent?: (event: RunEvent) => void;
}

export function checkColorizeOptions(opts: ColorizeOptions): void {
  if (!Array.isArray(opts.paths) || opts.paths.length === 0) throw new InvalidOptionError('paths', opts.paths, 'at least one file or folder');
  opts.paths.forEach((p) => nonEmptyString('paths', p));
  nonEmptyString('outDir', opts.outDir);
  if (typeof opts.model !== 'object' || opts.model === null || typeof opts.model.id !== 'string') {
    throw new InvalidOptionError('model', opts.model, 'a model as inspectModel() describes it');
  }
  modelSize('size', opts.size);
  if (opts.model.fixedSize !== null && opts.model.fixedSize !== opts.size) {
    throw new InvalidOptionError('size', opts.size, `${opts.model.fixedSize}, the model's fixed input size`);
  }
  oneOf('device', opts.device, DEVICES);
  if (opts.batchSize !== undefined && opts.batchSize !== 'auto') integerIn('batchSize', opts.batchSize, 1, 256);
  integerIn('concurrency', opts.concurrency, 1, 256);
  atLeast('ttlMs', opts.ttlMs, 0, 'milliseconds, 0 or more (0: no expiry)');
  oneOf('format', opts.format, FORMAT_CHOICES);
  integerIn('quality', opts.quality, 1, 100);
  if (opts.saturation !== undefined && !(typeof opts.saturation === 'number' && opts.saturation >= 0 && opts.saturation <= 4)) {
    throw new InvalidOptionError('saturation', opts.saturation, 'a factor from 0 to 4 (1: the model\'s colours)');
  }
  if (opts.colorThreshold !== undefined) atLeast('colorThreshold', opts.colorThreshold, 0, 'a chroma of 0 or more (default 6)');
  if (opts.memoryBudget !== undefined) atLeast('memoryBudget', opts.memoryBudget, 1, 'bytes, 1 or more (photos larger than the budget run one at a time)');
  if (opts.maxPixels !== undefined) integerIn('maxPixels', opts.maxPixels, 1, Number.MAX_SAFE_INTEGER);
  if (opts.threads !== undefined) integerIn('threads', opts.threads, 1, 1024);
  if (opts.lockTtlMs !== undefined) atLeast('lockTtlMs', opts.lockTtlMs, 1000, 'at least 1000 ms');
  if (opts.inferenceStallMs !== undefined) atLeast('inferenceStallMs', opts.inferenceStallMs, 1000, 'at least 1000 ms');
  if (opts.cacheRetryMs !== undefined) atLeast('cacheRetryMs', opts.cacheRetryMs, 0, 'milliseconds, 0 or more');
  if (opts.inputRoots !== undefined && !(Array.isArray(opts.inputRoots) && opts.inputRoots.length > 0 && opts.inputRoots.every((r) => typeof r === 'string' && isAbsolute(r)))) {
    throw new InvalidOptionError('inputRoots', opts.inputRoots, 'one or more absolute paths of folders (resolveRoots gives them)');
  }
  if (opts.sharedPixels?.closed) throw new InvalidOptionError('sharedPixels', 'a closed PixelPool', 'an open PixelPool (one whose close() was not called)');
}
