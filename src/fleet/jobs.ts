/**
 * What a job holds: a slice of one submission's photos, already planned (input, output, format),
 * and the parameters every worker must make them with. Jobs are cut by count and by bytes, and
 * their ids are derived from their content, so adding the same work twice adds nothing.
 */
import { createHash } from 'node:crypto';
import type { FormatChoice, OutputFormat } from '../image/encode.js';

/** How the outputs are made: fixed at submit, the same for every worker. */
export interface JobParams {
  /** The model's id (sha256 of its file): a worker with another model leaves the job to others. */
  modelId: string;
  /** The model's file name, for messages. */
  modelName: string;
  size: number;
  format: FormatChoice;
  quality: number;
  saturation: number;
  skipColor: boolean;
  colorThreshold?: number;
  force: boolean;
  overwrite: boolean;
  ttlMs: number;
}

export interface JobFile {
  path: string;
  rel: string;
  outputRel: string;
  format: OutputFormat;
  /** Bytes and mtime, as submit saw them (bytes cut jobs; both say whether a failed file is the same one later). */
  size: number;
  mtimeMs: number;
}

export interface JobData {
  /** The submission this job belongs to. */
  run: string;
  outDir: string;
  params: JobParams;
  files: JobFile[];
}

/** What a job returns when it is done: its photos' totals (the records are in its report part). */
export interface JobResult {
  hit: number;
  inferred: number;
  skipped: number;
  failed: number;
  notProcessed: number;
}

export interface JobLimits {
  /** At most this many photos a job. */
  photos: number;
  /** At most this many input bytes a job (a job of one larger photo is allowed). */
  bytes: number;
}

export const DEFAULT_JOB_LIMITS: JobLimits = { photos: 50, bytes: 1024 ** 3 };

/** Cut `files` (in order) into jobs of at most `limits`. */
export function cutIntoJobs(files: readonly JobFile[], limits: JobLimits): JobFile[][] {
  const jobs: JobFile[][] = [];
  let current: JobFile[] = [];
  let bytes = 0;
  for (const f of files) {
    if (current.length > 0 && (current.length >= limits.photos || bytes + f.size > limits.bytes)) {
      jobs.push(current);
      current = [];
      bytes = 0;
    }
    current.push(f);
    bytes += f.size;
  }
  if (current.length > 0) jobs.push(current);
  return jobs;
}

/**
 * The submission's name, from what it asks for: the folder, the parameters and each photo's path,
 * size and mtime. The same work submitted again gets the same name, and so the same job ids.
 */
export function runName(outDir: string, params: JobParams, files: ReadonlyArray<{ path: string; size: number; mtimeMs: number }>): string {
  const h = createHash('sha256').update(JSON.stringify({ outDir, params }));
  for (const f of files) h.update(`\n${f.path}\t${f.size}\t${f.mtimeMs}`);
  return `run-${h.digest('hex').slice(0, 16)}`;
}

/** The id of the `k`th job of a run (BullMQ ids may not hold ':'). */
export function jobId(run: string, k: number): string {
  return `${run}-${String(k).padStart(5, '0')}`;
}
