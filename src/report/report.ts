/**
 * The run report (`ddcolor.report/v1`): what was done to every photo, written atomically as JSON.
 *
 * An archive's report lists a million photos or more: it is produced as a stream of text blocks
 * (never one string, which V8 caps at about 512 MB), with the run's details pretty-printed and
 * one line per photo, so `grep` finds a photo's record and its status on one line.
 */
import { writeTextAtomically } from '../io/atomic-write.js';
import { redacted } from '../redact.js';
import type { CacheBackend } from '../cache/store.js';
import type { ExecutionProvider } from '../inference/session.js';
import type { ProfileRow } from '../pipeline/profile.js';

export const REPORT_SCHEMA = 'ddcolor.report/v1';

/** `not-processed`: the run stopped (Ctrl-C, or a configuration error) before it started the photo. */
export type FileStatus = 'hit' | 'inferred' | 'skipped' | 'failed' | 'not-processed';

export interface FileRecord {
  input: string;
  output: string | null;
  sha256: string | null;
  status: FileStatus;
  error: string | null;
  /** Why a photo was skipped when it was not up to date (`already in colour`). */
  reason?: string;
  /** Milliseconds of work on this photo (decoding to writing, its wait for the model included). */
  ms?: number;
  /** A failed photo's stable code: the photo's own fault (EMPTY, NOT_FOUND, NOT_A_FILE, NOT_AN_IMAGE, DAMAGED, TOO_LARGE), the environment's (an errno such as ENOSPC, or MODEL, PIXEL_THREAD, TRANSIENT, CHANGED, OUTSIDE_ROOTS), another file's (OUTPUT_TAKEN, OTHER_FILE), ddcolor's own (INTERNAL). */
  code?: string;
  /** A failure of the machine, not of the photo (the model or device failed): trying again may work. */
  transient?: true;
  /** Failed because of another file (a file of the user's at the output's place), not the photo's fault. */
  blocked?: true;
}

export interface Totals {
  files: number;
  hit: number;
  inferred: number;
  skipped: number;
  failed: number;
  notProcessed: number;
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
    /** For one of ddcolor's test networks, what it does instead of colorizing ("tints photos sepia; does not colorize"). */
    testModel: string | null;
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
  /** Per stage: wall, busy and waiting time (pipeline/profile.ts). */
  profile: ProfileRow[];
  files: FileRecord[];
}

export function emptyTimings(): StageTimings {
  return { scanMs: 0, hashMs: 0, lookupMs: 0, decodeMs: 0, inferenceMs: 0, compositeMs: 0, encodeMs: 0, modelLoadMs: 0 };
}

export function emptyTotals(): Totals {
  return { files: 0, hit: 0, inferred: 0, skipped: 0, failed: 0, notProcessed: 0 };
}

/** The report as JSON text, in blocks of about `blockChars` characters. */
export function* reportText(report: RunReport, blockChars = 1 << 20): Generator<string> {
  const { files, ...head } = report;
  // The pretty head ends with "\n}": reopen it to append the files, one record a line.
  const headText = JSON.stringify(head, null, 2);
  let block = `${headText.slice(0, headText.lastIndexOf('\n}'))},\n  "files": [`;
  for (let i = 0; i < files.length; i++) {
    block += `${i ? ',' : ''}\n    ${JSON.stringify(files[i])}`;
    if (block.length >= blockChars) {
      yield block;
      block = '';
    }
  }
  yield `${block}${files.length ? '\n  ' : ''}]\n}\n`;
}

/** Write the report to `path` through a temporary file and a rename. */
export async function writeReport(path: string, report: RunReport): Promise<void> {
  await writeTextAtomically(path, redacted(reportText(report)));
}
