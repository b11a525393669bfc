/**
 * Turning run events into terminal output. On a TTY: an ora spinner while scanning and loading
 * the model, then a cli-progress bar with hits, inferences and ETA. Elsewhere (cron, pipes): plain
 * lines, a progress line every so often. Everything goes to stderr; stdout is kept for the summary
 * (or, with --json, the report alone).
 */
import { basename } from 'node:path';
import cliProgress from 'cli-progress';
import ora, { type Ora } from 'ora';
import type { RunEvent } from '../pipeline/index.js';
import type { RunReport } from '../report/report.js';
import { formatDuration } from './parse.js';
import { safeText } from './output.js';

export type RenderMode = 'tty' | 'plain' | 'silent';

export function renderMode(opts: { quiet?: boolean; progress?: boolean; json?: boolean }, stream: NodeJS.WriteStream = process.stderr): RenderMode {
  if (opts.quiet) return 'silent';
  if (opts.progress === false) return 'plain';
  // A terminal that reports no width (some pseudo-terminals) would make spinners redraw forever.
  return stream.isTTY && (stream.columns ?? 0) > 0 ? 'tty' : 'plain';
}

const PLAIN_INTERVAL_MS = 30_000;

export class RunRenderer {
  private spinner: Ora | null = null;
  private bar: cliProgress.SingleBar | null = null;
  private lastPlain = 0;
  private readonly err = process.stderr;

  constructor(
    readonly mode: RenderMode,
    /** Print a line per failed photo even in silent mode. */
    readonly showFailures = true,
  ) {}

  private line(text: string): void {
    if (this.bar) this.bar.stop();
    this.bar = null;
    this.spinner?.clear();
    this.err.write(safeText(text) + '\n');
    this.spinner?.render();
  }

  warn(message: string): void {
    this.line(`ddcolor: warning: ${message}`);
  }

  note(message: string): void {
    if (this.mode !== 'silent') this.line(`ddcolor: ${message}`);
  }

  private startBar(total: number): void {
    this.bar = new cliProgress.SingleBar(
      {
        format: ' {bar} {percentage}% | {value}/{total} | hit {hit} · inferred {inferred} · skipped {skipped} · failed {failed}{stopped} | ETA {eta_formatted}',
        stream: this.err,
        hideCursor: true,
        etaBuffer: 50,
        fps: 5,
      },
      cliProgress.Presets.shades_classic,
    );
    this.bar.start(total, 0, { hit: 0, inferred: 0, skipped: 0, failed: 0, stopped: '' });
  }

  readonly onEvent = (e: RunEvent): void => {
    switch (e.type) {
      case 'stage':
        if (e.stage === 'scan') {
          // NO_COLOR (https://no-color.org): a spinner without its colour.
          if (this.mode === 'tty') this.spinner = ora({ text: 'scanning for photos', stream: this.err, ...(process.env.NO_COLOR ? { color: false } : {}) }).start();
          else if (this.mode === 'plain') this.line('ddcolor: scanning for photos');
        } else if (e.stage === 'finish') {
          this.bar?.stop();
          this.bar = null;
        }
        return;
      case 'scanned':
        for (const p of e.problems) this.line(`ddcolor: ${p.path}: ${p.reason}`);
        if (this.spinner) {
          this.spinner.succeed(`found ${e.files} photo${e.files === 1 ? '' : 's'}`);
          this.spinner = null;
        } else if (this.mode === 'plain') this.line(`ddcolor: found ${e.files} photo${e.files === 1 ? '' : 's'}`);
        if (this.mode === 'tty' && e.files > 0) this.startBar(e.files);
        return;
      case 'model-loaded':
        this.note(`model loaded on ${e.provider.toUpperCase()} in ${formatDuration(e.ms)}`);
        return;
      case 'warning':
        this.warn(e.message);
        return;
      case 'file': {
        const t = e.totals;
        if (e.record.status === 'failed' && this.showFailures) this.line(`ddcolor: failed: ${e.record.error ?? e.record.input}`);
        // Photos not processed (the run stopped) are not counted as done.
        const done = e.done - t.notProcessed;
        const stopped = t.notProcessed > 0 ? ` · not processed ${t.notProcessed}` : '';
        if (this.mode === 'tty') {
          // A note or warning stops the bar (so it is not drawn over); the next photo restarts it.
          if (!this.bar) this.startBar(e.total);
          this.bar!.update(done, { hit: t.hit, inferred: t.inferred, skipped: t.skipped, failed: t.failed, stopped });
        } else if (this.mode === 'plain') {
          const now = Date.now();
          if (now - this.lastPlain >= PLAIN_INTERVAL_MS || e.done === e.total) {
            this.lastPlain = now;
            const notDone = t.notProcessed > 0 ? `, not processed ${t.notProcessed}` : '';
            this.line(`ddcolor: ${done}/${e.total} photos (hit ${t.hit}, inferred ${t.inferred}, skipped ${t.skipped}, failed ${t.failed}${notDone})`);
          }
        }
        return;
      }
    }
  };

  stop(): void {
    this.bar?.stop();
    this.bar = null;
    this.spinner?.stop();
    this.spinner = null;
  }
}

/** `--profile`: where the run's time went, a row per stage. */
export function profileTable(report: RunReport): string {
  const head = ['stage', 'count', 'wall', 'busy', 'waiting'];
  const rows = report.profile.map((r) => [r.stage, String(r.count), formatDuration(r.wallMs), formatDuration(r.busyMs), formatDuration(r.waitMs)]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return ['', 'Where the time went (busy: summed over photos; waiting: for a slot and memory before decoding, for a batch before the model):', line(head), ...rows.map(line)].join('\n') + '\n';
}

/** The end-of-run summary: counts, hit rate, time, the model, where the report is. */
export function summary(report: RunReport, reportPath: string, htmlPath: string | null = null): string {
  const t = report.totals;
  const rate = report.hitRate === null ? 'n/a' : `${(report.hitRate * 100).toFixed(1)}%`;
  const inColour = report.files.filter((f) => f.status === 'skipped' && f.reason === 'already in colour').length;
  const skipped = `${t.skipped - inColour} up to date${inColour ? `, ${inColour} already in colour` : ''}`;
  const lines = [
    `${report.interrupted ? 'Interrupted' : 'Done'}: ${t.files} photo${t.files === 1 ? '' : 's'} in ${formatDuration(report.durationMs)}: ` +
      `${t.inferred} inferred, ${t.hit} from cache, ${skipped}, ${t.failed} failed${t.notProcessed ? `, ${t.notProcessed} not processed` : ''} (hit rate ${rate})`,
    `${modelLine(report)}; cache ${report.cache.backend === 'none' ? 'none' : `${report.cache.backend} ${report.cache.location}`}${report.cache.degraded ? ' (DEGRADED: ran without it)' : ''}`,
    `Outputs in ${report.output}; report: ${reportPath}`,
  ];
  if (htmlPath) lines.push(`Before/after page: file://${htmlPath}`);
  return lines.join('\n') + '\n';
}

/** "Model tiny-512-int8 (3594b9b53e35242b) at 512px on CPU", or that it was not loaded. */
function modelLine(report: RunReport): string {
  const m = report.model;
  const test = m.testModel ? ` (test model: ${m.testModel})` : '';
  const named = `Model ${basename(m.path).replace(/\.onnx$/i, '')} (${m.id})${test} at ${m.inputSize}px`;
  return m.device ? `${named} on ${m.device.toUpperCase()}` : `${named}, not loaded (no photo needed it: all from the cache or up to date)`;
}
