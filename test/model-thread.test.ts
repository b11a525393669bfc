/**
 * The model on a thread of its own (inference/model-thread.ts): the same outputs as a session on
 * the calling thread, typed errors across the thread, and a main thread that goes on while a batch
 * runs (onnxruntime-node runs a batch synchronously on the thread that calls it: on the main
 * thread nothing else moved until the batch ended).
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ConfigError } from '../src/errors.js';
import { openThreadedSession } from '../src/inference/model-thread.js';
import { openSession, type ModelSession } from '../src/inference/session.js';
import { inspectModel } from '../src/inference/model-info.js';
import { costModel, lightnessModel } from '../src/models/tiny-model.js';
import { cleanup, tempDir } from './helpers.js';

after(cleanup);

test('a threaded session gives the same output, value for value, as a session on the calling thread', async () => {
  const dir = await tempDir();
  await writeFile(join(dir, 'l.onnx'), lightnessModel(null, 0.8));
  const model = await inspectModel(join(dir, 'l.onnx'));
  const size = 64;
  // Two images whose every pixel differs, so a shifted or swapped output shows.
  const input = new Float32Array(2 * 3 * size * size).map((_, i) => ((i * 7919) % 1000) / 1000);
  const direct = await openSession(model, 'cpu', 1);
  const threaded = await openThreadedSession(model, 'cpu', 1);
  try {
    const want = (await direct.run(input.slice(), 2, size)).slice();
    const got = await threaded.run(input.slice(), 2, size);
    assert.equal(threaded.provider, 'cpu');
    assert.equal(got.length, 2 * 2 * size * size);
    assert.deepEqual(got, want);
  } finally {
    await direct.release();
    await threaded.release();
  }
});

test('a model onnxruntime cannot load: a ConfigError naming the file, across the thread', async () => {
  const dir = await tempDir();
  const path = join(dir, 'broken.onnx');
  // A graph that reads well (names, shapes) but whose operator onnxruntime does not know.
  const bytes = costModel(null, 4, 1);
  const at = bytes.indexOf(Buffer.from([0x22, 4, ...Buffer.from('Conv')]));
  assert.ok(at > 0, 'the op_type field of the first node');
  bytes.write('Cnov', at + 2);
  await writeFile(path, bytes);
  const model = await inspectModel(path);
  await assert.rejects(openThreadedSession(model, 'cpu', 1), (err: unknown) => err instanceof ConfigError && err.file === path && /onnxruntime cannot load it/.test(err.message));
});

/** Timer ticks on this thread while `session` runs one batch of `count` images at `size`. */
async function ticksDuring(session: ModelSession, count: number, size: number): Promise<{ ticks: number; ms: number }> {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  const t = performance.now();
  try {
    await session.run(new Float32Array(count * 3 * size * size).fill(0.5), count, size);
  } finally {
    clearInterval(timer);
  }
  return { ticks, ms: performance.now() - t };
}

test('while a batch runs on the model thread, the main thread goes on (on the calling thread it stood still)', async () => {
  const dir = await tempDir();
  await writeFile(join(dir, 'slow.onnx'), costModel(null, 32, 6));
  const model = await inspectModel(join(dir, 'slow.onnx'));
  const direct = await openSession(model, 'cpu', 1);
  const threaded = await openThreadedSession(model, 'cpu', 1);
  try {
    const still = await ticksDuring(direct, 4, 192);
    const free = await ticksDuring(threaded, 4, 192);
    assert.ok(still.ms > 200 && free.ms > 200, `a batch long enough to see: ${still.ms.toFixed(0)} and ${free.ms.toFixed(0)} ms`);
    assert.equal(still.ticks, 0, 'the calling thread runs nothing else during its batch');
    assert.ok(free.ticks >= 10, `${free.ticks} ticks of a 5 ms timer during a ${free.ms.toFixed(0)} ms batch on the model thread`);
  } finally {
    await direct.release();
    await threaded.release();
  }
});
