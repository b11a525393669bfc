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
import { stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { DdcolorError } from '../errors.js';
import { Limiter } from './limiter.js';
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
   * Stat every output, and every input when any output exists; throws a usage error naming the
   * files when an output is one of the run's inputs.
   */
  static async take(planned: readonly PlannedFile[]): Promise<FileStates> {
    const states = new FileStates(planned.length);
    const limit = new Limiter(STAT_CONCURRENCY);
    // Existing outputs by inode: the first output with it, then any others (hard links among outputs).
    const byInode = new Map<number, number>();
    const more = new Map<number, number[]>();
    const devs = new Float64Array(planned.length);
    await Promise.all(
      planned.map((f, i) =>
        limit.run(async () => {
          const st = await stat(f.output).catch(() => null);
          if (!st) return;
          states.set(i, 2, st);
          devs[i] = st.dev;
          if (!byInode.has(st.ino)) byInode.set(st.ino, i);
          else more.set(st.ino, [...(more.get(st.ino) ?? []), i]);
        }),
      ),
    );
    if (byInode.size === 0) return states;
    const clashes: string[] = [];
    await Promise.all(
      planned.map((f, i) =>
        limit.run(async () => {
          const st = await stat(f.path).catch(() => null);
          if (!st) return;
          states.set(i, 0, st);
          const first = byInode.get(st.ino);
          if (first === undefined) return;
          const same = [first, ...(more.get(st.ino) ?? [])].find((o) => devs[o] === st.dev);
          if (same !== undefined) clashes.push(`${planned[same]!.output} is ${f.path}`);
        }),
      ),
    );
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
