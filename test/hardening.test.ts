/**
 * A hostile user and a careless operator: the originals are never written, bad paths are found
 * before the work, a dead lock is taken over by exactly one run.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, rmSync, symlinkSync, unlinkSync } from 'node:fs';
import { copyFile, link, mkdir, readdir, readFile, realpath, stat, symlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { FileStore } from '../src/cache/file.js';
import { cacheKey } from '../src/cache/keys.js';
import { inspectModel } from '../src/inference/model-info.js';
import { tintModel } from '../src/models/tiny-model.js';
import { colorize } from '../src/pipeline/index.js';
import { lockOutputFolder } from '../src/pipeline/out-lock.js';
import { scanPaths } from '../src/pipeline/scan.js';
import type { RunReport } from '../src/report/report.js';
import { ALBUM, cleanup, runCli, startRedis, storeWithHook, tempDir } from './helpers.js';

let model: string;

before(async () => {
  const dir = await tempDir();
  model = join(dir, 'tint.onnx');
  await writeFile(model, tintModel(null));
});
after(cleanup);

const base = (): string[] => ['--model', model, '--size', '64', '--cache', 'none', '--no-progress'];

async function digest(path: string): Promise<string> {
  return createHash('sha256').update(await readFile(path)).digest('hex');
}

/** A folder holding two photos; returns it and the photos' digests. */
async function photos(): Promise<{ dir: string; files: string[]; digests: string[] }> {
  const dir = await tempDir();
  const files = [join(dir, 'cat.jpg'), join(dir, 'cameraman.png')];
  await copyFile(join(ALBUM, 'family', 'cat.jpg'), files[0]!);
  await copyFile(join(ALBUM, 'cameraman.png'), files[1]!);
  return { dir, files, digests: await Promise.all(files.map(digest)) };
}

test('an output that is an input of the run is never written, whatever the flags: exit 2 before any work', async () => {
  const { dir, files, digests } = await photos();
  for (const flag of [[], ['--overwrite'], ['--force']]) {
    const r = await runCli(['colorize', ...files, '-o', dir, ...flag, ...base()]);
    assert.equal(r.code, 2, `${flag.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /refusing to run: 2 outputs would replace an input of this run .*cat\.jpg is .*cat\.jpg/);
    assert.deepEqual(await Promise.all(files.map(digest)), digests, 'the originals are untouched');
    assert.deepEqual((await readdir(dir)).sort(), ['cameraman.png', 'cat.jpg'], 'nothing written, no lock left');
  }
  // Another format beside the originals is fine: nothing is replaced.
  const png = await runCli(['colorize', files[0]!, '-o', dir, '--format', 'png', ...base()]);
  assert.equal(png.code, 0, png.stderr);
  assert.equal(await digest(files[0]!), digests[0]);
});

test('an output path that resolves to an input (symlink, hard link) is refused too', async () => {
  const { dir, files, digests } = await photos();
  for (const make of [symlink, link]) {
    const out = await tempDir();
    await make(files[0]!, join(out, 'cat.jpg'));
    const r = await runCli(['colorize', dir, '-o', out, '--overwrite', ...base()]);
    assert.equal(r.code, 2, `${make.name}: ${r.stderr}`);
    assert.match(r.stderr, /refusing to run: 1 output would replace an input of this run/);
    assert.equal(await digest(files[0]!), digests[0]);
  }
});

test('a folder given inside the output folder is walked; the output folder itself is refused', async () => {
  const { dir } = await photos();
  const album = join(dir, 'album');
  await mkdir(album);
  await copyFile(join(ALBUM, 'coins.png'), join(album, 'coins.png'));
  const inside = await runCli(['colorize', album, '-o', dir, '--format', 'jpg', ...base()]);
  assert.equal(inside.code, 0, inside.stderr);
  assert.match(inside.stdout, /1 photo.*: 1 inferred/);
  assert.ok((await readdir(dir)).includes('coins.jpg'));
  const itself = await runCli(['colorize', dir, '-o', dir, ...base()]);
  assert.equal(itself.code, 2);
  assert.match(itself.stderr, /is the output folder itself/);
});

test('a bad --report or --metrics path, or --max-memory 0, is exit 2 before any photo is done', async () => {
  const { dir, files } = await photos();
  const out = join(dir, 'out');
  for (const [flag, value, said] of [
    ['--report', dir, /--report .*: is a folder/],
    ['--metrics', '/proc/ddcolor-test.prom', /--metrics \/proc\/ddcolor-test\.prom: cannot be written/],
    ['--metrics', join(dir, 'no-such-folder', 'deeper', 'x.prom'), /x\.prom: its folder does not exist \(create it first, or check the path\)/],
    ['--metrics', join(files[0]!, 'x.prom'), /x\.prom: a part of the path is a file, not a folder/],
    ['--max-memory', '0', /expected at least 64MB/],
  ] as const) {
    const r = await runCli(['colorize', files[0]!, '-o', out, flag, value, ...base()]);
    assert.equal(r.code, 2, `${flag} ${value}: ${r.stderr}`);
    assert.match(r.stderr, said);
    const made = await readdir(out).catch(() => [] as string[]);
    assert.ok(!made.includes('cat.jpg'), `${flag}: no photo was done`);
    assert.doesNotMatch(r.stderr, /\b(ENOENT|EEXIST|ENOTDIR)\b/, 'in words, not an errno');
  }
  assert.equal(existsSync(join(dir, 'no-such-folder')), false, 'a mistyped folder is not made');
  // Inside the output folder, the run makes the folders on the way.
  const inOut = await runCli(['colorize', files[0]!, '-o', join(dir, 'out2'), '--metrics', join(dir, 'out2', 'metrics', 'x.prom'), ...base()]);
  assert.equal(inOut.code, 0, inOut.stderr);
  assert.ok(existsSync(join(dir, 'out2', 'metrics', 'x.prom')));
});

test('a symlink that points to itself is called a loop, not a broken link', async () => {
  const dir = await tempDir();
  await symlink('self.jpg', join(dir, 'self.jpg'));
  await symlink('gone.jpg', join(dir, 'dangling.jpg'));
  const { problems } = await scanPaths([dir]);
  const reason = (name: string): string => problems.find((p) => p.path.endsWith(name))?.reason ?? '';
  assert.match(reason('self.jpg'), /symlink loop/);
  assert.match(reason('dangling.jpg'), /broken symlink/);
});

test('many runs finding one dead output-folder lock: exactly one takes it over', async () => {
  // A pid that existed and is gone: a finished child process's.
  const dead = spawnSync(process.execPath, ['-e', '']).pid!;
  for (let round = 0; round < 15; round++) {
    const out = await tempDir();
    await writeFile(join(out, '.ddcolor-lock'), JSON.stringify({ pid: dead, host: hostname(), startedAt: '2026-11-24T02:15:00Z' }));
    const takeovers: string[] = [];
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, () => lockOutputFolder(out, { wait: false, onTakeover: (h) => takeovers.push(String(h?.pid)) })),
    );
    const winners = results.filter((r) => r.status === 'fulfilled');
    assert.equal(winners.length, 1, `round ${round}: ${winners.length} runs took the lock`);
    assert.equal(takeovers.length, 1, `round ${round}: one takeover`);
    for (const r of results) if (r.status === 'rejected') assert.match(String(r.reason), /another ddcolor run \(pid \d+/);
    await (winners[0] as PromiseFulfilledResult<() => Promise<void>>).value();
    assert.deepEqual(await readdir(out), [], 'no lock or takeover file left');
    assert.ok((await stat(out)).isDirectory());
  }
});

test('a malformed cache URL never prints its password, from the flag or the environment, and says where it came from', async () => {
  const { files } = await photos();
  const out = await tempDir();
  const malformed = [
    'redsi://:s3cr3t-pw@127.0.0.1:6379',
    'redis://:s3cr3t-pw@127.0.0.1:99999',
    'redis://:s3cr3t-pw@127.0.0.1:6379/abc',
    'rediss://alice:s3cr3t-pw@',
    'redis-sentinel://:s3cr3t-pw@127.0.0.1:26379',
    'redis-cluster://:s3cr3t-pw@127.0.0.1:70000,bad host',
  ];
  const runs: Array<[string[], Record<string, string>, string]> = [];
  for (const url of malformed) {
    runs.push([['colorize', files[0]!, '-o', out, '--model', model, '--cache', url], {}, '--cache']);
    runs.push([['colorize', files[0]!, '-o', out, '--model', model], { REDIS_URL: url }, 'REDIS_URL']);
    runs.push([['cache', 'stats'], { DDCOLOR_CACHE: url }, 'DDCOLOR_CACHE']);
    runs.push([['cache', 'invalidate', '--all', '--yes', '--cache', url], {}, '--cache']);
    runs.push([['doctor'], { REDIS_URL: url }, 'REDIS_URL']);
  }
  const results = await Promise.all(runs.map(([args, env]) => runCli(args, env)));
  results.forEach((r, i) => {
    const [args, env, source] = runs[i]!;
    const what = `${args.join(' ')} ${JSON.stringify(env)}`;
    assert.ok(!(r.stdout + r.stderr).includes('s3cr3t-pw'), `${what} printed the password:\n${r.stdout}${r.stderr}`);
    assert.ok((r.stdout + r.stderr).includes(`${source} `), `${what} names ${source}: ${r.stderr}${r.stdout}`);
    assert.equal(r.code, args[0] === 'doctor' ? 1 : 2, `${what}: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /\n\s+at /, `${what}: no stack trace`);
  });
});

test('a Redis database index is checked: not a number or past the server\'s databases is exit 2, never database 0', async () => {
  const server = await startRedis();
  const admin = server.client();
  await admin.set('ddcolor:v2:0123456789abcdef:512:' + 'a'.repeat(64), 'a result in database 0');
  const { files } = await photos();
  for (const db of ['abc', '99', '16']) {
    const url = `redis://127.0.0.1:${server.port}/${db}`;
    const out = await tempDir();
    for (const args of [
      ['colorize', files[0]!, '-o', out, '--model', model, '--size', '64', '--no-progress', '--cache', url],
      ['cache', 'stats', '--cache', url],
      ['cache', 'invalidate', '--all', '--yes', '--cache', url],
    ]) {
      const r = await runCli(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, db === 'abc' ? /the database must be a whole number/ : new RegExp(`database ${db}: ERR DB index is out of range`));
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    }
    assert.deepEqual(await readdir(out), [], 'no output, no lock left behind');
  }
  assert.equal(await admin.get('ddcolor:v2:0123456789abcdef:512:' + 'a'.repeat(64)), 'a result in database 0', 'database 0 untouched');
  // A database the server has is used, and only it.
  const out = await tempDir();
  const r = await runCli(['colorize', files[0]!, '-o', out, '--model', model, '--size', '64', '--no-progress', '--cache', `redis://127.0.0.1:${server.port}/3`]);
  assert.equal(r.code, 0, r.stderr);
  await admin.select(3);
  assert.equal((await admin.keys('ddcolor:v2:*')).length, 1, 'the result is in database 3');
});

test('a scan replaced after it was hashed is refused, not decoded: no output pairs its pixels with another picture\'s colours, nothing is cached under its old hash', async () => {
  const dir = await tempDir();
  await mkdir(join(dir, 'in'));
  const scan = join(dir, 'in', 'scan.png');
  const [first, second] = [join(ALBUM, 'cameraman.png'), join(ALBUM, 'family', 'cat.jpg')];
  await copyFile(first, scan);
  const oldSha = await digest(scan);
  const info = await inspectModel(model);
  const run = async (out: string, cache: string, swap: boolean) =>
    colorize({
      paths: [join(dir, 'in')], outDir: join(dir, out), model: info, size: 64, device: 'cpu', concurrency: 2,
      cache: { kind: 'file', dir: join(dir, cache) }, ttlMs: 86_400_000, format: 'png', quality: 90, force: false,
      openStore: await storeWithHook(join(dir, cache), () => swap && copyFileSync(second, scan)),
    });
  // A miss: the rescan lands between the hash and the decode.
  const cold = await run('out-cold', 'cache', true);
  assert.equal(cold.totals.failed, 1);
  assert.match(cold.files[0]!.error ?? '', /scan\.png: changed while ddcolor was working on it/);
  // Not the photo's fault (its new version is fine): typed as the environment's, worth trying again.
  assert.equal(cold.files[0]!.code, 'CHANGED');
  assert.equal(cold.files[0]!.transient, true);
  assert.equal(existsSync(join(dir, 'out-cold', 'scan.png')), false, 'no output');
  const key = cacheKey(info.id, 64, oldSha);
  assert.deepEqual(await new FileStore(join(dir, 'cache')).getMany([key]), [null], 'nothing stored under the old hash');
  // A hit: the old picture's result is cached, then the file is replaced before the decode.
  await copyFile(first, scan);
  assert.equal((await run('out-first', 'cache', false)).totals.inferred, 1);
  const warm = await run('out-warm', 'cache', true);
  assert.equal(warm.totals.failed, 1);
  assert.match(warm.files[0]!.error ?? '', /changed while ddcolor was working on it/);
  assert.equal(warm.files[0]!.code, 'CHANGED');
  assert.equal(existsSync(join(dir, 'out-warm', 'scan.png')), false, 'no output');
  // The next run takes the new picture as it is.
  const next = await run('out-warm', 'cache', false);
  assert.equal(next.totals.inferred, 1);
  assert.equal(next.files[0]!.sha256, await digest(second));
});

/**
 * A run as a fleet worker makes one: inputs read only inside `archive`, outputs confined to `out`.
 * `once` runs a single time, after the photos are hashed and before any is decoded or written.
 */
async function rootedRun(dir: string, paths: string[], archive: string, out: string, once: () => void): Promise<RunReport> {
  let ran = false;
  const report = await colorize({
    paths, outDir: out, model: await inspectModel(model), size: 64, device: 'cpu', concurrency: 2,
    cache: { kind: 'file', dir: join(dir, 'cache') }, ttlMs: 86_400_000, format: 'same', quality: 90, force: false,
    inputRoots: [await realpath(archive)], confineOutputs: true,
    openStore: await storeWithHook(join(dir, 'cache'), () => {
      if (ran) return;
      ran = true;
      once();
    }),
  });
  assert.ok(ran, 'the swap was made');
  return report;
}

test('inputs read only from inside the roots given (a fleet worker\'s), checked on the file each read opens: a link that leads out, there from the start or swapped in between the hash and the decode, fails that photo alone (OUTSIDE_ROOTS, not its fault); nothing outside is decoded or written', async () => {
  const dir = await tempDir();
  const archive = join(dir, 'archive');
  const outside = join(dir, 'private');
  await mkdir(archive);
  await mkdir(outside);
  await copyFile(join(ALBUM, 'cameraman.png'), join(archive, 'a.png'));
  // A link out of the archive, put there after the job was checked (checkJob refuses it before).
  await copyFile(join(ALBUM, 'family', 'cat.jpg'), join(outside, 'secret.jpg'));
  await symlink(join(outside, 'secret.jpg'), join(archive, 'b.jpg'));
  // c.png is swapped for a link to a copy of itself outside once it is hashed: the same bytes, but not read from there either.
  await copyFile(join(ALBUM, 'coins.png'), join(archive, 'c.png'));
  await copyFile(join(ALBUM, 'coins.png'), join(outside, 'c-copy.png'));
  const out = join(await realpath(dir), 'out');
  const report = await rootedRun(dir, ['a.png', 'b.jpg', 'c.png'].map((n) => join(archive, n)), archive, out, () => {
    unlinkSync(join(archive, 'c.png'));
    symlinkSync(join(outside, 'c-copy.png'), join(archive, 'c.png'));
  });
  const by = new Map(report.files.map((f) => [f.input.split('/').pop()!, f]));
  assert.equal(by.get('a.png')!.status, 'inferred', by.get('a.png')!.error ?? '');
  for (const name of ['b.jpg', 'c.png']) {
    const f = by.get(name)!;
    assert.equal(f.status, 'failed', `${name} was read from outside the roots`);
    assert.equal(f.code, 'OUTSIDE_ROOTS');
    assert.equal(f.transient, true, 'not the photo\'s fault: never remembered as a bad input');
    assert.match(f.error ?? '', new RegExp(`${name}: not read: it is no longer inside this worker's input roots`));
  }
  assert.match(by.get('b.jpg')!.error ?? '', /it leads to .*private\/secret\.jpg/);
  assert.equal(by.get('b.jpg')!.sha256, null, 'the file outside was not even hashed');
  assert.deepEqual((await readdir(out)).filter((n) => !n.startsWith('.')), ['a.png']);
});

test('outputs confined to the output folder (a fleet worker\'s), checked as each is written: a folder of it swapped for a link out after the job was checked fails that photo (OUTSIDE_ROOTS), and nothing is written outside', async () => {
  const dir = await tempDir();
  const archive = join(dir, 'archive');
  const outside = join(dir, 'elsewhere');
  await mkdir(join(archive, '1952'), { recursive: true });
  await mkdir(outside);
  await copyFile(join(ALBUM, 'cameraman.png'), join(archive, 'a.png'));
  await copyFile(join(ALBUM, 'coins.png'), join(archive, '1952', 'b.png'));
  const out = join(await realpath(dir), 'out');
  // Once the photos are hashed, out/1952 becomes a link to a folder outside.
  const report = await rootedRun(dir, [archive], archive, out, () => symlinkSync(outside, join(out, '1952')));
  const by = new Map(report.files.map((f) => [f.input.split('/').slice(-2).join('/'), f]));
  assert.equal(by.get('archive/a.png')!.status, 'inferred', by.get('archive/a.png')!.error ?? '');
  const b = by.get('1952/b.png')!;
  assert.equal(b.status, 'failed', 'written through the link');
  assert.equal(b.code, 'OUTSIDE_ROOTS');
  assert.match(b.error ?? '', /b\.png: not written: the folder .*1952 leads out of .*out \(to .*elsewhere\)/);
  assert.deepEqual(await readdir(outside), [], 'nothing written outside');
  assert.equal(existsSync(join(out, 'a.png')), true);
  // The run's own temporary folder swapped for a link out: the output is not written through it either.
  unlinkSync(join(out, '1952'));
  const second = await rootedRun(dir, [archive], archive, out, () => {
    rmSync(join(out, '.ddcolor-tmp'), { recursive: true, force: true });
    symlinkSync(outside, join(out, '.ddcolor-tmp'));
  });
  const b2 = second.files.find((f) => f.input.endsWith('b.png'))!;
  assert.equal(b2.status, 'failed', 'written through the temporary folder\'s link');
  assert.equal(b2.code, 'OUTSIDE_ROOTS');
  assert.match(b2.error ?? '', /not written: the folder .*\.ddcolor-tmp leads out of/);
  assert.deepEqual(await readdir(outside), [], 'nothing written outside');
});
