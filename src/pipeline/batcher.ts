/**
 * Gathers decoded photos into inference batches. A batch runs when it is full, or when no other
 * photo is on its way (every photo that will need the model is already queued), so a batch never
 * waits for work that is not coming. One batch runs at a time; the next is gathered meanwhile.
 */
import type { ExecutionProvider, ModelSession } from '../inference/session.js';

/** Photos per batch when not given: a GPU wants several at once; on the CPU one at a time keeps latency and memory low. */
export const DEFAULT_BATCH: Record<ExecutionProvider, number> = { cuda: 4, cpu: 1 };

interface Pending {
  /** One photo's model input: 3 planes of size*size (model/ddcolor.ts preprocess). */
  planes: Float32Array;
  /** When the photo was handed over (performance.now()), for the time it waits for its batch. */
  queuedAt: number;
  resolve: (ab: Float32Array) => void;
  reject: (err: unknown) => void;
}

export class InferenceBatcher {
  private readonly queue: Pending[] = [];
  private expecting = 0;
  private running = false;
  /** The provider the session got, once it is loaded (decides an 'auto' batch size). */
  private provider: ExecutionProvider | null = null;
  /** Seconds spent inside the model, and batches run. */
  inferenceMs = 0;
  /** When the model call now running started (performance.now()), or null when none runs. */
  private callStarted: number | null = null;
  /** Told of each batch run (start, end) and of each photo's wait for its batch (ms). */
  onBatch: ((start: number, end: number) => void) | null = null;
  onWait: ((ms: number) => void) | null = null;
  batches = 0;

  constructor(
    private readonly session: () => Promise<ModelSession>,
    readonly size: number,
    /** Photos per batch; 'auto': DEFAULT_BATCH for the provider the session gets (the first batch, which loads it, is one photo). */
    readonly batchSize: number | 'auto',
    /** The model's fixed batch dimension, if any: batches are padded to it. */
    readonly fixedBatch: number | null,
  ) {}

  /** A photo that will need the model is being decoded. */
  expect(): void {
    this.expecting++;
  }

  /** ...and will not come after all (it failed to decode). */
  cancel(): void {
    this.expecting--;
    this.maybeRun();
  }

  /** Infer one photo (previously announced with `expect`) from its input planes; resolves with its ab planes [2, S, S]. */
  infer(planes: Float32Array): Promise<Float32Array> {
    const want = 3 * this.size * this.size;
    if (planes.length !== want) return Promise.reject(new Error(`model input has ${planes.length} values, the model runs at ${this.size}px (${want})`));
    return new Promise((resolve, reject) => {
      this.expecting--;
      this.queue.push({ planes, queuedAt: performance.now(), resolve, reject });
      this.maybeRun();
    });
  }

  private get limit(): number {
    if (this.fixedBatch !== null) return this.fixedBatch;
    if (this.batchSize !== 'auto') return this.batchSize;
    return this.provider ? DEFAULT_BATCH[this.provider] : 1;
  }

  private maybeRun(): void {
    if (this.running || this.queue.length === 0) return;
    if (this.queue.length < this.limit && this.expecting > 0) return;
    this.running = true;
    const items = this.queue.splice(0, this.limit);
    void this.runBatch(items).finally(() => {
      this.running = false;
      this.maybeRun();
    });
  }

  /** How long the model call now running has been running (0 when none): a call that never returns (a wedged GPU) grows without end. */
  callRunningMs(now = performance.now()): number {
    return this.callStarted === null ? 0 : now - this.callStarted;
  }

  private async runBatch(items: Pending[]): Promise<void> {
    const plane = this.size * this.size;
    const count = this.fixedBatch ?? items.length;
    try {
      const session = await this.session();
      this.provider = session.provider;
      const input = new Float32Array(count * 3 * plane);
      items.forEach((it, i) => input.set(it.planes, i * 3 * plane));
      const started = performance.now();
      for (const it of items) this.onWait?.(started - it.queuedAt);
      this.callStarted = started;
      const out = await session.run(input, count, this.size).finally(() => {
        this.callStarted = null;
      });
      this.inferenceMs += performance.now() - started;
      this.batches++;
      this.onBatch?.(started, performance.now());
      items.forEach((it, i) => it.resolve(out.subarray(i * 2 * plane, (i + 1) * 2 * plane)));
    } catch (err) {
      for (const it of items) it.reject(err);
    }
  }
}
