/**
 * A concurrency limit for the pipeline's heavy stages (decode, composite, encode): p-limit, plus
 * the back-pressure the producer needs (`settle()`: wait until the photos running and queued are
 * within the limit, so a scan of a million files never queues a million tasks).
 */
import pLimit, { type LimitFunction } from 'p-limit';

export class Limiter {
  private readonly limited: LimitFunction;
  private readonly idle: Array<() => void> = [];

  constructor(readonly limit: number) {
    this.limited = pLimit(limit);
  }

  /** Tasks running or queued. */
  get load(): number {
    return this.limited.activeCount + this.limited.pendingCount;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await this.limited(fn);
    } finally {
      // p-limit has started the next task (if any) before this continues: the load is current.
      if (this.load <= this.limit) for (const wake of this.idle.splice(0)) wake();
    }
  }

  /** Resolves once at most `limit` tasks are running or queued (back-pressure for the producer). */
  async settle(): Promise<void> {
    while (this.load > this.limit) await new Promise<void>((resolve) => this.idle.push(resolve));
  }
}
