/**
 * `ddcolor submit <paths...> --out <folder>`: the archive cut into jobs on the queue; with --wait,
 * a progress bar until every job is finished, then the combined report and colorize's exit code.
 */
import { once } from 'node:events';
import { join, resolve } from 'node:path';
import { Command, Option } from 'commander';
import cliProgress from 'cli-progress';
import { describeSpec } from '../cache/open.js';
import { DEFAULT_COLOUR_THRESHOLD } from '../pipeline/options.js';
import { FORMAT_CHOICES } from '../image/formats.js';
import { openQueueConnection } from '../fleet/connection.js';
import { DEFAULT_JOB_LIMITS } from '../fleet/jobs.js';
import { DEFAULT_ATTEMPTS, submit, type Submission } from '../fleet/submit.js';
import { waitForRun } from '../fleet/wait.js';
import { PRESET_NAMES, resolveInputSize } from '../inference/presets.js';
import { reportText, type RunReport } from '../report/report.js';
import { addQueueFlags, queueRedis, type QueueFlags } from './fleet-flags.js';
import { findModel } from './find-model.js';
import { formatBytes } from '../units.js';
import { parseByteSize, parseColorThreshold, parseDuration, parseIntIn, parseSaturation, parseSizeFlag } from './parse.js';
import { renderMode, RunRenderer, summary } from './render.js';
import { DEFAULT_TTL, type ColorizeFlags } from './colorize.js';
import { printErr, printMessage, printOut } from './output.js';

/** colorize's model, size and output flags, and the queue's own. */
interface SubmitFlags
  extends QueueFlags,
    Pick<ColorizeFlags, 'out' | 'model' | 'preset' | 'size' | 'format' | 'quality' | 'saturation' | 'skipColor' | 'colorThreshold' | 'force' | 'overwrite' | 'ttl' | 'json' | 'quiet' | 'progress'> {
  jobSize: number;
  jobBytes: number;
  attempts: number;
  wait?: boolean;
}

export function submitCommand(): Command {
  const cmd = new Command('submit')
    .description('cut the photos under the given paths into jobs on the queue, for `ddcolor worker` on each machine')
    .argument('<paths...>', 'photos or folders of photos (walked recursively), at the same path on every worker')
    .requiredOption('-o, --out <dir>', 'the shared output folder (at the same path on every worker)')
    .option('--model <file|name>', 'as for colorize; workers with another model leave the jobs to others')
    .addOption(new Option('--preset <name>', 'model input size preset: person 512, building 1024').choices(PRESET_NAMES).default('person'))
    .option('--size <px>', 'model input size, a multiple of 32 (overrides --preset)', parseSizeFlag)
    .addOption(new Option('--format <format>', 'output format; same keeps the input format where it can be written, else png').choices(FORMAT_CHOICES).default('same'))
    .option('--quality <1-100>', 'quality for jpg, webp and tiff outputs', parseIntIn(1, 100), 90)
    .option('--saturation <factor>', 'scale the colours (0 to 4; 1: as the model made them)', parseSaturation, 1)
    .option('--skip-color', 'leave photos that are already in colour alone')
    .option('--color-threshold <chroma>', 'with --skip-color: how colourful a photo must be to count as colour', parseColorThreshold, DEFAULT_COLOUR_THRESHOLD)
    .option('--force', 'ignore cached results and up-to-date outputs')
    .option('--overwrite', 'replace outputs that ddcolor did not write or that were edited since')
    .addOption(new Option('--ttl <duration>', 'how long cached results live (0: forever)').argParser(parseDuration).default(parseDuration(DEFAULT_TTL), DEFAULT_TTL))
    .option('--job-size <n>', 'photos per job at most', parseIntIn(1, 100_000), DEFAULT_JOB_LIMITS.photos)
    .addOption(new Option('--job-bytes <size>', 'input bytes per job at most, e.g. 500MB').argParser(parseByteSize).default(DEFAULT_JOB_LIMITS.bytes, formatBytes(DEFAULT_JOB_LIMITS.bytes)))
    .option('--attempts <n>', 'tries of a job whose machine failed (bad photos are never retried)', parseIntIn(1, 100), DEFAULT_ATTEMPTS)
    .option('--wait', 'stay until every job is finished: progress, then the combined report and the exit code of colorize')
    .option('--json', 'print the submission (or with --wait the combined report) as JSON, and nothing else on stdout')
    .option('-q, --quiet', 'no progress and no summary')
    .option('--no-progress', 'plain log lines instead of a progress bar');
  return addQueueFlags(cmd).action(async (paths: string[], flags: SubmitFlags) => {
    process.exitCode = await runSubmit(paths, flags);
  });
}

function said(s: Submission, where: string, queueArgs: string): string {
  if (s.jobs === 0) return `Nothing to submit: all ${s.upToDate} photo${s.upToDate === 1 ? ' is' : 's are'} up to date (or known to fail) in ${s.outDir}\n`;
  const jobs = `${s.jobs} job${s.jobs === 1 ? '' : 's'}`;
  const put = s.retried > 0 ? `; ${s.retried} finished with photos still to do: put back in the queue` : '';
  const again = s.alreadyQueued > 0 ? ` (${s.alreadyQueued} already queued: not added again${put})` : '';
  return [
    `Submitted ${s.run}: ${s.queued} photo${s.queued === 1 ? '' : 's'} in ${jobs}${again} to queue ${s.queue} on ${where}; ${s.upToDate} up to date`,
    `Watch it:    ddcolor queue status${queueArgs}`,
    `Outputs in ${s.outDir}; the combined report will be ${join(s.outDir, 'ddcolor-report.json')}`,
  ].join('\n') + '\n';
}

async function waitWithBar(s: Submission, flags: SubmitFlags, renderer: RunRenderer, signal: AbortSignal): Promise<RunReport | null> {
  const redis = await openQueueConnection(queueRedis(flags));
  const bar = renderer.mode === 'tty' && s.jobs > 0 ? new cliProgress.SingleBar({ format: ' {bar} {percentage}% | {value}/{total} photos | jobs {jobs} | ETA {eta_formatted}', stream: process.stderr, hideCursor: true, fps: 5 }, cliProgress.Presets.shades_classic) : null;
  let lastLine = 0;
  bar?.start(Math.max(1, s.queued), 0, { jobs: `0/${s.jobs}` });
  try {
    return await waitForRun(redis, s.queue, s.run, s.outDir, {
      signal,
      onProgress: (p, done) => {
        bar?.update(done, { jobs: `${p.finishedJobs}/${p.jobs}` });
        if (renderer.mode === 'plain' && p.jobs > 0 && Date.now() - lastLine > 10_000) {
          lastLine = Date.now();
          renderer.note(`${done}/${p.photos} photos, ${p.finishedJobs}/${p.jobs} jobs finished`);
        }
      },
    });
  } finally {
    bar?.stop();
    redis.disconnect();
  }
}

export async function runSubmit(paths: string[], flags: SubmitFlags): Promise<number> {
  const renderer = new RunRenderer(renderMode(flags));
  const model = await findModel(flags.model, (m) => renderer.warn(m));
  const { size, note } = resolveInputSize(model, flags.preset, flags.size);
  if (note) renderer.note(note);
  const redis = queueRedis(flags);
  const s = await submit({
    paths,
    outDir: resolve(flags.out),
    model,
    size,
    format: flags.format,
    quality: flags.quality,
    saturation: flags.saturation,
    skipColor: flags.skipColor ?? false,
    colorThreshold: flags.colorThreshold,
    force: flags.force ?? false,
    overwrite: flags.overwrite ?? false,
    ttlMs: flags.ttl,
    redis,
    queue: flags.queue,
    limits: { photos: flags.jobSize, bytes: flags.jobBytes },
    attempts: flags.attempts,
    quietWarnings: flags.quiet ?? false,
  });
  for (const p of s.problems) renderer.note(`${p.path}: ${p.reason}`);
  // Under -q, only a setting that loses jobs is worth a line in the nightly log (submit leaves the others out).
  for (const w of s.warnings) printMessage(`warning: queue Redis: ${w.message}`);
  const where = describeSpec(redis).location;
  const given = flags.queueRedis ?? flags.redis;
  const queueArgs = `${flags.queue === 'ddcolor' ? '' : ` --queue ${flags.queue}`}${given ? ` --redis ${given}` : ''}`;
  if (!flags.wait) {
    if (flags.json) printOut(JSON.stringify(s, null, 2) + '\n');
    else if (!flags.quiet) printOut(said(s, where, queueArgs));
    return 0;
  }
  if (!flags.quiet && !flags.json) printErr(said(s, where, queueArgs));
  const abort = new AbortController();
  const onSignal = (): void => abort.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const report = await waitWithBar(s, flags, renderer, abort.signal);
    if (!report) {
      renderer.warn(`stopped waiting; the jobs go on (ddcolor queue status${queueArgs})`);
      return 130;
    }
    if (flags.json) {
      for (const block of reportText(report)) if (!printOut(block)) await once(process.stdout, 'drain');
    } else if (!flags.quiet) printOut(summary(report, join(s.outDir, 'ddcolor-report.json')));
    for (const f of report.files) if (f.status === 'failed' || f.status === 'not-processed') renderer.warn(`${f.status}: ${f.error ?? f.input}`);
    return report.totals.failed > 0 || report.totals.notProcessed > 0 ? 1 : 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
