/**
 * `ddcolor worker`: takes jobs from the queue until stopped. One line per job and per failed photo;
 * SIGTERM or Ctrl-C finishes the photos in hand, gives unfinished jobs back and exits 0; a second
 * signal exits at once (the queue gives that worker's jobs to others once they stall).
 */
import { Command, Option } from 'commander';
import { describeSpec, openCache, parseCacheUrl } from '../cache/open.js';
import { errorMessage } from '../errors.js';
import { openQueueConnection } from '../fleet/connection.js';
import { startWorker, type WorkerEvent } from '../fleet/worker.js';
import { removeAbandonedFiles } from '../io/atomic-write.js';
import { resolveRoots } from '../io/roots.js';
import { DEVICES, type Device } from '../inference/devices.js';
import { checkDevice } from '../pipeline/index.js';
import { concurrencyFor } from '../pipeline/index.js';
import { localLevel } from './colorize.js';
import { addQueueFlags, queueRedis, type QueueFlags } from './fleet-flags.js';
import { findModel } from './find-model.js';
import { formatDuration, parseDuration, parseIntIn, parseMemoryBudget } from './parse.js';
import { renderMode, RunRenderer } from './render.js';
import { printMessage } from './output.js';

interface WorkerFlags extends QueueFlags {
  model?: string;
  device: Device;
  cache?: string;
  localCache?: string;
  jobs: number;
  concurrency?: number;
  batchSize?: number;
  threads?: number;
  maxMemory?: number;
  lockDuration: number;
  inputRoot: string[];
  outputRoot: string[];
  quiet?: boolean;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function workerCommand(): Command {
  const cmd = new Command('worker')
    .description('take jobs from the queue and colorize them into their shared output folders, until stopped')
    .option('--model <file|name>', 'as for colorize; jobs submitted with another model are left to other workers')
    .addOption(new Option('--device <device>', 'execution provider: auto, cuda, cpu').choices(DEVICES).default('auto'))
    .option('--cache <url>', 'the cache of results (default: the --redis server)')
    .option('--local-cache <dir|none>', "a local first level on this disk in front of the shared cache (default: the embedded store's folder)")
    .option('--jobs <n>', 'jobs at once', parseIntIn(1, 64), 1)
    .option('--concurrency <n>', 'photos decoded, composited and written at once in a job (default: as colorize)', parseIntIn(1, 256))
    .option('--batch-size <n>', 'photos per inference batch (default 4 on CUDA, 1 on CPU)', parseIntIn(1, 256))
    .option('--threads <n>', 'threads the model uses on the CPU (default: one per core)', parseIntIn(1, 1024))
    .option('--max-memory <size>', 'memory that photos in flight may hold at once, e.g. 2GB', parseMemoryBudget)
    .addOption(new Option('--lock-duration <duration>', 'how long a job stays with a worker that stopped answering before another takes it').argParser(parseDuration).default(30_000, '30s'))
    .option('--input-root <dir>', 'a folder whose photos jobs may ask this worker to read (repeat for more; default: the current folder)', collect, [])
    .option('--output-root <dir>', 'a folder jobs may ask this worker to write into (repeat for more; default: the current folder)', collect, [])
    .option('-q, --quiet', 'only warnings and failures');
  return addQueueFlags(cmd).action(async (flags: WorkerFlags) => {
    process.exitCode = await runWorker(flags);
  });
}

function describe(e: WorkerEvent, quiet: boolean): string | null {
  switch (e.type) {
    case 'job-start':
      return quiet ? null : `job ${e.id}: ${e.photos} photo${e.photos === 1 ? '' : 's'}`;
    case 'job-done': {
      const t = e.totals;
      return quiet ? null : `job ${e.id} done in ${formatDuration(e.ms)}: ${t.inferred} inferred, ${t.hit} from cache, ${t.skipped} up to date, ${t.failed} failed`;
    }
    case 'run-done': {
      const t = e.totals;
      return quiet ? null : `${e.run} finished, its report is written: ${t.inferred} inferred, ${t.hit} from cache, ${t.skipped} up to date, ${t.failed} failed, ${t.notProcessed} not processed`;
    }
    case 'job-retry':
      return `warning: job ${e.id} will be tried again: ${e.reason}`;
    case 'job-refused':
      return `warning: job ${e.id} refused, nothing read or written: ${e.reason}`;
    case 'job-returned':
      return `job ${e.id}: stopping; ${e.unsettled} photo${e.unsettled === 1 ? '' : 's'} given back to the queue`;
    case 'wrong-model':
      return `warning: job ${e.id} wants model ${e.wants}; this worker has ${e.has}: left to other workers`;
    case 'warning':
      return `warning: ${e.message}`;
    case 'file':
      return e.event.record.status === 'failed' ? `failed: ${e.event.record.error ?? e.event.record.input}` : null;
  }
}

export async function runWorker(flags: WorkerFlags): Promise<number> {
  const renderer = new RunRenderer(renderMode({ progress: false, ...(flags.quiet ? { quiet: true } : {}) }));
  const model = await findModel(flags.model, (m) => renderer.warn(m));
  // --device cuda that cannot work here fails now, before the worker takes a job.
  await checkDevice(flags.device);
  const roots = await resolveRoots(flags.inputRoot.length ? flags.inputRoot : [process.cwd()], flags.outputRoot.length ? flags.outputRoot : [process.cwd()]);
  const queueSpec = queueRedis(flags);
  const cache = flags.cache ? parseCacheUrl(flags.cache) : flags.redis ? parseCacheUrl(flags.redis, '--redis') : queueSpec;
  const redis = await openQueueConnection(queueSpec);
  // The cache, opened once: its local first level then hears every invalidation while the worker runs.
  const store = await openCache(cache, localLevel(flags.localCache)).catch((err: unknown) => {
    renderer.warn(`cache ${describeSpec(cache).location}: ${errorMessage(err)}; each job tries it again`);
    return null;
  });
  // As colorize: three batches of the batch the device gets (4 on CUDA, 1 on the CPU), at least the cores + 2.
  const concurrency = flags.concurrency ?? concurrencyFor(flags.device, flags.batchSize);
  const worker = startWorker({
    redis,
    queue: flags.queue,
    model,
    device: flags.device,
    roots,
    cache,
    ...(store ? { store } : {}),
    jobs: flags.jobs,
    concurrency,
    ...(flags.batchSize !== undefined ? { batchSize: flags.batchSize } : {}),
    ...(flags.threads !== undefined ? { threads: flags.threads } : {}),
    ...(flags.maxMemory !== undefined ? { memoryBudget: flags.maxMemory } : {}),
    lockDurationMs: flags.lockDuration,
    onEvent: (e) => {
      const line = describe(e, flags.quiet ?? false);
      if (line) printMessage(`${line}`);
    },
  });
  renderer.note(`worker ${worker.name} on queue ${flags.queue} at ${describeSpec(queueSpec).location}, model ${model.id.slice(0, 12)}; cache ${describeSpec(cache).location}; reads ${roots.inputs.join(', ')}, writes ${roots.outputs.join(', ')}; waiting for jobs`);
  const stopped = new Promise<void>((resolve) => {
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (++signals > 1) {
        removeAbandonedFiles();
        process.exit(130);
      }
      renderer.note(`${signal}: finishing the photos in hand, then stopping (again to quit at once)`);
      worker
        .stop()
        .catch((err: unknown) => renderer.warn(`stopping: ${errorMessage(err)}`))
        .finally(resolve);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  await stopped;
  await store?.close();
  redis.disconnect();
  renderer.note('worker stopped');
  return 0;
}
