/**
 * A queue job is input from the network: whoever can write to the Redis can add one. These tests
 * add jobs straight to the queue (as a stray script or an attacker would) and run a real worker
 * (the library's, on a real redis-server) with input and output roots of its own. A hostile job
 * is refused whole or photo by photo, and nothing outside the roots is read, written or deleted.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdir, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { openQueueConnection, type QueueConnection } from '../src/fleet/connection.js';
import { jobId, type JobData } from '../src/fleet/jobs.js';
import { RUN_JOB } from '../src/fleet/records.js';
import { runFlow } from '../src/fleet/runs.js';
import { badKey, PREFIX, runsKey } from '../src/fleet/keys.js';
import { startWorker, type FleetWorker, type WorkerEvent } from '../src/fleet/worker.js';
import { resolveRoots } from '../src/io/roots.js';
import { inspectModel, type ModelInfo } from '../src/inference/model-info.js';
import { tintModel } from '../src/models/tiny-model.js';
import { CAMERAMAN } from './fixtures.js';
import { cleanup, runCli, spawnCli, startRedis, tempDir, type RedisServer } from './helpers.js';

let dir: string;
let redis: RedisServer;
let conn: QueueConnection;
let model: ModelInfo;
let inputs: string;
let outputs: string;
let outside: string;
let worker: FleetWorker;
const events: WorkerEvent[] = [];
const QUEUE = 'trust';

before(async () => {
  dir = await tempDir();
  redis = await startRedis();
  conn = await openQueueConnection({ kind: 'redis', url: redis.url });
  await writeFile(join(dir, 'tint.onnx'), tintModel(null));
  model = await inspectModel(join(dir, 'tint.onnx'));
  inputs = join(dir, 'archive');
  outputs = join(dir, 'colour');
  outside = join(dir, 'outside');
  for (const d of [inputs, outputs, outside]) await mkdir(d, { recursive: true });
  await copyFile(CAMERAMAN, join(inputs, 'a.png'));
  await copyFile(CAMERAMAN, join(outside, 'secret.png'));
  await writeFile(join(outside, 'victim.txt'), 'not ddcolor\'s');
  worker = startWorker({
    redis: conn,
    queue: QUEUE,
    model,
    device: 'cpu',
    roots: await resolveRoots([inputs], [outputs]),
    cache: { kind: 'none' },
    concurrency: 1,
    threads: 1,
    onEvent: (e) => events.push(e),
  });
});
after(async () => {
  await worker?.stop();
  conn?.disconnect();
  await cleanup();
});

function goodJob(outDir = join(outputs, 'run1')): JobData {
  return {
    run: 'run-0123456789abcdef',
    outDir,
    params: { modelId: model.id, modelName: 'tint.onnx', size: 64, format: 'png', quality: 90, saturation: 1, skipColor: false, force: false, overwrite: false, ttlMs: 60_000 },
    files: [{ path: join(inputs, 'a.png'), rel: 'a.png', outputRel: 'a.png', format: 'png', size: 1, mtimeMs: 1 }],
  };
}

/** Add a job as anyone with the Redis could; resolves to how it ended and why. */
async function runJob(data: unknown, id: string): Promise<{ state: string; reason: string }> {
  const queue = new Queue(QUEUE, { connection: conn, prefix: PREFIX });
  try {
    const job = await queue.add('x', data, { jobId: id, attempts: 3 });
    // (A test may poll: a job refused at once can fail before an event listener is ready.)
    let state = await job.getState();
    for (const until = Date.now() + 60_000; state !== 'completed' && state !== 'failed' && Date.now() < until; state = await job.getState()) await new Promise((r) => setTimeout(r, 50));
    const again = await queue.getJob(id);
    return { state, reason: again?.failedReason ?? '' };
  } finally {
    await queue.close();
  }
}

async function filesUnder(root: string): Promise<string[]> {
  return (await readdir(root, { recursive: true })).map(String).sort();
}

test('a good job is done: the worker writes inside its output root', async () => {
  const r = await runJob(goodJob(), 'good-1');
  assert.equal(r.state, 'completed', r.reason);
  assert.ok((await stat(join(outputs, 'run1', 'a.png'))).size > 0);
});

test('an output path that climbs out of the job\'s folder is refused whole: nothing written anywhere', async () => {
  const before = await filesUnder(dir);
  const data = goodJob();
  data.files[0]!.outputRel = '../../outside/pwned.png';
  const r = await runJob(data, 'climb-1');
  assert.equal(r.state, 'failed');
  assert.match(r.reason, /refused: .*pwned\.png: not a plain relative path/);
  assert.deepEqual(await filesUnder(dir), before, 'no file added or removed');
  assert.ok(events.some((e) => e.type === 'job-refused' && e.id === 'climb-1'), 'the worker says so');
});

test('overwrite with an output named ../victim.txt: refused, the file is left as it was', async () => {
  const data = goodJob(join(outputs, 'x'));
  data.params.overwrite = true;
  data.files[0]!.outputRel = '../../outside/victim.txt';
  data.files[0]!.format = 'png';
  const r = await runJob(data, 'victim-1');
  assert.equal(r.state, 'failed');
  assert.equal(await readFile(join(outside, 'victim.txt'), 'utf8'), 'not ddcolor\'s');
});

test('an output that is not an image of its format is refused (no .txt, no .ddcolor-* names)', async () => {
  for (const [i, rel] of ['victim.txt', '.ddcolor-runs/x.png', 'sub/./a.png', 'a\\..\\b.png'].entries()) {
    const data = goodJob();
    data.files[0]!.outputRel = rel;
    const r = await runJob(data, `name-${i}`);
    assert.equal(r.state, 'failed', rel);
    assert.match(r.reason, /^refused: /, rel);
  }
});

test('a run name that climbs out (../../x) is refused by the schema; so is data that is not a job', async () => {
  const data = goodJob();
  data.run = '../../x';
  const r = await runJob(data, 'runname-1');
  assert.equal(r.state, 'failed');
  assert.match(r.reason, /refused: not a ddcolor job \(run: letters, digits/);
  assert.deepEqual(await readdir(dir).then((n) => n.filter((x) => x === 'x')), []);
  const junk = await runJob({ hello: 'world' }, 'junk-1');
  assert.equal(junk.state, 'failed');
  assert.match(junk.reason, /refused: not a ddcolor job/);
  const extra = await runJob({ ...goodJob(), evil: true }, 'extra-1');
  assert.equal(extra.state, 'failed', 'unknown fields are refused too');
});

test('an output folder outside the output roots is refused; so is one reached through a link', async () => {
  const r = await runJob(goodJob(join(outside, 'out')), 'outdir-1');
  assert.equal(r.state, 'failed');
  assert.match(r.reason, /outside this worker's output roots/);
  await symlink(outside, join(outputs, 'link'));
  const viaLink = await runJob(goodJob(join(outputs, 'link', 'out')), 'outdir-2');
  assert.equal(viaLink.state, 'failed');
  assert.match(viaLink.reason, /it leads to /);
  const relative = await runJob(goodJob('colour/run1'), 'outdir-3');
  assert.equal(relative.state, 'failed');
  assert.deepEqual(await readdir(outside).then((n) => n.sort()), ['secret.png', 'victim.txt']);
});

test('a sub-folder of the output folder that links out is refused: nothing written through it', async () => {
  const out = join(outputs, 'run-sub');
  await mkdir(out, { recursive: true });
  await symlink(outside, join(out, 'sub'));
  const data = goodJob(out);
  data.files[0]!.outputRel = 'sub/pwned.png';
  const r = await runJob(data, 'sublink-1');
  assert.equal(r.state, 'failed');
  assert.match(r.reason, /does not write through a link/);
  assert.deepEqual(await readdir(outside).then((n) => n.sort()), ['secret.png', 'victim.txt']);
});

test('an input outside the input roots is not read: that photo fails, naming why; the others are done', async () => {
  const data = goodJob(join(outputs, 'run-in'));
  data.files.push({ path: join(outside, 'secret.png'), rel: 'secret.png', outputRel: 'secret.png', format: 'png', size: 1, mtimeMs: 1 });
  data.files.push({ path: `${inputs}/../outside/secret.png`, rel: 'b.png', outputRel: 'b.png', format: 'png', size: 1, mtimeMs: 1 });
  await symlink(join(outside, 'secret.png'), join(inputs, 'link.png'));
  data.files.push({ path: join(inputs, 'link.png'), rel: 'link.png', outputRel: 'link.png', format: 'png', size: 1, mtimeMs: 1 });
  const r = await runJob(data, 'input-1');
  assert.equal(r.state, 'completed', r.reason);
  assert.deepEqual(await readdir(join(outputs, 'run-in')).then((n) => n.filter((x) => !x.startsWith('.'))), ['a.png']);
  const part = JSON.parse(await readFile(join(outputs, 'run-in', '.ddcolor-runs', data.run, 'input-1.json'), 'utf8')) as { files: Array<{ input: string; status: string; error: string | null; code?: string; transient?: true }> };
  const failed = part.files.filter((f) => f.status === 'failed');
  assert.equal(failed.length, 3);
  for (const f of failed) assert.match(f.error ?? '', /outside this worker's input roots|not an absolute, plain path/);
  // A code scripts can rely on, as every failed record has; not transient: the job's retries would change nothing.
  assert.deepEqual(failed.map((f) => [f.code, f.transient]), Array(3).fill(['OUTSIDE_ROOTS', undefined]));
  assert.equal(await conn.exists(`${PREFIX}:bad:${join(outputs, 'run-in')}`), 0, 'not recorded as bad inputs: not the photos\' fault');
});

test('force and overwrite in a job never replace a file inside the input roots that ddcolor did not write', async () => {
  // The output folder is the archive itself (both roots), and the job aims a.png's output at b.png, an input.
  const both = join(dir, 'both');
  await mkdir(both);
  await copyFile(CAMERAMAN, join(both, 'a.png'));
  await writeFile(join(both, 'b.png'), 'precious scan');
  const own = startWorker({ redis: conn, queue: 'trust-both', model, device: 'cpu', roots: await resolveRoots([both], [both]), cache: { kind: 'none' }, concurrency: 1, threads: 1 });
  try {
    const data = goodJob(join(both, 'colour'));
    data.outDir = both;
    data.params.force = true;
    data.params.overwrite = true;
    data.files[0] = { path: join(both, 'a.png'), rel: 'a.png', outputRel: 'b.png', format: 'png', size: 1, mtimeMs: 1 };
    const queue = new Queue('trust-both', { connection: conn, prefix: PREFIX });
    const qe = new QueueEvents('trust-both', { connection: (conn as Redis).duplicate(), prefix: PREFIX });
    await qe.waitUntilReady();
    const job = await queue.add('x', data, { jobId: 'both-1' });
    await job.waitUntilFinished(qe, 60_000).catch(() => undefined);
    await qe.close();
    await queue.close();
    assert.equal(await readFile(join(both, 'b.png'), 'utf8'), 'precious scan');
  } finally {
    await own.stop();
  }
});

test('a .ddcolor-tmp that is a symbolic link is refused with a clear message; the folder it points to keeps its files', async () => {
  const out = join(dir, 'out-linked-tmp');
  await mkdir(out);
  const precious = join(dir, 'precious');
  await mkdir(precious);
  await writeFile(join(precious, 'keep.txt'), 'keep me');
  await symlink(precious, join(out, '.ddcolor-tmp'));
  const r = await runCli(['colorize', inputs, '-o', out, '--model', join(dir, 'tint.onnx'), '--cache', 'none', '--size', '64']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /\.ddcolor-tmp: is a symbolic link/);
  assert.deepEqual(await readdir(precious), ['keep.txt']);
});

test('the worker CLI refuses roots that do not exist, and names them', async () => {
  const r = await runCli(['worker', '--redis', redis.url, '--model', join(dir, 'tint.onnx'), '--input-root', join(dir, 'nope'), '--output-root', outputs]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /input root .*nope: no such folder/);
});

/** The ACL the README gives a fleet: ddcolor's keys and channel only, no admin or dangerous commands but INFO. */
export const FLEET_ACL = ['on', '>fleet-pass-1', 'resetkeys', '~ddcolor:*', '~{ddcolor}:*', 'resetchannels', '&ddcolor:*', '-@all', '+@read', '+@write', '+@keyspace', '+@list', '+@hash', '+@set', '+@sortedset', '+@string', '+@stream', '+@pubsub', '+@scripting', '+@transaction', '+@connection', '+@fast', '+@slow', '-@dangerous', '+info', '+client|setname', '+client|getname', '+client|list'];

test('a fleet under the README\'s ACL user (ddcolor\'s keys only): submit and worker do the whole run; other keys stay out of reach', async () => {
  const admin = redis.client();
  await admin.call('ACL', 'SETUSER', 'fleet', ...FLEET_ACL);
  await admin.set('payroll:2026', 'not yours');
  const url = `redis://fleet:fleet-pass-1@127.0.0.1:${redis.port}`;
  const out = join(outputs, 'acl');
  const src = join(inputs, 'acl-in');
  await mkdir(src);
  await copyFile(CAMERAMAN, join(src, 'a.png'));
  const w = spawnCli(['worker', '--redis', url, '--queue', 'acl', '--model', join(dir, 'tint.onnx'), '--threads', '1', '--input-root', inputs, '--output-root', outputs]);
  try {
    const r = await runCli(['submit', src, '-o', out, '--redis', url, '--queue', 'acl', '--model', join(dir, 'tint.onnx'), '--size', '64', '--wait', '--json'], {}, 120_000);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as { totals: { inferred: number; hit: number; failed: number } };
    assert.equal(report.totals.failed, 0, r.stdout);
    assert.ok((await stat(join(out, 'a.png'))).size > 0);
  } finally {
    w.child.kill('SIGTERM');
    const stopped = await w.done;
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.ok(!/NOPERM/.test(stopped.stderr), stopped.stderr);
  }
  const { Redis } = await import('ioredis');
  const asFleet = new Redis(url);
  await assert.rejects(asFleet.get('payroll:2026'), /NOPERM/);
  await assert.rejects(asFleet.flushall(), /NOPERM/);
  asFleet.disconnect();
});

test('a run\'s lost jobs are settled in its own folder only: a failed job in Redis that names the run but another folder writes nothing there', async () => {
  const { DelayedError, FlowProducer, Worker } = await import('bullmq');
  const queueName = 'trust-lost';
  const ours = goodJob(join(outputs, 'lost-ours'));
  const hostile = { ...goodJob(join(outside, 'planted')), run: ours.run };
  const flow = new FlowProducer({ connection: conn, prefix: PREFIX });
  await flow.add(runFlow(queueName, { run: ours.run, outDir: ours.outDir, submittedAt: Date.now(), jobs: 2, photos: 2, upToDate: 0 }, [{ id: jobId(ours.run, 0), data: ours }], { attempts: 1, backoffMs: 10 }));
  await flow.close();
  // Another program adds a job of its own to the run, naming another folder.
  const queue = new Queue(queueName, { connection: conn, prefix: PREFIX });
  await queue.add('x', hostile, { jobId: jobId(ours.run, 1), attempts: 1, parent: { id: ours.run, queue: `${PREFIX}:${queueName}` }, ignoreDependencyOnFailure: true });
  const failing = new Worker(queueName, async (job, token) => {
    if (job.name !== RUN_JOB) throw new Error('no worker finished it');
    // The run's own job is left for the worker below.
    await job.moveToDelayed(Date.now() + 300, token);
    throw new DelayedError();
  }, { connection: (conn as Redis).duplicate({ maxRetriesPerRequest: null }), prefix: PREFIX });
  await new Promise<void>((resolve) => {
    let n = 0;
    failing.on('failed', () => ++n === 2 && resolve());
  });
  await failing.close();
  // A worker with roots takes the run's own job and finishes the run.
  const finishing = startWorker({ redis: conn, queue: queueName, model, device: 'cpu', roots: await resolveRoots([inputs], [outputs]), cache: { kind: 'none' }, concurrency: 1, threads: 1 });
  try {
    const parent = (await queue.getJob(ours.run))!;
    for (let until = Date.now() + 30_000; (await parent.getState()) !== 'completed' && Date.now() < until; ) await new Promise((r) => setTimeout(r, 50));
    assert.equal(await parent.getState(), 'completed');
  } finally {
    await finishing.stop();
    await queue.close();
  }
  assert.ok((await stat(join(outputs, 'lost-ours', '.ddcolor-runs', ours.run, `${jobId(ours.run, 0)}.json`))).size > 0);
  const report = JSON.parse(await readFile(join(outputs, 'lost-ours', 'ddcolor-report.json'), 'utf8')) as { files: Array<{ input: string; status: string }> };
  assert.deepEqual(report.files.map((f) => f.status), ['not-processed'], 'only the photo of the run\'s own job');
  assert.deepEqual(await readdir(outside).then((n) => n.sort()), ['secret.png', 'victim.txt'], 'nothing written in the folder the hostile job named');
});

test('a run whose folder is outside the worker\'s roots: its jobs and its own job are refused, nothing is written, and submit --wait stops with the reason', async () => {
  const { FlowProducer } = await import('bullmq');
  const { waitForRun } = await import('../src/fleet/wait.js');
  const { RunFailedError } = await import('../src/errors.js');
  const planted = join(outside, 'planted-run');
  const data = { ...goodJob(planted), run: 'run-00000000000000aa' };
  const flow = new FlowProducer({ connection: conn, prefix: PREFIX });
  await flow.add(runFlow(QUEUE, { run: data.run, outDir: planted, submittedAt: Date.now(), jobs: 1, photos: 1, upToDate: 0 }, [{ id: jobId(data.run, 0), data }], { attempts: 1, backoffMs: 10 }));
  await flow.close();
  await conn.zadd(runsKey(QUEUE), Date.now(), data.run);
  const guard = AbortSignal.timeout(60_000);
  await assert.rejects(waitForRun(conn, QUEUE, data.run, planted, { signal: guard, pollMs: 200 }), (err: unknown) => err instanceof RunFailedError && /outside|not inside|root/i.test(err.reason));
  assert.equal(guard.aborted, false);
  assert.deepEqual(await readdir(outside).then((n) => n.sort()), ['secret.png', 'victim.txt'], 'nothing written outside the roots');
  const status = await runCli(['queue', 'status', '--queue', QUEUE, '--redis', redis.url]);
  assert.match(status.stdout, /run-00000000000000aa .*a worker could not finish it: refused: /);
});

test('a file of the user\'s at an output\'s place fails the photo as blocked, never as a bad input: moved away, the next job writes it', async () => {
  const out = join(outputs, 'blocked');
  await mkdir(out, { recursive: true });
  await writeFile(join(out, 'a.png'), 'the user\'s own file');
  const first = await runJob(goodJob(out), 'blocked-1');
  assert.equal(first.state, 'completed', first.reason);
  const part = JSON.parse(await readFile(join(out, '.ddcolor-runs', goodJob().run, 'blocked-1.json'), 'utf8')) as { files: Array<{ status: string; error: string | null; blocked?: boolean }> };
  assert.deepEqual([part.files[0]!.status, part.files[0]!.blocked], ['failed', true]);
  assert.match(part.files[0]!.error ?? '', /already exists and was not written by ddcolor/);
  assert.deepEqual(await conn.hgetall(badKey(out)), {}, 'not remembered as a bad input');
  assert.equal(await readFile(join(out, 'a.png'), 'utf8'), 'the user\'s own file', 'left as it is');
  await rm(join(out, 'a.png'));
  const second = await runJob(goodJob(out), 'blocked-2');
  assert.equal(second.state, 'completed', second.reason);
  assert.ok((await stat(join(out, 'a.png'))).size > 100, 'written once the place is free');
});
