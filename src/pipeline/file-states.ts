/**
 * What is on disk at the start of a run, for every photo: its input's and its output's size and
 * modification time, taken once (the state stage uses them; nothing is stat'ed twice).
 *
 * Taken before anything is written, because it also proves the run cannot touch its own inputs:
 * an output path that is an input of the run, or resolves to one (through a symlink, a hard link,
 * or a case-insensitive file system), is the same file (same device and inode), and the run is
 * refused. Outputs are written by renaming a new file into place, so an input's bytes could not
 * change anyway; refusing the run keeps its name from ever pointing at a colorized copy either.
 */
import { stat, type Stats } from 'node:fs';
import { UsageError } from '../errors.js';
import type { PlannedFile } from './outputs.js';

/** Size and mtime, or null when the file is not there. */
export interface SizeTime {
  size: number;
  mtimeMs: number;
}

const STAT_CONCURRENCY = 32;

export class FileStates {
  /** Per photo: input size, input mtime, output size, output mtime; NaN where not known. */
  private readonly values: Float64Array;

  private constructor(count: number) {
    this.values = new Float64Array(count * 4).fill(Number.NaN);
  }

  /** The input's size and mtime as taken at the start, or undefined (then stat it, to learn why). */
  input(i: number): SizeTime | undefined {
    const size = this.values[i * 4]!;
    return Number.isNaN(size) ? undefined : { size, mtimeMs: this.values[i * 4 + 1]! };
  }

  /** The output's size and mtime, or null when there is none. */
  output(i: number): SizeTime | null {
    const size = this.values[i * 4 + 2]!;
    return Number.isNaN(size) ? null : { size, mtimeMs: this.values[i * 4 + 3]! };
  }

  private set(i: number, offset: 0 | 2, st: Stats): void {
    this.values[i * 4 + offset] = st.size;
    this.values[i * 4 + offset + 1] = st.mtimeMs;
  }

  /**
   * Stat every input and every output (one pass, many at once); throws a usage error naming the
   * files when an output is one of the run's inputs.
   */
  static async take(planned: readonly PlannedFile[]): Promise<FileStates> {
    const states = new FileStates(planned.length);
    // Device and inode of each input and output (NaN: not there). Each Stats is read as it comes
    // and dropped: holding 20,000 of them (and their Dates) made every young GC copy them all.
    const ids = new Float64Array(planned.length * 4).fill(Number.NaN);
    await statAll(
      2 * planned.length,
      (k) => (k % 2 === 0 ? planned[k >> 1]!.path : planned[k >> 1]!.output),
      (k, st) => {
        const offset = k % 2 === 0 ? 0 : 2;
        states.set(k >> 1, offset, st);
        ids[(k >> 1) * 4 + offset] = st.dev;
        ids[(k >> 1) * 4 + offset + 1] = st.ino;
      },
    );
    const clashes = sameFiles(planned, ids);
    if (clashes.length > 0) {
      clashes.sort();
      const shown = clashes.slice(0, 3).join('; ') + (clashes.length > 3 ? `; and ${clashes.length - 3} more` : '');
      throw new UsageError(
        `refusing to run: ${clashes.length} output${clashes.length > 1 ? 's' : ''} would replace an input of this run (${shown}). ddcolor never writes over the photos it reads: choose an output folder that does not hold them (-o), or another --format`,
      );
    }
    return states;
  }
}

/** "<output> is <input>" for each input that is (same device and inode) an existing output of the run. */
function sameFiles(planned: readonly PlannedFile[], ids: Float64Array): string[] {
  // Existing outputs by device, then inode: the first photo whose output it is.
  const outputs = new Map<number, Map<number, number>>();
  for (let i = 0; i < planned.length; i++) {
    const dev = ids[i * 4 + 2]!;
    if (Number.isNaN(dev)) continue;
    let byIno = outputs.get(dev);
    if (!byIno) outputs.set(dev, (byIno = new Map()));
    if (!byIno.has(ids[i * 4 + 3]!)) byIno.set(ids[i * 4 + 3]!, i);
  }
  const clashes: string[] = [];
  for (let i = 0; i < planned.length; i++) {
    const same = outputs.get(ids[i * 4]!)?.get(ids[i * 4 + 1]!);
    if (same !== undefined) clashes.push(`${planned[same]!.output} is ${planned[i]!.path}`);
  }
  return clashes;
}

/**
 * Stat `count` paths, `STAT_CONCURRENCY` at a time, with the callback API (a promise per file costs
 * more than the stat on a warm disk), handing each Stats to `found` as it comes; a path that
 * cannot be stat'ed is passed over (the state stage stats it again and says why).
 */
function statAll(count: number, path: (k: number) => string, found: (k: number, st: Stats) => void): Promise<void> {
  if (count === 0) return Promise.resolve();
  return new Promise((resolve) => {
    let next = 0;
    let done = 0;
    const one = (): void => {
      const k = next++;
      if (k >= count) return;
      stat(path(k), (err, st) => {
        if (!err) found(k, st);
        if (++done === count) resolve();
        else one();
      });
    };
    for (let k = 0; k < STAT_CONCURRENCY; k++) one();
  });
}
