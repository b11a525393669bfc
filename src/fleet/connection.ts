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

/** A warning about the queue's Redis; `losesJobs` when its settings may evict queue keys (jobs would be lost). */
export interface QueueWarning {
  message: string;
  losesJobs: boolean;
}

/** Where the warnings already given for a server's memory settings are remembered. */
const WARNED_KEY = '{ddcolor}:warned';

/**
 * What is wrong with the queue's Redis memory settings (it must never evict queue keys); none when
 * it will not say. Each warning is given once per server and setting (remembered in the server
 * itself), except one whose setting loses jobs, which is given every time.
 */
export async function queueMemoryWarnings(redis: QueueConnection, onlyLosingJobs = false): Promise<QueueWarning[]> {
  try {
    const info = parseInfo(await redis.info('memory'));
    const maxmemory = Number(info.get('maxmemory') ?? 0);
    const policy = info.get('maxmemory_policy') ?? 'unknown';
    const out: QueueWarning[] = [];
    for (const message of memoryWarnings({ usedMemory: 0, maxmemory, policy, evictedKeys: 0 })) {
      const losesJobs = policy.split(',').some((p) => p.startsWith('allkeys-'));
      // Not shown (a quiet caller): not remembered as said either.
      if (onlyLosingJobs && !losesJobs) continue;
      const isNew = (await redis.sadd(WARNED_KEY, `${policy}|${maxmemory}|${message.slice(0, 40)}`)) === 1;
      if (losesJobs || isNew) out.push({ message, losesJobs });
    }
    return out;
  } catch {
    return [];
  }
}
