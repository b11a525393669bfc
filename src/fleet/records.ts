/**
 * The fleet's own records in Redis, as schemas: a run's hash, a finished job's totals, a worker's
 * count. Anyone who can write to the queue's Redis can write these keys too, so every value is
 * parsed before it is counted, compared or printed; one that does not parse is named as a problem
 * (by key, never by echoing what it holds) and left out, never turned into NaN or a crash.
 */
import * as z from 'zod';
import { SAFE_NAME } from './jobs.js';

export { parseJson, why } from '../parse-json.js';

/** A count or a time as Redis keeps it in a hash: decimal digits. */
const decimal = z.string().regex(/^\d{1,16}$/, 'digits').transform(Number);

/** A run's hash (`{ddcolor}:<queue>:run:<run>`), written by `submit` and by the job that finishes it. */
export const runMetaSchema = z.object({
  outDir: z.string().min(1).max(4096),
  /** Epoch milliseconds. */
  submittedAt: decimal,
  finishedAt: decimal.optional(),
  jobs: decimal,
  photos: decimal,
  upToDate: decimal.default(0),
});
export type RunMeta = z.output<typeof runMetaSchema>;

const count = z.int().min(0);

/** What a job returns when it is done: its photos' totals (the records are in its report part). */
export const jobResultSchema = z.strictObject({ hit: count, inferred: count, skipped: count, failed: count, notProcessed: count });
export type JobResult = z.output<typeof jobResultSchema>;

/** A record of Redis that is not what ddcolor wrote: its key and why, in words. */
export interface RecordProblem {
  key: string;
  reason: string;
}

/** A name kept in a key or a hash field (a run, a worker): letters, digits, `-` and `_` only. */
export function isSafeName(name: string): boolean {
  return SAFE_NAME.test(name);
}

/**
 * A worker's name as workers give it (`<host>:<pid>`): letters, digits, `.`, `_`, `:` and `-`.
 * Nothing that a terminal would take as a control sequence.
 */
export const WORKER_NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,254}$/;

export function isWorkerName(name: string): boolean {
  return WORKER_NAME.test(name);
}

/** The workers' counts (`{ddcolor}:<queue>:workers`): the ones with a worker's name and a whole count. */
export function parseWorkerCounts(key: string, hash: Record<string, string>): { counts: Map<string, number>; problems: RecordProblem[] } {
  const counts = new Map<string, number>();
  const problems: RecordProblem[] = [];
  for (const [name, value] of Object.entries(hash)) {
    if (!isWorkerName(name)) problems.push({ key, reason: 'a worker name that is not letters, digits, ".", "_", ":" and "-"' });
    else if (!/^\d{1,16}$/.test(value)) problems.push({ key, reason: `worker ${name}: a count that is not a whole number` });
    else counts.set(name, Number(value));
  }
  return { counts, problems };
}
