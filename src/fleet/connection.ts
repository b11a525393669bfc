/**
 * The queue's Redis connection: the same URL forms as the cache (`--redis`, `--queue-redis`,
 * `REDIS_URL`), opened the way BullMQ wants its connections (no per-command retry limit, commands
 * queued while reconnecting), and checked once at the start so that a Redis that is not there is a
 * clear error, never a command that waits for ever.
 */
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { clusterNodeOptions, describeSpec, parseCacheUrl, sentinelOptions, type CacheSpec } from '../cache/open.js';
import { memoryWarnings, parseInfo } from '../cache/redis.js';
import { errorMessage, UsageError, ConfigError } from '../errors.js';
import { redactSecrets } from '../redact.js';

export type QueueConnection = Redis | Cluster;

/** Where the queue lives: its Redis and its name. */
export interface QueueTarget {
  /** A Redis spec (single, cluster or Sentinel). */
  redis: CacheSpec;
  /** The queue's name (default `ddcolor`). */
  queue: string;
}

export const DEFAULT_QUEUE = 'ddcolor';

/** Parse a queue Redis URL; `source` names the flag or variable it came from in messages. */
export function parseQueueUrl(url: string, source: '--redis' | '--queue-redis' | 'REDIS_URL'): CacheSpec {
  const spec = parseCacheUrl(url, source);
  if (spec.kind === 'file' || spec.kind === 'none') {
    throw new UsageError(`${source} ${redactSecrets(url)}: the queue needs Redis: expected redis://host:port[/db], rediss://…, redis-cluster://… or redis-sentinel://…`);
  }
  return spec;
}

/** The ioredis client for BullMQ on `spec` (not yet connected). */
function client(spec: CacheSpec): QueueConnection {
  const bullmq: RedisOptions = { maxRetriesPerRequest: null, lazyConnect: true, connectTimeout: 3000 };
  switch (spec.kind) {
    case 'redis':
      return new Redis(spec.url, bullmq);
    case 'redis-cluster':
      return new Cluster(spec.nodes, { lazyConnect: true, redisOptions: { ...bullmq, lazyConnect: false, ...clusterNodeOptions(spec) } });
    case 'redis-sentinel':
      return new Redis({ ...bullmq, ...sentinelOptions(spec) });
    default:
      throw new UsageError('the queue needs Redis, not the embedded store');
  }
}

/** Connect within `timeoutMs`; a Redis that does not answer is a `config` error naming it. */
export async function openQueueConnection(spec: CacheSpec, timeoutMs = 6000): Promise<QueueConnection> {
  const c = client(spec);
  c.on('error', () => undefined); // reported through the commands that fail
  let timer: NodeJS.Timeout | undefined;
  try {
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    const ready = new Promise<void>((resolve) => c.once('ready', () => resolve()));
    c.connect().catch(() => undefined);
    await Promise.race([ready, deadline]);
    await Promise.race([c.ping(), deadline]);
    return c;
  } catch (err) {
    c.disconnect();
    throw new ConfigError(`cannot connect to the queue's Redis at ${describeSpec(spec).location}: ${errorMessage(err)}`);
  } finally {
    clearTimeout(timer);
  }
}

/** What is wrong with the queue's Redis memory settings (it must never evict queue keys); none when it will not say. */
export async function queueMemoryWarnings(redis: QueueConnection): Promise<string[]> {
  try {
    const info = parseInfo(await redis.info('memory'));
    return memoryWarnings({ usedMemory: 0, maxmemory: Number(info.get('maxmemory') ?? 0), policy: info.get('maxmemory_policy') ?? 'unknown', evictedKeys: 0 });
  } catch {
    return [];
  }
}
