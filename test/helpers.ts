/**
 * Test helpers: temporary folders, real redis-server processes on free loopback ports, models
 * built by the tests themselves, and running the real CLI.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis, type RedisOptions } from 'ioredis';
import { FileStore } from '../src/cache/file.js';
import type { CacheStore } from '../src/cache/store.js';

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

/** Wait until a server on `port` answers PING (with `connect`: TLS settings, credentials). */
async function waitForPing(port: number, connect: Partial<RedisOptions> = {}, alive: () => boolean = () => true, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = new Redis({ port, host: '127.0.0.1', ...connect, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
    r.on('error', () => undefined);
    try {
      await r.connect();
      await r.ping();
      r.disconnect();
      return;
    } catch {
      r.disconnect();
      if (!alive() || Date.now() > deadline) throw new Error(`redis-server on port ${port} did not start`);
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

/** The test certificate authority: a self-signed certificate for 127.0.0.1 and localhost. */
export const TLS_DIR = join(ROOT, 'test', 'fixtures', 'tls');

export interface TlsRedisServer {
  port: number;
  stop(): Promise<void>;
}

/**
 * Start a real redis-server that speaks only TLS (no plain port), with the test certificate and
 * ACL users given as `--user` argument lists (e.g. `['alice', 'on', '>pw', '~ddcolor:*', '+@all']`).
 * The default user is disabled. Ready when an authenticated TLS PING answers.
 */
export interface TlsRedisOptions {
  /** ACL users as `--user` argument lists; with any, the default user is disabled. */
  users?: string[][];
  /** The credentials the readiness check uses. */
  probe?: { username: string; password: string };
  extra?: string[];
  port?: number;
}

export async function startTlsRedis(options: TlsRedisOptions = {}): Promise<TlsRedisServer> {
  const { users = [], probe, extra = [] } = options;
  const port = options.port ?? (await freePort());
  const dir = await tempDir('ddcolor-redis-tls-');
  const cert = join(TLS_DIR, 'localhost.crt');
  const args = ['--port', '0', '--tls-port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir];
  args.push('--tls-cert-file', cert, '--tls-key-file', join(TLS_DIR, 'localhost.key'), '--tls-ca-cert-file', cert, '--tls-auth-clients', 'no');
  if (users.length > 0) args.push('--user', 'default', 'off');
  for (const u of users) args.push('--user', ...u);
  args.push(...extra);
  const proc = spawn('redis-server', args, { stdio: 'ignore', cwd: dir });
  let exited = false;
  proc.on('exit', () => {
    exited = true;
  });
  const server: TlsRedisServer = {
    port,
    async stop() {
      if (exited) return;
      await new Promise<void>((res) => {
        proc.once('exit', () => res());
        proc.kill('SIGKILL');
      });
    },
  };
  cleanups.push(() => server.stop());
  await waitForPing(port, { ...(probe ?? {}), tls: { ca: await readFile(cert) } }, () => !exited);
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
    delete base.DDCOLOR_MODELS_MIRROR;
    // Never the developer's installed models or cache.
    base.DDCOLOR_HOME = join(tmpdir(), `ddcolor-test-home-${process.pid}`);
    base.XDG_CACHE_HOME = join(tmpdir(), `ddcolor-test-home-${process.pid}`, 'cache');
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

/** Start bin/ddcolor without waiting for it (to signal it); `done` resolves when it exits. */
export function spawnCli(args: string[]): { child: ReturnType<typeof spawn>; done: Promise<CliResult> } {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<CliResult>((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
  return { child, done };
}

export interface RedisCluster {
  nodes: RedisServer[];
  url: string;
  stop(): Promise<void>;
}

function run(cmd: string, args: string[], timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${out}`));
    });
  });
}

/** Join servers into a cluster with redis-cli and wait until every node agrees on every master. */
async function formCluster(ports: number[], cli: string[]): Promise<void> {
  await run('redis-cli', [...cli, '--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes']);
  const deadline = Date.now() + 20_000;
  for (;;) {
    const infos = await Promise.all(ports.map((p) => run('redis-cli', [...cli, '-p', String(p), 'cluster', 'info'])));
    const agreed = infos.every((i) => i.includes('cluster_state:ok') && i.includes(`cluster_known_nodes:${ports.length}`) && i.includes('cluster_slots_ok:16384'));
    if (agreed) {
      // Every node must also answer CLUSTER SLOTS with every master (gossip can lag behind the state).
      const slots = await Promise.all(ports.map((p) => run('redis-cli', [...cli, '-p', String(p), 'cluster', 'slots'])));
      if (slots.every((out) => ports.every((m) => out.includes(String(m))))) return;
    }
    if (Date.now() > deadline) throw new Error('cluster did not become ready');
    await new Promise((res) => setTimeout(res, 200));
  }
}

const CLUSTER_ARGS = (port: number): string[] => ['--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--cluster-node-timeout', '2000'];

/** A real 3-master Redis Cluster (no replicas) on free loopback ports. */
export async function startCluster(masters = 3): Promise<RedisCluster> {
  const nodes: RedisServer[] = [];
  for (let i = 0; i < masters; i++) {
    const port = await freePort();
    nodes.push(await startRedis(CLUSTER_ARGS(port), port));
  }
  await formCluster(nodes.map((n) => n.port), []);
  return {
    nodes,
    url: `redis-cluster://${nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}`,
    async stop() {
      for (const n of nodes) await n.stop();
    },
  };
}

/** The same over TLS only (clients and the cluster bus), with the test certificate. */
export async function startTlsCluster(masters = 3): Promise<{ ports: number[]; url: string }> {
  const ports: number[] = [];
  for (let i = 0; i < masters; i++) {
    const port = await freePort();
    await startTlsRedis({ port, extra: [...CLUSTER_ARGS(port), '--tls-cluster', 'yes'] });
    ports.push(port);
  }
  await formCluster(ports, ['--tls', '--cacert', join(TLS_DIR, 'localhost.crt')]);
  return { ports, url: `rediss-cluster://${ports.map((p) => `127.0.0.1:${p}`).join(',')}` };
}

export interface RedisSentinelSetup {
  master: RedisServer;
  replica: RedisServer;
  sentinel: RedisServer;
  name: string;
  url: string;
  /** The address the sentinel currently gives for the master. */
  masterPort(): Promise<number>;
}

/** A master, a replica and one Sentinel watching them (quorum 1, fast failover). */
export async function startSentinel(name = 'ddcolor-master'): Promise<RedisSentinelSetup> {
  const master = await startRedis();
  const replica = await startRedis(['--replicaof', '127.0.0.1', String(master.port)]);
  const dir = await tempDir('ddcolor-sentinel-');
  const port = await freePort();
  const conf = join(dir, 'sentinel.conf');
  await writeFile(
    conf,
    [
      `port ${port}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      `sentinel monitor ${name} 127.0.0.1 ${master.port} 1`,
      `sentinel down-after-milliseconds ${name} 1000`,
      `sentinel failover-timeout ${name} 5000`,
      `sentinel parallel-syncs ${name} 1`,
      '',
    ].join('\n'),
  );
  const proc = spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' });
  let exited = false;
  proc.on('exit', () => (exited = true));
  const sentinel: RedisServer = {
    port,
    url: `redis://127.0.0.1:${port}`,
    process: proc,
    async stop() {
      if (exited) return;
      await new Promise<void>((res) => {
        proc.once('exit', () => res());
        proc.kill('SIGKILL');
      });
    },
    client() {
      const c = new Redis({ port, host: '127.0.0.1' });
      c.on('error', () => undefined);
      return c;
    },
  };
  cleanups.push(() => sentinel.stop());
  await waitForPing(port);
  // Wait until the replica is in sync, so a failover has the data.
  const deadline = Date.now() + 15_000;
  for (;;) {
    const info = await run('redis-cli', ['-p', String(replica.port), 'info', 'replication']);
    if (/master_link_status:up/.test(info)) break;
    if (Date.now() > deadline) throw new Error('replica did not sync');
    await new Promise((res) => setTimeout(res, 100));
  }
  return {
    master,
    replica,
    sentinel,
    name,
    url: `redis-sentinel://127.0.0.1:${port}/${name}`,
    async masterPort() {
      const out = await run('redis-cli', ['-p', String(port), 'sentinel', 'get-master-addr-by-name', name]);
      return Number(out.trim().split('\n')[1]);
    },
  };
}

/** Resolve once `check` holds, asking every 100 ms; reject after `ms`. */
export async function until(check: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`not so within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The embedded store, with `beforeLookup` run as each lookup starts (after the run hashed its photos, before it decodes them). */
export async function storeWithHook(dir: string, beforeLookup: (keys: readonly string[]) => void): Promise<CacheStore> {
  const store = await new FileStore(dir).open();
  return new Proxy(store, {
    get(target, key) {
      if (key === 'getMany') {
        return (keys: readonly string[]) => {
          beforeLookup(keys);
          return target.getMany(keys);
        };
      }
      const value: unknown = Reflect.get(target, key);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}
