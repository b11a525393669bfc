/**
 * submit: walk the input once, leave out the photos whose outputs are up to date (by the fleet's
 * record of the folder, without hashing them), cut the rest into jobs and add them to the queue.
 * The run is a BullMQ flow (fleet/runs.ts). The same work submitted twice is the same run with the
 * same job ids: BullMQ adds nothing.
 */
import { basename, resolve } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { FlowProducer, Queue } from 'bullmq';
import { describeSpec, type CacheSpec } from '../cache/open.js';
import { ConfigError } from '../errors.js';
import type { FormatChoice } from '../image/formats.js';
import { DEFAULT_COLOUR_THRESHOLD } from '../pipeline/options.js';
import type { ModelInfo } from '../inference/model-info.js';
import { FileStates, leftAlone, makingParams, type PlannedFile, planOutputs, scanPaths, type ScanProblem, type SkipReason } from '../pipeline/index.js';
import type { FileRecord } from '../report/report.js';
import { openQueueConnection, queueMemoryWarnings, type QueueConnection, type QueueWarning } from './connection.js';
import { DoneState, knownBadRecord } from './done-state.js';
import { cutIntoJobs, DEFAULT_JOB_LIMITS, jobId, runName, type JobFile, type JobLimits, type JobParams } from './jobs.js';
import { PREFIX } from './keys.js';
import { recordsPart, SUBMIT_PART, writeCombined, writePart } from './parts.js';
import { addRun, runFlow, type FleetQueue } from './runs.js';

export interface SubmitOptions {
  paths: string[];
  outDir: string;
  model: ModelInfo;
  /** Warnings about the queue's Redis are wanted only when its settings lose jobs (a quiet caller, `-q`); the others are neither returned nor remembered as said. */
  quietWarnings?: boolean;
  size: number;
  format: FormatChoice;
  quality: number;
  saturation?: number;
  skipColor?: boolean;
  colorThreshold?: number;
  force?: boolean;
  overwrite?: boolean;
  ttlMs: number;
  /** The queue's Redis and name. */
  redis: CacheSpec;
  queue: string;
  limits?: JobLimits;
  /** Tries of a job before it fails for good (transient faults only; bad photos are never retried). */
  attempts?: number;
  /** The first retry's delay; each next one doubles it. */
  backoffMs?: number;
}

export interface Submission {
  run: string;
  queue: string;
  outDir: string;
  /** Photos found. */
  photos: number;
  /** Photos left out because their outputs are up to date, they are known to be in colour, or they failed for good before. */
  upToDate: number;
  /** Photos in jobs. */
  queued: number;
  jobs: number;
  /** Jobs that were already in the queue (the same work submitted again). */
  alreadyQueued: number;
  /** Of those, jobs that had finished with photos still to do (the machine failed them), put back in the queue. */
  retried: number;
  problems: ScanProblem[];
  /** About the queue's Redis: a memory policy that would evict queue keys, or refuse writes. */
  warnings: QueueWarning[];
}

export const DEFAULT_ATTEMPTS = 3;
export const DEFAULT_BACKOFF_MS = 10_000;

export function jobParams(opts: SubmitOptions): JobParams {
  return {
    modelId: opts.model.id,
    modelName: basename(opts.model.path),
    size: opts.size,
    format: opts.format,
    quality: opts.quality,
    saturation: opts.saturation ?? 1,
    skipColor: opts.skipColor ?? false,
    ...(opts.colorThreshold !== undefined ? { colorThreshold: opts.colorThreshold } : {}),
    force: opts.force ?? false,
    overwrite: opts.overwrite ?? false,
    ttlMs: opts.ttlMs,
  };
}

/** Why a photo needs no job: its output is up to date, or it is known to be in colour; null when it needs one. */
function noWorkReason(file: PlannedFile, i: number, states: FileStates, done: DoneState, params: JobParams): SkipReason | null {
  const st = states.input(i);
  if (!st || st.size === 0 || params.force) return null;
  // The same rule as colorize's, on the fleet's record of the folder.
  const making = makingParams(params.modelId, params.size, params.quality, params.saturation);
  const colourLimit = params.skipColor ? (params.colorThreshold ?? DEFAULT_COLOUR_THRESHOLD) : undefined;
  return leftAlone(done, file, st, states.output(i), making, colourLimit)?.reason ?? null;
}

/**
 * Which of these job ids the queue holds already, and which of those are finished (in BullMQ's
 * completed or failed set): one pipelined round trip per thousand ids.
 */
async function existingJobs(redis: QueueConnection, queue: string, ids: readonly string[]): Promise<{ count: number; finished: Array<{ id: string; state: 'completed' | 'failed' }> }> {
  let count = 0;
  const finished: Array<{ id: string; state: 'completed' | 'failed' }> = [];
  for (let i = 0; i < ids.length; i += 1000) {
    const batch = ids.slice(i, i + 1000);
    const pipe = redis.pipeline();
    for (const id of batch) pipe.exists(`${PREFIX}:${queue}:${id}`).zscore(`${PREFIX}:${queue}:completed`, id).zscore(`${PREFIX}:${queue}:failed`, id);
    const replies = (await pipe.exec()) ?? [];
    batch.forEach((id, k) => {
      const [exists, completed, failed] = [replies[3 * k], replies[3 * k + 1], replies[3 * k + 2]];
      if (!exists || exists[0] || exists[1] !== 1) return;
      count++;
      if (completed && !completed[0] && completed[1] !== null) finished.push({ id, state: 'completed' });
      else if (failed && !failed[0] && failed[1] !== null) finished.push({ id, state: 'failed' });
    });
  }
  return { count, finished };
}

/** The photos that need no job (with their records: up to date, in colour, failed before) and those that do. */
function sortPhotos(planned: PlannedFile[], states: FileStates, done: DoneState, params: JobParams): { leftOut: FileRecord[]; todo: JobFile[] } {
  const leftOut: FileRecord[] = [];
  const todo: JobFile[] = [];
  planned.forEach((f, i) => {
    const st = states.input(i);
    const why = noWorkReason(f, i, states, done, params);
    const bad = st && !params.force ? done.badInput(f.path, st) : undefined;
    const sha256 = done.get(f.outputRel)?.sha256 ?? null;
    if (why === 'up to date') leftOut.push({ input: f.path, output: f.output, sha256, status: 'skipped', error: null });
    else if (why) leftOut.push({ input: f.path, output: null, sha256, status: 'skipped', error: null, reason: why });
    else if (bad) leftOut.push(knownBadRecord(f.path, bad));
    else todo.push({ path: f.path, rel: f.rel, outputRel: f.outputRel, format: f.format, size: st?.size ?? 0, mtimeMs: st?.mtimeMs ?? 0 });
  });
  return { leftOut, todo };
}

export async function submit(opts: SubmitOptions): Promise<Submission> {
  const started = Date.now();
  const outDir = resolve(opts.outDir);
  const scan = await scanPaths(opts.paths, { exclude: [outDir] });
  try {
    await mkdir(outDir, { recursive: true });
  } catch (err) {
    throw new ConfigError(`output folder ${outDir} cannot be written: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, outDir);
  }
  const planned = planOutputs(scan.files, outDir, opts.format);
  const states = await FileStates.take(planned);
  const params = jobParams(opts);
  const redis = await openQueueConnection(opts.redis);
  // skipVersionCheck: BullMQ would print its own eviction warning on the console each time; ddcolor says it once (queueMemoryWarnings).
  const queue: FleetQueue = new Queue(opts.queue, { connection: redis, prefix: PREFIX, skipVersionCheck: true });
  const flow = new FlowProducer({ connection: redis, prefix: PREFIX, skipVersionCheck: true });
  try {
    const done = await new DoneState(redis, outDir).load(planned.map((f) => f.outputRel));
    await done.loadBad(planned.map((f) => f.path));
    const { leftOut, todo } = sortPhotos(planned, states, done, params);
    const run = runName(outDir, params, todo);
    const jobs = cutIntoJobs(todo, opts.limits ?? DEFAULT_JOB_LIMITS);
    const model = { path: opts.model.path, id: opts.model.id, inputSize: opts.size, device: null, note: null, testModel: opts.model.testModel };
    await writePart(outDir, run, SUBMIT_PART, recordsPart(outDir, model, leftOut, { problems: scan.problems, started, cacheLocation: describeSpec(opts.redis).location }));
    const ids = jobs.map((_, k) => jobId(run, k));
    const existing = await existingJobs(redis, opts.queue, ids);
    const submission: Submission = { run, queue: opts.queue, outDir, photos: planned.length, upToDate: leftOut.length, queued: todo.length, jobs: jobs.length, alreadyQueued: existing.count, retried: 0, problems: scan.problems, warnings: await queueMemoryWarnings(redis, opts.quietWarnings ?? false) };
    const runData = { run, outDir, submittedAt: started, jobs: jobs.length, photos: todo.length, upToDate: leftOut.length };
    const parts = jobs.map((files, k) => ({ id: ids[k]!, data: { run, outDir, params, files } }));
    const tree = runFlow(opts.queue, runData, parts, { attempts: opts.attempts ?? DEFAULT_ATTEMPTS, backoffMs: opts.backoffMs ?? DEFAULT_BACKOFF_MS });
    submission.retried = await addRun(redis, queue, flow, tree, runData, existing.finished);
    if (jobs.length === 0) await writeCombined(outDir, run);
    return submission;
  } finally {
    await flow.close();
    await queue.close();
    redis.disconnect();
  }
}
