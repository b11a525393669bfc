/**
 * What the fleet's commands (submit, worker, queue) share: where the queue is (`--queue-redis`,
 * else `--redis`, else $REDIS_URL) and its name. (The model, which `queue` does not need, is
 * found by find-model.ts.)
 */
import { Option, type Command } from 'commander';
import { UsageError } from '../errors.js';
import { DEFAULT_QUEUE, parseQueueUrl } from '../fleet/connection.js';
import type { CacheSpec } from '../cache/open.js';

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
