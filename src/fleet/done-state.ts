/**
 * The outputs that the fleet has written into a shared output folder, kept in Redis beside the
 * queue (one hash per folder: output path -> its manifest entry), because many workers on many
 * machines update it at once: each HSET is atomic, and no file is shared between writers.
 *
 * `submit` reads it to skip photos that are up to date without hashing them again; a worker loads
 * the entries of its job's outputs and records each output it writes. Each value keeps the entry
 * before the latest too: a worker killed between recording an output and renaming it into place
 * leaves the earlier output on disk, which the earlier entry still describes.
 */
import * as z from 'zod';
import { BAD_PHOTO_CODES, errorMessage, TransientError } from '../errors.js';
import { parseJson } from '../parse-json.js';
import type { QueueConnection } from './connection.js';
import { badKey, doneKey } from './keys.js';
import { manifestEntrySchema, type ManifestEntry, type OutputRecords } from '../pipeline/index.js';
import type { FileRecord } from '../report/report.js';

const BATCH = 1000;

/**
 * The stored value: the latest entry, then the one before it (if any). Values are read from Redis,
 * which other programs can write to: one that does not parse is as good as none (the output is
 * checked again, the input tried again).
 */
const storedSchema = z.union([z.tuple([manifestEntrySchema]), z.tuple([manifestEntrySchema, manifestEntrySchema])]);
type Stored = z.output<typeof storedSchema>;

/** An input that failed for good, as it was then: the same file is not tried again. */
const badInputSchema = z.strictObject({
  size: z.int().min(0),
  mtimeMs: z.number().min(0),
  error: z.string().max(4096),
  /** Its code, reported again with it (absent in records of older workers). */
  code: z.enum(BAD_PHOTO_CODES).optional(),
});
export type BadInput = z.output<typeof badInputSchema>;

/** The record of an input known to have failed for good, reported again: its words and its code. */
export function knownBadRecord(input: string, bad: BadInput): FileRecord {
  return { input, output: null, sha256: null, status: 'failed', error: bad.error, ...(bad.code ? { code: bad.code } : {}) };
}

/** A value of one of the hashes, parsed, or null when there is none or it does not parse. */
function parseValue<T>(schema: z.ZodType<T>, value: string | null | undefined): T | null {
  const parsed = value ? parseJson(schema, value) : null;
  return parsed?.ok ? parsed.data : null;
}

export class DoneState implements OutputRecords {
  private readonly entries = new Map<string, Stored>();
  private readonly bad = new Map<string, BadInput>();
  readonly key: string;
  readonly badKey: string;

  constructor(
    private readonly redis: QueueConnection,
    outDir: string,
  ) {
    this.key = doneKey(outDir);
    this.badKey = badKey(outDir);
  }

  /** Load what is known of these inputs' failures, in batches. */
  async loadBad(inputs: readonly string[]): Promise<this> {
    for (let i = 0; i < inputs.length; i += BATCH) {
      const paths = inputs.slice(i, i + BATCH);
      const values = paths.length > 0 ? await this.redis.hmget(this.badKey, ...paths) : [];
      paths.forEach((path, k) => {
        const v = parseValue(badInputSchema, values[k]);
        if (v) this.bad.set(path, v);
      });
    }
    return this;
  }

  /** The failure of this input if it is the same file (size and mtime) that failed. */
  badInput(path: string, st: { size: number; mtimeMs: number }): BadInput | undefined {
    const b = this.bad.get(path);
    return b && b.size === st.size && b.mtimeMs === st.mtimeMs ? b : undefined;
  }

  /** Remember that this input failed for good, as it is now. */
  async recordBad(path: string, bad: BadInput): Promise<void> {
    this.bad.set(path, bad);
    await this.redis.hset(this.badKey, path, JSON.stringify(bad));
  }

  /** Load the entries of these outputs (relative paths), in batches. */
  async load(outputs: readonly string[]): Promise<this> {
    for (let i = 0; i < outputs.length; i += BATCH) {
      const rels = outputs.slice(i, i + BATCH);
      const values = rels.length > 0 ? await this.redis.hmget(this.key, ...rels) : [];
      rels.forEach((rel, k) => {
        const stored = parseValue(storedSchema, values[k]);
        if (stored) this.entries.set(rel, stored);
      });
    }
    return this;
  }

  get(outputRel: string): ManifestEntry | undefined {
    return this.entries.get(outputRel)?.[0];
  }

  describing(outputRel: string, onDisk: { size: number; mtimeMs: number }): ManifestEntry | undefined {
    return this.entries.get(outputRel)?.find((e) => e.outputSize === onDisk.size && e.outputMtimeMs === onDisk.mtimeMs);
  }

  async record(entry: ManifestEntry): Promise<void> {
    const before = this.entries.get(entry.output)?.[0];
    const stored: Stored = before && before.outputSize >= 0 ? [entry, before] : [entry];
    this.entries.set(entry.output, stored);
    try {
      await this.redis.hset(this.key, entry.output, JSON.stringify(stored));
      if (this.bad.delete(entry.input)) await this.redis.hdel(this.badKey, entry.input);
    } catch (err) {
      // Not written (the record comes before the rename): the photo is done again when its job is retried.
      throw new TransientError(`the fleet's record in Redis could not be updated: ${errorMessage(err)}`, err);
    }
  }

  async save(): Promise<void> {}

  async close(): Promise<void> {}
}
