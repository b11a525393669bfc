/**
 * A run's progress beside the queue: which of its jobs are finished and with what totals, and how
 * many photos each worker has done. A job that finishes twice (run again after its worker was
 * presumed dead) overwrites its own totals: nothing is counted twice.
 */
import type { Queue } from 'bullmq';
import { emptyTotals, type FileRecord, type RunReport, type Totals } from '../report/report.js';
import type { QueueConnection } from './connection.js';
import { DamagedRecordError } from '../errors.js';
import { parseJobData, SAFE_NAME, type JobData } from './jobs.js';
import { runFinishedKey, runKey, runsKey, runTotalsKey, workersKey } from './keys.js';
import { readPart, recordsPart, writePart } from './parts.js';
import { isSafeName, jobResultSchema, parseJson, runMetaSchema, why, type JobResult, type RecordProblem } from './records.js';

export interface RunProgress {
  run: string;
  outDir: string;
  /** Epoch milliseconds. */
  submittedAt: number;
  /** When its last job finished (null before). */
  finishedAt: number | null;
  jobs: number;
  finishedJobs: number;
  /** Photos in jobs, and the totals of those in finished jobs. */
  photos: number;
  upToDate: number;
  totals: Totals;
  /** Finished jobs' totals that are not ddcolor's (left out of `totals`). */
  problems: RecordProblem[];
}

/**
 * Mark a job finished with its totals, in one transaction (MULTI: the keys share the `{ddcolor}`
 * slot); true for exactly one job of a run: the one whose finishing made the count complete. Two
 * workers finishing a run's last two jobs at once can no longer both think they were last.
 */
export async function finishJob(redis: QueueConnection, queue: string, data: JobData, id: string, result: JobResult, worker: string, photosDone: number): Promise<boolean> {
  const tx = redis.multi().hset(runTotalsKey(queue, data.run), id, JSON.stringify(result)).sadd(runFinishedKey(queue, data.run), id);
  if (photosDone > 0) tx.hincrby(workersKey(queue), worker, photosDone);
  tx.scard(runFinishedKey(queue, data.run)).hget(runKey(queue, data.run), 'jobs');
  const replies = await tx.exec();
  if (!replies) throw new Error(`job ${id}: the fleet's record of the run could not be updated (transaction aborted)`);
  for (const [err] of replies) if (err) throw err;
  const added = replies[1]![1] as number;
  const finished = replies[replies.length - 2]![1] as number;
  const jobs = replies[replies.length - 1]![1] as string | null;
  // The run's job count is Redis data: one that is not a count never makes a job the last.
  const last = added === 1 && jobs !== null && /^\d{1,16}$/.test(jobs) && finished >= Number(jobs);
  if (last) await redis.hset(runKey(queue, data.run), 'finishedAt', String(Date.now()));
  return last;
}

/**
 * The run's progress from its records; null when there is no such run. A run's hash that is not
 * ddcolor's throws a `DamagedRecordError` naming the key; a finished job's totals that are not
 * are left out and named in `problems`.
 */
export async function runProgress(redis: QueueConnection, queue: string, run: string): Promise<RunProgress | null> {
  const key = runKey(queue, run);
  const [hash, perJob, finishedJobs] = await Promise.all([redis.hgetall(key), redis.hgetall(runTotalsKey(queue, run)), redis.scard(runFinishedKey(queue, run))]);
  if (Object.keys(hash).length === 0) return null;
  const meta = runMetaSchema.safeParse(hash);
  if (!meta.success) throw new DamagedRecordError(key, why(meta.error));
  const totals = emptyTotals();
  const problems: RecordProblem[] = [];
  for (const [job, text] of Object.entries(perJob)) {
    const r = parseJson(jobResultSchema, text);
    if (!r.ok) {
      problems.push({ key: runTotalsKey(queue, run), reason: isSafeName(job) ? `job ${job}: ${r.reason}` : `a job id that is not ddcolor's: ${r.reason}` });
      continue;
    }
    for (const k of ['hit', 'inferred', 'skipped', 'failed', 'notProcessed'] as const) totals[k] += r.data[k];
  }
  totals.files = totals.hit + totals.inferred + totals.skipped + totals.failed + totals.notProcessed;
  const m = meta.data;
  return { run, outDir: m.outDir, submittedAt: m.submittedAt, finishedAt: m.finishedAt ?? null, jobs: m.jobs, finishedJobs, photos: m.photos, upToDate: m.upToDate, totals, problems };
}

/** The queue's runs, newest first. */
export async function listRuns(redis: QueueConnection, queue: string, limit = 20): Promise<{ runs: string[]; problems: RecordProblem[] }> {
  const names = await redis.zrevrange(runsKey(queue), 0, limit - 1);
  const unsafe = names.filter((n) => !isSafeName(n)).length;
  return { runs: names.filter(isSafeName), problems: unsafe > 0 ? [{ key: runsKey(queue), reason: `${unsafe} run name${unsafe === 1 ? ' that is' : 's that are'} not letters, digits, "-" and "_"` }] : [] };
}

/**
 * Jobs of the run that BullMQ failed without a worker finishing them (stalled too often, or out
 * of tries before a worker could open the run): their photos are reported as not processed, in a part of their own,
 * and the jobs count as finished. Returns how many there were.
 */
export async function settleLostJobs(redis: QueueConnection, queue: Queue<JobData>, run: string, outDir: string): Promise<number> {
  const finished = new Set(await redis.smembers(runFinishedKey(queue.name, run)));
  // One query for the queue's failed jobs, not one per job of the run. A job is data from Redis:
  // only one that parses as a job of this run, into this run's folder, with a safe id, is settled.
  const lostJobs = (await queue.getFailed(0, -1))
    .map((j) => ({ id: j.id, reason: j.failedReason, parsed: parseJobData(j.data) }))
    .filter((j): j is { id: string; reason: string; parsed: { ok: true; data: JobData } } => j.parsed.ok && j.parsed.data.run === run && j.parsed.data.outDir === outDir && j.id !== undefined && SAFE_NAME.test(j.id) && !finished.has(j.id));
  for (const job of lostJobs) {
    const { id } = job;
    const data = job.parsed.data;
    const why = `job ${id} failed: ${job.reason || 'no worker finished it'}`;
    const part = (await readPart(outDir, run, id)) ?? lostJobPart(data, why);
    await writePart(outDir, run, id, part);
    const t = part.totals;
    await finishJob(redis, queue.name, data, id, { hit: t.hit, inferred: t.inferred, skipped: t.skipped, failed: t.failed, notProcessed: t.notProcessed }, 'none', 0);
  }
  return lostJobs.length;
}

function lostJobPart(data: JobData, why: string): RunReport {
  const model = { path: data.params.modelName, id: data.params.modelId, inputSize: data.params.size, device: null, note: null, testModel: null };
  const files: FileRecord[] = data.files.map((f) => ({ input: f.path, output: null, sha256: null, status: 'not-processed', error: `${f.path}: not processed (${why})` }));
  return recordsPart(data.outDir, model, files);
}
