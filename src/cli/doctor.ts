/**
 * `ddcolor doctor`: one screen that tells a new user what works here, and what to do about what
 * does not. Exit 0 when `colorize` can run, 1 otherwise. onnxruntime, sharp and ioredis are each
 * loaded by their own check, so an install that cannot load one is told as such, not a crash.
 */
import { cudaAdvice, findCudaStack, type CudaStack } from '../inference/cuda-libs.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { cacheKey } from '../cache/keys.js';
import { describeSpec, openCache, resolveCacheSpec } from '../cache/open.js';
import { ConfigError, errorMessage } from '../errors.js';
import { modelDirectory } from '../models/catalog.js';
import { verifyModels } from '../models/install.js';
import { locateModel } from '../models/locate.js';
import { resolveInputSize } from '../inference/presets.js';
import { inspectModel } from '../inference/model-info.js';
import { tintModel } from '../models/tiny-model.js';
import { colorize } from '../pipeline/index.js';
import { packageVersion } from '../version.js';
import { formatDuration } from './parse.js';
import { printOut } from './output.js';

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface Check {
  name: string;
  status: CheckStatus;
  detail: string;
  /** What to do about it, when it is not ok. */
  fix?: string;
}

/** A check as `doctor --json` prints it: every key present, `fix` null when there is nothing to do. */
export interface CheckResult extends Omit<Check, 'fix'> {
  fix: string | null;
}

export interface DoctorReport {
  ok: boolean;
  checks: CheckResult[];
}

/**
 * On a machine with an NVIDIA driver: its CUDA version, the runtimes found, and whether the
 * libraries the CUDA provider loads are there (with how to add them). Null without a driver.
 */
export function cudaLibrariesCheck(stack: CudaStack): Check | null {
  if (!stack.driver) return null;
  const runtimes = stack.runtimes.length > 0 ? `CUDA runtime ${stack.runtimes.join(', ')} found` : 'no CUDA runtime found';
  const about = `driver ${stack.driver} (CUDA ${stack.driverCudaMajor ?? '?'}), ${runtimes}`;
  const advice = cudaAdvice(stack);
  return advice
    ? { name: 'CUDA libraries', status: 'warn', detail: `${about}; the CUDA 12 provider lacks ${stack.missing.join(', ')}`, fix: advice }
    : { name: 'CUDA libraries', status: 'ok', detail: `${about}; the CUDA 12 provider's libraries are all there` };
}

const REINSTALL = "reinstall ddcolor's dependencies: npm ci in its folder";

/** onnxruntime and its providers; a failed check when this install cannot load it. */
async function onnxruntime(dir: string): Promise<Check[]> {
  try {
    const ort = await import('onnxruntime-node');
    return [{ name: 'onnxruntime', status: 'ok', detail: `onnxruntime-node ${ort.env.versions.node ?? ort.env.versions.common}` }, ...(await providers(dir))];
  } catch (err) {
    return [{ name: 'onnxruntime', status: 'fail', detail: `onnxruntime-node cannot be loaded: ${errorMessage(err)}`, fix: REINSTALL }];
  }
}

/** sharp, what it reads and writes; a failed check when this install cannot load it. */
async function sharpCheck(): Promise<Check> {
  try {
    const { default: sharp } = await import('sharp');
    const inputs = Object.entries(sharp.format).filter(([, f]) => f.input.file).map(([k]) => k);
    const outputs = Object.entries(sharp.format).filter(([, f]) => f.output.file).map(([k]) => k);
    return { name: 'sharp', status: 'ok', detail: `sharp ${sharp.versions.sharp}, libvips ${sharp.versions.vips}; reads ${inputs.join(' ')}; writes ${outputs.join(' ')}` };
  } catch (err) {
    return { name: 'sharp', status: 'fail', detail: `sharp cannot be loaded: ${errorMessage(err)}`, fix: REINSTALL };
  }
}

async function providers(dir: string): Promise<Check[]> {
  const { CUDA_INSTALL_HELP, cudaProviderInstalled, openSession } = await import('../inference/session.js');
  const path = join(dir, 'probe.onnx');
  await writeFile(path, tintModel(32));
  const checks: Check[] = [];
  const probe = await inspectModel(path);
  try {
    const s = await openSession(probe, 'cpu');
    await s.run(new Float32Array(3 * 32 * 32), 1, 32);
    await s.release();
    checks.push({ name: 'CPU provider', status: 'ok', detail: 'loads and runs' });
  } catch (err) {
    checks.push({ name: 'CPU provider', status: 'fail', detail: errorMessage(err), fix: 'reinstall: npm ci' });
  }
  const stack = findCudaStack();
  if (!cudaProviderInstalled()) {
    checks.push({ name: 'CUDA provider', status: 'warn', detail: 'not installed (CPU only)', fix: process.platform === 'linux' && process.arch === 'x64' ? CUDA_INSTALL_HELP : 'CUDA is available for Linux x64 only' });
  } else {
    try {
      const s = await openSession(probe, 'cuda');
      await s.release();
      checks.push({ name: 'CUDA provider', status: 'ok', detail: 'loads' });
    } catch (err) {
      checks.push({ name: 'CUDA provider', status: 'warn', detail: `installed but does not load: ${errorMessage(err)}`, fix: cudaAdvice(stack) ?? 'check the NVIDIA driver, CUDA 12 and cuDNN 9' });
    }
  }
  const libraries = cudaLibrariesCheck(stack);
  if (libraries) checks.push(libraries);
  return checks;
}

async function cacheCheck(): Promise<Check> {
  let spec;
  try {
    spec = resolveCacheSpec(undefined);
  } catch (err) {
    return { name: 'cache', status: 'fail', detail: errorMessage(err), fix: 'fix DDCOLOR_CACHE or REDIS_URL' };
  }
  const where = describeSpec(spec);
  const label = `${where.backend} ${where.location}`;
  if (spec.kind === 'none') return { name: 'cache', status: 'warn', detail: 'none: every run infers every photo', fix: 'unset DDCOLOR_CACHE to use the embedded store' };
  const t = performance.now();
  try {
    const store = await openCache(spec, { timeouts: { connectTimeoutMs: 2000, commandTimeoutMs: 3000 } });
    try {
      await store.getMany([cacheKey('doctor', 1, '0'.repeat(64))]);
      const ms = performance.now() - t;
      // Opened without a local level, a Redis cache is the RedisStore itself.
      const redis = store.backend === 'redis' ? await import('../cache/redis.js') : null;
      if (redis && store instanceof redis.RedisStore) {
        const mem = await store.memoryInfo();
        const warnings = redis.memoryWarnings(mem);
        return {
          name: 'cache',
          status: warnings.length ? 'warn' : 'ok',
          detail: `${label} answers in ${ms.toFixed(1)} ms; maxmemory ${mem.maxmemory || 'unset'}, policy ${mem.policy}`,
          ...(warnings.length ? { fix: warnings.join('; ') } : {}),
        };
      }
      return { name: 'cache', status: 'ok', detail: `${label} answers in ${ms.toFixed(1)} ms` };
    } finally {
      await store.close();
    }
  } catch (err) {
    // An install that cannot load ioredis: colorize stops too.
    if (err instanceof ConfigError) return { name: 'cache', status: 'fail', detail: `${label}: ${errorMessage(err)}`, fix: REINSTALL };
    return { name: 'cache', status: 'warn', detail: `${label}: ${errorMessage(err)} (colorize would run without it)`, fix: 'start the server or fix the URL' };
  }
}

/** The model colorize would use, and a one-image smoke run with it; the run is not tried without sharp. */
async function smokeRun(dir: string, withSharp: boolean): Promise<Check[]> {
  const checks: Check[] = [];
  let modelPath: string | null = null;
  try {
    const located = locateModel(undefined, await modelDirectory());
    const model = await inspectModel(located.path);
    modelPath = located.path;
    const detail = `${located.name ?? located.path} (id ${model.id}, ${model.fixedSize ? `fixed ${model.fixedSize}px` : 'any size'})`;
    checks.push(
      located.warning
        ? { name: 'colorize model', status: 'warn', detail: `${detail}: ${located.warning}`, fix: 'ddcolor models pull tiny-512-int8' }
        : { name: 'colorize model', status: 'ok', detail },
    );
    if (!withSharp) {
      checks.push({ name: 'smoke run', status: 'fail', detail: 'not run: sharp cannot be loaded', fix: REINSTALL });
      return checks;
    }
    const { default: sharp } = await import('sharp');
    const photo = join(dir, 'smoke.png');
    const gray = Buffer.alloc(64 * 48);
    for (let i = 0; i < gray.length; i++) gray[i] = (i * 7) % 256;
    await sharp(gray, { raw: { width: 64, height: 48, channels: 1 } }).png().toFile(photo);
    const { size } = resolveInputSize(model, 'person', undefined);
    const t = performance.now();
    const r = await colorize({ paths: [photo], outDir: join(dir, 'out'), model, size, device: 'auto', batchSize: 1, concurrency: 1, cache: { kind: 'none' }, ttlMs: 0, format: 'png', quality: 90, force: false });
    const ok = r.totals.inferred === 1;
    checks.push({
      name: 'smoke run',
      status: ok ? 'ok' : 'fail',
      detail: ok ? `one photo colorized at ${size}px on ${r.model.device?.toUpperCase()} in ${formatDuration(performance.now() - t)}` : r.files[0]?.error ?? 'failed',
    });
  } catch (err) {
    checks.push({ name: modelPath ? 'smoke run' : 'colorize model', status: 'fail', detail: errorMessage(err), fix: 'ddcolor models pull tiny-512-int8' });
  }
  return checks;
}

/** Each installed model verified; a registry that cannot be read is a failed check of its own. */
async function installedModels(): Promise<Check[]> {
  try {
    return (await verifyModels()).map((v) => ({
      name: `model ${v.name}`,
      status: v.ok ? 'ok' : 'fail',
      detail: v.ok ? `verified: ${v.path}` : v.reason ?? 'does not verify',
      ...(v.ok ? {} : { fix: `ddcolor models pull ${v.name} --force` }),
    }));
  } catch (err) {
    return [{ name: 'installed models', status: 'fail', detail: errorMessage(err), fix: 'repair installed.json, or move it aside and pull the models again' }];
  }
}

export async function runDoctor(): Promise<DoctorReport> {
  const checks: Check[] = [];
  const dir = await mkdtemp(join(tmpdir(), 'ddcolor-doctor-'));
  try {
    const major = Number(process.versions.node.split('.')[0]);
    checks.push({ name: 'Node', status: major >= 20 ? 'ok' : 'fail', detail: process.version, ...(major >= 20 ? {} : { fix: 'install Node.js 20 or later' }) });
    checks.push({ name: 'ddcolor', status: 'ok', detail: packageVersion() });
    checks.push(...(await onnxruntime(dir)));
    const sharp = await sharpCheck();
    checks.push(sharp);
    checks.push(await cacheCheck());

    checks.push(...(await installedModels()));

    // The model colorize would use, and a one-image smoke run with it (which needs sharp).
    checks.push(...(await smokeRun(dir, sharp.status === 'ok')));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return { ok: !checks.some((c) => c.status === 'fail'), checks: checks.map((c) => ({ ...c, fix: c.fix ?? null })) };
}

export function renderDoctor(r: DoctorReport): string {
  const mark = { ok: '✓', warn: '!', fail: '✗' } as const;
  const lines = r.checks.map((c) => `${mark[c.status]} ${c.name.padEnd(16)} ${c.detail}${c.fix ? `\n  ${' '.repeat(16)} → ${c.fix}` : ''}`);
  lines.push('', r.ok ? 'ddcolor colorize can run here.' : 'ddcolor colorize cannot run here yet: see ✗ above.');
  return lines.join('\n') + '\n';
}

export function doctorCommand(): Command {
  return new Command('doctor')
    .description('check what works here: Node, onnxruntime and its providers, sharp, the cache, models, a smoke run')
    .option('--json', 'print the checks as JSON')
    .action(async (flags: { json?: boolean }) => {
      const r = await runDoctor();
      printOut(flags.json ? JSON.stringify(r, null, 2) + '\n' : renderDoctor(r));
      process.exitCode = r.ok ? 0 : 1;
    });
}
