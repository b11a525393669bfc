/**
 * The run's record of every photo: its status, its error, the totals, and the `file` event the
 * CLI draws its progress from. Every stage finishes photos here, and only here.
 */
import { CancelledError, DdcolorError, environmentFault, errorMessage } from '../errors.js';
import { emptyTotals, type FileRecord, type FileStatus, type Totals } from '../report/report.js';
import type { RunEvent } from './options.js';
import type { PlannedFile } from './outputs.js';

export class Ledger {
  readonly records: FileRecord[];
  readonly totals: Totals = emptyTotals();
  private done = 0;

  constructor(
    readonly planned: readonly PlannedFile[],
    private readonly emit: (event: RunEvent) => void,
  ) {
    this.records = planned.map((f) => ({ input: f.path, output: f.output, sha256: null, status: 'failed', error: null }));
    this.totals.files = planned.length;
  }

  setSha(index: number, sha: string): void {
    this.records[index]!.sha256 = sha;
  }

  finish(index: number, status: FileStatus, error: string | null = null): void {
    const r = this.records[index]!;
    r.status = status;
    r.error = error;
    if (status === 'failed' || status === 'not-processed') r.output = null;
    this.count(r, status);
  }

  /** Skipped for a reason (nothing written): `already in colour`. */
  skip(index: number, reason: string): void {
    const r = this.records[index]!;
    r.status = 'skipped';
    r.reason = reason;
    r.output = null;
    this.count(r, 'skipped');
  }

  private count(r: FileRecord, status: FileStatus): void {
    if (status === 'not-processed') this.totals.notProcessed++;
    else this.totals[status]++;
    this.done++;
    this.emit({ type: 'file', record: r, done: this.done, total: this.planned.length, totals: { ...this.totals } });
  }

  /** Failed, with the reason naming the file; marked transient when the machine failed, not the photo. */
  fail(index: number, err: unknown): void {
    // Stopped, not failed: a photo cancelled is simply not done.
    if (err instanceof CancelledError) return this.notProcessed(index, err.why);
    // An error about a file of its own (an output's place taken) names that file already; one
    // about another file than the photo is not the photo's fault.
    const named = err instanceof DdcolorError && err.file !== undefined;
    if (named && err.file !== this.planned[index]!.path) this.records[index]!.blocked = true;
    // The environment's fault (disk full, permission): in words, and never the photo's.
    const fault = environmentFault(err);
    if (fault) this.records[index]!.transient = true;
    this.finish(index, 'failed', named ? err.message : `${this.planned[index]!.path}: ${errorMessage(fault ?? err)}`);
  }

  /** Never started: the run was interrupted, or stopped by `why`. */
  notProcessed(index: number, why: string): void {
    this.finish(index, 'not-processed', `${this.planned[index]!.path}: not processed (${why})`);
  }
}
