/**
 * Lock files, which two runs on one machine (two cron jobs, a user's run beside a nightly one)
 * take at the same moment: the embedded store's per-photo locks and the output folder's lock.
 * Exactly one run gets each lock; a lock another run has just created is never taken from it,
 * even in the instant before its content is readable; an abandoned one is reclaimed.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { cacheKey } from '../src/cache/keys.js';
import { FileStore } from '../src/cache/file.js';
import { LOCK_NAME, lockOutputFolder } from '../src/pipeline/out-lock.js';
import { cleanup, tempDir } from './helpers.js';

after(cleanup);

function lockPath(root: string, key: string): string {
  return join(root, 'v1', 'locks', createHash('sha256').update(key).digest('hex'));
}

const keys = Array.from({ length: 400 }, (_, i) => cacheKey('m', 512, i.toString(16).padStart(64, '0')));

test('two runs taking the same 400 photo locks at once: each lock goes to exactly one of them', async () => {
  for (let round = 0; round < 5; round++) {
    const root = await tempDir();
    const [a, b] = [await new FileStore(root).open(), await new FileStore(root).open()];
    const [got, gotToo] = await Promise.all([a.tryLock(keys, 'run-a', 60_000), b.tryLock(keys, 'run-b', 60_000)]);
    const both = keys.filter((_, i) => got[i] && gotToo[i]).length;
    const neither = keys.filter((_, i) => !got[i] && !gotToo[i]).length;
    assert.deepEqual([both, neither], [0, 0], `round ${round}: ${both} locks held by both runs, ${neither} by none`);
  }
});

test('a photo lock just created, before its content is readable, is held; one that stays unreadable past the lifetime is reclaimed', async () => {
  const root = await tempDir();
  const store = await new FileStore(root).open();
  await store.tryLock([keys[0]!], 'probe', 1);
  await store.unlock([keys[0]!], 'probe');
  // What another run's exclusive create leaves for an instant: the name, with nothing in it yet.
  await writeFile(lockPath(root, keys[0]!), '');
  assert.deepEqual(await store.tryLock([keys[0]!], 'run-b', 60_000), [false], 'the other run holds it');
  // The same empty file, older than any lock's lifetime: abandoned, reclaimed.
  const old = new Date(Date.now() - 120_000);
  await utimes(lockPath(root, keys[0]!), old, old);
  assert.deepEqual(await store.tryLock([keys[0]!], 'run-b', 60_000), [true]);
  await store.unlock([keys[0]!], 'run-b');
  assert.deepEqual(await store.tryLock([keys[0]!], 'run-c', 60_000), [true], 'its owner released it');
  const tmp = await readdir(join(root, 'v1', 'tmp'));
  assert.deepEqual(tmp, [], 'no temporary file left behind');
});

test('eight runs starting into one output folder at once: one holds the lock, each other one is refused naming it, and the lock file is never left behind', async () => {
  const out = await tempDir();
  const results = await Promise.allSettled(Array.from({ length: 8 }, () => lockOutputFolder(out, { wait: false })));
  const held = results.filter((r) => r.status === 'fulfilled');
  assert.equal(held.length, 1);
  for (const r of results) if (r.status === 'rejected') assert.match(String(r.reason), /another ddcolor run \(pid \d+ on /, 'refused, naming the holder (never an unreadable lock)');
  await (held[0] as PromiseFulfilledResult<() => Promise<void>>).value();
  assert.deepEqual((await readdir(out)).filter((n) => n.startsWith(LOCK_NAME)), []);
});
