/**
 * `queue status`: the queue's jobs by state, its workers (online or not, photos each has done),
 * and its recent runs with their progress, photos per second and ETA. Also `retry-failed` and
 * `clean`, BullMQ's own operations on the queue.
 */
import { Queue } from 'bullmq';
import type { QueueConnection } from './connection.js';
import { parseJobData, type JobData } from './jobs.js';
import { PREFIX, runFinishedKey, runKey, runsKey, runTotalsKey, workersKey } from './keys.js';
import { DamagedRecordError } from '../errors.js';
import { isSafeName, isWorkerName, parseWorkerCounts, type RecordProblem } from './records.js';
import { listRuns, runProgress, type RunProgress } from './runs.js';

/** A run as `queue status` shows it: times as ISO 8601, like the report's. */
export interface RunStatus extends Omit<RunProgress, 'submittedAt' | 'finishedAt' | 'problems'> {
  submittedAt: string;
  /** When its last job finished (null before). */
  finishedAt: string | null;
  finished: boolean;
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
  const finished = p.finishedJobs >= p.jobs;
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
async function runsProgress(redis: QueueConnection, queueName: string, runs: readonly string[], problems: RecordProblem[]): Promise<RunProgress[]> {
  const progress: RunProgress[] = [];
  for (const run of runs) {
    try {
      const p = await runProgress(redis, queueName, run);
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
  const queue = new Queue<JobData>(queueName, { connection: redis, prefix: PREFIX, skipVersionCheck: true });
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
    const progress = await runsProgress(redis, queueName, listed.runs, problems);
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

/** Put every failed job back in the queue; returns how many. Their runs count them unfinished again. */
export async function retryFailed(redis: QueueConnection, queueName: string): Promise<number> {
  const queue = new Queue<JobData>(queueName, { connection: redis, prefix: PREFIX, skipVersionCheck: true });
  try {
    const failed = await queue.getFailed(0, -1);
    for (const job of failed) {
      // A job is Redis data: only a ddcolor job's run is touched.
      const parsed = parseJobData(job.data);
      if (parsed.ok && job.id) await redis.srem(runFinishedKey(queueName, parsed.data.run), job.id);
    }
    await queue.retryJobs({ state: 'failed' });
    return failed.length;
  } finally {
    await queue.close();
  }
}

/**
 * Remove finished jobs (done and failed) older than `olderThanMs`, and the records of runs whose
 * jobs are all finished and gone. Returns how many jobs and runs went.
 */
export async function cleanQueue(redis: QueueConnection, queueName: string, olderThanMs: number): Promise<{ jobs: number; runs: number }> {
  const queue = new Queue<JobData>(queueName, { connection: redis, prefix: PREFIX, skipVersionCheck: true });
  try {
    const completed = await queue.clean(olderThanMs, 0, 'completed');
    const failed = await queue.clean(olderThanMs, 0, 'failed');
    let runs = 0;
    const jobs = await queue.getJobs(['waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed']);
    const withJobs = new Set(jobs.map((j) => parseJobData(j.data)).flatMap((j) => (j.ok ? [j.data.run] : [])));
    for (const run of await redis.zrevrange(runsKey(queueName), 0, -1)) {
      if (!isSafeName(run)) continue;
      // A run whose record is not ddcolor's is left as it is: clean removes only what it can read.
      const p = await runProgress(redis, queueName, run).catch((err: unknown) => {
        if (err instanceof DamagedRecordError) return 'damaged' as const;
        throw err;
      });
      if (p === 'damaged') continue;
      if (p && p.finishedJobs < p.jobs) continue;
      if (p && Date.now() - p.submittedAt < olderThanMs) continue;
      if (withJobs.has(run)) continue;
      await redis.del(runKey(queueName, run), runFinishedKey(queueName, run), runTotalsKey(queueName, run));
      await redis.zrem(runsKey(queueName), run);
      runs++;
    }
    return { jobs: completed.length + failed.length, runs };
  } finally {
    await queue.close();
  }
}
