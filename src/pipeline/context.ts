/**
 * The run context: everything a stage needs, passed to it explicitly. One per run, made by
 * openRun() and closed by closeRun(); stages keep no state of their own.
 */
import { cacheKey } from '../cache/keys.js';
import type { CacheStore } from '../cache/store.js';
import type { DdcolorError } from '../errors.js';
import { DEFAULT_COLOUR_THRESHOLD } from './options.js';
import type { Provenance } from '../image/xmp.js';
import type { StageTimings } from '../report/report.js';
import type { PixelBudget } from './budget.js';
import type { FileStates } from './file-states.js';
import type { GuardedCache } from './guarded-cache.js';
import type { Ledger } from './ledger.js';
import type { Limiter } from './limiter.js';
import type { OutputParams, OutputRecords } from './manifest.js';
import type { ModelRunner } from './model-runner.js';
import type { ColorizeOptions, RunEvent } from './options.js';
import type { PlannedFile } from './outputs.js';
import type { PhotoLocks } from './photo-locks.js';
import type { StageProfile } from './profile.js';
import { makingParams } from './up-to-date.js';
import type { SizeTime } from './file-states.js';
import type { Photo } from './photo.js';
import type { PixelPool } from './pixel-pool.js';
import type { Results } from './results.js';
import type { ScanProblem } from './scan.js';

/** A photo that needs work: its input's size and mtime as hashed, and its content hash. */
export interface Prepared {
  photo: Photo;
  file: PlannedFile;
  size: number;
  mtimeMs: number;
  sha: string;
  /** An output of ddcolor's is at its place (its manifest entry is kept when the photo turns out to be in colour). */
  hasOutput: boolean;
  /** A file the manifest does not know is at its output's place: written over only if it holds the same bytes. */
  unknownOutput: boolean;
  /**
   * What was at its output's place when it was planned (null: nothing): its output replaces only
   * that very file, and is put in an empty place only if it is still empty.
   */
  outputSeen: SizeTime | null;
}

/** Whether the run is stopping, and why: interrupted (the signal) or a fatal configuration error. */
export class RunStop {
  fatal: DdcolorError | null = null;

  constructor(private readonly signal: AbortSignal | undefined) {}

  get stopped(): boolean {
    return this.fatal !== null || this.signal?.aborted === true;
  }

  get interrupted(): boolean {
    return this.signal?.aborted === true;
  }

  get why(): string {
    return this.fatal ? this.fatal.message : 'interrupted';
  }
}

export interface RunContext {
  readonly opts: ColorizeOptions;
  readonly outDir: string;
  /** Where outputs in progress are written (`<out>/.ddcolor-tmp`). */
  readonly tmpDir: string;
  readonly emit: (event: RunEvent) => void;
  readonly started: number;
  readonly timings: StageTimings;
  readonly profile: StageProfile;
  readonly problems: ScanProblem[];
  /** Every photo of the run, by index: the one owner of each photo's state (photo.ts). */
  readonly photos: readonly Photo[];
  /** Their records, read from their states (the report's). */
  readonly ledger: Ledger;
  readonly states: FileStates;
  /** The outputs' records: the folder's manifest, or the fleet's shared record. */
  readonly manifest: OutputRecords;
  readonly store: CacheStore | null;
  readonly cache: GuardedCache;
  readonly locks: PhotoLocks;
  readonly results: Results;
  readonly model: ModelRunner;
  /** Worker threads for all pixel work. */
  readonly pixels: PixelPool;
  /** Photos decoded, composited and written at once. */
  readonly limiter: Limiter;
  /** Pixels that photos in flight may hold at once. */
  readonly budget: PixelBudget;
  readonly stop: RunStop;
  /** What made the outputs: written into each one's XMP and EXIF. */
  readonly provenance: Provenance;
  /** Photos whose lock another run holds, by content hash: looked up again later. */
  readonly deferred: Map<string, Prepared[]>;
  readonly counters: { lookups: number; lookupHits: number };
  readonly releaseOutputFolder: () => Promise<void>;
  readonly forgetTmpDir: () => void;
}

/** The cache key of a photo's result in this run (model, input size, content). */
export function keyOf(ctx: RunContext, sha: string): string {
  return cacheKey(ctx.opts.model.id, ctx.opts.size, sha);
}

/** With --skip-color: how colourful a photo may be and still be colorized; undefined without it. */
export function colourLimit(ctx: RunContext): number | undefined {
  return ctx.opts.skipColor ? (ctx.opts.colorThreshold ?? DEFAULT_COLOUR_THRESHOLD) : undefined;
}

/** What an output is made with, as the manifest records it. */
export function outputParams(ctx: RunContext): OutputParams {
  return makingParams(ctx.opts.model.id, ctx.opts.size, ctx.opts.quality, ctx.opts.saturation ?? 1);
}
