/**
 * What a job holds: a slice of one submission's photos, already planned (input, output, format),
 * and the parameters every worker must make them with. Jobs are cut by count and by bytes, and
 * their ids are derived from their content, so adding the same work twice adds nothing.
 */
import { createHash } from 'node:crypto';
import * as z from 'zod';
import { FORMAT_CHOICES } from '../image/formats.js';
import { why } from '../parse-json.js';
import { GB } from '../units.js';

/**
 * Names that go into keys and paths (a run's name, a job's id): letters, digits, `-` and `_`,
 * starting with a letter or digit. Nothing else can climb out of a folder or a key's prefix.
 */
export const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

const OUTPUT_FORMATS = ['png', 'jpg', 'webp', 'tiff', 'gif'] as const;

/**
 * A job is input from the network: anyone who can write to the queue's Redis can add one. Workers
 * parse every job with these schemas before they use it; what does not match is failed with the
 * reason and nothing is read or written. The TypeScript types are the schemas' own.
 */
const jobParamsSchema = z.strictObject({
  /** The model's id (sha256 of its file): a worker with another model leaves the job to others. */
  modelId: z.string().regex(/^[0-9a-f]{16,64}$/, 'a model id (hex)'),
  /** The model's file name, for messages. */
  modelName: z.string().min(1).max(255),
  size: z.int().min(32).max(4096).multipleOf(32),
  format: z.enum(FORMAT_CHOICES),
  quality: z.int().min(1).max(100),
  saturation: z.number().min(0).max(4),
  skipColor: z.boolean(),
  colorThreshold: z.number().min(0).optional(),
  force: z.boolean(),
  overwrite: z.boolean(),
  ttlMs: z.number().min(0),
});
/** How the outputs are made: fixed at submit, the same for every worker. */
export type JobParams = z.infer<typeof jobParamsSchema>;

const jobFileSchema = z.strictObject({
  /** The input, absolute; a worker reads it only if it is inside its input roots. */
  path: z.string().min(1).max(4096),
  rel: z.string().min(1).max(4096),
  /** The output, relative to the job's folder, '/'-separated; checked against the folder by the worker. */
  outputRel: z.string().min(1).max(4096),
  format: z.enum(OUTPUT_FORMATS),
  /** Bytes and mtime, as submit saw them (bytes cut jobs; both say whether a failed file is the same one later). */
  size: z.int().min(0),
  mtimeMs: z.number().min(0),
});
export type JobFile = z.infer<typeof jobFileSchema>;

export const jobDataSchema = z.strictObject({
  /** The submission this job belongs to. */
  run: z.string().regex(SAFE_NAME, 'letters, digits, "-" and "_" only'),
  /** The output folder, absolute; a worker writes there only if it is inside its output roots. */
  outDir: z.string().min(1).max(4096),
  params: jobParamsSchema,
  files: z.array(jobFileSchema).min(1).max(100_000),
});
export type JobData = z.infer<typeof jobDataSchema>;

/** A job's data parsed against the schema: the data, or the first problems found, in words. */
export function parseJobData(data: unknown): { ok: true; data: JobData } | { ok: false; reason: string } {
  const parsed = jobDataSchema.safeParse(data);
  if (parsed.success) return { ok: true, data: parsed.data };
  return { ok: false, reason: `not a ddcolor job (${why(parsed.error)})` };
}

export interface JobLimits {
  /** At most this many photos a job. */
  photos: number;
  /** At most this many input bytes a job (a job of one larger photo is allowed). */
  bytes: number;
}

export const DEFAULT_JOB_LIMITS: JobLimits = { photos: 50, bytes: GB };

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

/** The run a job id names (`jobId`'s inverse); null for an id that is not a run's job's. */
export function runOfJobId(id: string): string | null {
  return /^(run-[0-9a-f]{16})-\d{5,}$/.exec(id)?.[1] ?? null;
}
