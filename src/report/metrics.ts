/**
 * Prometheus text-format metrics of a run, for node_exporter's textfile collector:
 *   ddcolor colorize ... --metrics /var/lib/node_exporter/textfile/ddcolor.prom
 * Written atomically (temporary file and rename), as the collector requires.
 */
import { writeFileAtomically } from '../io/atomic-write.js';
import { redactSecrets } from '../redact.js';
import type { RunReport } from './report.js';

function metric(name: string, help: string, type: 'gauge' | 'counter', samples: Array<[Record<string, string>, number]>): string {
  const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`];
  for (const [labels, value] of samples) {
    const l = Object.entries(labels)
      .map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
      .join(',');
    lines.push(`${name}${l ? `{${l}}` : ''} ${Number.isFinite(value) ? value : 0}`);
  }
  return lines.join('\n');
}

export function renderMetrics(report: RunReport): string {
  const t = report.totals;
  const tm = report.timings;
  const s = (ms: number): number => Math.round(ms) / 1000;
  const parts = [
    metric('ddcolor_files', 'Photos in the last run, by status.', 'gauge', [
      [{ status: 'hit' }, t.hit],
      [{ status: 'inferred' }, t.inferred],
      [{ status: 'skipped' }, t.skipped],
      [{ status: 'failed' }, t.failed],
      [{ status: 'not-processed' }, t.notProcessed],
    ]),
    metric('ddcolor_files_total', 'Photos found by the last run.', 'gauge', [[{}, t.files]]),
    metric('ddcolor_hit_rate', 'Share of the photos needing a result that came from the cache (hit / (hit + inferred)).', 'gauge', [[{}, report.hitRate ?? 0]]),
    metric('ddcolor_stage_seconds', 'Seconds spent in each stage of the last run, summed over photos (stages overlap).', 'gauge', [
      [{ stage: 'scan' }, s(tm.scanMs)],
      [{ stage: 'hash' }, s(tm.hashMs)],
      [{ stage: 'lookup' }, s(tm.lookupMs)],
      [{ stage: 'decode' }, s(tm.decodeMs)],
      [{ stage: 'inference' }, s(tm.inferenceMs)],
      [{ stage: 'composite' }, s(tm.compositeMs)],
      [{ stage: 'encode' }, s(tm.encodeMs)],
      [{ stage: 'model_load' }, s(tm.modelLoadMs)],
    ]),
    metric('ddcolor_inference_seconds', 'Seconds the model ran in the last run.', 'gauge', [[{ device: report.model.device ?? 'none' }, s(tm.inferenceMs)]]),
    metric('ddcolor_run_duration_seconds', 'Wall-clock seconds of the last run.', 'gauge', [[{}, s(report.durationMs)]]),
    metric('ddcolor_cache_errors', 'Cache operations that failed in the last run.', 'gauge', [[{ backend: report.cache.backend }, report.cache.errors]]),
    metric('ddcolor_cache_degraded', '1 when the last run went on without its cache.', 'gauge', [[{ backend: report.cache.backend }, report.cache.degraded ? 1 : 0]]),
    metric('ddcolor_run_interrupted', '1 when the last run was interrupted.', 'gauge', [[{}, report.interrupted ? 1 : 0]]),
    metric('ddcolor_last_run_timestamp_seconds', 'When the last run finished (Unix time).', 'gauge', [[{}, Math.round(Date.parse(report.finishedAt) / 1000)]]),
  ];
  return parts.join('\n') + '\n';
}

export async function writeMetrics(path: string, report: RunReport): Promise<void> {
  await writeFileAtomically(path, redactSecrets(renderMetrics(report)));
}
