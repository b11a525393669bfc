/**
 * The fleet for real, on loopback: a redis-server, three `ddcolor worker` processes and a
 * `ddcolor submit --wait` of 60 photos with duplicates and bad files; one worker is killed with
 * SIGKILL in the middle of a job. Redis reports every write of a cache entry (keyspace events),
 * which shows each distinct photo inferred and stored once across the fleet.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, statfsSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { KEY_PREFIX } from '../src/cache/keys.js';
import { openQueueConnection } from '../src/fleet/connection.js';
import { DoneState } from '../src/fleet/done-state.js';
import { badKey } from '../src/fleet/keys.js';
import { inspectModel } from '../src/inference/model-info.js';
import { colorizeFiles } from '../src/pipeline/index.js';
import { tintModel } from '../src/models/tiny-model.js';
import { distinctPhotos, truncatedJpeg } from './fixtures.js';
import { cleanup, runCli, spawnCli, startCluster, startRedis, tempDir, type CliResult, type RedisServer, until } from './helpers.js';

interface Report {
  totals: { files: number; hit: number; inferred: number; skipped: number; failed: number; notProcessed: number };
  files: Array<{ input: string; output: string | null; status: string; error: string | null; sha256: string | null; transient?: boolean; code?: string }>;
}

interface Status {
  jobs: { waiting: number; active: number; delayed: number; completed: number; failed: number };
  workers: Array<{ name: string; online: boolean; photos: number }>;
  runs: Array<{ run: string; jobs: number; finishedJobs: number; photos: number; totals: Report['totals']; finished: boolean }>;
}

let dir: string;
let album: string;
let model: string;
let redis: RedisServer;
const DISTINCT = 50;
const BAD = ['bad-text.jpg', 'bad-truncated.jpg', 'bad-empty.png', 'bad-garbage.tif'];

before(async () => {
  dir = await tempDir();
  model = join(dir, 'tint.onnx');
  await writeFile(model, tintModel(null));
  album = await distinctPhotos(dir, DISTINCT, 320, 6);
  // Six duplicates (same bytes under other names, one in a sub-folder) and four bad files: 60 photos.
  for (let i = 0; i < 6; i++) await copyFile(join(album, `photo-${String(i * 7).padStart(2, '0')}.png`), join(album, `copy-${i}.png`));
  await writeFile(join(album, BAD[0]!), 'not an image at all');
  await truncatedJpeg(join(album, BAD[1]!));
  await writeFile(join(album, BAD[2]!), '');
  await writeFile(join(album, BAD[3]!), Buffer.alloc(4000, 7));
  redis = await startRedis(['--notify-keyspace-events', 'E$', '--maxmemory', '256mb', '--maxmemory-policy', 'volatile-lru']);
});
after(cleanup);

/** Every file under `root`, relative, outside ddcolor's own hidden folders and files. */
async function outputs(root: string): Promise<string[]> {
  const all = await readdir(root, { recursive: true, withFileTypes: true });
  return all
    .filter((e) => e.isFile())
    .map((e) => relative(root, join(e.parentPath, e.name)))
    .filter((p) => !p.split('/').some((part) => part.startsWith('.')) && p !== 'ddcolor-report.json')
    .sort();
}

function worker(...extra: string[]): ReturnType<typeof spawnCli> {
  return spawnCli(['worker', '--input-root', dir, '--output-root', dir, '--redis', redis.url, '--model', model, '--lock-duration', '2s', '--concurrency', '2', '--threads', '1', ...extra]);
}

test('three workers, one killed mid-job: every good photo once and intact, each distinct one inferred once, bad files once, nothing redone', async () => {
  const out = join(dir, 'shared-out');
  // Count every write of a cache entry, by key.
  const events = redis.client();
  const sets = new Map<string, number>();
  await events.psubscribe('__keyevent@0__:set');
  events.on('pmessage', (_p: string, _c: string, key: string) => {
    if (key.startsWith(KEY_PREFIX)) sets.set(key, (sets.get(key) ?? 0) + 1);
  });

  const workers = [worker(), worker(), worker()];
  const victim = workers[0]!;
  // Kill the first worker with SIGKILL once it is inside its second job.
  let started = 0;
  const killed = new Promise<void>((resolve) => {
    victim.child.stderr!.on('data', (d: Buffer) => {
      started += (d.toString().match(/: job run-[0-9a-f]+-\d+: \d+ photos?/g) ?? []).length;
      if (started >= 2 && victim.child.exitCode === null) {
        setTimeout(() => {
          victim.child.kill('SIGKILL');
          resolve();
        }, 150);
      }
    });
  });
  const submitted = await runCli(['submit', album, '-o', out, '--redis', redis.url, '--model', model, '--size', '128', '--job-size', '4', '--wait', '--json'], {}, 240_000);
  await killed;
  assert.equal(submitted.code, 1, `exit 1: some photos failed\n${submitted.stderr}`);
  const report = JSON.parse(submitted.stdout) as Report;
  const good = DISTINCT + 6;

  // Every photo once in the combined report; the bad ones failed, each naming its file.
  assert.equal(report.files.length, good + BAD.length);
  assert.equal(new Set(report.files.map((f) => f.input)).size, report.files.length, 'no photo twice');
  assert.equal(report.totals.failed, BAD.length);
  for (const b of BAD) {
    const f = report.files.find((r) => r.input.endsWith(b))!;
    assert.equal(f.status, 'failed', b);
    assert.match(f.error ?? '', new RegExp(b.replace('.', '\\.')), `${b}: the error names the file`);
  }
  assert.equal(report.totals.hit + report.totals.inferred + report.totals.skipped, good);
  assert.equal(report.totals.notProcessed, 0);

  // Every good photo's output in the shared folder exactly once, and intact (decodes, its size).
  const made = await outputs(out);
  assert.equal(made.length, good, made.join('\n'));
  for (const rel of made) {
    const input = await sharp(join(album, rel)).metadata();
    const output = await sharp(join(out, rel)).metadata();
    assert.deepEqual([output.width, output.height], [input.width, input.height], rel);
    await sharp(join(out, rel)).raw().toBuffer(); // decodes to the end
  }

  // Each distinct photo's result stored once across the fleet (duplicates were hits, the killed
  // worker's finished photos were not redone).
  assert.equal(sets.size, DISTINCT, 'one cache entry per distinct photo');
  for (const [key, n] of sets) assert.equal(n, 1, `${key} written ${n} times`);

  // Bad files reported once each across all workers (not retried, not by the retried job either).
  for (const w of workers.slice(1)) w.child.kill('SIGTERM');
  const logs: CliResult[] = await Promise.all(workers.map((w) => w.done));
  const failedLines = logs.flatMap((l) => l.stderr.split('\n')).filter((l) => l.includes('failed: '));
  for (const b of BAD) assert.equal(failedLines.filter((l) => l.includes(b)).length, 1, `${b} reported once:\n${failedLines.join('\n')}`);
  assert.equal(logs[1]!.code, 0, 'SIGTERM: the worker finishes and exits 0');
  // The job the killed worker was in was finished by another worker (after BullMQ found it stalled).
  const startedByVictim = [...logs[0]!.stderr.matchAll(/: job (run-[0-9a-f]+-\d+): \d+ photos?/g)].map((m) => m[1]!);
  const doneByVictim = new Set([...logs[0]!.stderr.matchAll(/: job (run-[0-9a-f]+-\d+) done/g)].map((m) => m[1]!));
  const cut = startedByVictim.filter((id) => !doneByVictim.has(id));
  assert.equal(cut.length, 1, `one job cut short:\n${logs[0]!.stderr}`);
  assert.ok(logs.slice(1).some((l) => l.stderr.includes(`job ${cut[0]} done`)), `${cut[0]} finished by another worker`);
  assert.equal(logs[2]!.code, 0);

  // Queue status counts match the run.
  const status = JSON.parse((await runCli(['queue', 'status', '--redis', redis.url, '--json'])).stdout) as Status;
  const run = status.runs[0]!;
  assert.equal(run.finished, true);
  assert.equal(run.finishedJobs, run.jobs);
  assert.equal(status.jobs.completed, run.jobs + 1, "the run's jobs, and the run's own job");
  assert.equal(status.jobs.failed + status.jobs.waiting + status.jobs.active, 0);
  assert.equal(run.totals.failed, BAD.length);
  assert.equal(run.totals.hit + run.totals.inferred + run.totals.skipped + run.totals.failed, good + BAD.length);
  const byWorkers = status.workers.reduce((n, w) => n + w.photos, 0);
  assert.equal(byWorkers, report.totals.hit + report.totals.inferred, 'photos per worker add up to the photos colorized');

  // The same input again: no job, no inference, no write; the bad files are still reported.
  const again = await runCli(['submit', album, '-o', out, '--redis', redis.url, '--model', model, '--size', '128', '--job-size', '4', '--json']);
  assert.equal(again.code, 0, again.stderr);
  const s = JSON.parse(again.stdout) as { queued: number; jobs: number; upToDate: number; run: string };
  assert.deepEqual([s.queued, s.jobs, s.upToDate], [0, 0, good + BAD.length]);
  const second = JSON.parse((await runCli(['submit', album, '-o', out, '--redis', redis.url, '--model', model, '--size', '128', '--wait', '--json'])).stdout) as Report;
  assert.deepEqual([second.totals.skipped, second.totals.failed, second.totals.inferred, second.totals.hit], [good, BAD.length, 0, 0]);
  // Reported again from what the fleet remembers, each with the code it failed with.
  const codes = (r: Report): Array<string | undefined> => BAD.map((b) => r.files.find((f) => f.input.endsWith(b))!.code);
  assert.deepEqual(codes(report), ['NOT_AN_IMAGE', 'DAMAGED', 'EMPTY', 'NOT_AN_IMAGE']);
  assert.deepEqual(codes(second), codes(report));
  assert.equal([...sets.values()].reduce((a, b) => a + b, 0), DISTINCT, 'nothing stored again');
});

test('a worker with another model leaves the job to others and says so; submit without Redis is a usage error', async () => {
  const other = join(dir, 'other.onnx');
  await writeFile(other, tintModel(64));
  const out = join(dir, 'other-out');
  const w = spawnCli(['worker', '--input-root', dir, '--output-root', dir, '--redis', redis.url, '--queue', 'models', '--model', other]);
  const s = await runCli(['submit', join(album, 'photo-01.png'), '-o', out, '--redis', redis.url, '--queue', 'models', '--model', model, '--size', '128', '--json']);
  assert.equal(s.code, 0, s.stderr);
  // The same work again while its job waits: the same run, nothing added.
  const twice = await runCli(['submit', join(album, 'photo-01.png'), '-o', out, '--redis', redis.url, '--queue', 'models', '--model', model, '--size', '128', '--json']);
  const [a, b] = [s, twice].map((r) => JSON.parse(r.stdout) as { run: string; jobs: number; alreadyQueued: number });
  assert.deepEqual([b!.run, b!.jobs, b!.alreadyQueued], [a!.run, 1, 1]);
  const said = await new Promise<string>((resolve) => {
    let text = '';
    w.child.stderr!.on('data', (d: Buffer) => {
      text += d.toString();
      if (/left to other workers/.test(text)) resolve(text);
    });
  });
  assert.match(said, /wants model tint\.onnx/);
  w.child.kill('SIGTERM');
  await w.done;
  const status = JSON.parse((await runCli(['queue', 'status', '--redis', redis.url, '--queue', 'models', '--json'])).stdout) as Status;
  assert.equal(status.jobs.completed, 0);
  assert.equal(status.jobs.delayed + status.jobs.waiting, 1, 'the job waits for a worker with its model');
  // A Redis that would evict queue keys is warned of.
  const lru = await startRedis(['--maxmemory', '64mb', '--maxmemory-policy', 'allkeys-lru']);
  const warned = await runCli(['submit', join(album, 'photo-02.png'), '-o', join(dir, 'lru-out'), '--redis', lru.url, '--model', model, '--size', '128']);
  assert.equal(warned.code, 0, warned.stderr);
  assert.match(warned.stderr, /warning: queue Redis: maxmemory-policy allkeys-lru may evict any key, a job queue's too/);
  // A setting that loses jobs is said every time, even under -q; BullMQ's own console noise is not printed.
  const again = await runCli(['submit', join(album, 'photo-03.png'), '-o', join(dir, 'lru-out'), '--redis', lru.url, '--model', model, '--size', '128', '-q']);
  assert.match(again.stderr, /allkeys-lru may evict any key/);
  assert.doesNotMatch(warned.stderr + again.stderr, /IMPORTANT!/);
  // A Redis without maxmemory is warned of once per server and setting, and not under -q.
  const unbounded = await startRedis();
  const submitTo = (name: string, ...extra: string[]) => runCli(['submit', join(album, name), '-o', join(dir, 'unbounded-out'), '--redis', unbounded.url, '--model', model, '--size', '128', ...extra]);
  const quiet = await submitTo('photo-04.png', '-q');
  assert.doesNotMatch(quiet.stderr, /maxmemory is not set/, quiet.stderr);
  const first = await submitTo('photo-05.png');
  assert.match(first.stderr, /warning: queue Redis: maxmemory is not set/);
  const second = await submitTo('photo-06.png');
  assert.doesNotMatch(second.stderr, /maxmemory is not set/, 'said once');
  const doctor = JSON.parse((await runCli(['doctor', '--json'], { REDIS_URL: lru.url })).stdout) as { checks: Array<{ name: string; fix?: string }> };
  assert.match(doctor.checks.find((c) => c.name === 'cache')?.fix ?? '', /allkeys-lru may evict any key, a job queue's too.*volatile-lru/);
  const none = await runCli(['submit', album, '-o', out, '--model', model]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /the queue needs Redis: give --redis/);
});

test('a job that fails for good: submit --wait reports its photos not processed; queue retry-failed runs it again; queue clean removes finished jobs and runs', async () => {
  const out = join(dir, 'fails-out');
  const photos = join(dir, 'fails-in');
  await mkdir(photos, { recursive: true });
  for (const n of ['photo-03.png', 'photo-04.png']) await copyFile(join(album, n), join(photos, n));
  // A file where the worker's temporary folder goes: every try of the job fails (not the photos' fault).
  await mkdir(out, { recursive: true });
  await writeFile(join(out, '.ddcolor-tmp'), 'in the way');
  const w = worker('--queue', 'fails');
  const waited = await runCli(['submit', photos, '-o', out, '--redis', redis.url, '--queue', 'fails', '--model', model, '--size', '128', '--attempts', '2', '--wait', '--json'], {}, 120_000);
  assert.equal(waited.code, 1, waited.stderr);
  const report = JSON.parse(waited.stdout) as Report;
  assert.deepEqual([report.totals.notProcessed, report.files.length], [2, 2]);
  assert.match(report.files[0]!.error ?? '', /not processed \(job run-[0-9a-f]+-00000 failed: .*\.ddcolor-tmp/);
  let status = JSON.parse((await runCli(['queue', 'status', '--redis', redis.url, '--queue', 'fails', '--json'])).stdout) as Status;
  assert.equal(status.jobs.failed, 1);
  // The cause removed, the failed job is run again and the photos are done.
  await rm(join(out, '.ddcolor-tmp'));
  const retried = await runCli(['queue', 'retry-failed', '--redis', redis.url, '--queue', 'fails']);
  assert.match(retried.stdout, /1 failed job put back/);
  await until(async () => (await outputs(out)).length === 2);
  status = JSON.parse((await runCli(['queue', 'status', '--redis', redis.url, '--queue', 'fails', '--json'])).stdout) as Status;
  await until(async () => {
    status = JSON.parse((await runCli(['queue', 'status', '--redis', redis.url, '--queue', 'fails', '--json'])).stdout) as Status;
    return status.jobs.completed === 2 && status.runs[0]?.finished === true;
  });
  assert.equal(status.jobs.failed, 0);
  const combined = JSON.parse(await readFile(join(out, 'ddcolor-report.json'), 'utf8')) as Report;
  assert.equal(combined.totals.inferred + combined.totals.hit, 2, 'the combined report is made again with the job done');
  w.child.kill('SIGTERM');
  await w.done;
  const cleaned = await runCli(['queue', 'clean', '--redis', redis.url, '--queue', 'fails']);
  assert.match(cleaned.stdout, /removed 1 finished job and 1 finished run/);
  status = JSON.parse((await runCli(['queue', 'status', '--redis', redis.url, '--queue', 'fails', '--json'])).stdout) as Status;
  assert.deepEqual([status.jobs.completed, status.runs.length], [0, 0]);
});


test('on Redis Cluster: the queue (one hash-tagged slot) and the cache (spread over the masters) both work; a second submit does nothing', async () => {
  const cluster = await startCluster(3);
  const out = join(dir, 'cluster-out');
  const w = spawnCli(['worker', '--input-root', dir, '--output-root', dir, '--redis', cluster.url, '--model', model, '--threads', '1', '--local-cache', join(dir, 'cluster-local')]);
  const photos = join(dir, 'cluster-in');
  await mkdir(photos, { recursive: true });
  for (let i = 0; i < 6; i++) await copyFile(join(album, `photo-${String(i).padStart(2, '0')}.png`), join(photos, `p${i}.png`));
  const first = await runCli(['submit', photos, '-o', out, '--redis', cluster.url, '--model', model, '--size', '128', '--job-size', '2', '--wait', '--json'], {}, 120_000);
  assert.equal(first.code, 0, first.stderr);
  assert.equal((JSON.parse(first.stdout) as Report).totals.inferred, 6);
  assert.equal((await outputs(out)).length, 6);
  const again = JSON.parse((await runCli(['submit', photos, '-o', out, '--redis', cluster.url, '--model', model, '--size', '128', '--json'])).stdout) as { jobs: number; upToDate: number };
  assert.deepEqual([again.jobs, again.upToDate], [0, 6]);
  // Every queue key in one slot (the hash tag); the cache entries on more than one master.
  const slots = new Set<number>();
  const entriesOn = new Set<number>();
  for (const node of cluster.nodes) {
    const c = node.client();
    const keys = await c.keys('*');
    for (const k of keys) if (k.startsWith('{ddcolor}')) slots.add(Number(await c.cluster('KEYSLOT', k)));
    if (keys.some((k) => k.startsWith(KEY_PREFIX))) entriesOn.add(node.port);
  }
  assert.equal(slots.size, 1, 'the queue in one slot');
  assert.ok(entriesOn.size > 1, 'cache entries on several masters');
  w.child.kill('SIGTERM');
  assert.equal((await w.done).code, 0);
});

test('SIGTERM in the middle of a job with copies waiting for their first copy: the photos in hand are finished, the rest (copies too) goes back to the queue, none is remembered as bad, and another worker does them', async () => {
  const out = join(dir, 'term-out');
  // Fresh photos (not in the cache from the first test: each is inferred), and copies of six of them.
  const photos = await distinctPhotos(join(dir, 'term-src'), 14, 700, 5);
  for (let i = 0; i < 6; i++) await copyFile(join(photos, `photo-${String(i * 2).padStart(2, '0')}.png`), join(photos, `copy-${i}.png`));
  const first = spawnCli(['worker', '--input-root', dir, '--output-root', dir, '--redis', redis.url, '--queue', 'term', '--model', model, '--threads', '1', '--concurrency', '1']);
  const submitted = runCli(['submit', photos, '-o', out, '--redis', redis.url, '--queue', 'term', '--model', model, '--size', '128', '--job-size', '20', '--wait', '--json'], {}, 120_000);
  // Once the job has started and some photos are written, stop the worker politely.
  await until(async () => (await outputs(out).catch(() => [])).length >= 3, 60_000);
  first.child.kill('SIGTERM');
  const stopped = await first.done;
  assert.equal(stopped.code, 0, stopped.stderr);
  const given = /job run-[0-9a-f]+-00000: stopping; (\d+) photos? given back to the queue/.exec(stopped.stderr);
  assert.ok(given, stopped.stderr);
  const doneBefore = (await outputs(out)).length;
  assert.equal(Number(given[1]), 20 - doneBefore, 'what was not finished was given back, no more');
  const second = spawnCli(['worker', '--input-root', dir, '--output-root', dir, '--redis', redis.url, '--queue', 'term', '--model', model, '--threads', '1']);
  const r = await submitted;
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as Report;
  assert.equal(report.files.length, 20);
  second.child.kill('SIGTERM');
  assert.deepEqual([report.totals.hit + report.totals.inferred, report.totals.skipped, report.totals.failed, report.totals.notProcessed], [20, 0, 0, 0], r.stdout);
  assert.equal((await outputs(out)).length, 20);
  assert.equal((await second.done).code, 0);
  // Nothing was remembered as a bad input: an interrupted photo is simply not done yet.
  const admin = redis.client();
  assert.deepEqual(await admin.hgetall(badKey(out)), {}, 'no photo of this folder remembered as bad');
});

test("a Redis that refuses to record an output (full, noeviction): the photo fails as the machine's fault, to be retried, and nothing is written", async () => {
  const full = await startRedis(['--maxmemory', '2mb', '--maxmemory-policy', 'noeviction']);
  const admin = full.client();
  for (let i = 0; i < 20; i++) await admin.set(`filler:${i}`, 'x'.repeat(64 * 1024)).catch(() => undefined);
  await admin.config('SET', 'maxmemory', '1mb'); // now over it: Redis refuses every write
  const out = join(dir, 'full-out');
  const conn = await openQueueConnection({ kind: 'redis', url: full.url });
  const records = await new DoneState(conn, out).load(['photo-05.png']);
  const tint = await inspectModel(model);
  const planned = [{ path: join(album, 'photo-05.png'), rel: 'photo-05.png', outputRel: 'photo-05.png', output: join(out, 'photo-05.png'), format: 'png' as const }];
  const report = await colorizeFiles(
    { paths: [planned[0]!.path], outDir: out, model: tint, size: 64, device: 'cpu', concurrency: 1, cache: { kind: 'none' }, ttlMs: 0, format: 'png', quality: 90, force: false },
    { planned, problems: [], records, tmpDir: join(out, '.ddcolor-tmp', 'w-test'), releaseOutputFolder: async () => undefined },
  );
  conn.disconnect();
  const f = report.files[0]!;
  assert.equal(f.status, 'failed');
  assert.equal(f.transient, true, 'the machine failed, not the photo');
  assert.match(f.error ?? '', /photo-05\.png: the fleet's record in Redis could not be updated: OOM/);
  assert.deepEqual(await outputs(out).catch(() => []), [], 'no output without its record');
});

test('a fleet output folder on a disk that fills up (a real ENOSPC), then has space again: nothing is remembered as bad, and a re-submit writes every photo', async (t) => {
  const small = join(dir, 'small-disk');
  await mkdir(small);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', small], { stdio: 'pipe' });
  } catch (err) {
    t.skip(`cannot mount a small file system here (${String(err).split('\n')[0]}): a real full disk cannot be made`);
    return;
  }
  try {
    const photos = await distinctPhotos(join(dir, 'disk-src'), 8, 320, 5);
    const out = join(small, 'out');
    await mkdir(out);
    // Fill the disk but for about 100 KB: a photo or two fit, the rest (and the job's report part) do not.
    const free = statfsSync(small).bavail * statfsSync(small).bsize;
    await writeFile(join(small, 'filler'), Buffer.alloc(Math.max(0, free - 100 * 1024)));
    const w = worker('--queue', 'disk');
    const first = await runCli(['submit', photos, '-o', out, '--redis', redis.url, '--queue', 'disk', '--model', model, '--size', '128', '--attempts', '1', '--wait', '--json'], {}, 120_000);
    assert.equal(first.code, 1, first.stderr);
    const full = JSON.parse(first.stdout) as Report;
    assert.ok(full.totals.failed + full.totals.notProcessed > 0, `the disk was full: ${first.stdout}`);
    for (const f of full.files.filter((f) => f.status === 'failed')) assert.equal(f.transient, true, `${f.input}: ${f.error}`);
    assert.deepEqual(await redis.client().hgetall(badKey(out)), {}, 'a full disk is never a bad photo');
    // Space back: the same archive submitted again is done whole.
    await rm(join(small, 'filler'));
    const again = await runCli(['submit', photos, '-o', out, '--redis', redis.url, '--queue', 'disk', '--model', model, '--size', '128', '--wait', '--json'], {}, 120_000);
    assert.equal(again.code, 0, again.stderr + again.stdout);
    const report = JSON.parse(again.stdout) as Report;
    assert.equal(report.totals.failed + report.totals.notProcessed, 0, again.stdout);
    assert.deepEqual(await outputs(out), (await readdir(photos)).sort());
    w.child.kill('SIGTERM');
    await w.done;
    assert.equal(existsSync(join(out, '.ddcolor-tmp')), false, 'no empty .ddcolor-tmp left behind');
  } finally {
    execFileSync('umount', ['-l', small]);
  }
});
