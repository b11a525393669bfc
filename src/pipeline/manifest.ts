/**
 * state: the manifest in the output folder (`.ddcolor-manifest.ndjson`), one JSON line per output
 * ddcolor wrote. It remembers the input's size, mtime and content hash, the model id and input
 * size, and the output's format, quality, size and mtime, so that a re-run skips an up-to-date
 * output with a `stat` of each file and no hashing.
 *
 * Lines are appended as each output is renamed into place (a killed run keeps what it finished; a
 * torn last line is ignored) and the file is rewritten compactly, atomically, at the end of a run.
 *
 * An archive's manifest can hold millions of lines (some 370 bytes each: 1.6 million photos make a
 * file larger than the longest string V8 allows), so it is read and written as a stream of lines,
 * never as one string. A manifest that cannot be read for any reason but its absence is left as it
 * is (appended to, never rewritten), so a read error can never wipe what earlier runs recorded.
 */
import { createReadStream } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import * as z from 'zod';
import { syncPath, writeTextAtomically } from '../io/atomic-write.js';

export const MANIFEST_NAME = '.ddcolor-manifest.ndjson';

/**
 * One output's entry. Entries are read back from the manifest file and, for a fleet, from Redis
 * (fleet/done-state.ts), which other programs can write to: every entry read is parsed with this
 * schema, and one that does not match is as good as none (the output is checked again).
 */
export const manifestEntrySchema = z.object({
  /** Output path relative to the output folder. */
  output: z.string().min(1).max(4096),
  input: z.string().min(1).max(4096),
  inputSize: z.int().min(0),
  inputMtimeMs: z.number().min(0),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  modelId: z.string().regex(/^[^:\s]{1,128}$/),
  modelSize: z.int().min(0),
  /** The pre- and post-processing version that made the output (1 for lines written by ddcolor 0.1, which lack it). */
  processing: z.int().min(1).default(1),
  format: z.string().min(1).max(16),
  quality: z.int().min(0).max(100),
  /** The chroma scale of the composite (1 in lines written before it existed). */
  saturation: z.number().min(0).default(1),
  /** -1 (both) for a photo left alone. */
  outputSize: z.int().min(-1),
  outputMtimeMs: z.number().min(-1),
  /** Set when the photo was left alone as already in colour (--skip-color): no output (sizes -1). */
  colourfulness: z.number().min(0).optional(),
});
export type ManifestEntry = z.output<typeof manifestEntrySchema>;

/** What an output is made with, as an entry records it. */
export interface OutputParams {
  modelId: string;
  modelSize: number;
  processing: number;
  quality: number;
  saturation: number;
}

/** Whether the entry's output was made with these parameters, in this format. */
export function madeWith(e: ManifestEntry, params: OutputParams, format: string): boolean {
  return (
    e.modelId === params.modelId &&
    e.modelSize === params.modelSize &&
    e.processing === params.processing &&
    e.quality === params.quality &&
    e.saturation === params.saturation &&
    e.format === format
  );
}

/**
 * What a run knows of the outputs in its folder, and where it records the ones it writes: the
 * manifest file of a folder that one run writes at a time, or the fleet's shared record in Redis
 * (fleet/done-state.ts) for a folder that many workers write at once.
 */
export interface OutputRecords {
  /** The latest entry of an output. */
  get(outputRel: string): ManifestEntry | undefined;
  /** The entry that describes the output file on disk (same size and mtime), if any. */
  describing(outputRel: string, onDisk: { size: number; mtimeMs: number }): ManifestEntry | undefined;
  /** Record an output now in place (or a photo left alone, sizes -1). */
  record(entry: ManifestEntry): Promise<void>;
  /** Write what is pending and release what is held. */
  save(): Promise<void>;
  close(): Promise<void>;
}

export class Manifest implements OutputRecords {
  private readonly entries = new Map<string, ManifestEntry>();
  /**
   * Entries a later line of the same output replaced, kept while the file is not compacted: the
   * later line is written just before its output is renamed into place, so after a kill the output
   * on disk may still be the one an earlier line describes.
   */
  private readonly earlier = new Map<string, ManifestEntry[]>();
  private readonly strings = new Map<string, string>();
  private handle: Promise<FileHandle> | null = null;
  private unreadable: Error | null = null;
  /** Whether the file differs from what save() would write (new records, or stale, torn or repeated lines). */
  private dirty = false;
  readonly path: string;

  constructor(readonly outRoot: string) {
    this.path = join(outRoot, MANIFEST_NAME);
  }

  /** Load what earlier runs recorded; a missing manifest or a damaged line just means nothing is known of it. */
  async load(): Promise<this> {
    // Lines are split here rather than by readline, whose promise a line made loading the manifest
    // of 10,000 photos take longer than stat-ing them (BENCHMARKS.md, unchanged re-run).
    let rest = '';
    try {
      for await (const chunk of createReadStream(this.path, { encoding: 'utf8', highWaterMark: 1 << 20 })) {
        const text = rest + (chunk as string);
        let start = 0;
        for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
          this.take(text.slice(start, nl));
          start = nl + 1;
        }
        rest = text.slice(start);
      }
      this.take(rest);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.unreadable = err as Error;
    }
    return this;
  }

  /** One line of the file: an entry, or (torn by a killed run, or not an entry) a reason to rewrite it. */
  private take(line: string): void {
    if (!line.trim()) return;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      this.dirty = true; // a torn line from a killed run
      return;
    }
    const parsed = manifestEntrySchema.safeParse(v);
    if (!parsed.success) {
      this.dirty = true;
      return;
    }
    const entry = parsed.data;
    const before = this.entries.get(entry.output);
    if (before) {
      this.dirty = true;
      this.earlier.set(entry.output, [...(this.earlier.get(entry.output) ?? []), before]);
    }
    this.entries.set(entry.output, this.intern(entry));
  }

  /** Why the manifest could not be read (it is then never rewritten), or null. */
  get readError(): Error | null {
    return this.unreadable;
  }

  /** Share the strings that repeat on every line (model id, format) instead of holding a copy each. */
  private intern(e: ManifestEntry): ManifestEntry {
    for (const k of ['modelId', 'format'] as const) {
      const known = this.strings.get(e[k]);
      if (known === undefined) this.strings.set(e[k], e[k]);
      else e[k] = known;
    }
    return e;
  }

  get(outputRel: string): ManifestEntry | undefined {
    return this.entries.get(outputRel);
  }

  /** The entry that describes the output file on disk (same size and mtime), if any: the file is then ddcolor's. */
  describing(outputRel: string, onDisk: { size: number; mtimeMs: number }): ManifestEntry | undefined {
    const matches = (e: ManifestEntry | undefined): boolean => !!e && e.outputSize === onDisk.size && e.outputMtimeMs === onDisk.mtimeMs;
    const latest = this.entries.get(outputRel);
    if (matches(latest)) return latest;
    return this.earlier.get(outputRel)?.findLast(matches);
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * Record an output about to be renamed into place: appended and flushed to the disk (fdatasync)
   * before the rename, so that after a crash or a power cut every output on disk has its line.
   */
  async record(entry: ManifestEntry): Promise<void> {
    this.handle ??= this.openForAppend();
    const handle = await this.handle;
    await handle.write(JSON.stringify(entry) + '\n');
    await handle.datasync();
    // Only a line that reached the disk is remembered (a full disk must not leave a record of an output never written).
    this.entries.set(entry.output, entry);
    this.dirty = true;
  }

  /**
   * Open the manifest for appending; a manifest just created has its folder flushed too (its name
   * must survive a power cut). One whose last line a killed run tore gets the newline it lacks
   * first: the next line would otherwise be glued to it, and lost with it.
   */
  private async openForAppend(): Promise<FileHandle> {
    const existed = await stat(this.path).then(() => true, () => false);
    const handle = await open(this.path, 'a+');
    if (!existed) await syncPath(dirname(this.path));
    const { size } = await handle.stat();
    const last = Buffer.alloc(1);
    if (size > 0 && (await handle.read(last, 0, 1, size - 1)).bytesRead === 1 && last[0] !== 0x0a) await handle.write('\n');
    return handle;
  }

  /**
   * Rewrite the manifest compactly and atomically, streamed line by line; a manifest
   * that is already compact and unchanged (a nightly re-run over an unchanged archive) is left alone.
   */
  async save(): Promise<void> {
    await this.close();
    if (this.unreadable || !this.dirty) return;
    await writeTextAtomically(this.path, this.lines());
    this.dirty = false;
  }

  private *lines(): Generator<string> {
    for (const e of this.entries.values()) yield JSON.stringify(e) + '\n';
  }

  async close(): Promise<void> {
    const h = this.handle;
    this.handle = null;
    if (h) await (await h).close();
  }
}
