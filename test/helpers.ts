/**
 * Test helpers: temporary folders, real redis-server processes on free loopback ports, models
 * built by the tests themselves, and running the real CLI.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';

/** The project root (tests run from dist/test). */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const ALBUM = join(ROOT, 'samples', 'album');
export const BIN = join(ROOT, 'bin', 'ddcolor');

const cleanups: Array<() => Promise<void>> = [];

/** Run all registered cleanups (call from `after`). */
export async function cleanup(): Promise<void> {
  for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => undefined);
}

export async function tempDir(prefix = 'ddcolor-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface RedisServer {
  port: number;
  url: string;
  process: ChildProcess;
  stop(): Promise<void>;
  /** A client for inspecting the server directly. */
  client(): Redis;
}

async function waitForPing(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
    r.on('error', () => undefined);
    try {
      await r.connect();
      await r.ping();
      r.disconnect();
      return;
    } catch {
      r.disconnect();
      if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not start`);
      await new Promise((res) => setTimeout(res, 50));
    }
  }
}

/** Start a real redis-server on a free loopback port, with extra config arguments. */
export async function startRedis(extra: string[] = [], port?: number): Promise<RedisServer> {
  const p = port ?? (await freePort());
  const dir = await tempDir('ddcolor-redis-');
  const proc = spawn('redis-server', ['--port', String(p), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...extra], {
    stdio: 'ignore',
  });
  let exited = false;
  proc.on('exit', () => {
    exited = true;
  });
  const clients: Redis[] = [];
  const server: RedisServer = {
    port: p,
    url: `redis://127.0.0.1:${p}`,
    process: proc,
    async stop() {
      for (const c of clients.splice(0)) c.disconnect();
      if (exited) return;
      await new Promise<void>((res) => {
        proc.once('exit', () => res());
        proc.kill('SIGKILL');
      });
    },
    client() {
      const c = new Redis({ port: p, host: '127.0.0.1' });
      c.on('error', () => undefined);
      clients.push(c);
      return c;
    },
  };
  cleanups.push(() => server.stop());
  await waitForPing(p);
  return server;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run bin/ddcolor with arguments; never inherits the developer's cache or model settings. */
export function runCli(args: string[], env: Record<string, string> = {}, timeoutMs = 120_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const base: NodeJS.ProcessEnv = { ...process.env };
    delete base.DDCOLOR_CACHE;
    delete base.REDIS_URL;
    delete base.DDCOLOR_MODEL;
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`ddcolor ${args.join(' ')} timed out\n${stderr}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export async function writeModelFile(dir: string, name: string, bytes: Buffer): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, bytes);
  return path;
}
