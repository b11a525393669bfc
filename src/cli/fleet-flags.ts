/**
 * What the fleet's commands (submit, worker, queue) share: where the queue is (`--queue-redis`,
 * else `--redis`, else $REDIS_URL) and its name, and the model as `colorize` finds it.
 */
import { Option, type Command } from 'commander';
import { UsageError } from '../errors.js';
import { DEFAULT_QUEUE, parseQueueUrl } from '../fleet/connection.js';
import type { CacheSpec } from '../cache/open.js';
import { modelDirectory } from '../models/catalog.js';
import { locateModel } from '../models/locate.js';
import { inspectModel, type ModelInfo } from '../inference/session.js';

export interface QueueFlags {
  redis?: string;
  queueRedis?: string;
  queue: string;
}

export function addQueueFlags(cmd: Command): Command {
  return cmd
    .option('--redis <url>', 'the shared Redis: queue, cache and the record of finished outputs (default: $REDIS_URL)')
    .option('--queue-redis <url>', 'put the queue on another Redis than --redis')
    .addOption(new Option('--queue <name>', 'the queue name').default(DEFAULT_QUEUE));
}

/** The queue's Redis: --queue-redis, --redis, $REDIS_URL; a usage error when none is given. */
export function queueRedis(flags: QueueFlags, env: NodeJS.ProcessEnv = process.env): CacheSpec {
  if (flags.queueRedis) return parseQueueUrl(flags.queueRedis, '--queue-redis');
  if (flags.redis) return parseQueueUrl(flags.redis, '--redis');
  if (env.REDIS_URL) return parseQueueUrl(env.REDIS_URL, 'REDIS_URL');
  throw new UsageError('the queue needs Redis: give --redis redis://host:6379 (or set REDIS_URL)');
}

/** The model as `colorize` finds it (--model, $DDCOLOR_MODEL, the default installed one); warns through `warn`. */
export async function findModel(flag: string | undefined, warn: (message: string) => void): Promise<ModelInfo> {
  const located = locateModel(flag, await modelDirectory());
  if (located.warning) warn(located.warning);
  return inspectModel(located.path);
}
