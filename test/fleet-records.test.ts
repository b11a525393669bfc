/**
 * The fleet's records of runs and outputs, on a real redis-server: when many workers finish a
 * run's last jobs at the same moment, the run's own job is taken exactly once (and writes the
 * combined report), and every job's totals are counted once. And every record is Redis data
 * that another program may have written: what is not ddcolor's is named and left out, never
 * counted, trusted, printed raw or allowed to stop `queue status` or `submit --wait`.
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { DamagedRecordError } from '../src/errors.js';
import { openQueueConnection, type QueueConnection } from '../src/fleet/connection.js';
import { DoneState } from '../src/fleet/done-state.js';
import { jobId } from '../src/fleet/jobs.js';
import { badKey, doneKey, runsKey, workersKey } from '../src/fleet/keys.js';
import { partPath, recordsPart, writeCombined, writePart } from '../src/fleet/parts.js';
import { RUN_JOB, type RunData } from '../src/fleet/records.js';
import { finishRun, runFlow, runProgress } from '../src/fleet/runs.js';
import { FlowProducer, Queue, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { PREFIX } from '../src/fleet/keys.js';
import { waitForRun } from '../src/fleet/wait.js';
import { cleanup, runCli, startRedis, tempDir, type RedisServer } from './helpers.js';

let conns: QueueConnection[] = [];
let server: RedisServer;

before(async () => {
  server = await startRedis();
  conns = await Promise.all(Array.from({ length: 4 }, () => openQueueConnection({ kind: 'redis', url: server.url })));
});
after(async () => {
  for (const c of conns) c.disconnect();
  await cleanup();
});

/** A run as `submit` adds it: its own job with `jobs` jobs of one photo each, each job's data a ddcolor job's. */
async function addFlow(queueName: string, run: string, outDir: string, jobs: number): Promise<void> {
  const flow = new FlowProducer({ connection: conns[3]!, prefix: PREFIX });
  const params = { modelId: 'c'.repeat(16), modelName: 'm.onnx', size: 64, format: 'png' as const, quality: 90, saturation: 1, skipColor: false, force: false, overwrite: false, ttlMs: 1000 };
  const parts = Array.from({ length: jobs }, (_, k) => ({ id: jobId(run, k), data: { run, outDir, params, files: [{ path: `/in/${k}.png`, rel: `${k}.png`, outputRel: `${k}.png`, format: 'png' as const, size: 1, mtimeMs: 1 }] } }));
  await flow.add(runFlow(queueName, { run, outDir, submittedAt: 1767225600000, jobs, photos: jobs, upToDate: 0 }, parts, { attempts: 1, backoffMs: 10 }));
  await flow.close();
  await conns[3]!.zadd(runsKey(queueName), 1767225600000, run);
}

/** Workers on connections of their own, each job returning what `result` says; closed by the caller. */
function workers(queueName: string, n: number, result: (job: Job) => unknown): Worker[] {
  return Array.from({ length: n }, () => new Worker(queueName, async (job) => result(job), { connection: (conns[0] as Redis).duplicate({ maxRetriesPerRequest: null }), prefix: PREFIX, concurrency: 4 }));
}

test('four workers finishing a run\'s jobs at once: the run\'s own job is taken exactly once, after the last, and every job\'s totals count once', async () => {
  const q = 'race';
  const result = { hit: 1, inferred: 0, skipped: 0, failed: 0, notProcessed: 0 };
  const runs = Array.from({ length: 10 }, (_, k) => `run-${'0'.repeat(15)}${k}`);
  const finishing = new Map<string, number>();
  const ws = workers(q, 4, (job) => {
    if (job.name !== RUN_JOB) return result;
    finishing.set(job.id!, (finishing.get(job.id!) ?? 0) + 1);
    return { hit: -1 };
  });
  const queue = new Queue(q, { connection: conns[2]!, prefix: PREFIX });
  try {
    for (const run of runs) await addFlow(q, run, '/x', 12);
    const guard = Date.now() + 60_000;
    while ([...finishing.values()].length < runs.length && Date.now() < guard) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(runs.map((r) => finishing.get(r)), runs.map(() => 1));
    for (const run of runs) {
      const p = (await runProgress(queue, run))!;
      // The run's own job returned something that is not totals: the children's totals are counted instead, and the value named.
      assert.deepEqual([p.finished, p.finishedJobs, p.jobs, p.totals.hit, p.totals.files], [true, 12, 12, 12, 12], run);
    }
  } finally {
    await Promise.all(ws.map((w) => w.close()));
    await queue.close();
  }
});

test('queue status with records another program wrote: they are named by key, left out of the counts, and never printed raw', async () => {
  const r = conns[0]!;
  const q = 'garbage';
  const good = `run-${'a'.repeat(16)}`;
  // A good run, two of whose finished jobs return totals that are not ddcolor's.
  await addFlow(q, good, '/out/good', 3);
  const ws = workers(q, 1, (job) => (job.name === RUN_JOB ? null : job.id!.endsWith('0') ? { hit: 2, inferred: 1, skipped: 0, failed: 0, notProcessed: 0 } : job.id!.endsWith('1') ? { hit: 'lots' } : 'not totals'));
  const queue = new Queue(q, { connection: conns[2]!, prefix: PREFIX });
  for (let until = Date.now() + 30_000; Date.now() < until && (await queue.getJobCountByTypes('completed')) < 3; ) await new Promise((res) => setTimeout(res, 50));
  await Promise.all(ws.map((w) => w.close()));
  // A run whose own job is not ddcolor's, and a run name that would climb out of its key.
  await queue.add(RUN_JOB, { run: 'run-bad', outDir: '/out/bad', jobs: 'many', photos: 9, upToDate: 0, submittedAt: 'yesterday' }, { jobId: 'run-bad' });
  await queue.close();
  await r.zadd(runsKey(q), 2, 'run-bad', 3, 'run-x:\u001b[2J');
  // Worker names and counts: one fine, one an escape sequence, one a count that is not a number.
  await r.hset(workersKey(q), { 'gpu-1.lan:4100': '12', '\u001b[31mred\u001b[0m': '5', 'gpu-2.lan:4200': 'NaN' });

  const json = await runCli(['queue', 'status', '--queue', q, '--redis', server.url, '--json']);
  assert.equal(json.code, 0, json.stderr);
  const s = JSON.parse(json.stdout) as { workers: Array<{ name: string; online: boolean; photos: number }>; runs: Array<{ run: string; totals: { files: number }; finishedJobs: number; jobs: number; submittedAt: string }>; problems: Array<{ key: string; reason: string }> };
  assert.deepEqual(s.workers, [{ name: 'gpu-1.lan:4100', online: false, photos: 12 }]);
  assert.deepEqual(s.runs.map((x) => [x.run, x.totals.files, x.finishedJobs, x.jobs, x.submittedAt]), [[good, 3, 3, 3, '2026-01-01T00:00:00.000Z']]);
  const keys = s.problems.map((p) => p.key).sort();
  const jobKey = (id: string): string => `${PREFIX}:${q}:${id}`;
  assert.deepEqual(keys, [jobKey('run-bad'), jobKey(good), jobKey(good), jobKey(good), runsKey(q), workersKey(q), workersKey(q)].sort());
  assert.match(s.problems.find((p) => p.key === jobKey('run-bad'))!.reason, /submittedAt: .*jobs: /);

  const text = await runCli(['queue', 'status', '--queue', q, '--redis', server.url]);
  assert.equal(text.code, 0, text.stderr);
  assert.doesNotMatch(text.stdout, /\u001b/, 'nothing from Redis reaches the terminal raw');
  assert.match(text.stdout, /4 completed, 0 failed/);
  assert.match(text.stdout, /not ddcolor's/);
  assert.ok(text.stdout.includes(`${jobKey('run-bad')}: submittedAt:`), text.stdout);
});

test('submit --wait on a run whose own job another program overwrote stops with the key named, instead of waiting forever', async () => {
  const q = 'garbage-wait';
  const run = 'run-overwritten';
  const queue = new Queue(q, { connection: conns[2]!, prefix: PREFIX });
  await queue.add(RUN_JOB, { run, outDir: '/out/w', jobs: 'NaN', photos: 2, upToDate: 0, submittedAt: 1 }, { jobId: run });
  await queue.close();
  const guard = AbortSignal.timeout(20_000);
  await assert.rejects(waitForRun(conns[0]!, q, run, '/out/w', { signal: guard, pollMs: 20 }), (err: unknown) => err instanceof DamagedRecordError && err.key === `${PREFIX}:${q}:${run}` && /jobs: /.test(err.message));
  assert.equal(guard.aborted, false);
});

test("the fleet's record of outputs: an entry that is not ddcolor's never claims a file, and a bad-input entry that is not one is ignored", async () => {
  const out = '/out/records';
  const r = conns[0]!;
  // A half entry claiming a user's file of this size and mtime as ddcolor's output: were it
  // believed, the user's file would be replaced as ddcolor's own.
  await r.hset(doneKey(out), 'family.png', JSON.stringify([{ output: 'family.png', outputSize: 4096, outputMtimeMs: 1700000000000 }]));
  const entry = { output: 'ok.png', input: '/in/ok.png', inputSize: 10, inputMtimeMs: 5, sha256: 'a'.repeat(64), modelId: 'b'.repeat(16), modelSize: 512, processing: 2, format: 'png', quality: 90, saturation: 1, outputSize: 20, outputMtimeMs: 6 };
  await r.hset(doneKey(out), 'ok.png', JSON.stringify([entry]));
  await r.hset(badKey(out), '/in/a.png', JSON.stringify({ size: 'big', mtimeMs: 1, error: 'x' }), '/in/b.png', JSON.stringify({ size: 3, mtimeMs: 1, error: 'not an image' }));
  const done = await (await new DoneState(r, out).load(['family.png', 'ok.png'])).loadBad(['/in/a.png', '/in/b.png']);
  assert.equal(done.describing('family.png', { size: 4096, mtimeMs: 1700000000000 }), undefined);
  assert.equal(done.get('family.png'), undefined);
  assert.deepEqual(done.get('ok.png'), entry);
  assert.equal(done.badInput('/in/a.png', { size: 0, mtimeMs: 1 }), undefined);
  assert.equal(done.badInput('/in/b.png', { size: 3, mtimeMs: 1 })?.error, 'not an image');
});

test('a report part that is not one: the combined report names it among its problems and keeps the other parts', async () => {
  const out = await tempDir();
  const run = 'run-parts';
  const model = { path: 'm.onnx', id: 'c'.repeat(16), inputSize: 512, device: null, note: null, testModel: null };
  const record = { input: '/in/a.png', output: join(out, 'a.png'), sha256: null, status: 'failed' as const, error: '/in/a.png: not an image', code: 'NOT_AN_IMAGE' };
  await writePart(out, run, 'submit', recordsPart(out, model, [record]));
  await mkdir(join(out, '.ddcolor-runs', run), { recursive: true });
  await writeFile(partPath(out, run, 'job-1'), JSON.stringify({ schema: 'ddcolor.report/v1', files: 'everything' }));
  const report = await writeCombined(out, run);
  assert.deepEqual(report.files, [record]);
  assert.equal(report.problems.length, 1);
  assert.equal(report.problems[0]!.path, partPath(out, run, 'job-1'));
  assert.match(report.problems[0]!.reason, /not a report part ddcolor wrote/);
});

test('submit --wait is woken by the queue\'s events: a worker finishing the run ends a wait whose heartbeat is ten minutes, and the run\'s lost job is reported', async () => {
  const q = 'events';
  const run = `run-${'e'.repeat(16)}`;
  const out = await tempDir();
  const model = { path: 'm.onnx', id: 'c'.repeat(16), inputSize: 512, device: 'cpu' as const, note: null, testModel: null };
  const result = { hit: 0, inferred: 1, skipped: 0, failed: 0, notProcessed: 0 };
  await addFlow(q, run, out, 2);
  const guard = AbortSignal.timeout(60_000);
  const waiting = waitForRun(conns[0]!, q, run, out, { pollMs: 600_000, signal: guard });
  // The waiter has looked once and sleeps; now a worker does the run's jobs (the second is lost) and finishes the run.
  await new Promise((resolve) => setTimeout(resolve, 500));
  const queue = new Queue(q, { connection: conns[3]!, prefix: PREFIX });
  const [worker] = workers(q, 1, async (job) => {
    if (job.name === RUN_JOB) return (await finishRun(queue, job, job.data as RunData, out)).totals;
    if (job.id!.endsWith('1')) throw new Error('the machine caught fire');
    const record = { input: '/in/0.png', output: join(out, '0.png'), sha256: 'd'.repeat(64), status: 'inferred' as const, error: null };
    await writePart(out, run, job.id!, recordsPart(out, model, [record]));
    return result;
  });
  try {
    const report = await waiting;
    assert.equal(guard.aborted, false, 'woken by the event, not by the heartbeat or the guard');
    assert.deepEqual([report?.totals.inferred, report?.totals.notProcessed], [1, 1]);
    assert.match(report!.files.find((f) => f.input === '/in/1.png')!.error ?? '', /not processed \(job run-e+-00001 failed: the machine caught fire\)/);
    const p = (await runProgress(queue, run))!;
    assert.deepEqual([p.finished, p.finishedJobs, p.totals.inferred, p.totals.notProcessed], [true, 2, 1, 1]);
  } finally {
    await worker!.close();
    await queue.close();
  }
});
