/**
 * Downloading a model with undici: to `<dest>.part`, resumed with an HTTP range request when a
 * previous download was cut off, redirects followed, and HTTP_PROXY / HTTPS_PROXY / NO_PROXY
 * honoured as curl and company proxies expect (undici's EnvHttpProxyAgent: plain forwarding for
 * http, a CONNECT tunnel for https). The size and SHA-256 are checked before the file is renamed
 * into place; a download that arrives short or altered is deleted and never used.
 */
import { mkdir, open, rename, rm, stat, truncate } from 'node:fs/promises';
import { dirname } from 'node:path';
import { EnvHttpProxyAgent, interceptors, request, type Dispatcher } from 'undici';
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
  const e = err as { message?: string; code?: string; cause?: { message?: string } };
  const message = e.cause?.message ?? e.message ?? String(err);
  return e.code && !message.includes(e.code) ? `${message} (${e.code})` : message;
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

/**
 * GET `url` into `part`, which holds `have` bytes of an earlier try (returns how many were kept): appended to when the server
 * resumes (206), started over when it sends the whole file (200). Every chunk is written before
 * the next is read, so a cut connection keeps every byte that arrived.
 */
async function fetchInto(url: string, part: string, have: number, expected: number | null, dispatcher: Dispatcher, options: DownloadOptions): Promise<number> {
  const headers: Record<string, string> = { 'user-agent': 'ddcolor', ...(have > 0 ? { range: `bytes=${have}-` } : {}) };
  let res: Dispatcher.ResponseData;
  try {
    res = await request(url, { headers, dispatcher });
  } catch (err) {
    throw new UnreachableError(url, reasonOf(err));
  }
  const code = res.statusCode;
  if (code === 416 && have > 0 && expected !== null && have === expected) {
    // The previous download was already complete: just verify it.
    await res.body.dump();
    return 0;
  }
  if (code !== 200 && code !== 206) {
    await res.body.dump();
    const what = code === 404 ? 'not found (HTTP 404)' : code >= 300 && code < 400 ? `too many redirects (more than ${MAX_REDIRECTS})` : `HTTP ${code}`;
    throw new ConfigError(`download of ${url} failed: ${what}`);
  }
  if (code === 200 && have > 0) options.onRestart?.('the server does not resume downloads (no range support): starting over');
  const resumedFrom = code === 206 ? have : 0;
  const lengthHeader = Number(res.headers['content-length']);
  const total = Number.isFinite(lengthHeader) && lengthHeader > 0 ? resumedFrom + lengthHeader : expected;
  let received = resumedFrom;
  const file = await open(part, code === 206 ? 'a' : 'w');
  try {
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      await file.writeFile(chunk); // all of it, from the current position
      received += chunk.length;
      options.onProgress?.({ received, total, resumedFrom });
    }
  } catch (err) {
    throw new ConfigError(`download of ${url} was cut off after ${received} bytes (${reasonOf(err)}); run the same command again to resume`);
  } finally {
    await file.close();
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
