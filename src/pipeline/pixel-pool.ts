/**
 * The pool of worker threads that does a run's pixel work (piscina), one per core by default:
 * decoding, the model's input, the composite and the encode never run on the main thread.
 * Buffers are transferred both ways; a decoded photo handed back for its render is moved, not copied.
 */
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { EnvironmentError, errorMessage } from '../errors.js';
import { failureError, type PixelFailed } from './pixel-failure.js';
import type { PixelTask, PrepareTask, Prepared, Rendered, RenderTask } from './pixel-work.js';

/** The pixel threads a run with `concurrency` photos in flight uses: one per photo in flight, at most one per core. */
export function pixelThreads(concurrency: number, cores = availableParallelism()): number {
  return Math.max(1, Math.min(concurrency, cores));
}

export class PixelPool {
  private pool: Piscina | null = null;
  private isClosed = false;

  /** A pool of `threads`: none starts until `start` or the first task (an unchanged re-run starts none). */
  constructor(private readonly threads = availableParallelism()) {}

  /**
   * Start the threads now (each start is about 0.4 s of a core here: Node, sharp, the kernel), so
   * they load while the run hashes and looks up: as many as `photos` (the photos that may need
   * work) up to the pool's size, which more tasks than threads grow it to. Threads stay while the
   * pool lives. A run calls it when its first photo turns out to need pixel work; calling it
   * again does nothing.
   */
  start(photos = Infinity): void {
    if (this.isClosed) throw new Error('the pixel threads were closed');
    const size = Math.max(1, this.threads);
    this.pool ??= new Piscina({
      filename: new URL('./pixel-worker.js', import.meta.url).href,
      minThreads: Math.max(1, Math.min(size, photos)),
      maxThreads: size,
      idleTimeout: Infinity,
    });
  }

  /** Whether `close` was called: the pool runs nothing more. */
  get closed(): boolean {
    return this.isClosed;
  }

  /** The ids of the threads running now (each a worker_threads threadId); none before `start`. */
  threadIds(): number[] {
    return this.pool ? this.pool.threads.map((t) => t.threadId) : [];
  }

  /**
   * Run `task` on a thread: its result, or its failure as the typed error it was in the thread.
   * The pool itself failing (a thread that could not load its modules, died, or was stopped) is
   * the machine's fault, never the photo's: an EnvironmentError, PIXEL_THREAD.
   */
  private async run<T extends object>(task: PixelTask, transferList?: ArrayBuffer[]): Promise<T> {
    this.start();
    let r: T | PixelFailed;
    try {
      r = (await this.pool!.run(task, transferList ? { transferList } : {})) as T | PixelFailed;
    } catch (err) {
      throw threadFailure(task.path, err);
    }
    return unwrap(task.path, r);
  }

  /** Decode a photo and make its model input; rejects with a BadPhotoError or EnvironmentError naming it. */
  async prepare(task: Omit<PrepareTask, 'kind'>): Promise<Prepared> {
    return this.run<Prepared>({ ...task, kind: 'prepare' });
  }

  /** Render from a decoded photo (moved to the worker: the caller must not use it after) or from the file. */
  async render(task: Omit<RenderTask, 'kind'>): Promise<Rendered> {
    const transferList: ArrayBuffer[] = [];
    if (task.decoded) {
      transferList.push(task.decoded.pixels.buffer as ArrayBuffer);
      if (task.decoded.alpha) transferList.push(task.decoded.alpha.buffer as ArrayBuffer);
    }
    return this.run<Rendered>({ ...task, kind: 'render' }, transferList);
  }

  async close(): Promise<void> {
    this.isClosed = true;
    await this.pool?.destroy();
  }
}

/** Errors of a thread whose modules could not be loaded: a damaged install. */
const LOAD_CODES = new Set(['ERR_MODULE_NOT_FOUND', 'MODULE_NOT_FOUND', 'ERR_DLOPEN_FAILED', 'ERR_PACKAGE_PATH_NOT_EXPORTED']);

/** The pool's own failure on the photo at `path`: the machine's, and how to repair it when the install is damaged. */
function threadFailure(path: string, err: unknown): EnvironmentError {
  const code = err instanceof Error ? (err as NodeJS.ErrnoException).code : undefined;
  const repair = code !== undefined && LOAD_CODES.has(code) ? ": reinstall ddcolor's dependencies (npm ci in its folder), then check with: ddcolor doctor" : '';
  return new EnvironmentError(path, 'PIXEL_THREAD', `the pixel thread working on it failed (${errorMessage(err)})${repair}`, err);
}

/** A task's result, or its failure thrown again as the typed error it was in the worker thread. */
function unwrap<T extends object>(path: string, r: T | PixelFailed): T {
  if ('failed' in r) throw failureError(path, r.failed);
  return r;
}
