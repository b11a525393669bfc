/**
 * `ddcolor queue status | retry-failed | clean`: the queue as a whole.
 */
import { Command, Option } from 'commander';
import { openQueueConnection } from '../fleet/connection.js';
import { cleanQueue, queueStatus, retryFailed, type QueueStatus } from '../fleet/status.js';
import { addQueueFlags, queueRedis, type QueueFlags } from './fleet-flags.js';
import { formatDuration, parseDuration } from './parse.js';
import { printOut } from './output.js';

export function renderQueueStatus(s: QueueStatus): string {
  const j = s.jobs;
  const lines = [`Queue ${s.queue}: ${j.waiting} waiting, ${j.active} active, ${j.delayed} delayed, ${j.completed} completed, ${j.failed} failed`];
  lines.push(s.workers.length === 0 ? 'Workers: none yet' : 'Workers:');
  for (const w of s.workers) lines.push(`  ${w.name.padEnd(32)} ${w.online ? 'online ' : 'offline'} ${w.photos} photos`);
  if (s.runs.length > 0) lines.push('Runs (newest first):');
  for (const r of s.runs) {
    const t = r.totals;
    const rate = r.photosPerSecond === null ? '' : `, ${r.photosPerSecond} photos/s`;
    const eta = r.error !== null ? `a worker could not finish it: ${r.error}` : r.finished ? 'finished' : r.finishedJobs >= r.jobs ? 'finishing' : r.etaSeconds === null ? 'ETA unknown' : `ETA ${formatDuration(r.etaSeconds * 1000)}`;
    lines.push(
      `  ${r.run}  ${t.files}/${r.photos} photos, jobs ${r.finishedJobs}/${r.jobs}${rate}, ${eta}; ${t.inferred} inferred, ${t.hit} from cache, ${t.skipped + r.upToDate} up to date, ${t.failed} failed  -> ${r.outDir}`,
    );
  }
  if (s.problems.length > 0) lines.push('Records in Redis that are not ddcolor\'s (left out above):');
  for (const p of s.problems) lines.push(`  ${p.key}: ${p.reason}`);
  return lines.join('\n') + '\n';
}

function statusCommand(): Command {
  return addQueueFlags(new Command('status').description('jobs by state, workers, runs with photos per second and ETA').option('--json', 'as JSON')).action(
    async (flags: QueueFlags & { json?: boolean }) => {
      const redis = await openQueueConnection(queueRedis(flags));
      try {
        const s = await queueStatus(redis, flags.queue);
        printOut(flags.json ? JSON.stringify(s, null, 2) + '\n' : renderQueueStatus(s));
      } finally {
        redis.disconnect();
      }
    },
  );
}

function retryCommand(): Command {
  return addQueueFlags(new Command('retry-failed').description('put every failed job back in the queue')).action(async (flags: QueueFlags) => {
    const redis = await openQueueConnection(queueRedis(flags));
    try {
      const n = await retryFailed(redis, flags.queue);
      printOut(`${n} failed job${n === 1 ? '' : 's'} put back in queue ${flags.queue}\n`);
    } finally {
      redis.disconnect();
    }
  });
}

function cleanCommand(): Command {
  return addQueueFlags(
    new Command('clean')
      .description('remove finished jobs (done and failed) and finished runs')
      .addOption(new Option('--older-than <duration>', 'only those finished at least this long ago').argParser(parseDuration).default(0, '0: all')),
  ).action(async (flags: QueueFlags & { olderThan: number }) => {
    const redis = await openQueueConnection(queueRedis(flags));
    try {
      const r = await cleanQueue(redis, flags.queue, flags.olderThan);
      printOut(`removed ${r.jobs} finished job${r.jobs === 1 ? '' : 's'} and ${r.runs} finished run${r.runs === 1 ? '' : 's'} from queue ${flags.queue}\n`);
    } finally {
      redis.disconnect();
    }
  });
}

export function queueCommand(): Command {
  return new Command('queue').description('the job queue of `submit` and `worker`: status, retry-failed, clean').addCommand(statusCommand()).addCommand(retryCommand()).addCommand(cleanCommand());
}
