/** What a run is asked to do (`ColorizeOptions`) and what it tells as it goes (`RunEvent`). */
import type { CacheSpec, OpenCacheOptions } from '../cache/open.js';
import type { CacheStore } from '../cache/store.js';
import type { PhotoFailure } from '../errors.js';
import type { FormatChoice } from '../image/encode.js';
import type { Device, ExecutionProvider, ModelInfo, ModelSession } from '../model/session.js';
import type { FileRecord, Totals } from '../report/report.js';
import type { ScanProblem } from './scan.js';

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
  /** Bytes that photos in flight may hold at once, roughly (default: a quarter of RAM, at most 4 GiB). */
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
