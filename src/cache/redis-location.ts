/**
 * What the cache's opener needs to know of Redis before it connects: where a URL points and the
 * timeouts it connects with. Kept apart from the store (redis.ts), so that a run on the embedded
 * store or none never loads ioredis.
 */

export interface RedisTimeouts {
  connectTimeoutMs: number;
  commandTimeoutMs: number;
}

export const DEFAULT_TIMEOUTS: RedisTimeouts = { connectTimeoutMs: 3000, commandTimeoutMs: 10000 };

/** host:port[/db] of a redis URL, without credentials. */
export function redisLocation(url: string): string {
  const u = new URL(url);
  const db = u.pathname && u.pathname !== '/' ? u.pathname : '';
  return `${u.hostname}:${u.port || '6379'}${db}`;
}
