/**
 * Downloading a model with undici: to `<dest>.part`, resumed with an HTTP range request when a
 * previous download was cut off, redirects followed, and HTTP_PROXY / HTTPS_PROXY / NO_PROXY
 * honoured as curl and company proxies expect (undici's EnvHttpProxyAgent: plain forwarding for
 * http, a CONNECT tunnel for https). The size and SHA-256 are checked before the file is renamed
 * into place; a download that arrives short or altered is deleted and never used.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { mkdir, rename, rm, stat, truncate } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { dirname } from 'node:path';
import { EnvHttpProxyAgent, interceptors, stream, type Dispatcher } from 'undici';
import { ConfigError } from '../errors.js';
import { sha256File } from '../io/hash.js';
import { syncPath } from '../io/atomic-write.js';

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

const MAX_REDIRECTS = 5;

/**
 * The proxy settings of `env` (never the process's own when another is given), with timeouts and
 * redirects. An empty value means no proxy, as for curl.
 */
function dispatcherFor(env: NodeJS.ProcessEnv, timeoutMs: number): { agent: EnvHttpProxyAgent; dispatcher: Dispatcher } {
  const agent = new EnvHttpProxyAgent({
    httpProxy: env.http_proxy ?? env.HTTP_PROXY ?? '',
    httpsProxy: env.https_proxy ?? env.HTTPS_PROXY ?? '',
    noProxy: env.no_proxy ?? env.NO_PROXY ?? '',
    proxyTunnel: false,
    connectTimeout: timeoutMs,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
  return { agent, dispatcher: agent.compose(interceptors.redirect({ maxRedirections: MAX_REDIRECTS })) };
}

/** What went wrong on the way, in the words of the system (`getaddrinfo ENOTFOUND host`, `connect ECONNREFUSED …`). */
function reasonOf(err: unknown): string {
  const e = err as { message?: string; cause?: { message?: string } };
  return e.cause?.message ?? e.message ?? String(err);
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

/** Write all of `chunk` at the end of what `fd` holds (a write may take part of it). */
function writeAll(fd: number, chunk: Buffer): void {
  for (let off = 0; off < chunk.length; ) off += writeSync(fd, chunk, off, chunk.length - off);
}

/**
 * GET `url` into `part`, which holds `have` bytes of an earlier try (returns how many were kept):
 * appended to when the server resumes (206), started over when it sends the whole file (200).
 * Each chunk is written to the file as undici hands it over, synchronously, before the next: a
 * connection cut midway keeps every byte that arrived (a stream's buffer would be dropped with it).
 */
async function fetchInto(url: string, part: string, have: number, expected: number | null, dispatcher: Dispatcher, options: DownloadOptions): Promise<number> {
  const headers: Record<string, string> = { 'user-agent': 'ddcolor', ...(have > 0 ? { range: `bytes=${have}-` } : {}) };
  let code = 0;
  let resumedFrom = 0;
  let received = 0;
  let fd: number | null = null;
  try {
    await stream(url, { method: 'GET', headers, dispatcher, opaque: null }, ({ statusCode, headers: got }) => {
      code = statusCode;
      if (code !== 200 && code !== 206) return new Writable({ write: (_chunk, _enc, done) => done() });
      if (code === 200 && have > 0) options.onRestart?.('the server does not resume downloads (no range support): starting over');
      resumedFrom = received = code === 206 ? have : 0;
      const length = Number(got['content-length']);
      const total = Number.isFinite(length) && length > 0 ? resumedFrom + length : expected;
      const out = openSync(part, code === 206 ? 'a' : 'w');
      fd = out;
      return new Writable({
        write(chunk: Buffer, _enc, done) {
          try {
            writeAll(out, chunk);
          } catch (err) {
            done(err as Error);
            return;
          }
          received += chunk.length;
          options.onProgress?.({ received, total, resumedFrom });
          done();
        },
      });
    });
  } catch (err) {
    if (code === 0) throw new UnreachableError(url, reasonOf(err));
    if (fd !== null) throw new ConfigError(`download of ${url} was cut off after ${received} bytes (${reasonOf(err)}); run the same command again to resume`);
    throw new ConfigError(`download of ${url} failed: HTTP ${code} (${reasonOf(err)})`);
  } finally {
    if (fd !== null) closeSync(fd);
  }
  // The previous download was already complete: it is only verified.
  if (code === 416 && have > 0 && expected !== null && have === expected) return 0;
  if (code !== 200 && code !== 206) {
    const what = code === 404 ? 'not found (HTTP 404)' : code >= 300 && code < 400 ? `too many redirects (more than ${MAX_REDIRECTS})` : `HTTP ${code}`;
    throw new ConfigError(`download of ${url} failed: ${what}`);
  }
  return resumedFrom;
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
  const { agent, dispatcher } = dispatcherFor(env, timeoutMs);
  let resumedFrom: number;
  try {
    resumedFrom = await fetchInto(url, part, have, expected, dispatcher, options);
  } finally {
    await agent.destroy().catch(() => undefined);
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
  // On the disk before it has its name, and its name with it: a power cut never leaves a file that
  // passed its checks with other bytes.
  await syncPath(part);
  await rename(part, dest);
  await syncPath(dirname(dest));
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
