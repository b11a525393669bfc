/**
 * `queue status`: the queue's jobs by state, its workers (online or not, photos each has done),
 * and its recent runs with their progress, photos per second and ETA. Also `retry-failed` and
 * `clean`, BullMQ's own operations on the queue.
 */
import { FlowProducer, Queue } from 'bullmq';
import type { QueueConnection } from './connection.js';
import { runOfJobId } from './jobs.js';
import { PREFIX, runsKey, workersKey } from './keys.js';
import { DamagedRecordError } from '../errors.js';
import { isSafeName, isWorkerName, parseWorkerCounts, type RecordProblem } from './records.js';
import { listRuns, retryRun, runProgress, type FleetQueue, type RunProgress } from './runs.js';

/** A run as `queue status` shows it: times as ISO 8601, like the report's. */
export interface RunStatus extends Omit<RunProgress, 'submittedAt' | 'finishedAt' | 'problems'> {
  submittedAt: string;
  /** When a worker finished the run (null before). */
  finishedAt: string | null;
  /** Photos per second since the run was submitted (null before any is done). */
  photosPerSecond: number | null;
  /** Seconds left at that rate (null when not known, 0 when finished). */
  etaSeconds: number | null;
}

export interface QueueStatus {
  queue: string;
  jobs: { waiting: number; active: number; delayed: number; completed: number; failed: number };
  workers: Array<{ name: string; online: boolean; photos: number }>;
  runs: RunStatus[];
  /** Records in Redis that are not ddcolor's (another program wrote them): left out of the above. */
  problems: RecordProblem[];
}

function runStatus(p: RunProgress, now: number): RunStatus {
  const { problems: _, ...rest } = p;
  const { finished } = p;
  const seconds = ((finished && p.finishedAt ? p.finishedAt : now) - p.submittedAt) / 1000;
  const done = p.totals.files;
  const rate = done > 0 && seconds > 0 ? done / seconds : null;
  const eta = finished ? 0 : rate ? (p.photos - done) / rate : null;
  return {
    ...rest,
    submittedAt: new Date(p.submittedAt).toISOString(),
    finishedAt: p.finishedAt === null ? null : new Date(p.finishedAt).toISOString(),
    finished,
    photosPerSecond: rate === null ? null : Math.round(rate * 100) / 100,
    etaSeconds: eta === null ? null : Math.round(eta),
  };
}

/** The progress of each of these runs; a run whose record is not ddcolor's becomes a problem instead. */
async function runsProgress(queue: FleetQueue, runs: readonly string[], problems: RecordProblem[]): Promise<RunProgress[]> {
  const progress: RunProgress[] = [];
  for (const run of runs) {
    try {
      const p = await runProgress(queue, run);
      if (!p) continue;
      progress.push(p);
      problems.push(...p.problems);
    } catch (err) {
      if (!(err instanceof DamagedRecordError)) throw err;
      problems.push({ key: err.key, reason: err.reason });
    }
  }
  return progress;
}

export async function queueStatus(redis: QueueConnection, queueName: string, runs = 10): Promise<QueueStatus> {
  const queue: FleetQueue = new Queue(queueName, { connection: redis, prefix: PREFIX, skipVersionCheck: true });
  try {
    const counts = await queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'completed', 'failed');
    // A worker's connection is named `<prefix>:<queue, base64>:w:<worker name>`: a client name, so Redis data too.
    const online = new Set((await queue.getWorkers()).map((w) => String(w.rawname ?? '').split(':w:')[1] ?? '').filter(isWorkerName));
    const done = parseWorkerCounts(workersKey(queueName), await redis.hgetall(workersKey(queueName)));
    const problems = [...done.problems];
    const names = [...new Set([...done.counts.keys(), ...online])].filter((n) => n !== 'none').sort();
    const now = Date.now();
    const listed = await listRuns(redis, queueName, runs);
    problems.push(...listed.problems);
    const progress = await runsProgress(queue, listed.runs, problems);
    return {
      queue: queueName,
      jobs: {
        waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0),
        active: counts.active ?? 0,
        delayed: counts.delayed ?? 0,
        completed: counts.completed ?? 0,
        failed: counts.failed ?? 0,
      },
      workers: names.map((name) => ({ name, online: online.has(name), photos: done.counts.get(name) ?? 0 })),
      runs: progress.map((p) => runStatus(p, now)),
      problems,
    };
  } finally {
    await queue.close();
  }
}

/**
 * Put every failed job back in the queue; returns how many. A job of a run counts unfinished
 * again, and a run that was finished is opened again: its report is made again once the job is
 * done.
 */
export async function retryFailed(redis: QueueConnection, queueName: string): Promise<number> {
  const queue: FleetQueue = new Queue(queueName, { connection: redis, prefix: PREFIX, skipVersionCheck: true });
  const flow = new FlowProducer({ connection: redis, prefix: PREFIX, skipVersionCheck: true });
  try {
    // Jobs are Redis data: a job is a run's when its id is one of the run's job ids, which says the run.
    const byRun = new Map<string, string[]>();
    let n = 0;
    const alone: string[] = [];
    for (const job of await queue.getFailed(0, -1)) {
      const run = job.id ? runOfJobId(job.id) : null;
      if (run) byRun.set(run, byRun.get(run) ?? []).get(run)!.push(job.id!);
      else if (job.id) alone.push(job.id);
    }
    for (const [run, ids] of byRun) {
      // A run whose own job is gone or not ddcolor's: its jobs are put back as they are.
      const put = await retryRun(queue, flow, run, ids).catch((err: unknown) => {
        if (err instanceof DamagedRecordError) return null;
        throw err;
      });
      if (put === null) alone.push(...ids);
      else n += put;
    }
    for (const id of alone) {
      await (await queue.getJob(id))?.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
      n++;
    }
    return n;
  } finally {
    await flow.close();
    await queue.close();
  }
}

/**
 * Remove finished jobs (done and failed) older than `olderThanMs`: a finished run's own job goes
 * with them, and the run leaves the list of runs. A run in progress keeps its record, whatever
 * the age of its finished jobs (their totals are kept in the run's own job).
 */
export async function cleanQueue(redis: QueueConnection, queueName: string, olderThanMs: number): Promise<{ jobs: number; runs: number }> {
  const queue: FleetQueue = new Queue(queueName, { connection: redis, prefix: PREFIX, skipVersionCheck: true });
  try {
    const completed = await queue.clean(olderThanMs, 0, 'completed');
    const failed = await queue.clean(olderThanMs, 0, 'failed');
    const gone = new Set([...completed, ...failed]);
    let runs = 0;
    let runJobs = 0;
    for (const run of await redis.zrevrange(runsKey(queueName), 0, -1)) {
      // A name that is not ddcolor's is left as it is: clean removes only what it can read.
      if (!isSafeName(run) || (!gone.has(run) && (await queue.getJob(run)))) continue;
      await redis.zrem(runsKey(queueName), run);
      if (gone.has(run)) runJobs++;
      runs++;
    }
    return { jobs: gone.size - runJobs, runs };
  } finally {
    await queue.close();
  }
}
