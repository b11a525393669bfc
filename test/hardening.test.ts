/**
 * A hostile user and a careless operator: the originals are never written, bad paths are found
 * before the work, a dead lock is taken over by exactly one run.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, link, mkdir, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { tintModel } from '../src/model/tiny-model.js';
import { lockOutputFolder } from '../src/pipeline/out-lock.js';
import { scanPaths } from '../src/pipeline/scan.js';
import { ALBUM, cleanup, runCli, tempDir } from './helpers.js';

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
    ['--max-memory', '0', /expected at least 64MB/],
  ] as const) {
    const r = await runCli(['colorize', files[0]!, '-o', out, flag, value, ...base()]);
    assert.equal(r.code, 2, `${flag} ${value}: ${r.stderr}`);
    assert.match(r.stderr, said);
    const made = await readdir(out).catch(() => [] as string[]);
    assert.ok(!made.includes('cat.jpg'), `${flag}: no photo was done`);
  }
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
