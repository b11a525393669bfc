/**
 * The run's record of every photo, read from its state when it ends (photo.ts): its report
 * record, the totals, and the `file` event the CLI draws its progress from. Only a Photo calls it.
 */
import { emptyTotals, type FileRecord, type FileStatus, type Totals } from '../report/report.js';
import type { RunEvent } from './options.js';
import type { PlannedFile } from './outputs.js';
import type { Photo } from './photo.js';

export class Ledger {
  readonly records: FileRecord[];
  readonly totals: Totals = emptyTotals();
  private done = 0;

  constructor(
    planned: readonly PlannedFile[],
    private readonly emit: (event: RunEvent) => void,
  ) {
    this.records = planned.map((f) => ({ input: f.path, output: f.output, sha256: null, status: 'failed', error: null }));
    this.totals.files = planned.length;
  }

  /** `photo` ended: its record says how. */
  ended(photo: Photo): void {
    const r = this.records[photo.index]!;
    r.sha256 = photo.sha256;
    const status = statusOf(photo);
    r.status = status;
    if (status !== 'hit' && status !== 'inferred') r.output = null;
    const reason = photo.skipReason;
    if (reason === 'already in colour') r.reason = reason;
    const failure = photo.failure;
    if (failure) {
      r.error = failure.message;
      r.code = failure.code;
      if (failure.transient) r.transient = true;
      if (failure.fault === 'other-file') r.blocked = true;
    }
    if (status === 'not-processed') r.error = `${photo.file.path}: not processed (${photo.cancelledBecause ?? 'interrupted'})`;
    const ms = photo.workMs;
    if (ms !== null) r.ms = Math.round(ms);
    if (status === 'not-processed') this.totals.notProcessed++;
    else this.totals[status]++;
    this.done++;
    this.emit({ type: 'file', record: r, failure, done: this.done, total: this.records.length, totals: { ...this.totals } });
  }
}

/** The report's status of a photo that ended. */
function statusOf(photo: Photo): FileStatus {
  switch (photo.state) {
    case 'written':
      return photo.writtenVia ?? 'inferred';
    case 'skipped':
      return 'skipped';
    case 'failed':
      return 'failed';
    case 'cancelled':
      return 'not-processed';
    default:
      throw new Error(`${photo.file.path}: recorded while ${photo.state}`);
  }
}
