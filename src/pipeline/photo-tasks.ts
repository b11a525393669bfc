/**
 * The run's photo tasks. Each is given a handler the moment it is added, so that a task that
 * fails before the run waits for it is never an unhandled rejection; the run waits for every one
 * (including those added while it waits) before it closes anything, then throws the first failure.
 */
export class PhotoTasks {
  private readonly all: Promise<void>[] = [];
  private failure: { error: unknown } | null = null;

  add(task: Promise<void>): void {
    this.all.push(
      task.catch((error: unknown) => {
        this.failure ??= { error };
      }),
    );
  }

  /** Every task settled; the first failure, if any. */
  async settle(): Promise<{ error: unknown } | null> {
    for (let i = 0; i < this.all.length; i++) await this.all[i];
    return this.failure;
  }
}
