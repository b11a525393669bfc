/**
 * Waiting for a run (`submit --wait`): woken by BullMQ's QueueEvents (a job of the run completed,
 * failed or reported progress), never by a tight poll; then progress from the finished jobs'
 * totals and the active jobs' own progress, until the run's own job is completed (a worker
 * finished the run, fleet/runs.ts); then the combined report.
 *
 * Events only wake the waiter: what it reports is read from the run's records (checked like all
 * Redis data, fleet/records.ts). A slow heartbeat covers what no event announces (an event stream
 * trimmed or written to by another program, a lost connection).
 */
import { EventEmitter, once } from 'node:events';
import { Queue, QueueEvents } from 'bullmq';
import { Cluster } from 'ioredis';
import type { RunReport } from '../report/report.js';
import type { QueueConnection } from './connection.js';
import { PREFIX } from './keys.js';
import { writeCombined } from './parts.js';
import { RunFailedError } from '../errors.js';
import { runProgress, type FleetQueue, type RunProgress } from './runs.js';

export interface WaitOptions {
  /** Longest wait between two looks at the run when no event comes (default 5 s). */
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
async function activeDone(queue: FleetQueue, run: string): Promise<number> {
  let n = 0;
  // Jobs are Redis data: only the progress of one with this run's job id is counted.
  for (const job of await queue.getActive()) if (job.id?.startsWith(`${run}-`) && isProgress(job.progress)) n += job.progress.done;
  return n;
}

/** What the queue's events say about one run: that something happened to it or to one of its jobs. */
class RunEvents extends EventEmitter {
  private readonly events: QueueEvents;

  constructor(
    private readonly connection: QueueConnection,
    queueName: string,
    run: string,
  ) {
    super();
    this.events = new QueueEvents(queueName, { connection, prefix: PREFIX });
    const mine = (jobId: unknown): boolean => typeof jobId === 'string' && (jobId === run || jobId.startsWith(`${run}-`));
    const wake = ({ jobId }: { jobId: string }): boolean => mine(jobId) && this.emit('change');
    this.events.on('completed', wake);
    this.events.on('failed', wake);
    this.events.on('progress', wake);
    // A broken event stream only costs the heartbeat's delay.
    this.events.on('error', () => undefined);
  }

  /** Listening from now on: whatever happens after this resolves is heard. */
  async ready(): Promise<void> {
    await this.events.waitUntilReady();
  }

  /** Resolves at the next event of the run, after `ms`, or when `signal` aborts, whichever comes first. */
  async next(ms: number, signal?: AbortSignal): Promise<void> {
    const stop = new AbortController();
    const abort = (): void => stop.abort();
    signal?.addEventListener('abort', abort, { once: true });
    const timer = setTimeout(abort, ms);
    try {
      await once(this, 'change', { signal: stop.signal });
    } catch {
      // the heartbeat or the caller's signal
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', abort);
    }
  }

  async close(): Promise<void> {
    await this.events.close();
    this.connection.disconnect();
  }
}

/**
 * Resolves to the run's combined report once all its jobs are finished; null when interrupted or
 * unknown. `outDir` is the run's folder as the caller submitted it: the folder named in Redis is
 * not trusted (anyone who can write to the Redis could name another).
 */
export async function waitForRun(redis: QueueConnection, queueName: string, run: string, outDir: string, opts: WaitOptions = {}): Promise<RunReport | null> {
  const queue: FleetQueue = new Queue(queueName, { connection: redis, prefix: PREFIX, skipVersionCheck: true });
  // QueueEvents blocks on its connection: a connection of its own.
  const events = new RunEvents(redis instanceof Cluster ? redis.duplicate() : redis.duplicate(), queueName, run);
  try {
    await events.ready();
    while (!opts.signal?.aborted) {
      const p = await runProgress(queue, run);
      if (!p) return null;
      if (p.error !== null) throw new RunFailedError(run, p.error);
      if (p.finished) {
        opts.onProgress?.(p, p.photos);
        return writeCombined(outDir, run);
      }
      opts.onProgress?.(p, p.totals.files + (await activeDone(queue, run)));
      await events.next(opts.pollMs ?? 5000, opts.signal);
    }
    return null;
  } finally {
    await events.close();
    await queue.close();
  }
}
