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
import { DdcolorError, unloadable, UsageError } from '../errors.js';
import { credentialsOf, redactSecrets, withEncodedCredentials } from '../redact.js';
import { FileStore, defaultCacheDir, type FileStoreOptions } from './file.js';
import { NoneStore } from './none.js';
import type { RedisOptions } from 'ioredis';
import type { RedisStore } from './redis.js';
import { DEFAULT_TIMEOUTS, redisLocation, type RedisTimeouts } from './redis-location.js';
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

/** Hosts after the credentials (which run to the last '@', see redact.ts): no '@' and no '/' in them. */
const MULTI_HOST = /^(rediss?-cluster|rediss?-sentinel):\/\/([^@/]+)(?:\/(.*))?$/;

/** Where a cache URL came from, for messages: the flag or the environment variable. */
export type CacheUrlSource = '--cache' | 'DDCOLOR_CACHE' | 'REDIS_URL' | '--redis' | '--queue-redis';

/** A usage error about a cache URL: names where it came from, never its credentials. */
function badUrl(source: CacheUrlSource, url: string, why: string): DdcolorError {
  return new UsageError(`${source} ${redactSecrets(url)}: ${why}`);
}

function validPort(port: number): boolean {
  return Number.isInteger(port) && port >= 1 && port <= 65535;
}

function parseHosts(list: string, url: string, source: CacheUrlSource): HostPort[] {
  return list.split(',').map((hp) => {
    const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(hp.trim());
    if (!m) throw badUrl(source, url, `"${hp}" is not host:port`);
    const port = m[2] ? Number(m[2]) : 6379;
    if (!validPort(port)) throw badUrl(source, url, `port ${m[2]} of "${hp}" is not from 1 to 65535`);
    return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
  });
}

/** A database index: a whole number from 0 (the server says how many it has). */
function parseDb(text: string, url: string, source: CacheUrlSource): number {
  if (!/^\d{1,9}$/.test(text)) throw badUrl(source, url, `the database must be a whole number such as 0 or 3, got "${text}"`);
  return Number(text);
}

function parseMultiHost(u: string, url: string, source: CacheUrlSource): CacheSpec {
  const c = credentialsOf(u)!;
  const m = MULTI_HOST.exec(`${c.scheme}${c.rest}`);
  if (!m) throw badUrl(source, url, 'expected redis-cluster://host:port[,host:port...] or redis-sentinel://host:port[,...]/<master name>');
  const [, scheme, hosts, path] = m;
  const tls = scheme!.startsWith('rediss');
  const creds = { ...(c.username ? { username: c.username } : {}), ...(c.password !== undefined ? { password: c.password } : {}) };
  if (scheme!.endsWith('cluster')) {
    if (path) throw badUrl(source, url, 'a cluster has only database 0: leave out the path');
    return { kind: 'redis-cluster', nodes: parseHosts(hosts!, url, source), tls, ...creds };
  }
  const [name, db, ...rest] = (path ?? '').split('/');
  if (!name) throw badUrl(source, url, "give the master's name, e.g. redis-sentinel://host:26379/mymaster");
  if (rest.length > 0) throw badUrl(source, url, 'expected redis-sentinel://host:port[,...]/<master name>[/db]');
  const dbNum = db ? parseDb(db, url, source) : 0;
  return { kind: 'redis-sentinel', sentinels: parseHosts(hosts!, url, source), name: decodeURIComponent(name), db: dbNum, tls, ...creds };
}

/** redis://[user:pass@]host:port[/db] (or rediss://): a valid URL, port and database index. */
function parseSingle(given: string, url: string, source: CacheUrlSource): CacheSpec {
  // Credentials with an unencoded '/', '@' or ':' are read whole and encoded for the URL parsers.
  const u = withEncodedCredentials(given);
  let parsed: URL;
  try {
    parsed = new URL(u);
  } catch {
    throw badUrl(source, url, 'not a valid URL: expected redis://[user:pass@]host:port[/db] with a port from 1 to 65535');
  }
  if (!parsed.hostname) throw badUrl(source, url, 'no host: expected redis://[user:pass@]host:port[/db]');
  if (parsed.port && !validPort(Number(parsed.port))) throw badUrl(source, url, `port ${parsed.port} is not from 1 to 65535`);
  const path = parsed.pathname.replace(/^\//, '');
  if (path) parseDb(path, url, source);
  return { kind: 'redis', url: u };
}

/** Parse a cache URL; throws a usage error that says what was expected, naming `source`. */
export function parseCacheUrl(url: string, source: CacheUrlSource = '--cache'): CacheSpec {
  const u = url.trim();
  if (u === 'none') return { kind: 'none' };
  if (u.startsWith('file:')) {
    let dir = u.slice('file:'.length);
    if (dir.startsWith('//')) dir = new URL(u).pathname;
    if (dir.length === 0) throw badUrl(source, url, 'file: needs a folder, e.g. file:/var/cache/ddcolor');
    return { kind: 'file', dir: resolve(dir) };
  }
  if (u.startsWith('redis://') || u.startsWith('rediss://')) return parseSingle(u, url, source);
  if (/^rediss?-(cluster|sentinel):\/\//.test(u)) return parseMultiHost(u, url, source);
  throw badUrl(
    source,
    url,
    'expected redis://[user:pass@]host:port[/db], rediss://…, redis-cluster://host:port[,…], redis-sentinel://host:port[,…]/<master>, file:<dir> or none',
  );
}

export function defaultCacheSpec(env: NodeJS.ProcessEnv = process.env): CacheSpec {
  if (env.DDCOLOR_CACHE) return parseCacheUrl(env.DDCOLOR_CACHE, 'DDCOLOR_CACHE');
  if (env.REDIS_URL) return parseCacheUrl(env.REDIS_URL, 'REDIS_URL');
  return { kind: 'file', dir: defaultCacheDir(env) };
}

export function resolveCacheSpec(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): CacheSpec {
  return flag !== undefined ? parseCacheUrl(flag) : defaultCacheSpec(env);
}

export interface OpenCacheOptions {
  timeouts?: RedisTimeouts;
  file?: FileStoreOptions;
  /** With Redis: keep a local first level (cache/tiered.ts) in this folder (the embedded store's, usually). */
  localLevel?: string;
}

/** The shared store with its local first level when asked for; the shared store alone when the local disk cannot hold one. */
async function withLocalLevel(store: RedisStore, options: OpenCacheOptions): Promise<CacheStore> {
  if (!options.localLevel) return store;
  try {
    const { TieredStore } = await import('./tiered.js');
    return await TieredStore.open(store, options.localLevel);
  } catch {
    return store;
  }
}

function openTimeout(options: OpenCacheOptions): number {
  return (options.timeouts ?? DEFAULT_TIMEOUTS).connectTimeoutMs * 2;
}

type ClusterSpec = Extract<CacheSpec, { kind: 'redis-cluster' }>;
type SentinelSpec = Extract<CacheSpec, { kind: 'redis-sentinel' }>;

/** A cluster node's credentials and TLS, from the URL (the cache's and the queue's connections alike). */
export function clusterNodeOptions(spec: ClusterSpec): RedisOptions {
  return {
    ...(spec.username ? { username: spec.username } : {}),
    ...(spec.password ? { password: spec.password } : {}),
    ...(spec.tls ? { tls: {} } : {}),
  };
}

/** The Sentinels, the master's name, database, credentials and TLS, from the URL. */
export function sentinelOptions(spec: SentinelSpec): RedisOptions {
  return {
    sentinels: spec.sentinels,
    name: spec.name,
    db: spec.db,
    ...(spec.username ? { username: spec.username } : {}),
    ...(spec.password ? { password: spec.password } : {}),
    ...(spec.tls ? { tls: {}, enableTLSForSentinelMode: true } : {}),
    sentinelRetryStrategy: (times: number) => Math.min(200 * times, 2000),
  };
}

/** Open (connect to) the cache; rejects when it cannot be reached or created. */
export async function openCache(spec: CacheSpec, options: OpenCacheOptions = {}): Promise<CacheStore> {
  switch (spec.kind) {
    case 'none':
      return new NoneStore();
    case 'file':
      return new FileStore(spec.dir, options.file).open();
    default:
      return openRedis(spec, options);
  }
}

/** A Redis cache: ioredis is loaded here, by the runs that use one (an install that cannot load it is a ConfigError, not a dead server). */
async function openRedis(spec: Exclude<CacheSpec, { kind: 'none' } | { kind: 'file' }>, options: OpenCacheOptions): Promise<CacheStore> {
  const { RedisStore } = await import('./redis.js').catch((err: unknown) => {
    throw unloadable('ioredis', 'talks to Redis', err);
  });
  switch (spec.kind) {
    case 'redis':
      return withLocalLevel(await RedisStore.single(spec.url, options.timeouts ?? DEFAULT_TIMEOUTS).open(openTimeout(options)), options);
    case 'redis-cluster': {
      return withLocalLevel(await RedisStore.cluster(spec.nodes, clusterNodeOptions(spec), describeSpec(spec).location, options.timeouts ?? DEFAULT_TIMEOUTS).open(openTimeout(options)), options);
    }
    case 'redis-sentinel': {
      return withLocalLevel(await RedisStore.sentinel(sentinelOptions(spec), describeSpec(spec).location, options.timeouts ?? DEFAULT_TIMEOUTS).open(openTimeout(options)), options);
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
