/**
 * The README's JSON shapes are the tested truth: one schema per command that prints `--json`.
 * Each schema must agree with the command's TypeScript type (checked by the compiler), parse
 * the command's real output with no key left over, and parse the README's example for it, whose
 * keys must cover every key of the schema. A key added to an output without the README, or a
 * README example that drifts from the output, fails here.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import * as z from 'zod';
import type { CacheStats } from '../src/cache/store.js';
import type { DoctorReport } from '../src/cli/doctor.js';
import type { ModelListing } from '../src/cli/models.js';
import { SAFE_NAME } from '../src/fleet/jobs.js';
import { WORKER_NAME } from '../src/fleet/records.js';
import type { QueueStatus } from '../src/fleet/status.js';
import type { Submission } from '../src/fleet/submit.js';
import type { VerifyResult } from '../src/models/install.js';
import { tintModel } from '../src/models/tiny-model.js';
import { reportSchema, totalsSchema } from '../src/report/schema.js';
import { ALBUM, ROOT, cleanup, runCli, startRedis, tempDir, type RedisServer } from './helpers.js';

const count = z.int().min(0);
const iso = z.iso.datetime();
const sha256 = z.string().regex(/^[0-9a-f]{64}$/);
const problem = z.object({ path: z.string(), reason: z.string() });

const submitSchema = z.object({
  run: z.string().regex(SAFE_NAME),
  queue: z.string(),
  outDir: z.string(),
  photos: count,
  upToDate: count,
  queued: count,
  jobs: count,
  alreadyQueued: count,
  retried: count,
  problems: z.array(problem),
  warnings: z.array(z.object({ message: z.string(), losesJobs: z.boolean() })),
});

const queueStatusSchema = z.object({
  queue: z.string(),
  jobs: z.object({ waiting: count, active: count, delayed: count, completed: count, failed: count }),
  workers: z.array(z.object({ name: z.string().regex(WORKER_NAME), online: z.boolean(), photos: count })),
  runs: z.array(
    z.object({
      run: z.string().regex(SAFE_NAME),
      outDir: z.string(),
      submittedAt: iso,
      finishedAt: iso.nullable(),
      jobs: count,
      finishedJobs: count,
      photos: count,
      upToDate: count,
      totals: totalsSchema,
      finished: z.boolean(),
      error: z.string().nullable(),
      photosPerSecond: z.number().min(0).nullable(),
      etaSeconds: count.nullable(),
    }),
  ),
  problems: z.array(z.object({ key: z.string(), reason: z.string() })),
});

const cacheStatsSchema = z.object({
  backend: z.enum(['redis', 'file', 'none']),
  location: z.string(),
  entries: count,
  bytes: count,
  hits: count,
  misses: count,
  hitRate: z.number().min(0).max(1).nullable(),
  byModel: z.array(z.object({ modelId: z.string(), size: count, entries: count, bytes: count })),
  redis: z.object({ usedMemory: count, maxmemory: count, policy: z.string(), evictedKeys: count }).nullable(),
  maxBytes: count.nullable(),
  warnings: z.array(z.string()),
});

const invalidateSchema = z.object({ removed: count, scope: z.string() });
const pruneSchema = z.object({ removed: count, kept: z.array(z.string()).nullable(), evicted: count.nullable(), bytes: count.nullable() });

const doctorSchema = z.object({
  ok: z.boolean(),
  checks: z.array(z.object({ name: z.string(), status: z.enum(['ok', 'warn', 'fail']), detail: z.string(), fix: z.string().nullable() })),
});

const modelsListSchema = z.object({
  home: z.string(),
  default: z.string().nullable(),
  models: z.array(
    z.object({
      name: z.string(),
      description: z.string(),
      inputSize: count.nullable(),
      precision: z.string().nullable(),
      bytes: count.nullable(),
      sha256: sha256.nullable(),
      checksum: z.string(),
      license: z.string().nullable(),
      url: z.string(),
      installed: z.boolean(),
      path: z.string().nullable(),
      default: z.boolean(),
    }),
  ),
});

const modelsPullSchema = z.object({
  name: z.string(),
  file: z.string(),
  sha256,
  bytes: count,
  url: z.string(),
  installedAt: iso,
  checksum: z.enum(['catalog', 'given', 'recorded']),
  path: z.string(),
  already: z.boolean(),
  default: z.boolean(),
});

const modelsVerifySchema = z.array(z.object({ name: z.string(), path: z.string(), ok: z.boolean(), expected: z.string(), got: sha256.nullable(), reason: z.string().nullable() }));

// Each schema says what the command's type says (the compiler checks both ways).
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const agree: [
  Same<z.output<typeof submitSchema>, Submission>,
  Same<z.output<typeof queueStatusSchema>, QueueStatus>,
  Same<z.output<typeof cacheStatsSchema>, CacheStats>,
  Same<z.output<typeof doctorSchema>, DoctorReport>,
  Same<z.output<typeof modelsListSchema>, ModelListing>,
  Same<z.output<typeof modelsVerifySchema>, VerifyResult[]>,
] = [true, true, true, true, true, true];
void agree;

const SHAPES: Record<string, z.ZodType> = {
  report: reportSchema,
  submit: submitSchema,
  'queue-status': queueStatusSchema,
  'cache-stats': cacheStatsSchema,
  'cache-invalidate': invalidateSchema,
  'cache-prune': pruneSchema,
  doctor: doctorSchema,
  'models-list': modelsListSchema,
  'models-pull': modelsPullSchema,
  'models-verify': modelsVerifySchema,
};

/** Parsed by the schema with nothing dropped: no key the schema (and so the README) does not name. */
function assertShape(name: string, value: unknown): void {
  const parsed = SHAPES[name]!.safeParse(value);
  assert.ok(parsed.success, `${name}: ${parsed.success ? '' : JSON.stringify(parsed.error.issues.slice(0, 5))}`);
  assert.deepEqual(parsed.data, value, `${name}: keys the schema does not name`);
}

/** Every key path a schema names (`files[].code`), through optional, nullable and arrays. */
function schemaPaths(schema: z.ZodType, at = ''): string[] {
  const def = schema._zod.def as { type: string; innerType?: z.ZodType; element?: z.ZodType; shape?: Record<string, z.ZodType> };
  if (def.innerType) return schemaPaths(def.innerType, at);
  if (def.type === 'array' && def.element) return schemaPaths(def.element, `${at}[]`);
  if (def.type === 'object' && def.shape) return Object.entries(def.shape).flatMap(([k, v]) => [`${at}.${k}`, ...schemaPaths(v, `${at}.${k}`)]);
  return [];
}

/** Every key path a value holds, in the same notation. */
function valuePaths(value: unknown, at = ''): string[] {
  if (Array.isArray(value)) return value.flatMap((v) => valuePaths(v, `${at}[]`));
  if (typeof value === 'object' && value !== null) return Object.entries(value).flatMap(([k, v]) => [`${at}.${k}`, ...valuePaths(v, `${at}.${k}`)]);
  return [];
}

/** The README's example for `name`: the ```json block after its `<!-- json: name -->` marker. */
function readmeExample(readme: string, name: string): unknown {
  const m = new RegExp(`<!-- json: ${name} -->\\n\`\`\`json\\n([\\s\\S]*?)\\n\`\`\``).exec(readme);
  assert.ok(m, `README.md has no example marked <!-- json: ${name} -->`);
  return JSON.parse(m[1]!);
}

let redis: RedisServer;
let dir: string;
let model: string;
let server: Server;
let base: string;

before(async () => {
  redis = await startRedis();
  dir = await tempDir();
  model = join(dir, 'tint.onnx');
  await writeFile(model, tintModel(null));
  server = createServer((_req, res) => void readFile(model).then((b) => res.writeHead(200, { 'content-length': b.length }).end(b)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
after(async () => {
  server.close();
  await cleanup();
});

test("every README example parses with its command's schema, names every key the schema has, and no other", async () => {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  for (const [name, schema] of Object.entries(SHAPES)) {
    const example = readmeExample(readme, name);
    assertShape(name, example);
    const shown = new Set(valuePaths(example));
    const missing = schemaPaths(schema).filter((p) => !shown.has(p));
    assert.deepEqual(missing, [], `README's ${name} example does not show ${missing.join(', ')}`);
  }
});

test('the commands print exactly those shapes: colorize, cache, submit, queue status, models, doctor', async () => {
  const home = { DDCOLOR_HOME: join(dir, 'home'), XDG_CACHE_HOME: join(dir, 'cache') };
  const json = async (args: string[], env: Record<string, string> = {}): Promise<unknown> => {
    const r = await runCli([...args, '--json'], { ...home, ...env });
    assert.ok(r.code === 0 || args[0] === 'doctor', `${args.join(' ')}: exit ${r.code}\n${r.stderr}`);
    return JSON.parse(r.stdout);
  };
  const onRedis = ['--cache', redis.url];
  assertShape('report', await json(['colorize', ALBUM, '-o', join(dir, 'out'), '--model', model, '--size', '64', ...onRedis]));
  assertShape('cache-stats', await json(['cache', 'stats', ...onRedis]));
  assertShape('cache-stats', await json(['cache', 'stats']));
  const sha = createHash('sha256').update(await readFile(join(ALBUM, 'coins.png'))).digest('hex');
  assertShape('cache-invalidate', await json(['cache', 'invalidate', '--sha256', sha.slice(0, 9), ...onRedis]));
  assertShape('cache-prune', await json(['cache', 'prune', '--keep', model, ...onRedis]));
  assertShape('cache-prune', await json(['cache', 'prune', '--max-size', '1MB']));

  const submitted = await json(['submit', ALBUM, '-o', join(dir, 'fleet'), '--model', model, '--size', '64', '--redis', redis.url]);
  assertShape('submit', submitted);
  const status = (await json(['queue', 'status', '--redis', redis.url])) as QueueStatus;
  assertShape('queue-status', status);
  assert.equal(status.runs.length, 1, 'the run just submitted is listed');

  const modelSha = createHash('sha256').update(await readFile(model)).digest('hex');
  assertShape('models-pull', await json(['models', 'pull', `${base}/tint.onnx`, '--sha256', modelSha, '--name', 'tint', '--no-progress']));
  assertShape('models-list', await json(['models', 'list']));
  const verified = (await json(['models', 'verify'])) as VerifyResult[];
  assertShape('models-verify', verified);
  assert.equal(verified.length, 1);
  assertShape('doctor', await json(['doctor']));
});
