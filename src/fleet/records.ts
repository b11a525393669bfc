/**
 * The fleet's own records in Redis, as schemas: a run's job, a finished job's totals, a worker's
 * count. Anyone who can write to the queue's Redis can write these keys too, so every value is
 * parsed before it is counted, compared or printed; one that does not parse is named as a problem
 * (by key, never by echoing what it holds) and left out, never turned into NaN or a crash.
 */
import * as z from 'zod';
import { SAFE_NAME } from './jobs.js';

export { parseJson, why } from '../parse-json.js';

const count = z.int().min(0);

/** The name of a run's parent job (fleet/runs.ts); its parts are named after the run. */
export const RUN_JOB = 'ddcolor-run';

/**
 * A run's own job: the parent of its parts in a BullMQ flow. What `submit` found (the folder, the
 * counts, when) is its data; a worker takes it once every part is finished, and its return value
 * is the run's totals.
 */
export const runDataSchema = z.strictObject({
  run: z.string().regex(SAFE_NAME, 'letters, digits, "-" and "_" only'),
  outDir: z.string().min(1).max(4096),
  /** Epoch milliseconds. */
  submittedAt: count,
  jobs: count,
  /** Photos in jobs, and photos left out because their outputs were up to date. */
  photos: count,
  upToDate: count,
});
export type RunData = z.output<typeof runDataSchema>;

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
