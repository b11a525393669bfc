/**
 * Choosing the cache: `--cache`, else $DDCOLOR_CACHE, else $REDIS_URL, else the embedded store.
 * URL forms:
 *   redis://[user:pass@]host:port[/db]       one server (rediss:// for TLS)
 *   redis-cluster://[user:pass@]host:port[,host:port...]          Redis Cluster (rediss-cluster:// for TLS)
 *   redis-sentinel://[user:pass@]host:port[,host:port...]/<master name>[/db]   Sentinel
 *   file:<dir>                                the embedded store
 *   none                                      no cache
 */
import { resolve } from 'node:path';
import { DdcolorError } from '../errors.js';
import { FileStore, defaultCacheDir, type FileStoreOptions } from './file.js';
import { NoneStore } from './none.js';
import type { RedisOptions } from 'ioredis';
import { RedisStore, DEFAULT_TIMEOUTS, redisLocation, type RedisTimeouts } from './redis.js';
import type { CacheStore } from './store.js';

export interface HostPort {
  host: string;
  port: number;
}

export type CacheSpec =
  | { kind: 'none' }
  | { kind: 'file'; dir: string }
  | { kind: 'redis'; url: string }
  | { kind: 'redis-cluster'; nodes: HostPort[]; tls: boolean; username?: string; password?: string }
  | { kind: 'redis-sentinel'; sentinels: HostPort[]; name: string; db: number; tls: boolean; username?: string; password?: string };

const MULTI_HOST = /^(rediss?-cluster|rediss?-sentinel):\/\/(?:([^@/]*)@)?([^/]+)(?:\/(.*))?$/;

function parseHosts(list: string, url: string): HostPort[] {
  return list.split(',').map((hp) => {
    const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(hp.trim());
    if (!m) throw new DdcolorError('usage', `--cache ${url}: "${hp}" is not host:port`);
    return { host: m[1]!.replace(/^\[|\]$/g, ''), port: m[2] ? Number(m[2]) : 6379 };
  });
}

function parseAuth(auth: string | undefined): { username?: string; password?: string } {
  if (!auth) return {};
  const i = auth.indexOf(':');
  const user = decodeURIComponent(i >= 0 ? auth.slice(0, i) : auth);
  const pass = i >= 0 ? decodeURIComponent(auth.slice(i + 1)) : undefined;
  if (pass === undefined) return { password: user };
  return { ...(user ? { username: user } : {}), password: pass };
}

function parseMultiHost(u: string, url: string): CacheSpec {
  const m = MULTI_HOST.exec(u);
  if (!m) throw new DdcolorError('usage', `--cache ${url}: expected redis-cluster://host:port[,host:port...] or redis-sentinel://host:port[,...]/<master name>`);
  const [, scheme, auth, hosts, path] = m;
  const tls = scheme!.startsWith('rediss');
  const creds = parseAuth(auth);
  if (scheme!.endsWith('cluster')) return { kind: 'redis-cluster', nodes: parseHosts(hosts!, url), tls, ...creds };
  const [name, db] = (path ?? '').split('/');
  if (!name) throw new DdcolorError('usage', `--cache ${url}: give the master's name, e.g. redis-sentinel://host:26379/mymaster`);
  const dbNum = db ? Number(db) : 0;
  if (!Number.isInteger(dbNum) || dbNum < 0) throw new DdcolorError('usage', `--cache ${url}: database must be a number`);
  return { kind: 'redis-sentinel', sentinels: parseHosts(hosts!, url), name: decodeURIComponent(name), db: dbNum, tls, ...creds };
}

/** Parse a cache URL; throws a usage error that says what was expected. */
export function parseCacheUrl(url: string): CacheSpec {
  const u = url.trim();
  if (u === 'none') return { kind: 'none' };
  if (u.startsWith('file:')) {
    let dir = u.slice('file:'.length);
    if (dir.startsWith('//')) dir = new URL(u).pathname;
    if (dir.length === 0) throw new DdcolorError('usage', `--cache ${url}: file: needs a folder, e.g. file:/var/cache/ddcolor`);
    return { kind: 'file', dir: resolve(dir) };
  }
  if (u.startsWith('redis://') || u.startsWith('rediss://')) {
    try {
      new URL(u);
    } catch {
      throw new DdcolorError('usage', `--cache ${url}: not a valid URL`);
    }
    return { kind: 'redis', url: u };
  }
  if (/^rediss?-(cluster|sentinel):\/\//.test(u)) return parseMultiHost(u, url);
  throw new DdcolorError(
    'usage',
    `--cache ${url}: expected redis://[user:pass@]host:port[/db], rediss://…, redis-cluster://host:port[,…], redis-sentinel://host:port[,…]/<master>, file:<dir> or none`,
  );
}

export function defaultCacheSpec(env: NodeJS.ProcessEnv = process.env): CacheSpec {
  const fromEnv = env.DDCOLOR_CACHE || env.REDIS_URL;
  if (fromEnv) return parseCacheUrl(fromEnv);
  return { kind: 'file', dir: defaultCacheDir(env) };
}

export function resolveCacheSpec(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): CacheSpec {
  return flag !== undefined ? parseCacheUrl(flag) : defaultCacheSpec(env);
}

export interface OpenCacheOptions {
  timeouts?: RedisTimeouts;
  file?: FileStoreOptions;
}

function openTimeout(options: OpenCacheOptions): number {
  return (options.timeouts ?? DEFAULT_TIMEOUTS).connectTimeoutMs * 2;
}

/** Open (connect to) the cache; rejects when it cannot be reached or created. */
export async function openCache(spec: CacheSpec, options: OpenCacheOptions = {}): Promise<CacheStore> {
  switch (spec.kind) {
    case 'none':
      return new NoneStore();
    case 'file':
      return new FileStore(spec.dir, options.file).open();
    case 'redis':
      return RedisStore.single(spec.url, options.timeouts ?? DEFAULT_TIMEOUTS).open(openTimeout(options));
    case 'redis-cluster': {
      const auth: RedisOptions = {
        ...(spec.username ? { username: spec.username } : {}),
        ...(spec.password ? { password: spec.password } : {}),
        ...(spec.tls ? { tls: {} } : {}),
      };
      return RedisStore.cluster(spec.nodes, auth, describeSpec(spec).location, options.timeouts ?? DEFAULT_TIMEOUTS).open(openTimeout(options));
    }
    case 'redis-sentinel': {
      const redisOptions: RedisOptions = {
        sentinels: spec.sentinels,
        name: spec.name,
        db: spec.db,
        ...(spec.username ? { username: spec.username } : {}),
        ...(spec.password ? { password: spec.password } : {}),
        ...(spec.tls ? { tls: {}, enableTLSForSentinelMode: true } : {}),
        sentinelRetryStrategy: (times: number) => Math.min(200 * times, 2000),
      };
      return RedisStore.sentinel(redisOptions, describeSpec(spec).location, options.timeouts ?? DEFAULT_TIMEOUTS).open(openTimeout(options));
    }
  }
}

/** Where a spec points, for reports and messages; never a password. */
export function describeSpec(spec: CacheSpec): { backend: CacheStore['backend']; location: string } {
  switch (spec.kind) {
    case 'none':
      return { backend: 'none', location: 'none' };
    case 'file':
      return { backend: 'file', location: spec.dir };
    case 'redis':
      return { backend: 'redis', location: redisLocation(spec.url) };
    case 'redis-cluster':
      return { backend: 'redis', location: `cluster ${spec.nodes.map((n) => `${n.host}:${n.port}`).join(',')}` };
    case 'redis-sentinel':
      return { backend: 'redis', location: `sentinel ${spec.sentinels.map((n) => `${n.host}:${n.port}`).join(',')}/${spec.name}${spec.db ? `/${spec.db}` : ''}` };
  }
}
