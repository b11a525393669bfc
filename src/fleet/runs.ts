/**
 * A run is a BullMQ flow: a parent job, whose id is the run's name and whose data is what `submit`
 * found (runDataSchema), with the run's jobs as its children. BullMQ keeps the books:
 * - a job that completes hands its totals (its return value) to the parent, in the same script
 *   that completes it, so a job done twice (run again after its worker was presumed dead) counts
 *   once;
 * - a job that fails for good (out of tries, refused, or stalled too often because its worker
 *   died) is recorded in the parent as an ignored failure (`ignoreDependencyOnFailure`);
 * - once no child is pending, the parent moves to the wait list, and a worker finishes the run
 *   (`finishRun`: a part for each lost job, the combined report). The run's completion is the
 *   parent's completion, an event `submit --wait` hears.
 *
 * Everything read back (the parent's data, the children's return values and data) is Redis data
 * and is parsed first: what is not ddcolor's is named as a problem, never counted.
 */
import { rm } from 'node:fs/promises';
import { Job, type FlowJob, type FlowProducer, type Queue } from 'bullmq';
import pMap from 'p-map';
import { emptyTotals, type FileRecord, type RunReport, type Totals } from '../report/report.js';
import type { QueueConnection } from './connection.js';
import { DamagedRecordError } from '../errors.js';
import { jobId, parseJobData, SAFE_NAME, type JobData } from './jobs.js';
import { PREFIX, runsKey } from './keys.js';
import { partPath, readPart, recordsPart, writeCombined, writePart } from './parts.js';
import { isSafeName, jobResultSchema, RUN_JOB, runDataSchema, why, type JobResult, type RecordProblem, type RunData } from './records.js';

/** The queue as the fleet reads it: every job's data is checked before use, so none is assumed. */
export type FleetQueue = Queue<unknown, unknown>;

export interface RunProgress {
  run: string;
  outDir: string;
  /** Epoch milliseconds. */
  submittedAt: number;
  /** When a worker finished the run (null before). */
  finishedAt: number | null;
  /** Every job is finished and the run's report is written. */
  finished: boolean;
  /** Why a worker could not finish the run, when its own job failed (null otherwise). */
  error: string | null;
  jobs: number;
  finishedJobs: number;
  /** Photos in jobs, and the totals of those in finished jobs. */
  photos: number;
  upToDate: number;
  totals: Totals;
  /** Finished jobs' records that are not ddcolor's (left out of `totals`). */
  problems: RecordProblem[];
}

const RESULT_KEYS = ['hit', 'inferred', 'skipped', 'failed', 'notProcessed'] as const;

export function resultOf(t: Totals): JobResult {
  return { hit: t.hit, inferred: t.inferred, skipped: t.skipped, failed: t.failed, notProcessed: t.notProcessed };
}

function add(totals: Totals, r: JobResult): void {
  for (const k of RESULT_KEYS) totals[k] += r[k];
  totals.files += RESULT_KEYS.reduce((n, k) => n + r[k], 0);
}

/** The key of a job of the queue, as BullMQ names its children in a parent's records. */
function jobKey(queueName: string, id: string): string {
  return `${PREFIX}:${queueName}:${id}`;
}

/** A run's flow: the parent (the run) and its jobs, each failing alone (a lost job never fails the run). */
export function runFlow(queueName: string, run: RunData, parts: ReadonlyArray<{ id: string; data: JobData }>, retry: { attempts: number; backoffMs: number }): FlowJob {
  const backoff = { type: 'exponential' as const, delay: retry.backoffMs };
  return {
    name: RUN_JOB,
    queueName,
    data: run,
    opts: { jobId: run.run },
    children: parts.map((p) => ({ name: run.run, queueName, data: p.data, opts: { jobId: p.id, attempts: retry.attempts, backoff, ignoreDependencyOnFailure: true } })),
  };
}

/** A finished job of a run to put back in the queue: its id and the set BullMQ holds it in. */
export interface FinishedJob {
  id: string;
  state: 'completed' | 'failed';
}

/**
 * Put finished jobs of a run back in the queue, with their tries renewed (and, with `dropParts`,
 * their report parts dropped, so every photo is tried again). While the run is in progress BullMQ
 * moves each back among its pending jobs. A run already finished would not notice: its own job
 * goes first and its flow (`tree`, made only then) is added again, with the same jobs; those that
 * are done count as done at once (BullMQ gives a duplicate child's return value to its new
 * parent). A run not in the queue yet is added.
 */
async function putBack(queue: FleetQueue, flow: FlowProducer, tree: () => Promise<FlowJob>, run: RunData, jobs: readonly FinishedJob[], dropParts: boolean): Promise<number> {
  const parent = await queue.getJob(run.run);
  const reopen = parent !== undefined && run.jobs > 0 && (await parent.getState()) !== 'waiting-children';
  if (reopen) {
    try {
      await parent.remove({ removeChildren: false });
    } catch (err) {
      throw new Error(`run ${run.run}: a worker is finishing it right now; try again in a moment (${err instanceof Error ? err.message : String(err)})`);
    }
  }
  let n = 0;
  for (const { id, state } of jobs) {
    const job = await queue.getJob(id);
    if (!job) continue;
    if (dropParts) await rm(partPath(run.outDir, run.run, id), { force: true });
    await job.retry(state, { resetAttemptsMade: true, resetAttemptsStarted: true });
    n++;
  }
  if (!parent || reopen) await flow.add(await tree());
  return n;
}

/**
 * Add a run's flow; the same run again adds nothing. Jobs of it that are finished (`again`: the
 * same photos, still not done, so the machine failed them or another file blocked them) are put
 * back in the queue and their report parts dropped; a run that was finished is opened again.
 * Returns how many jobs were put back.
 */
export async function addRun(redis: QueueConnection, queue: FleetQueue, flow: FlowProducer, tree: FlowJob, run: RunData, again: readonly FinishedJob[]): Promise<number> {
  const n = await putBack(queue, flow, async () => tree, run, again, true);
  await redis.zadd(runsKey(queue.name), 'NX', run.submittedAt, run.run);
  return n;
}

/** A finished run's flow as the queue still holds it: its own data and the jobs that are left. */
async function heldFlow(queue: FleetQueue, run: RunData): Promise<FlowJob> {
  const parts: Array<{ id: string; data: JobData }> = [];
  let attempts = 1;
  let backoffMs = 0;
  // Many reads under way at once: ioredis pipelines them, a run of 20,000 jobs is not 20,000 round trips.
  const jobs = await pMap(Array.from({ length: run.jobs }, (_, k) => jobId(run.run, k)), (id) => queue.getJob(id), { concurrency: 256 });
  for (const job of jobs) {
    const parsed = parseJobData(job?.data);
    if (!job?.id || !parsed.ok) continue;
    parts.push({ id: job.id, data: parsed.data });
    attempts = job.opts.attempts ?? attempts;
    backoffMs = typeof job.opts.backoff === 'object' ? (job.opts.backoff.delay ?? backoffMs) : backoffMs;
  }
  return runFlow(queue.name, run, parts, { attempts, backoffMs });
}

/**
 * Put a run's failed jobs back in the queue (`queue retry-failed`), opening the run again if it
 * was finished (its flow rebuilt from the jobs the queue still holds). Returns how many; null
 * when the run's own job is gone.
 */
export async function retryRun(queue: FleetQueue, flow: FlowProducer, run: string, failed: readonly string[]): Promise<number | null> {
  const found = await runJob(queue, run);
  if (!found) return null;
  return putBack(queue, flow, () => heldFlow(queue, found.data), found.data, failed.map((id) => ({ id, state: 'failed' as const })), false);
}

/** The run's parent job and its data, checked; null when there is no such run. */
async function runJob(queue: FleetQueue, run: string): Promise<{ job: Job<unknown, unknown>; data: RunData } | null> {
  const job = await queue.getJob(run);
  if (!job) return null;
  const parsed = runDataSchema.safeParse(job.data);
  if (job.name !== RUN_JOB || !parsed.success || parsed.data.run !== run) {
    throw new DamagedRecordError(jobKey(queue.name, run), parsed.success ? `not a run's job (${job.name === RUN_JOB ? 'another run' : 'its name'})` : why(parsed.error));
  }
  return { job, data: parsed.data };
}

/** The id of the run's job that a child's key names; null for a key that names no job of the run. */
function childId(queueName: string, run: string, key: string): string | null {
  const prefix = `${PREFIX}:${queueName}:`;
  const id = key.startsWith(prefix) ? key.slice(prefix.length) : '';
  return SAFE_NAME.test(id) && id.startsWith(`${run}-`) ? id : null;
}

/** The children's totals, each parsed; a value that is not a job's totals is named, not counted. */
function childTotals(queueName: string, run: string, values: Record<string, unknown>, totals: Totals, problems: RecordProblem[]): void {
  for (const [key, value] of Object.entries(values)) {
    const r = jobResultSchema.safeParse(value);
    if (r.success) add(totals, r.data);
    else problems.push({ key: jobKey(queueName, run), reason: `${childId(queueName, run, key) ?? 'a job that is not one of the run\'s'}: ${why(r.error)}` });
  }
}

/** A job of the run that failed for good: its id, BullMQ's reason and its data (null when it is gone or not this run's). */
interface LostJob {
  id: string;
  reason: string;
  data: JobData | null;
}

/** The run's jobs that BullMQ failed for good before a worker finished them. */
async function lostJobs(queue: FleetQueue, parent: Job<unknown, unknown>, run: RunData, problems: RecordProblem[]): Promise<LostJob[]> {
  const lost: LostJob[] = [];
  for (const [key, reason] of Object.entries(await parent.getIgnoredChildrenFailures())) {
    const id = childId(queue.name, run.run, key);
    if (id === null) {
      problems.push({ key: jobKey(queue.name, run.run), reason: 'a failed job that is not one of the run\'s' });
      continue;
    }
    const parsed = parseJobData((await Job.fromId(queue, id))?.data);
    const mine = parsed.ok && parsed.data.run === run.run && parsed.data.outDir === run.outDir;
    lost.push({ id, reason: typeof reason === 'string' && reason !== '' ? reason : 'no worker finished it', data: mine ? parsed.data : null });
  }
  return lost;
}

/**
 * The run's progress from its job; null when there is no such run. A run's job that is not
 * ddcolor's throws a `DamagedRecordError` naming the key; a finished job's totals that are not
 * are left out and named in `problems`. A lost job's photos count as not processed.
 */
export async function runProgress(queue: FleetQueue, run: string): Promise<RunProgress | null> {
  // The state first, then the job: a job read after its state holds what that state wrote (its totals, its reason).
  const state = await queue.getJobState(run);
  const found = state === 'unknown' ? null : await runJob(queue, run);
  if (!found) return null;
  const { job, data } = found;
  const problems: RecordProblem[] = [];
  const totals = emptyTotals();
  const finished = state === 'completed' || data.jobs === 0;
  // Counted by BullMQ: done jobs and jobs failed for good.
  const counts = await job.getDependenciesCount({ processed: true, ignored: true });
  const finishedJobs = (counts.processed ?? 0) + (counts.ignored ?? 0);
  // A finished run's totals are its own job's return value; before, its jobs' are summed.
  const final = state === 'completed' ? jobResultSchema.safeParse(job.returnvalue) : null;
  if (final?.success) add(totals, final.data);
  else {
    if (final) problems.push({ key: jobKey(queue.name, run), reason: `the run's totals: ${why(final.error)}` });
    childTotals(queue.name, run, await job.getChildrenValues(), totals, problems);
    for (const l of await lostJobs(queue, job, data, problems)) add(totals, { ...resultOf(emptyTotals()), notProcessed: l.data?.files.length ?? 0 });
  }
  const finishedAt = state === 'completed' ? (job.finishedOn ?? null) : data.jobs === 0 ? data.submittedAt : null;
  const error = state === 'failed' ? job.failedReason || 'failed' : null;
  return { run, outDir: data.outDir, submittedAt: data.submittedAt, finishedAt, finished, error, jobs: data.jobs, finishedJobs, photos: data.photos, upToDate: data.upToDate, totals, problems };
}

/**
 * Finish a run whose jobs are all finished (the parent's work, on a worker): a part for each job
 * lost without a part of its own (its photos not processed, with BullMQ's reason), then the
 * combined report in `outDir` (the folder as the worker checked it). Returns the run's totals.
 */
export async function finishRun(queue: FleetQueue, parent: Job<unknown, unknown>, run: RunData, outDir: string): Promise<{ totals: JobResult; report: RunReport }> {
  const problems: RecordProblem[] = [];
  const totals = emptyTotals();
  childTotals(queue.name, run.run, await parent.getChildrenValues(), totals, problems);
  for (const lost of await lostJobs(queue, parent, run, problems)) {
    if (!lost.data) continue;
    const part = (await readPart(outDir, run.run, lost.id)) ?? lostJobPart(lost.data, outDir, `job ${lost.id} failed: ${lost.reason}`);
    await writePart(outDir, run.run, lost.id, part);
    add(totals, resultOf(part.totals));
  }
  return { totals: resultOf(totals), report: await writeCombined(outDir, run.run) };
}

function lostJobPart(data: JobData, outDir: string, reason: string): RunReport {
  const model = { path: data.params.modelName, id: data.params.modelId, inputSize: data.params.size, device: null, note: null, testModel: null };
  const files: FileRecord[] = data.files.map((f) => ({ input: f.path, output: null, sha256: null, status: 'not-processed', error: `${f.path}: not processed (${reason})` }));
  return recordsPart(outDir, model, files);
}

/** The queue's runs, newest first. */
export async function listRuns(redis: QueueConnection, queue: string, limit = 20): Promise<{ runs: string[]; problems: RecordProblem[] }> {
  const names = await redis.zrevrange(runsKey(queue), 0, limit - 1);
  const unsafe = names.filter((n) => !isSafeName(n)).length;
  return { runs: names.filter(isSafeName), problems: unsafe > 0 ? [{ key: runsKey(queue), reason: `${unsafe} run name${unsafe === 1 ? ' that is' : 's that are'} not letters, digits, "-" and "_"` }] : [] };
}
