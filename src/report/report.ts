/**
 * The run report (`ddcolor.report/v1`): what was done to every photo, written atomically as JSON.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { CacheBackend } from '../cache/store.js';
import type { ExecutionProvider } from '../model/session.js';

export const REPORT_SCHEMA = 'ddcolor.report/v1';

export type FileStatus = 'hit' | 'inferred' | 'skipped' | 'failed';

export interface FileRecord {
  input: string;
  output: string | null;
  sha256: string | null;
  status: FileStatus;
  error: string | null;
}

export interface Totals {
  files: number;
  hit: number;
  inferred: number;
  skipped: number;
  failed: number;
}

/** Milliseconds spent in each stage, summed over photos (stages overlap, so they add up to more than the run). */
export interface StageTimings {
  scanMs: number;
  hashMs: number;
  lookupMs: number;
  decodeMs: number;
  inferenceMs: number;
  compositeMs: number;
  encodeMs: number;
  modelLoadMs: number;
}

export interface RunReport {
  schema: typeof REPORT_SCHEMA;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  interrupted: boolean;
  model: {
    path: string;
    id: string;
    inputSize: number;
    /** The execution provider used, or null when no photo needed the model. */
    device: ExecutionProvider | null;
    note: string | null;
  };
  cache: {
    backend: CacheBackend;
    location: string;
    degraded: boolean;
    errors: number;
    error: string | null;
  };
  output: string;
  totals: Totals;
  hitRate: number | null;
  timings: StageTimings;
  /** Things found while scanning that were not photos to process (loops, unreadable folders). */
  problems: Array<{ path: string; reason: string }>;
  files: FileRecord[];
}

export function emptyTotals(): Totals {
  return { files: 0, hit: 0, inferred: 0, skipped: 0, failed: 0 };
}

/** Write `data` to `path` through a temporary file and a rename. */
export async function writeFileAtomic(path: string, data: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.ddcolor-tmp-${randomBytes(6).toString('hex')}-${basename(path)}`);
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

export async function writeReport(path: string, report: RunReport): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(report, null, 2) + '\n');
}
