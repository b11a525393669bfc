/**
 * A job as a worker may act on it. A job comes from Redis, which other programs can write to, so
 * nothing in it is believed: its data is parsed against the schema (`jobs.ts`), its output folder
 * must lie inside this worker's output roots, each output inside that folder (no `..`, no link out
 * of it, none of ddcolor's own names, the extension of its format), and each input inside the
 * worker's input roots. The roots are the worker's own (its flags), never the job's.
 *
 * A job whose data or output folder is wrong is refused whole: it fails with the reason and
 * nothing is read or written. An input outside the roots fails that photo alone (a scan that
 * followed a link out of the archive submits such photos in good faith); it is not the photo's
 * fault, so it is never recorded as a bad input.
 */
import { extname } from 'node:path';
import { formatFromExtension } from '../image/formats.js';
import { checkBelow, checkInput, checkOutputFolder, OutsideRootsError, within, type Roots } from '../io/roots.js';
import type { PlannedFile } from '../pipeline/index.js';
import type { FileRecord } from '../report/report.js';
import { parseJobData, SAFE_NAME, type JobData } from './jobs.js';

/** A job refused whole: its reason says what was wrong, naming the field or the path. */
export class InvalidJobError extends Error {
  override readonly name = 'InvalidJobError';
}

export interface CheckedJob {
  data: JobData;
  /** The real location of the job's output folder (inside an output root). */
  outDir: string;
  /** The photos the worker may do, planned inside `outDir`. */
  planned: PlannedFile[];
  /** The photos it may not (input outside the roots), as failed records. */
  refused: FileRecord[];
}

/** Check a job against the schema and the worker's roots; throws InvalidJobError when it must be refused whole. */
export async function checkJob(roots: Roots, id: string | undefined, raw: unknown): Promise<CheckedJob> {
  if (id === undefined || !SAFE_NAME.test(id)) throw new InvalidJobError(`job id ${JSON.stringify(id)}: not a ddcolor job id (letters, digits, "-" and "_" only)`);
  const parsed = parseJobData(raw);
  if (!parsed.ok) throw new InvalidJobError(parsed.reason);
  const data = parsed.data;
  const outDir = await refuseWhole(() => checkOutputFolder(roots, data.outDir));
  const planned: PlannedFile[] = [];
  const refused: FileRecord[] = [];
  for (const f of data.files) {
    if (formatFromExtension(extname(f.outputRel)) !== f.format) throw new InvalidJobError(`${f.outputRel}: does not end in an extension of ${f.format}`);
    const output = await refuseWhole(() => checkBelow(outDir, f.outputRel));
    try {
      await checkInput(roots, f.path);
    } catch (err) {
      if (!(err instanceof OutsideRootsError)) throw err;
      // Not the photo's fault, and not one a retry of the job mends: the link or the roots must change first.
      refused.push({ input: f.path, output: null, sha256: null, status: 'failed', error: err.message, code: 'OUTSIDE_ROOTS' });
      continue;
    }
    // An output inside an input root is never a file of the user's that the job may replace,
    // whatever its `force` or `overwrite` say: only ddcolor's own outputs there are replaced.
    const keepForeign = roots.inputs.some((root) => within(root, output));
    planned.push({ path: f.path, rel: f.rel, outputRel: f.outputRel, output, format: f.format, ...(keepForeign ? { keepForeign } : {}) });
  }
  return { data, outDir, planned, refused };
}

async function refuseWhole<T>(check: () => Promise<T>): Promise<T> {
  try {
    return await check();
  } catch (err) {
    if (err instanceof OutsideRootsError) throw new InvalidJobError(err.message);
    throw err;
  }
}
