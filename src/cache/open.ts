/**
 * Choosing the cache: `--cache`, else $DDCOLOR_CACHE, else $REDIS_URL, else the embedded store.
 * URL forms: `redis://[user:pass@]host:port[/db]`, `rediss://…` (TLS), `file:<dir>`, `none`.
 */
import { resolve } from 'node:path';
import { DdcolorError } from '../errors.js';
import { FileStore, defaultCacheDir, type FileStoreOptions } from './file.js';
import { NoneStore } from './none.js';
import { RedisStore, DEFAULT_TIMEOUTS, type RedisTimeouts } from './redis.js';
import type { CacheStore } from './store.js';

export type CacheSpec =
  | { kind: 'none' }
  | { kind: 'file'; dir: string }
  | { kind: 'redis'; url: string };

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
  throw new DdcolorError(
    'usage',
    `--cache ${url}: expected redis://[user:pass@]host:port[/db], rediss://…, file:<dir> or none`,
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

/** Open (connect to) the cache; rejects when it cannot be reached or created. */
export async function openCache(spec: CacheSpec, options: OpenCacheOptions = {}): Promise<CacheStore> {
  switch (spec.kind) {
    case 'none':
      return new NoneStore();
    case 'file':
      return new FileStore(spec.dir, options.file).open();
    case 'redis':
      return RedisStore.fromUrl(spec.url, options.timeouts ?? DEFAULT_TIMEOUTS).open();
  }
}

/** Where a spec points, for reports and messages; never a password. */
export function describeSpec(spec: CacheSpec): { backend: CacheStore['backend']; location: string } {
  switch (spec.kind) {
    case 'none':
      return { backend: 'none', location: 'none' };
    case 'file':
      return { backend: 'file', location: spec.dir };
    case 'redis': {
      const u = new URL(spec.url);
      return { backend: 'redis', location: `${u.hostname}:${u.port || '6379'}${u.pathname && u.pathname !== '/' ? u.pathname : ''}` };
    }
  }
}
