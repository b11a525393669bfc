/**
 * Downloading a model: to `<dest>.part`, resumed with an HTTP range request when a previous
 * download was cut off, redirects followed, HTTPS_PROXY / HTTP_PROXY (and NO_PROXY) honoured. The
 * size and SHA-256 are checked before the file is renamed into place; a download that arrives
 * short or altered is deleted and never used.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat, truncate } from 'node:fs/promises';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { dirname } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { ConfigError } from '../errors.js';
import { sha256File } from '../io/hash.js';

export interface DownloadProgress {
  received: number;
  total: number | null;
  resumedFrom: number;
}

export interface DownloadOptions {
  expectedBytes?: number | null;
  /** Required unless `allowUnverified`: the file's SHA-256. */
  sha256?: string | null;
  onProgress?: (p: DownloadProgress) => void;
  /** Called when the server ignored a range request and the download starts over. */
  onRestart?: (reason: string) => void;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

export interface DownloadResult {
  path: string;
  bytes: number;
  sha256: string;
  resumedFrom: number;
}

function proxyFor(url: URL, env: NodeJS.ProcessEnv): URL | null {
  const noProxy = (env.NO_PROXY ?? env.no_proxy ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (noProxy.some((n) => n === '*' || url.hostname === n || url.hostname.endsWith(n.startsWith('.') ? n : `.${n}`))) return null;
  const value = url.protocol === 'https:' ? env.HTTPS_PROXY ?? env.https_proxy : env.HTTP_PROXY ?? env.http_proxy;
  return value ? new URL(value) : null;
}

/** GET `url` (through a proxy when the environment says so), with extra headers. */
function get(url: URL, headers: Record<string, string>, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<IncomingMessage> {
  const proxy = proxyFor(url, env);
  return new Promise((resolve, reject) => {
    const fail = (err: Error): void => reject(err);
    if (proxy && url.protocol === 'https:') {
      // Tunnel through the proxy with CONNECT, then speak TLS to the server.
      const auth = proxy.username ? { 'proxy-authorization': `Basic ${Buffer.from(`${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`).toString('base64')}` } : {};
      const req = http.request({ host: proxy.hostname, port: proxy.port || 80, method: 'CONNECT', path: `${url.hostname}:${url.port || 443}`, headers: auth, timeout: timeoutMs });
      req.on('connect', (res, socket) => {
        if (res.statusCode !== 200) return fail(new Error(`proxy ${proxy.host} refused CONNECT: HTTP ${res.statusCode}`));
        const servername = isIP(url.hostname) ? undefined : url.hostname;
        const r = https.get(url, { headers, createConnection: () => tlsConnect({ socket, servername }), timeout: timeoutMs }, resolve);
        r.on('error', fail);
      });
      req.on('timeout', () => req.destroy(new Error(`proxy ${proxy.host} did not answer within ${timeoutMs} ms`)));
      req.on('error', fail);
      req.end();
      return;
    }
    const target = proxy
      ? { host: proxy.hostname, port: proxy.port || 80, path: url.href, headers: { ...headers, host: url.host } }
      : { host: url.hostname, port: url.port || (url.protocol === 'https:' ? 443 : 80), path: url.pathname + url.search, headers };
    const mod = url.protocol === 'https:' && !proxy ? https : http;
    const req = mod.get({ ...target, timeout: timeoutMs }, resolve);
    req.on('timeout', () => req.destroy(new Error(`${url.host} did not answer within ${timeoutMs} ms`)));
    req.on('error', fail);
  });
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

/** Download `url` to `dest`, verified; rejects with a message that says expected vs got. */
export async function download(url: string, dest: string, options: DownloadOptions = {}): Promise<DownloadResult> {
  const env = options.env ?? process.env;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const part = `${dest}.part`;
  await mkdir(dirname(dest), { recursive: true });
  let have = await sizeOf(part);
  const expected = options.expectedBytes ?? null;
  if (expected !== null && have > expected) {
    await truncate(part, 0);
    have = 0;
  }
  let current = new URL(url);
  let res: IncomingMessage;
  for (let redirects = 0; ; redirects++) {
    const headers: Record<string, string> = { 'user-agent': 'ddcolor', ...(have > 0 ? { range: `bytes=${have}-` } : {}) };
    try {
      res = await get(current, headers, env, timeoutMs);
    } catch (err) {
      throw new UnreachableError(url, (err as Error).message);
    }
    const code = res.statusCode ?? 0;
    if (code >= 300 && code < 400 && res.headers.location) {
      res.resume();
      if (redirects >= 5) throw new ConfigError(`download of ${url} failed: too many redirects`);
      current = new URL(res.headers.location, current);
      continue;
    }
    break;
  }
  const code = res.statusCode ?? 0;
  const resumedFrom = code === 206 ? have : 0;
  if (code === 416 && have > 0 && expected !== null && have === expected) {
    // The previous download was already complete: just verify it.
    res.resume();
  } else if (code === 200 || code === 206) {
    if (code === 200 && have > 0) {
      options.onRestart?.('the server does not resume downloads (no range support): starting over');
      await truncate(part, 0);
    }
    const lengthHeader = Number(res.headers['content-length']);
    const total = Number.isFinite(lengthHeader) && lengthHeader > 0 ? resumedFrom + lengthHeader : expected;
    let received = resumedFrom;
    const out = createWriteStream(part, { flags: code === 206 ? 'a' : 'w' });
    await new Promise<void>((resolve, reject) => {
      res.on('data', (chunk: Buffer) => {
        received += chunk.length;
        options.onProgress?.({ received, total, resumedFrom });
      });
      res.on('error', reject);
      res.on('aborted', () => reject(new Error('the connection was cut off')));
      res.on('close', () => {
        if (!res.complete) reject(new Error('the connection was cut off'));
      });
      out.on('error', reject);
      out.on('finish', resolve);
      res.pipe(out);
    }).catch(async (err: Error) => {
      // Keep every byte that arrived: flush the file (destroying it would drop buffered writes),
      // so the next attempt resumes from there.
      res.unpipe(out);
      await new Promise<void>((resolve) => out.end(resolve)).catch(() => undefined);
      throw new ConfigError(`download of ${url} was cut off after ${received} bytes (${err.message}); run the same command again to resume`);
    });
    if (res.complete === false) {
      throw new ConfigError(`download of ${url} was cut off after ${received} bytes; run the same command again to resume`);
    }
  } else {
    res.resume();
    const what = code === 404 ? 'not found (HTTP 404)' : `HTTP ${code}`;
    throw new ConfigError(`download of ${url} failed: ${what}`);
  }
  const bytes = await sizeOf(part);
  if (expected !== null && bytes !== expected) {
    if (bytes > expected) await rm(part, { force: true });
    throw new ConfigError(
      `download of ${url} has the wrong size: expected ${expected} bytes, got ${bytes}${bytes < expected ? '; run the same command again to resume' : '; deleted'}`,
    );
  }
  const sha256 = await sha256File(part);
  if (options.sha256 && sha256 !== options.sha256.toLowerCase()) {
    await rm(part, { force: true });
    throw new ConfigError(`download of ${url} is not the expected file: expected sha256 ${options.sha256}, got ${sha256}; deleted, nothing installed`);
  }
  await rename(part, dest);
  return { path: dest, bytes, sha256, resumedFrom };
}

/** The server could not be reached at all (no network, a name that does not resolve, a refused connection). */
export class UnreachableError extends ConfigError {
  constructor(
    readonly url: string,
    readonly reason: string,
    hint = '',
  ) {
    super(`download of ${url} failed: ${reason}${hint}`);
  }
}
