/** A concurrency limit for the pipeline's heavy stages (decode, composite, encode). */
export class Limiter {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly idle: Array<() => void> = [];

  constructor(readonly limit: number) {}

  /** Tasks running or queued. */
  get load(): number {
    return this.active + this.waiting.length;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.waiting.shift()?.();
      if (this.load <= this.limit) for (const wake of this.idle.splice(0)) wake();
    }
  }

  /** Resolves once at most `limit` tasks are running or queued (back-pressure for the producer). */
  async settle(): Promise<void> {
    while (this.load > this.limit) await new Promise<void>((resolve) => this.idle.push(resolve));
  }
}
