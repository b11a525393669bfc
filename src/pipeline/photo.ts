/**
 * A photo's life in a run, in one class, as BullMQ's Job is a job's: its state changes only
 * through the named transitions below, each checked against NEXT (an illegal one throws
 * IllegalTransitionError, a bug the tests catch), and its whole life reads here:
 *
 *   planned ─┬─▶ skipped (unchanged, up to date)
 *            └─▶ hashed ─┬─▶ skipped (the same bytes, up to date; found in colour earlier)
 *                        ├─▶ waiting (for a duplicate in this run, or another run's inference) ─┐
 *                        ├─▶ hit (its result is known) ──────────────────────────────────────────┤
 *                        └─▶ inferring ──────────────────────────────────────────────────────────┤
 *          hit | inferring ─▶ writing (its record in, before the rename) ─▶ written            ◀┘
 *   any state before writing ─▶ skipped (in colour) | failed (a typed PhotoFailure) | cancelled
 *
 * The stages call these methods and never write a record themselves: the photo tells its
 * writers, which only read its state: the ledger (the report's record, the totals, the progress
 * event) when it ends, the output records (the manifest, or the fleet's shared record) when an
 * output or a photo left alone is to be remembered.
 */
import { CancelledError, photoFailure, type PhotoFailure } from '../errors.js';
import type { ManifestEntry } from './manifest.js';
import type { PlannedFile } from './outputs.js';

export type PhotoState = 'planned' | 'hashed' | 'waiting' | 'hit' | 'inferring' | 'writing' | 'written' | 'skipped' | 'failed' | 'cancelled';

/** Why a photo was left alone: its output is up to date, or it is already in colour (--skip-color). */
export type SkipReason = 'up to date' | 'already in colour';

/** What a waiting photo waits for: a duplicate of this run being made, or another run holding its lock. */
export type WaitingFor = 'duplicate' | 'other-run';

const NEXT: Record<PhotoState, readonly PhotoState[]> = {
  planned: ['hashed', 'skipped', 'failed', 'cancelled'],
  hashed: ['waiting', 'hit', 'inferring', 'skipped', 'failed', 'cancelled'],
  waiting: ['waiting', 'hit', 'inferring', 'skipped', 'failed', 'cancelled'],
  hit: ['writing', 'skipped', 'failed', 'cancelled'],
  inferring: ['writing', 'skipped', 'failed', 'cancelled'],
  writing: ['written', 'failed'],
  written: [],
  skipped: [],
  failed: [],
  cancelled: [],
};

/** The states a photo ends in. */
export type EndState = 'written' | 'skipped' | 'failed' | 'cancelled';

export function isEnd(state: PhotoState): state is EndState {
  return NEXT[state].length === 0;
}

/** A transition the life above does not have: a bug in a stage, never the photo's fault. */
export class IllegalTransitionError extends Error {
  override readonly name = 'IllegalTransitionError';
  constructor(
    readonly file: string,
    readonly from: PhotoState,
    readonly to: PhotoState,
  ) {
    super(`${file}: a photo cannot go from ${from} to ${to}`);
  }
}

/** Who reads a photo's states. */
export interface PhotoWriters {
  /** The photo reached an end state (the ledger). */
  ended(photo: Photo): void;
  /** Remember an output about to be in place, or a photo left alone (the manifest, or the fleet's record). */
  record(entry: ManifestEntry): Promise<void>;
}

export class Photo {
  private current: PhotoState = 'planned';
  private sha: string | null = null;
  private waitFor: WaitingFor | null = null;
  private via: 'hit' | 'inferred' | null = null;
  private skipWhy: SkipReason | null = null;
  private failedWith: PhotoFailure | null = null;
  private cancelWhy: string | null = null;
  private workStart: number | null = null;
  private workEnd: number | null = null;

  constructor(
    readonly index: number,
    readonly file: PlannedFile,
    private readonly writers: PhotoWriters,
  ) {}

  get state(): PhotoState {
    return this.current;
  }

  /** Its content hash, once known. */
  get sha256(): string | null {
    return this.sha;
  }

  get waitingFor(): WaitingFor | null {
    return this.current === 'waiting' ? this.waitFor : null;
  }

  /** How a written photo's result came: from a cache or a duplicate (`hit`), or inferred for it. */
  get writtenVia(): 'hit' | 'inferred' | null {
    return this.current === 'written' ? this.via : null;
  }

  get skipReason(): SkipReason | null {
    return this.skipWhy;
  }

  get failure(): PhotoFailure | null {
    return this.failedWith;
  }

  /** Why a cancelled photo was not done ("interrupted", or the fatal error that stopped the run). */
  get cancelledBecause(): string | null {
    return this.cancelWhy;
  }

  /** Milliseconds of heavy work on the photo (decoding to its end), if it got that far. */
  get workMs(): number | null {
    return this.workStart === null || this.workEnd === null ? null : this.workEnd - this.workStart;
  }

  /** Its content hash, read (or known from its record, unchanged since). */
  hashed(sha256: string): void {
    this.move('hashed');
    this.sha = sha256;
  }

  /** Left alone with nothing to remember (its output up to date, or found in colour by an earlier run); `sha256` when known from its record. */
  skip(reason: SkipReason, sha256?: string): void {
    if (sha256 !== undefined) this.sha = sha256;
    this.skipWhy = reason;
    this.end('skipped');
  }

  /**
   * Left alone, `entry` remembered first (an input touched but unchanged, or a photo found in
   * colour); failed instead when the record cannot be written (a full disk).
   */
  async skipRecorded(reason: SkipReason, entry: ManifestEntry): Promise<void> {
    this.check('skipped');
    try {
      await this.writers.record(entry);
    } catch (err) {
      return this.fail(err);
    }
    this.skip(reason);
  }

  /** Waiting for a duplicate of this run being made, or for another run that holds its lock. */
  wait(on: WaitingFor): void {
    this.move('waiting');
    this.waitFor = on;
  }

  /** Its result is known: rendered from it. */
  hit(): void {
    this.move('hit');
    this.via = 'hit';
  }

  /** The first of its content with no result: inferred here. */
  infer(): void {
    this.move('inferring');
    this.via = 'inferred';
  }

  /** Its heavy work begins (a slot and memory are its): timed from here to its end. No state change. */
  working(): void {
    this.workStart = performance.now();
  }

  /** Its output is made: `entry` is remembered before the output is put in place (a killed run leaves no output it does not know). */
  async outputReady(entry: ManifestEntry): Promise<void> {
    this.move('writing');
    await this.writers.record(entry);
  }

  /** Its output is in place. */
  written(): void {
    this.end('written');
  }

  /** Failed with `err`, typed (see errors.ts); a CancelledError cancels it instead: stopping is not failing. */
  fail(err: unknown): void {
    const failure = photoFailure(this.file.path, err);
    if (failure instanceof CancelledError) return this.cancel(failure.why);
    this.failedWith = failure;
    this.end('failed');
  }

  /** Not done: the run stopped (`why`). A later run or worker does it. */
  cancel(why: string): void {
    this.cancelWhy = why;
    this.end('cancelled');
  }

  private check(to: PhotoState): void {
    if (!NEXT[this.current].includes(to)) throw new IllegalTransitionError(this.file.path, this.current, to);
  }

  private move(to: PhotoState): void {
    this.check(to);
    this.current = to;
  }

  private end(to: EndState): void {
    this.move(to);
    if (this.workStart !== null) this.workEnd = performance.now();
    this.writers.ended(this);
  }
}
