/**
 * A model file unchanged since it was last inspected is not read and hashed again (its SHA-256
 * and contract are remembered by its stamps, inference/model-memo.ts); any change to it or to its
 * weights file, even one that puts the modification time back, is seen; a file changed moments
 * before it was hashed is never remembered; a damaged memo is ignored.
 */
import assert from 'node:assert/strict';
import { readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { inspectModel } from '../src/inference/model-info.js';
import { buildConvModelExternal, tintModel } from '../src/models/tiny-model.js';
import { cleanup, runCli, tempDir, ALBUM } from './helpers.js';

let dir: string;

interface MemoFile {
  schema: string;
  models: Array<{ path: string; sha256: string; external: Array<{ path: string }> }>;
}

async function memoOf(file: string): Promise<MemoFile> {
  return JSON.parse(await readFile(file, 'utf8')) as MemoFile;
}

const EXTERNAL = { size: null, externalData: 'weights.bin', layers: [{ outChannels: 2, inChannels: 3, kernel: 1, weights: [10, 0, 0, 0, 0, -10], bias: [1, 2] }] };

before(async () => {
  dir = await tempDir();
  // Written first, then left alone for longer than the memo's two seconds of doubt.
  await writeFile(join(dir, 'tint.onnx'), tintModel(null));
  await writeFile(join(dir, 'cli.onnx'), tintModel(null));
  const ext = buildConvModelExternal(EXTERNAL);
  await writeFile(join(dir, 'ext.onnx'), ext.model);
  await writeFile(join(dir, 'weights.bin'), ext.weights!);
  await new Promise((r) => setTimeout(r, 2200));
});
after(cleanup);

test('an unchanged model is taken from the memo, not hashed again; rewritten in place (its modification time put back), it is hashed again', async () => {
  const memo = join(dir, 'memo-a.json');
  const model = join(dir, 'tint.onnx');
  const first = await inspectModel(model, { memo });
  assert.deepEqual(await inspectModel(model), first, 'the same as without a memo');
  const written = await memoOf(memo);
  assert.equal(written.schema, 'ddcolor.model-memo/v1');
  assert.deepEqual(written.models.map((m) => [m.path, m.sha256]), [[model, first.sha256]]);
  // What the memo says is what is used, without reading the file: a remembered hash stands.
  const other = 'ab'.repeat(32);
  written.models[0]!.sha256 = other;
  await writeFile(memo, JSON.stringify(written));
  const remembered = await inspectModel(model, { memo });
  assert.equal(remembered.sha256, other);
  assert.equal(remembered.id, other.slice(0, 16));
  assert.deepEqual({ ...remembered, sha256: first.sha256, id: first.id }, { ...first, memo });
  // The file rewritten in place with other bytes of the same length, its times put back: its change time moved.
  const { atime, mtime } = await stat(model);
  const bytes = await readFile(model);
  bytes[bytes.length - 1] ^= 1;
  await writeFile(model, bytes);
  await utimes(model, atime, mtime);
  const again = await inspectModel(model, { memo });
  assert.notEqual(again.sha256, other);
  assert.notEqual(again.sha256, first.sha256, 'the new bytes were hashed');
  // Changed moments ago, so not remembered: the memo still holds the old entry, and misses.
  assert.equal((await memoOf(memo)).models[0]!.sha256, other);
  assert.equal((await inspectModel(model, { memo })).sha256, again.sha256);
});

test('a model whose weights live beside it: a change to the weights file alone is seen', async () => {
  const memo = join(dir, 'memo-b.json');
  const model = join(dir, 'ext.onnx');
  const first = await inspectModel(model, { memo });
  assert.deepEqual((await memoOf(memo)).models[0]!.external.map((w) => w.path), [join(dir, 'weights.bin')]);
  assert.equal((await inspectModel(model, { memo })).sha256, first.sha256);
  const weights = await readFile(join(dir, 'weights.bin'));
  weights[0] ^= 1;
  await writeFile(join(dir, 'weights.bin'), weights);
  const changed = await inspectModel(model, { memo });
  assert.notEqual(changed.sha256, first.sha256);
  assert.deepEqual(changed, await inspectModel(model), 'the same as without a memo');
  assert.equal((await inspectModel(model, { memo })).memo, undefined, 'changed moments ago: not remembered');
});

test('a damaged memo, or one that cannot be written, is ignored: the model is hashed', async () => {
  const model = join(dir, 'tint.onnx');
  const truth = await inspectModel(model);
  const memo = join(dir, 'memo-c.json');
  for (const junk of ['not json', '{"schema":"ddcolor.model-memo/v1","models":[{"path":"x"}]}', '']) {
    await writeFile(memo, junk);
    assert.deepEqual(await inspectModel(model, { memo }), truth);
  }
  // A memo in a folder that cannot exist (its parent is a file).
  assert.deepEqual(await inspectModel(model, { memo: join(model, 'memo.json') }), truth);
});

test('the CLI keeps its memo in its cache folder; a memo the bytes belie is caught when the model is loaded, and forgotten', async () => {
  const home = join(dir, 'xdg');
  const model = join(dir, 'cli.onnx');
  const run = (out: string): ReturnType<typeof runCli> =>
    runCli(['colorize', join(ALBUM, 'cameraman.png'), '--model', model, '--out', join(dir, out), '--cache', 'none', '--size', '32', '--quiet'], { XDG_CACHE_HOME: home });
  const first = await run('cli-1');
  assert.equal(first.code, 0, first.stderr);
  const memoFile = join(home, 'ddcolor', 'models-v1.json');
  const memo = await memoOf(memoFile);
  assert.deepEqual(memo.models.map((m) => m.path), [model]);
  const truth = memo.models[0]!.sha256;
  // A memo that lies (written by hand, or a file changed without a trace in its stamps).
  memo.models[0]!.sha256 = 'cd'.repeat(32);
  await writeFile(memoFile, JSON.stringify(memo));
  const lied = await run('cli-2');
  assert.equal(lied.code, 2, lied.stderr);
  assert.match(lied.stderr, /cli\.onnx: its bytes are not those remembered for it \(model cdcdcdcdcdcdcdcd, in .*models-v1\.json; now [0-9a-f]{16}\)/);
  assert.deepEqual((await memoOf(memoFile)).models, [], 'forgotten');
  const next = await run('cli-3');
  assert.equal(next.code, 0, next.stderr);
  assert.deepEqual((await memoOf(memoFile)).models.map((m) => m.sha256), [truth]);
});
