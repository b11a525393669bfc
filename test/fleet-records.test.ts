/**
 * The fleet's records of runs and outputs, on a real redis-server: when many workers finish a
 * run's last jobs at the same moment, exactly one of them is told it finished the run (and writes
 * the combined report), and every job's totals are counted once. And every record is Redis data
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
import type { JobData } from '../src/fleet/jobs.js';
import { badKey, doneKey, runFinishedKey, runKey, runsKey, runTotalsKey, workersKey } from '../src/fleet/keys.js';
import { partPath, recordsPart, writeCombined, writePart } from '../src/fleet/parts.js';
import { finishJob, runProgress } from '../src/fleet/runs.js';
import { Queue, Worker } from 'bullmq';
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

test('workers finishing a run\'s last jobs at once: exactly one is told the run is finished', async () => {
  const result = { hit: 1, inferred: 0, skipped: 0, failed: 0, notProcessed: 0 };
  for (let k = 0; k < 40; k++) {
    const run = `run-race-${k}`;
    const data = { run } as JobData;
    await conns[0]!.hset(runKey('q', run), { outDir: '/x', jobs: '4', photos: '4', submittedAt: '1' });
    // Four workers, each on its own connection, finish the run's four jobs at the same moment.
    const last = await Promise.all(conns.map((c, i) => finishJob(c, 'q', data, `job-${i}`, result, `w${i}`, 1)));
    assert.equal(last.filter(Boolean).length, 1, `${run}: ${JSON.stringify(last)}`);
    // A job finished again (its worker was presumed dead) does not finish the run a second time.
    assert.equal(await finishJob(conns[0]!, 'q', data, 'job-0', result, 'w0', 0), false);
    const p = (await runProgress(conns[0]!, 'q', run))!;
    assert.deepEqual([p.finishedJobs, p.totals.hit], [4, 4]);
  }
});

test('queue status with records another program wrote: they are named by key, left out of the counts, and never printed raw', async () => {
  const r = conns[0]!;
  const q = 'garbage';
  const result = JSON.stringify({ hit: 2, inferred: 1, skipped: 0, failed: 0, notProcessed: 0 });
  // A good run, one of whose finished jobs has totals that are not ddcolor's.
  await r.hset(runKey(q, 'run-good'), { outDir: '/out/good', jobs: '3', photos: '9', submittedAt: '1767225600000' });
  await r.hset(runTotalsKey(q, 'run-good'), { 'run-good-00000': result, 'run-good-00001': '{"hit":"lots"}', 'run-good-00002': 'not json' });
  await r.sadd(runFinishedKey(q, 'run-good'), 'run-good-00000', 'run-good-00001', 'run-good-00002');
  // A run whose hash is not ddcolor's, and a run name that would climb out of its key.
  await r.hset(runKey(q, 'run-bad'), { outDir: '/out/bad', jobs: 'many', photos: '9', submittedAt: 'yesterday' });
  await r.zadd(runsKey(q), 1, 'run-good', 2, 'run-bad', 3, 'run-x:\u001b[2J');
  // Worker names and counts: one fine, one an escape sequence, one a count that is not a number.
  await r.hset(workersKey(q), { 'gpu-1.lan:4100': '12', '\u001b[31mred\u001b[0m': '5', 'gpu-2.lan:4200': 'NaN' });

  const json = await runCli(['queue', 'status', '--queue', q, '--redis', server.url, '--json']);
  assert.equal(json.code, 0, json.stderr);
  const s = JSON.parse(json.stdout) as { workers: Array<{ name: string; online: boolean; photos: number }>; runs: Array<{ run: string; totals: { files: number }; finishedJobs: number; jobs: number; submittedAt: string }>; problems: Array<{ key: string; reason: string }> };
  assert.deepEqual(s.workers, [{ name: 'gpu-1.lan:4100', online: false, photos: 12 }]);
  assert.deepEqual(s.runs.map((x) => [x.run, x.totals.files, x.finishedJobs, x.jobs, x.submittedAt]), [['run-good', 3, 3, 3, '2026-01-01T00:00:00.000Z']]);
  const keys = s.problems.map((p) => p.key).sort();
  assert.deepEqual(keys, [runKey(q, 'run-bad'), runTotalsKey(q, 'run-good'), runTotalsKey(q, 'run-good'), runsKey(q), workersKey(q), workersKey(q)].sort());
  assert.match(s.problems.find((p) => p.key === runKey(q, 'run-bad'))!.reason, /jobs: digits/);

  const text = await runCli(['queue', 'status', '--queue', q, '--redis', server.url]);
  assert.equal(text.code, 0, text.stderr);
  assert.doesNotMatch(text.stdout, /\u001b/, 'nothing from Redis reaches the terminal raw');
  assert.match(text.stdout, /0 completed, 0 failed/);
  assert.match(text.stdout, /not ddcolor's/);
  assert.ok(text.stdout.includes(`${runKey(q, 'run-bad')}: submittedAt: digits; jobs: digits`), text.stdout);
});

test('submit --wait on a run whose record another program overwrote stops with the key named, instead of waiting forever', async () => {
  const q = 'garbage-wait';
  const run = 'run-overwritten';
  await conns[0]!.hset(runKey(q, run), { outDir: '/out/w', jobs: 'NaN', photos: '2', submittedAt: '1' });
  const guard = AbortSignal.timeout(20_000);
  await assert.rejects(waitForRun(conns[0]!, q, run, '/out/w', { signal: guard, pollMs: 20 }), (err: unknown) => err instanceof DamagedRecordError && err.key === runKey(q, run) && /jobs: digits/.test(err.message));
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

test('submit --wait is woken by the queue\'s events: the run\'s last job completing ends a wait whose heartbeat is ten minutes', async () => {
  const q = 'events';
  const run = 'run-events';
  const out = await tempDir();
  const model = { path: 'm.onnx', id: 'c'.repeat(16), inputSize: 512, device: 'cpu' as const, note: null, testModel: null };
  const result = { hit: 0, inferred: 1, skipped: 0, failed: 0, notProcessed: 0 };
  await conns[0]!.hset(runKey(q, run), { outDir: out, jobs: '1', photos: '1', submittedAt: String(Date.now()) });
  const guard = AbortSignal.timeout(60_000);
  const waiting = waitForRun(conns[0]!, q, run, out, { pollMs: 600_000, signal: guard });
  // The waiter has looked once and sleeps; now a worker does the run's one job.
  await new Promise((resolve) => setTimeout(resolve, 500));
  const worker = new Worker(
    q,
    async (job) => {
      const record = { input: '/in/a.png', output: join(out, 'a.png'), sha256: 'd'.repeat(64), status: 'inferred' as const, error: null };
      await writePart(out, run, job.id!, recordsPart(out, model, [record]));
      await finishJob(conns[1]!, q, { run } as JobData, job.id!, result, 'w1', 1);
      return result;
    },
    { connection: await openQueueConnection({ kind: 'redis', url: server.url }), prefix: PREFIX },
  );
  const queue = new Queue(q, { connection: conns[3]!, prefix: PREFIX });
  try {
    await queue.add('photos', {}, { jobId: `${run}-00000` });
    const report = await waiting;
    assert.equal(guard.aborted, false, 'woken by the event, not by the heartbeat or the guard');
    assert.equal(report?.totals.inferred, 1);
  } finally {
    await worker.close();
    await queue.close();
  }
});
