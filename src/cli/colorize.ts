/**
 * `ddcolor colorize <paths...>`: flags in, a pipeline run, progress and a summary out.
 */
import { once } from 'node:events';
import { join, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { removeAbandonedFiles } from '../io/atomic-write.js';
import { resolveCacheSpec, type OpenCacheOptions } from '../cache/open.js';
import { defaultCacheDir } from '../cache/file.js';
import { FORMAT_CHOICES, type FormatChoice } from '../image/formats.js';
import { modelDirectory } from '../models/catalog.js';
import { locateModel } from '../models/locate.js';
import { PRESET_NAMES, resolveInputSize, type Preset } from '../inference/presets.js';
import { DEVICES, type Device } from '../inference/devices.js';
import { inspectRemembered } from './find-model.js';
import { colorize, concurrencyFor } from '../pipeline/index.js';
import { isHtmlPage, writeHtmlPage } from '../report/html.js';
import { writeMetrics } from '../report/metrics.js';
import { reportText, writeReport, type RunReport } from '../report/report.js';
import { DEFAULT_COLOUR_THRESHOLD } from '../pipeline/options.js';
import { parseColorThreshold, parseDuration, parseIntIn, parseMemoryBudget, parseSaturation, parseSizeFlag } from './parse.js';
import { ensureWritableFile } from './writable.js';
import { profileTable, renderMode, RunRenderer, summary } from './render.js';
import { printOut } from './output.js';

export interface ColorizeFlags {
  out: string;
  model?: string;
  preset: Preset;
  size?: number;
  device: Device;
  batchSize?: number;
  concurrency?: number;
  threads?: number;
  maxMemory?: number;
  cache?: string;
  localCache?: string;
  ttl: number;
  format: FormatChoice;
  quality: number;
  saturation: number;
  skipColor?: boolean;
  colorThreshold: number;
  force?: boolean;
  overwrite?: boolean;
  report?: string;
  metrics?: string;
  html?: string | boolean;
  profile?: boolean;
  waitLock?: boolean;
  json?: boolean;
  quiet?: boolean;
  progress: boolean;
}

export const DEFAULT_TTL = '30d';

export function colorizeCommand(): Command {
  return new Command('colorize')
    .description('colorize every photo under the given files and folders, caching each inference')
    .argument('<paths...>', 'photos or folders of photos (walked recursively)')
    .option('-o, --out <dir>', 'output folder', './colorized')
    .option('--model <file|name>', 'DDColor ONNX file or installed model name (default: $DDCOLOR_MODEL, else the default installed model; tiny-test: the generated test model, which only tints)')
    .addOption(new Option('--preset <name>', 'model input size preset: person 512, building 1024').choices(PRESET_NAMES).default('person'))
    .option('--size <px>', "model input size, a multiple of 32 (overrides --preset; a model with a fixed input decides)", parseSizeFlag)
    .addOption(new Option('--device <device>', 'execution provider: auto (CUDA where it loads, else CPU), cuda, cpu').choices(DEVICES).default('auto'))
    .option('--batch-size <n>', 'photos per inference batch (default 4 on CUDA, 1 on CPU)', parseIntIn(1, 256))
    .option('--concurrency <n>', 'photos decoded, composited and written at once (default: three batches, at least the cores + 2)', parseIntIn(1, 256))
    .option('--threads <n>', 'threads the model uses on the CPU (default: one per core)', parseIntIn(1, 1024))
    .option('--max-memory <size>', 'memory that photos in flight may hold at once, e.g. 2GB (default: a quarter of RAM); large scans then wait their turn', parseMemoryBudget)
    .option('--cache <url>', 'redis://[user:pass@]host:port[/db], rediss://..., redis-cluster://h:p[,h:p...], redis-sentinel://h:p[,h:p...]/<master>, file:<dir> or none (default: $DDCOLOR_CACHE, $REDIS_URL, else the on-disk store)')
    .option('--local-cache <dir|none>', 'with a Redis cache: a local first level on this disk, in front of it (default: the embedded store\'s folder)')
    .addOption(new Option('--ttl <duration>', 'how long cached results live, e.g. 30d, 12h (0: forever)').argParser(parseDuration).default(parseDuration(DEFAULT_TTL), DEFAULT_TTL))
    .addOption(new Option('--format <format>', 'output format; same keeps the input format where it can be written, else png').choices(FORMAT_CHOICES).default('same'))
    .option('--quality <1-100>', 'quality for jpg, webp and tiff outputs', parseIntIn(1, 100), 90)
    .option('--saturation <factor>', "scale the colours: 1 as the model made them, 1.2 livelier, 0.8 softer (0 to 4; changing it never re-infers)", parseSaturation, 1)
    .option('--skip-color', 'leave photos that are already in colour alone (toned, tinted and gray-as-RGB scans are still colorized)')
    .option('--color-threshold <chroma>', 'with --skip-color: how colourful a photo must be to count as colour (a chroma)', parseColorThreshold, DEFAULT_COLOUR_THRESHOLD)
    .option('--force', 'ignore cached results and up-to-date outputs; infer everything again and refresh the cache')
    .option('--overwrite', 'replace outputs that ddcolor did not write or that were edited since (default: leave them and report the photo as failed)')
    .option('--report <file>', 'where to write the JSON report (default: <out>/ddcolor-report.json)')
    .option('--json', 'print the report to stdout, and nothing else there')
    .option('--profile', 'end with a table of where the time went, stage by stage (wall, busy, waiting)')
    .option('--html [file]', 'also write a before/after page of the run, with thumbnails beside it (default: <out>/index.html)')
    .option('--metrics <file>', 'also write Prometheus text-format metrics of the run to this file (for node_exporter)')
    .option('--wait-lock', 'if another run is writing to the output folder, wait for it instead of exiting')
    .option('-q, --quiet', 'no progress and no summary; warnings and failures only')
    .option('--no-progress', 'plain log lines instead of progress bars')
    .action(async (paths: string[], flags: ColorizeFlags, cmd: Command) => {
      process.exitCode = await runColorize(paths, flags, cmd);
    });
}

/** The local first level in front of a Redis cache: --local-cache, `none` for none, else the embedded store's folder. */
export function localLevel(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): OpenCacheOptions {
  if (flag === 'none') return {};
  return { localLevel: flag ? resolve(flag) : defaultCacheDir(env) };
}

export async function runColorize(paths: string[], flags: ColorizeFlags, _cmd?: Command): Promise<number> {
  const renderer = new RunRenderer(renderMode(flags));
  const located = locateModel(flags.model, await modelDirectory());
  if (located.warning) renderer.warn(located.warning);
  const model = await inspectRemembered(located.path);
  const { size, note } = resolveInputSize(model, flags.preset, flags.size);
  if (note) renderer.note(note);
  const cache = resolveCacheSpec(flags.cache);
  const outDir = resolve(flags.out);
  const reportPath = resolve(flags.report ?? join(outDir, 'ddcolor-report.json'));
  if (flags.report !== undefined) await ensureWritableFile(reportPath, '--report', outDir);
  if (flags.metrics !== undefined) await ensureWritableFile(resolve(flags.metrics), '--metrics', outDir);
  const htmlPath = flags.html === undefined || flags.html === false ? null : resolve(typeof flags.html === 'string' ? flags.html : join(outDir, 'index.html'));
  if (htmlPath && typeof flags.html === 'string') await ensureWritableFile(htmlPath, '--html', outDir);
  const device = flags.device;
  // Without --batch-size the batch follows the provider the session gets (4 on CUDA, 1 on the CPU),
  // so --device auto on a GPU machine batches too; photos in flight cover three batches (pipeline/options.ts).
  const batchSize = flags.batchSize ?? 'auto';
  const concurrency = flags.concurrency ?? concurrencyFor(device, flags.batchSize);

  const stop = onInterrupt(renderer);
  try {
    const report = await colorize({
      paths,
      outDir,
      model,
      size,
      sizeNote: note,
      device,
      batchSize,
      concurrency,
      ...(flags.threads !== undefined ? { threads: flags.threads } : {}),
      ...(flags.maxMemory !== undefined ? { memoryBudget: flags.maxMemory } : {}),
      cache,
      cacheOptions: localLevel(flags.localCache),
      ttlMs: flags.ttl,
      format: flags.format,
      quality: flags.quality,
      saturation: flags.saturation,
      skipColor: flags.skipColor ?? false,
      colorThreshold: flags.colorThreshold,
      force: flags.force ?? false,
      overwrite: flags.overwrite ?? false,
      waitLock: flags.waitLock ?? false,
      signal: stop.signal,
      onEvent: renderer.onEvent,
    });
    renderer.stop();
    await writeOutputs(report, flags, renderer, { outDir, reportPath, htmlPath });
    if (report.interrupted) return 130;
    return report.totals.failed > 0 ? 1 : 0;
  } finally {
    renderer.stop();
    stop.dispose();
  }
}

/** First Ctrl-C (or SIGTERM): finish what is in flight, write the report; second: exit at once. */
function onInterrupt(renderer: RunRenderer): { signal: AbortSignal; dispose: () => void } {
  const abort = new AbortController();
  let interrupts = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    interrupts++;
    if (interrupts > 1) {
      // At once: photos in flight are dropped, never left half-written.
      removeAbandonedFiles();
      process.exit(130);
    }
    renderer.warn(`${signal}: finishing the photos in flight, then stopping (press Ctrl-C again to quit at once)`);
    abort.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: abort.signal,
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

/** The report, the metrics and the page where asked, then the summary (or the JSON) and the profile. */
async function writeOutputs(report: RunReport, flags: ColorizeFlags, renderer: RunRenderer, at: { outDir: string; reportPath: string; htmlPath: string | null }): Promise<void> {
  const { outDir, reportPath, htmlPath } = at;
  await writeReport(reportPath, report);
  if (flags.metrics) await writeMetrics(resolve(flags.metrics), report);
  if (htmlPath) await writeHtmlPage(report, htmlPath);
  else if (await isHtmlPage(join(outDir, 'index.html'))) renderer.note(`${join(outDir, 'index.html')} shows an earlier run: pass --html to bring it up to date`);
  if (flags.json) {
    for (const block of reportText(report)) if (!printOut(block)) await once(process.stdout, 'drain');
  } else if (!flags.quiet) printOut(summary(report, reportPath, htmlPath));
  if (flags.profile && !flags.json) printOut(profileTable(report));
}
