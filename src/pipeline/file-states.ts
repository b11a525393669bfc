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
import { DdcolorError } from '../errors.js';
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
    const paths = planned.flatMap((f) => [f.path, f.output]);
    const stats = await statAll(paths);
    // Existing outputs by device and inode, then every input looked up among them.
    const outputs = new Map<string, number>();
    for (let i = 0; i < planned.length; i++) {
      const out = stats[2 * i + 1];
      if (!out) continue;
      states.set(i, 2, out);
      const id = `${out.dev}:${out.ino}`;
      if (!outputs.has(id)) outputs.set(id, i);
    }
    const clashes: string[] = [];
    for (let i = 0; i < planned.length; i++) {
      const input = stats[2 * i];
      if (!input) continue;
      states.set(i, 0, input);
      const same = outputs.get(`${input.dev}:${input.ino}`);
      if (same !== undefined) clashes.push(`${planned[same]!.output} is ${planned[i]!.path}`);
    }
    if (clashes.length > 0) {
      clashes.sort();
      const shown = clashes.slice(0, 3).join('; ') + (clashes.length > 3 ? `; and ${clashes.length - 3} more` : '');
      throw new DdcolorError(
        'usage',
        `refusing to run: ${clashes.length} output${clashes.length > 1 ? 's' : ''} would replace an input of this run (${shown}). ddcolor never writes over the photos it reads: choose an output folder that does not hold them (-o), or another --format`,
      );
    }
    return states;
  }
}

/**
 * Stat every path, `STAT_CONCURRENCY` at a time, with the callback API (a promise per file costs
 * more than the stat on a warm disk); null where a path cannot be stat'ed (the state stage says why).
 */
function statAll(paths: readonly string[]): Promise<Array<Stats | null>> {
  const stats = new Array<Stats | null>(paths.length).fill(null);
  if (paths.length === 0) return Promise.resolve(stats);
  return new Promise((resolve) => {
    let next = 0;
    let done = 0;
    const one = (): void => {
      const i = next++;
      if (i >= paths.length) return;
      stat(paths[i]!, (err, st) => {
        if (!err) stats[i] = st;
        if (++done === paths.length) resolve(stats);
        else one();
      });
    };
    for (let k = 0; k < STAT_CONCURRENCY; k++) one();
  });
}
