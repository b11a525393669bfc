/**
 * Waiting for a run (`submit --wait`): progress from the finished jobs' totals and the active
 * jobs' own progress, until every job of the run is finished; then the combined report.
 */
import { Queue } from 'bullmq';
import type { RunReport } from '../report/report.js';
import type { QueueConnection } from './connection.js';
import type { JobData } from './jobs.js';
import { PREFIX } from './keys.js';
import { writeCombined } from './parts.js';
import { runProgress, settleLostJobs, type RunProgress } from './runs.js';

export interface WaitOptions {
  pollMs?: number;
  signal?: AbortSignal;
  /** Photos done so far (finished jobs and the active ones' progress) out of the run's photos. */
  onProgress?: (p: RunProgress, done: number) => void;
}

function isProgress(v: unknown): v is { done: number } {
  const done = typeof v === 'object' && v !== null ? (v as { done?: unknown }).done : undefined;
  return typeof done === 'number' && Number.isSafeInteger(done) && done >= 0;
}

/** Photos done by the run's active jobs so far. */
async function activeDone(queue: Queue<JobData>, run: string): Promise<number> {
  let n = 0;
  for (const job of await queue.getActive()) if (job.data.run === run && isProgress(job.progress)) n += job.progress.done;
  return n;
}

/**
 * Resolves to the run's combined report once all its jobs are finished; null when interrupted or
 * unknown. `outDir` is the run's folder as the caller submitted it: the folder named in Redis is
 * not trusted (anyone who can write to the Redis could name another).
 */
export async function waitForRun(redis: QueueConnection, queueName: string, run: string, outDir: string, opts: WaitOptions = {}): Promise<RunReport | null> {
  const queue = new Queue<JobData>(queueName, { connection: redis, prefix: PREFIX, skipVersionCheck: true });
  try {
    for (let poll = 0; !opts.signal?.aborted; poll++) {
      const p = await runProgress(redis, queueName, run);
      if (!p) return null;
      if (p.finishedJobs < p.jobs && poll % 10 === 9) await settleLostJobs(redis, queue, run, outDir);
      if (p.finishedJobs >= p.jobs) {
        opts.onProgress?.(p, p.photos);
        return writeCombined(outDir, run);
      }
      opts.onProgress?.(p, p.totals.files + (await activeDone(queue, run)));
      await new Promise((resolve) => setTimeout(resolve, opts.pollMs ?? 500));
    }
    return null;
  } finally {
    await queue.close();
  }
}
