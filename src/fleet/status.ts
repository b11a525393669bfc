/**
 * `queue status`: the queue's jobs by state, its workers (online or not, photos each has done),
 * and its recent runs with their progress, photos per second and ETA. Also `retry-failed` and
 * `clean`, BullMQ's own operations on the queue.
 */
import { Queue } from 'bullmq';
import type { QueueConnection } from './connection.js';
import type { JobData } from './jobs.js';
import { PREFIX, runFinishedKey, runKey, runsKey, runTotalsKey, workersKey } from './keys.js';
import { listRuns, runProgress, type RunProgress } from './runs.js';

export interface RunStatus extends RunProgress {
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
}

function runStatus(p: RunProgress, now: number): RunStatus {
  const finished = p.finishedJobs >= p.jobs;
  const seconds = ((finished && p.finishedAt ? p.finishedAt : now) - p.submittedAt) / 1000;
  const done = p.totals.files;
  const rate = done > 0 && seconds > 0 ? done / seconds : null;
  const eta = finished ? 0 : rate ? (p.photos - done) / rate : null;
  return { ...p, finished, photosPerSecond: rate === null ? null : Math.round(rate * 100) / 100, etaSeconds: eta === null ? null : Math.round(eta) };
}

export async function queueStatus(redis: QueueConnection, queueName: string, runs = 10): Promise<QueueStatus> {
  const queue = new Queue<JobData>(queueName, { connection: redis, prefix: PREFIX, skipVersionCheck: true });
  try {
    const counts = await queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'completed', 'failed');
    // A worker's connection is named `<prefix>:<queue, base64>:w:<worker name>`.
    const online = new Set((await queue.getWorkers()).map((w) => String(w.rawname ?? '').split(':w:')[1] ?? '').filter(Boolean));
    const done = await redis.hgetall(workersKey(queueName));
    const names = [...new Set([...Object.keys(done), ...online])].filter((n) => n && n !== 'none').sort();
    const now = Date.now();
    const progress = await Promise.all((await listRuns(redis, queueName, runs)).map((r) => runProgress(redis, queueName, r)));
    return {
      queue: queueName,
      jobs: {
        waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0),
        active: counts.active ?? 0,
        delayed: counts.delayed ?? 0,
        completed: counts.completed ?? 0,
        failed: counts.failed ?? 0,
      },
      workers: names.map((name) => ({ name, online: online.has(name), photos: Number(done[name] ?? 0) })),
      runs: progress.filter((p): p is RunProgress => p !== null).map((p) => runStatus(p, now)),
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
    for (const job of failed) await redis.srem(runFinishedKey(queueName, job.data.run), job.id!);
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
    const withJobs = new Set((await queue.getJobs(['waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed'])).map((j) => j.data.run));
    for (const run of await redis.zrevrange(runsKey(queueName), 0, -1)) {
      const p = await runProgress(redis, queueName, run);
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
