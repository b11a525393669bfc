/**
 * worker: takes jobs from the queue (a BullMQ Worker) and runs each through the same stages as
 * `colorize` (hash, batched lookup, inference of the misses only, composite, write) into the job's
 * shared output folder, recording every output in the fleet's record of the folder.
 *
 * What happens when things go wrong:
 * - a photo that cannot be read or decoded fails for good: reported once, never tried again;
 * - a fault of the machine (the model or the device failed) leaves its photos unsettled: the job
 *   is retried by BullMQ with backoff, and only those photos are done again;
 * - stopping (SIGTERM) finishes the photos in hand, then gives the job back to the queue;
 * - a killed worker's job is taken by another once BullMQ finds it stalled; the photos it wrote
 *   are up to date by then and are skipped;
 * - a job made for another model is left to the workers that have it.
 */
import { randomBytes } from 'node:crypto';
import { readdir, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { DelayedError, Queue, UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import { describeSpec, type CacheSpec } from '../cache/open.js';
import type { CacheStore } from '../cache/store.js';
import { BadPhotoError, errorMessage, type BadPhotoCode, type PhotoFailure } from '../errors.js';
import { processAlive } from '../io/owner.js';
import { checkOutputFolder, checkOwnFolder, OutsideRootsError, type Roots } from '../io/roots.js';
import { openThreadedSession } from '../inference/model-thread.js';
import type { Device } from '../inference/devices.js';
import type { ModelSession } from '../inference/session.js';
import type { ModelInfo } from '../inference/model-info.js';
import { colorizeFiles, PixelPool, pixelThreads, type PlannedFile, type RunEvent, TMP_DIR } from '../pipeline/index.js';
import type { FileRecord, RunReport, Totals } from '../report/report.js';
import type { QueueConnection } from './connection.js';
import { DoneState, knownBadRecord, type BadInput } from './done-state.js';
import { checkJob, InvalidJobError, type CheckedJob } from './job-check.js';
import type { JobData, JobFile } from './jobs.js';
import { RUN_JOB, runDataSchema, why, type JobResult } from './records.js';
import { PREFIX, workersKey } from './keys.js';
import { combine, readPart, recordsPart, settled, writePart } from './parts.js';
import { finishRun, resultOf, type FleetQueue } from './runs.js';

export interface WorkerOptions {
  redis: QueueConnection;
  queue: string;
  model: ModelInfo;
  device: Device;
  /**
   * Where this worker may read inputs and write outputs (resolveRoots()). A job is input from the
   * network: its folder must lie inside an output root and each of its photos inside an input root.
   */
  roots: Roots;
  /** The cache the jobs' results go through (the shared Redis, usually), and its local first level. */
  cache: CacheSpec;
  /** The cache opened once for all jobs (then its local first level hears every invalidation while the worker runs). */
  store?: CacheStore;
  /** Jobs run at once by this worker (default 1). */
  jobs?: number;
  /** Photos decoded, composited and written at once within a job. */
  concurrency: number;
  batchSize?: number | 'auto';
  threads?: number;
  memoryBudget?: number;
  /** How long a job stays with a worker that stopped answering before another takes it (default 30 s). */
  lockDurationMs?: number;
  /** How long a job made for another model waits before it is offered again (default 60 s). */
  wrongModelDelayMs?: number;
  onEvent?: (event: WorkerEvent) => void;
}

export type WorkerEvent =
  | { type: 'job-start'; id: string; run: string; photos: number }
  | { type: 'job-done'; id: string; run: string; totals: Totals; ms: number }
  /** A worker finished a run whose jobs were all finished: its report is written. */
  | { type: 'run-done'; run: string; totals: JobResult }
  | { type: 'job-retry'; id: string; reason: string }
  | { type: 'job-returned'; id: string; unsettled: number }
  | { type: 'job-refused'; id: string; reason: string }
  | { type: 'wrong-model'; id: string; wants: string; has: string }
  | { type: 'warning'; message: string }
  | { type: 'file'; event: Extract<RunEvent, { type: 'file' }>; job: string };

export interface FleetWorker {
  readonly name: string;
  /** Finish the photos in hand, give unfinished jobs back to the queue, disconnect. */
  stop(): Promise<void>;
}

/** Remove the temporary folders that killed workers of this host left in `outDir`. */
async function clearDeadWorkersTmp(outDir: string): Promise<void> {
  const tmp = await checkOwnFolder(join(outDir, TMP_DIR));
  const host = hostname();
  for (const name of await readdir(tmp).catch(() => [] as string[])) {
    const m = /^w-(.+)-(\d+)-[0-9a-f]+$/.exec(name);
    if (m && m[1] === host && !processAlive(Number(m[2]))) await rm(join(tmp, name), { recursive: true, force: true });
  }
}

interface Running {
  opts: WorkerOptions;
  /** The queue, for reading a run's jobs when the worker finishes the run. */
  queue: FleetQueue;
  name: string;
  tmpName: string;
  stopping: AbortController;
  /** The model session, opened by the first job that needs it and kept for the next ones. */
  session: Promise<ModelSession> | null;
  /** The pixel threads, started by the first job with a photo to decode and kept for every job after (a thread's start costs about 0.4 s of a core). */
  pixels: PixelPool;
}

/** The worker's one model session (a GPU's memory and the model's load time are paid once, not per job). */
function sessionOf(r: Running): () => Promise<ModelSession> {
  return () => {
    r.session ??= openThreadedSession(r.opts.model, r.opts.device, r.opts.threads).catch((err: unknown) => {
      r.session = null;
      throw err;
    });
    return r.session;
  };
}

/** The job's photos not yet settled by an earlier try, as the check planned them. */
function toDo(job: CheckedJob, earlier: RunReport | null): PlannedFile[] {
  const done = new Set(earlier?.files.filter(settled).map((f) => f.input));
  return job.planned.filter((p) => !done.has(p.path));
}

/** Run the photos through the pipeline into the job's folder; null when there were none. */
async function runPhotos(r: Running, job: Job<unknown, JobResult>, checked: CheckedJob, planned: PlannedFile[], records: DoneState, signal: AbortSignal): Promise<RunReport | null> {
  if (planned.length === 0) return null;
  const { data, outDir } = checked;
  const { params } = data;
  await clearDeadWorkersTmp(outDir);
  const sizes = new Map(data.files.map((f) => [f.path, f]));
  const remembering: Promise<void>[] = [];
  let lastProgress = 0;
  const report = await colorizeFiles(
    {
      paths: planned.map((p) => p.path),
      outDir,
      model: r.opts.model,
      size: params.size,
      device: r.opts.device,
      ...(r.opts.batchSize !== undefined ? { batchSize: r.opts.batchSize } : {}),
      concurrency: r.opts.concurrency,
      ...(r.opts.threads !== undefined ? { threads: r.opts.threads } : {}),
      ...(r.opts.memoryBudget !== undefined ? { memoryBudget: r.opts.memoryBudget } : {}),
      cache: r.opts.cache,
      ...(r.opts.store ? { openStore: r.opts.store } : {}),
      sharedSession: sessionOf(r),
      sharedPixels: r.pixels,
      // Checked again as each file is opened: a link swapped in since checkJob is not followed out.
      inputRoots: r.opts.roots.inputs,
      confineOutputs: true,
      ttlMs: params.ttlMs,
      format: params.format,
      quality: params.quality,
      saturation: params.saturation,
      skipColor: params.skipColor,
      ...(params.colorThreshold !== undefined ? { colorThreshold: params.colorThreshold } : {}),
      force: params.force,
      overwrite: params.overwrite,
      signal,
      onEvent: (e) => {
        if (e.type === 'warning') r.opts.onEvent?.({ type: 'warning', message: e.message });
        if (e.type !== 'file') return;
        r.opts.onEvent?.({ type: 'file', event: e, job: job.id! });
        const bad = badInput(e.record, e.failure, sizes);
        if (bad) remembering.push(records.recordBad(e.record.input, bad).catch(() => undefined));
        if (Date.now() - lastProgress > 500 || e.done === e.total) {
          lastProgress = Date.now();
          void job.updateProgress({ done: data.files.length - planned.length + e.done, total: data.files.length }).catch(() => undefined);
        }
      },
    },
    { planned, problems: [], records, tmpDir: join(outDir, TMP_DIR, r.tmpName), releaseOutputFolder: async () => undefined },
  );
  await Promise.all(remembering);
  return report;
}

/**
 * A photo that failed by its own fault (empty, not an image, damaged, too large) as it was
 * submitted, remembered at once so that neither a retry of its job nor the next submit tries the
 * same file again. No other failure is: not the environment's (disk full, permission, the model
 * failed), not another file's (a file of the user's at the output's place), and nothing cancelled.
 */
function badInput(f: FileRecord, failure: PhotoFailure | null, files: Map<string, JobFile>): BadInput | null {
  const file = files.get(f.input);
  if (!(failure instanceof BadPhotoError) || !file) return null;
  return { size: file.size, mtimeMs: file.mtimeMs, error: failure.message, code: failure.code as BadPhotoCode };
}

/** The job's photos known to have failed for good (the same files): reported again, not tried again. */
function knownBad(data: JobData, planned: PlannedFile[], records: DoneState): { bad: FileRecord[]; rest: PlannedFile[] } {
  const files = new Map(data.files.map((f) => [f.path, f]));
  const bad: FileRecord[] = [];
  const rest: PlannedFile[] = [];
  for (const p of planned) {
    const f = files.get(p.path)!;
    const known = data.params.force ? undefined : records.badInput(p.path, f);
    if (known) bad.push(knownBadRecord(p.path, known));
    else rest.push(p);
  }
  return { bad, rest };
}

/** A job made for another model: back to the queue for a while, for the workers that have it. */
async function leaveToOthers(r: Running, job: Job<unknown, JobResult>, params: JobData['params'], token: string | undefined): Promise<never> {
  r.opts.onEvent?.({ type: 'wrong-model', id: job.id!, wants: `${params.modelName} (${params.modelId.slice(0, 12)})`, has: r.opts.model.id.slice(0, 12) });
  await job.moveToDelayed(Date.now() + (r.opts.wrongModelDelayMs ?? 60_000), token);
  throw new DelayedError();
}

/** Run the job's photos not settled by an earlier try; its report part, rewritten with every photo's latest record. */
async function runJob(r: Running, job: Job<unknown, JobResult>, checked: CheckedJob): Promise<{ merged: RunReport; report: RunReport | null }> {
  const { data, outDir } = checked;
  const earlier = await readPart(outDir, data.run, job.id!);
  const planned = toDo(checked, earlier);
  const records = await new DoneState(r.opts.redis, data.outDir).load(planned.map((p) => p.outputRel));
  await records.loadBad(planned.map((p) => p.path));
  const { bad, rest } = knownBad(data, planned, records);
  r.opts.onEvent?.({ type: 'job-start', id: job.id!, run: data.run, photos: rest.length });
  const report = await runPhotos(r, job, checked, rest, records, r.stopping.signal);
  const model = { path: data.params.modelName, id: data.params.modelId, inputSize: data.params.size, device: null, note: null, testModel: r.opts.model.testModel };
  const refused = [...bad, ...checked.refused];
  const merged = combine([earlier, refused.length > 0 ? recordsPart(outDir, model, refused, { cacheLocation: describeSpec(r.opts.cache).location }) : null, report].filter((p): p is RunReport => p !== null));
  await writePart(outDir, data.run, job.id!, merged);
  return { merged, report };
}

/** The job checked against the schema and this worker's roots; a job refused whole fails for good, with the reason. */
async function checked(r: Running, job: Job<unknown, JobResult>): Promise<CheckedJob> {
  try {
    return await checkJob(r.opts.roots, job.id, job.data);
  } catch (err) {
    if (!(err instanceof InvalidJobError)) throw err;
    r.opts.onEvent?.({ type: 'job-refused', id: String(job.id), reason: err.message });
    throw new UnrecoverableError(`refused: ${err.message}`);
  }
}

async function processJob(r: Running, job: Job<unknown, JobResult>, token: string | undefined): Promise<JobResult> {
  const check = await checked(r, job);
  const { data } = check;
  const id = job.id!;
  if (data.params.modelId !== r.opts.model.id) return leaveToOthers(r, job, data.params, token);
  const t = Date.now();
  const { merged, report } = await runJob(r, job, check);
  const unsettled = merged.files.filter((f) => !settled(f));
  if (unsettled.length > 0 && r.stopping.signal.aborted) {
    // Stopping: the photos in hand are done; the rest goes back to the queue, no try counted.
    r.opts.onEvent?.({ type: 'job-returned', id, unsettled: unsettled.length });
    await job.moveToWait(token);
    throw new WaitingError();
  }
  if (unsettled.length > 0 && job.attemptsMade + 1 < (job.opts.attempts ?? 1)) {
    // The machine failed some photos: BullMQ tries the job again, after its backoff.
    const reason = `${unsettled.length} photo${unsettled.length > 1 ? 's' : ''} not done: ${unsettled[0]!.error ?? 'not processed'}`;
    r.opts.onEvent?.({ type: 'job-retry', id, reason });
    throw new Error(reason);
  }
  // The job's totals are its return value: BullMQ hands them to the run's job as it completes this one.
  const photosDone = report ? report.totals.hit + report.totals.inferred : 0;
  if (photosDone > 0) await r.opts.redis.hincrby(workersKey(job.queueName), r.name, photosDone);
  r.opts.onEvent?.({ type: 'job-done', id, run: data.run, totals: merged.totals, ms: Date.now() - t });
  return resultOf(merged.totals);
}

/**
 * A run's own job, taken once every job of the run is finished: checked like any job (its data
 * against the schema, its folder inside this worker's output roots), then the run is finished:
 * lost jobs' parts and the combined report (fleet/runs.ts).
 */
async function processRun(r: Running, job: Job<unknown, JobResult>): Promise<JobResult> {
  const parsed = runDataSchema.safeParse(job.data);
  const refuse = (reason: string): never => {
    r.opts.onEvent?.({ type: 'job-refused', id: String(job.id), reason });
    throw new UnrecoverableError(`refused: ${reason}`);
  };
  if (!parsed.success || parsed.data.run !== job.id) return refuse(`not a ddcolor run (${parsed.success ? 'its id is not its run' : why(parsed.error)})`);
  const outDir = await checkOutputFolder(r.opts.roots, parsed.data.outDir).catch((err: unknown) => (err instanceof OutsideRootsError ? refuse(err.message) : Promise.reject(err)));
  const { totals } = await finishRun(r.queue, job, parsed.data, outDir);
  r.opts.onEvent?.({ type: 'run-done', run: parsed.data.run, totals });
  return totals;
}

/** Start a worker on the queue; it runs until stopped. */
export function startWorker(opts: WorkerOptions): FleetWorker {
  const name = `${hostname()}:${process.pid}`;
  const queue: FleetQueue = new Queue(opts.queue, { connection: opts.redis, prefix: PREFIX, skipVersionCheck: true });
  const pixels = new PixelPool(pixelThreads(opts.concurrency * (opts.jobs ?? 1)));
  const r: Running = { opts, queue, name, tmpName: `w-${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`, stopping: new AbortController(), session: null, pixels };
  const lockDuration = opts.lockDurationMs ?? 30_000;
  const worker = new Worker<unknown, JobResult>(opts.queue, (job, token) => (job.name === RUN_JOB ? processRun(r, job) : processJob(r, job, token)), {
    connection: opts.redis,
    prefix: PREFIX,
    name,
    concurrency: opts.jobs ?? 1,
    lockDuration,
    stalledInterval: Math.max(1000, Math.floor(lockDuration / 2)),
    maxStalledCount: 2,
  });
  worker.on('error', (err) => opts.onEvent?.({ type: 'warning', message: `queue: ${errorMessage(err)}` }));
  return {
    name,
    async stop() {
      r.stopping.abort();
      // Every step runs whatever the others did; the first failure is thrown once all are done.
      const closing = await worker.close().then(() => r.queue.close()).then(() => null, (err: unknown) => err);
      await (await r.session?.catch(() => null))?.release();
      await pixels.close().catch(() => undefined);
      if (closing) throw closing;
    },
  };
}
