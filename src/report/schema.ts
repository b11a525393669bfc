/**
 * The run report's schema (`ddcolor.report/v1`), beside its types in report.ts. The fleet reads
 * report parts back from the shared output folder, where any worker's machine (or a person) can
 * write, so a part is parsed with this before its records are combined; the README's example
 * report is checked against it too (test/json-shapes.test.ts). Unknown keys are dropped, not
 * refused: a part written by a later ddcolor still combines.
 */
import * as z from 'zod';
import { STAGES } from '../pipeline/profile.js';
import { REPORT_SCHEMA, type FileRecord, type RunReport } from './report.js';

const count = z.int().min(0);
const ms = z.number().min(0);

export const fileRecordSchema = z.object({
  input: z.string(),
  output: z.string().nullable(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/).nullable(),
  status: z.enum(['hit', 'inferred', 'skipped', 'failed', 'not-processed']),
  error: z.string().nullable(),
  reason: z.string().optional(),
  ms: ms.optional(),
  code: z.string().regex(/^[A-Z0-9_]{1,32}$/).optional(),
  transient: z.literal(true).optional(),
  blocked: z.literal(true).optional(),
});

export const totalsSchema = z.object({ files: count, hit: count, inferred: count, skipped: count, failed: count, notProcessed: count });

export const reportSchema = z.object({
  schema: z.literal(REPORT_SCHEMA),
  startedAt: z.iso.datetime(),
  finishedAt: z.iso.datetime(),
  durationMs: ms,
  interrupted: z.boolean(),
  model: z.object({
    path: z.string(),
    id: z.string(),
    inputSize: count,
    device: z.enum(['cuda', 'cpu']).nullable(),
    note: z.string().nullable(),
    testModel: z.string().nullable(),
  }),
  cache: z.object({
    backend: z.enum(['redis', 'file', 'none']),
    location: z.string(),
    degraded: z.boolean(),
    errors: count,
    error: z.string().nullable(),
  }),
  output: z.string(),
  totals: totalsSchema,
  hitRate: z.number().min(0).max(1).nullable(),
  timings: z.object({ scanMs: ms, hashMs: ms, lookupMs: ms, decodeMs: ms, inferenceMs: ms, compositeMs: ms, encodeMs: ms, modelLoadMs: ms }),
  problems: z.array(z.object({ path: z.string(), reason: z.string() })),
  profile: z.array(z.object({ stage: z.enum(STAGES), count, wallMs: ms, busyMs: ms, waitMs: ms })),
  files: z.array(fileRecordSchema),
});

// The schema and the types say the same thing (checked by the compiler both ways).
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const sameReport: Same<z.output<typeof reportSchema>, RunReport> = true;
const sameRecord: Same<z.output<typeof fileRecordSchema>, FileRecord> = true;
void sameReport;
void sameRecord;
