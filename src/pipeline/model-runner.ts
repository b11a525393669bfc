/**
 * The model as the run uses it: the ONNX session opened on first need (never when every photo is
 * a hit), on a thread of its own (inference/model-thread.ts: the main thread goes on feeding the
 * pixel threads while a batch runs), and the batcher that feeds it.
 */
import { openThreadedSession } from '../inference/model-thread.js';
import type { ExecutionProvider, ModelSession } from '../inference/session.js';
import type { StageTimings } from '../report/report.js';
import { InferenceBatcher } from './batcher.js';
import type { ColorizeOptions, RunEvent } from './options.js';
import type { StageProfile } from './profile.js';

export class ModelRunner {
  readonly batcher: InferenceBatcher;
  private session: Promise<ModelSession> | null = null;
  /** The provider the session got, once loaded. */
  provider: ExecutionProvider | null = null;

  constructor(
    private readonly opts: ColorizeOptions,
    private readonly timings: StageTimings,
    private readonly emit: (event: RunEvent) => void,
    profile: StageProfile,
  ) {
    this.batcher = new InferenceBatcher(() => this.open(), opts.size, opts.batchSize ?? 'auto', opts.model.fixedBatch);
    this.batcher.onBatch = (start, end) => profile.span('infer', start, end);
    this.batcher.onWait = (ms) => profile.wait('infer', ms);
  }

  private open(): Promise<ModelSession> {
    this.session ??= (async () => {
      const t = performance.now();
      const s = await (this.opts.sharedSession ?? (() => openThreadedSession(this.opts.model, this.opts.device, this.opts.threads)))();
      this.timings.modelLoadMs = performance.now() - t;
      this.provider = s.provider;
      this.emit({ type: 'model-loaded', provider: s.provider, ms: this.timings.modelLoadMs });
      return s;
    })();
    return this.session;
  }

  /** Release the session, unless it is the caller's (`sharedSession`: kept across runs). */
  async close(): Promise<void> {
    if (this.session && !this.opts.sharedSession) await (await this.session.catch(() => null))?.release();
  }
}
