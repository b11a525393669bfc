/**
 * A run's report, in parts: `submit` writes one for the photos it found up to date (and what the
 * scan found wrong), each job writes one as it finishes, all in `<out>/.ddcolor-runs/<run>/`, and
 * the combined report (`<out>/ddcolor-report.json`, as `colorize` writes) is made from them when
 * the last job of the run is finished. Parts live in the shared output folder, not in Redis: an
 * archive's records take more memory than a queue should hold.
 */
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hitRate } from '../cache/store.js';
import { emptyTimings, emptyTotals, REPORT_SCHEMA, writeReport, type FileRecord, type RunReport, type StageTimings, type Totals } from '../report/report.js';
import { writeTextAtomically } from '../io/atomic-write.js';
import { checkOwnFolder } from '../io/roots.js';
import { environmentWords, errorMessage } from '../errors.js';
import { reportSchema } from '../report/schema.js';
import { parseJson } from './records.js';

export const RUNS_DIR = '.ddcolor-runs';
export const SUBMIT_PART = 'submit';

export function partPath(outDir: string, run: string, part: string): string {
  return join(outDir, RUNS_DIR, run, `${part}.json`);
}

/** A part as written, or why it cannot be used (missing, unreadable, or not a report part ddcolor wrote). */
async function loadPart(path: string): Promise<{ ok: true; report: RunReport } | { ok: false; reason: string }> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    return { ok: false, reason: environmentWords(err)?.words ?? errorMessage(err) };
  }
  const parsed = parseJson(reportSchema, text);
  return parsed.ok ? { ok: true, report: parsed.data } : { ok: false, reason: `not a report part ddcolor wrote (${parsed.reason})` };
}

/** A part as written; null when there is none or it is not one (the job's photos are then done again). */
export async function readPart(outDir: string, run: string, part: string): Promise<RunReport | null> {
  const loaded = await loadPart(partPath(outDir, run, part));
  return loaded.ok ? loaded.report : null;
}

export async function writePart(outDir: string, run: string, part: string, report: RunReport): Promise<void> {
  await checkOwnFolder(join(outDir, RUNS_DIR));
  await checkOwnFolder(join(outDir, RUNS_DIR, run));
  await mkdir(join(outDir, RUNS_DIR, run), { recursive: true });
  await writeTextAtomically(partPath(outDir, run, part), [JSON.stringify(report) + '\n']);
}

/** A part made of records alone (no run behind them): photos left out at submit, failed before, or lost with their job. */
export function recordsPart(
  outDir: string,
  model: RunReport['model'],
  files: FileRecord[],
  more: { problems?: RunReport['problems']; started?: number; cacheLocation?: string } = {},
): RunReport {
  const now = Date.now();
  const started = more.started ?? now;
  return {
    schema: REPORT_SCHEMA,
    startedAt: new Date(started).toISOString(),
    finishedAt: new Date(now).toISOString(),
    durationMs: now - started,
    interrupted: false,
    model,
    cache: { backend: 'redis', location: more.cacheLocation ?? '', degraded: false, errors: 0, error: null },
    output: outDir,
    totals: totalsOf(files),
    hitRate: null,
    timings: emptyTimings(),
    problems: more.problems ?? [],
    profile: [],
    files,
  };
}

/** A photo's record is settled when trying again would not change it: anything but a failure of the machine or a photo never started. */
export function settled(r: FileRecord): boolean {
  return r.status !== 'not-processed' && !r.transient;
}

function totalsOf(files: readonly FileRecord[]): Totals {
  const t = emptyTotals();
  t.files = files.length;
  for (const f of files) {
    if (f.status === 'not-processed') t.notProcessed++;
    else t[f.status]++;
  }
  return t;
}

function sumTimings(parts: readonly RunReport[]): StageTimings {
  const sum = emptyTimings();
  for (const p of parts) for (const k of Object.keys(sum) as Array<keyof StageTimings>) sum[k] += p.timings[k] ?? 0;
  return sum;
}

/** One report from many parts: every photo once (the last part that settled it wins), totals and times summed. */
export function combine(parts: readonly RunReport[]): RunReport {
  const byInput = new Map<string, FileRecord>();
  for (const p of parts) for (const f of p.files) if (!byInput.has(f.input) || settled(f)) byInput.set(f.input, f);
  const files = [...byInput.values()].sort((a, b) => (a.input < b.input ? -1 : a.input > b.input ? 1 : 0));
  const totals = totalsOf(files);
  const started = Math.min(...parts.map((p) => Date.parse(p.startedAt)));
  const finished = Math.max(...parts.map((p) => Date.parse(p.finishedAt)));
  const withModel = parts.find((p) => p.model.device !== null) ?? parts[0]!;
  return {
    schema: REPORT_SCHEMA,
    startedAt: new Date(started).toISOString(),
    finishedAt: new Date(finished).toISOString(),
    durationMs: finished - started,
    interrupted: false,
    model: withModel.model,
    cache: {
      ...withModel.cache,
      degraded: parts.some((p) => p.cache.degraded),
      errors: parts.reduce((n, p) => n + p.cache.errors, 0),
      error: parts.find((p) => p.cache.error)?.cache.error ?? null,
    },
    output: withModel.output,
    totals,
    hitRate: hitRate(totals.hit, totals.inferred),
    timings: sumTimings(parts),
    problems: parts.flatMap((p) => p.problems),
    profile: [],
    files,
  };
}

/** Combine every part of the run into `<out>/ddcolor-report.json` (the same for whoever does it); returns it. */
export async function writeCombined(outDir: string, run: string, reportPath = join(outDir, 'ddcolor-report.json')): Promise<RunReport> {
  await checkOwnFolder(join(outDir, RUNS_DIR));
  const dir = await checkOwnFolder(join(outDir, RUNS_DIR, run));
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.json')).sort();
  const parts: RunReport[] = [];
  const unusable: RunReport['problems'] = [];
  for (const n of names) {
    const path = partPath(outDir, run, n.slice(0, -'.json'.length));
    const loaded = await loadPart(path);
    if (loaded.ok) parts.push(loaded.report);
    else unusable.push({ path, reason: loaded.reason });
  }
  const report = combine(parts);
  // A part that could not be used is said in the report: its photos are missing from it.
  report.problems.push(...unusable);
  await writeReport(reportPath, report);
  return report;
}
