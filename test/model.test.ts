import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readOnnxGraphInfo } from '../src/inference/onnx-info.js';
import { resolveInputSize } from '../src/inference/presets.js';
import { openSession } from '../src/inference/session.js';
import { inspectModel } from '../src/inference/model-info.js';
import { buildConvModel, buildConvModelExternal, linearAbModel, tintModel } from '../src/models/tiny-model.js';
import { DdcolorError } from '../src/errors.js';
import { cleanup, tempDir } from './helpers.js';

after(cleanup);

test('the graph reader finds names, types and shapes of fixed and dynamic exports', () => {
  const dyn = readOnnxGraphInfo(tintModel(null));
  assert.deepEqual(dyn.inputs, [{ name: 'input', elemType: 1, shape: ['N', 3, 'H', 'W'] }]);
  assert.deepEqual(dyn.outputs, [{ name: 'output', elemType: 1, shape: ['N', 2, 'H', 'W'] }]);
  const fixed = readOnnxGraphInfo(linearAbModel(256, [[0, 0, 0], [0, 0, 0]], [0, 0], 1));
  assert.deepEqual(fixed.inputs[0]!.shape, [1, 3, 256, 256]);
});

test('a fixed-shape export dictates the input size and says so; a dynamic one follows the preset or --size', async () => {
  const dir = await tempDir();
  const fixedPath = join(dir, 'fixed.onnx');
  await writeFile(fixedPath, linearAbModel(256, [[0, 0, 0], [0, 0, 0]], [0, 0], 1));
  const fixed = await inspectModel(fixedPath);
  assert.equal(fixed.fixedSize, 256);
  assert.equal(fixed.fixedBatch, 1);
  const r = resolveInputSize(fixed, 'person', undefined);
  assert.equal(r.size, 256);
  assert.match(r.note ?? '', /fixed 256x256 input: using 256 instead of 512/);
  const dynPath = join(dir, 'dyn.onnx');
  await writeFile(dynPath, tintModel(null));
  const dyn = await inspectModel(dynPath);
  assert.equal(dyn.fixedSize, null);
  assert.deepEqual(resolveInputSize(dyn, 'building', undefined), { size: 1024, note: null });
  assert.deepEqual(resolveInputSize(dyn, 'person', 384), { size: 384, note: null });
});

test('the model id comes from the file bytes: a different model never shares cache keys', async () => {
  const dir = await tempDir();
  const a = join(dir, 'a.onnx');
  const b = join(dir, 'b.onnx');
  const a2 = join(dir, 'copy-of-a.onnx');
  await writeFile(a, linearAbModel(null, [[1, 0, 0], [0, 0, 0]], [0, 0]));
  await writeFile(a2, linearAbModel(null, [[1, 0, 0], [0, 0, 0]], [0, 0]));
  await writeFile(b, linearAbModel(null, [[2, 0, 0], [0, 0, 0]], [0, 0]));
  const [ia, ia2, ib] = await Promise.all([inspectModel(a), inspectModel(a2), inspectModel(b)]);
  assert.match(ia.id, /^[0-9a-f]{16}$/);
  assert.equal(ia.id, ia2.id);
  assert.notEqual(ia.id, ib.id);
});

test('missing files, non-ONNX files and models with the wrong contract are config errors naming the file', async () => {
  const dir = await tempDir();
  const missing = join(dir, 'nope.onnx');
  await assert.rejects(inspectModel(missing), (e: unknown) => e instanceof DdcolorError && e.kind === 'config' && e.message.includes(missing) && /README/.test(e.message));
  const junk = join(dir, 'junk.onnx');
  await writeFile(junk, Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]));
  await assert.rejects(inspectModel(junk), (e: unknown) => e instanceof DdcolorError && e.message.includes(junk));
  const wrong = join(dir, 'wrong.onnx');
  // 3 -> 3 channels: not DDColor's [N,2,H,W] output.
  await writeFile(wrong, buildConvModel({ size: null, breakContract: true, layers: [{ outChannels: 3, inChannels: 3, kernel: 1, weights: new Array(9).fill(0), bias: [0, 0, 0] }] }));
  await assert.rejects(inspectModel(wrong), (e: unknown) => e instanceof DdcolorError && e.message.includes(wrong) && /output output has shape \[N,3,H,W\]/.test(e.message));
});

test('a session runs a batch on the CPU and returns [N,2,S,S]', async () => {
  const dir = await tempDir();
  const path = join(dir, 'lin.onnx');
  await writeFile(path, linearAbModel(null, [[10, 0, 0], [0, 0, -10]], [1, 2]));
  const model = await inspectModel(path);
  const s = await openSession(model, 'cpu');
  assert.equal(s.provider, 'cpu', 'asked for the CPU, whatever else the machine has');
  const size = 32;
  const input = new Float32Array(2 * 3 * size * size);
  input.fill(0.5, 0, 3 * size * size);
  input.fill(1, 3 * size * size);
  const out = await s.run(input, 2, size);
  assert.equal(out.length, 2 * 2 * size * size);
  assert.ok(Math.abs(out[0]! - 6) < 1e-5); // a = 10*0.5 + 1
  assert.ok(Math.abs(out[size * size]! - -3) < 1e-5); // b = -10*0.5 + 2
  assert.ok(Math.abs(out[2 * size * size]! - 11) < 1e-5); // second image: a = 10*1 + 1
  await s.release();
});

test('--device cuda without the CUDA provider is a config error, never a silent CPU run', async () => {
  const dir = await tempDir();
  const path = join(dir, 'm.onnx');
  await writeFile(path, tintModel(null));
  const model = await inspectModel(path);
  await assert.rejects(openSession(model, 'cuda'), (e: unknown) => e instanceof DdcolorError && e.kind === 'config' && /CUDA/.test(e.message));
});

test('a model whose weights live beside the .onnx (external data) loads, runs, and its id covers the weights', async () => {
  const dir = await tempDir();
  const spec = { size: null, externalData: 'weights.bin', layers: [{ outChannels: 2, inChannels: 3, kernel: 1, weights: [10, 0, 0, 0, 0, -10], bias: [1, 2] }] };
  const { model, weights } = buildConvModelExternal(spec);
  assert.ok(weights && weights.length === 8 * 4);
  const path = join(dir, 'ext.onnx');
  await writeFile(path, model);
  await writeFile(join(dir, 'weights.bin'), weights!);
  const info = await inspectModel(path);
  assert.equal(info.bytes, model.length + weights!.length);
  const s = await openSession(info, 'cpu');
  const out = await s.run(new Float32Array(3 * 4).fill(0.5), 1, 2);
  assert.ok(Math.abs(out[0]! - 6) < 1e-5, `a = ${out[0]}`);
  await s.release();
  // Other weights under the same graph: another model id.
  const other = Buffer.from(weights!);
  other.writeFloatLE(20, 0);
  await writeFile(join(dir, 'weights.bin'), other);
  assert.notEqual((await inspectModel(path)).id, info.id);
  // Weights missing: a config error naming the file.
  const { rm } = await import('node:fs/promises');
  await rm(join(dir, 'weights.bin'));
  await assert.rejects(inspectModel(path), (e: unknown) => e instanceof DdcolorError && /weights\.bin cannot be read/.test(e.message));
});

test('batches: explicit sizes are kept; auto follows the provider the session got (1 on the CPU, 4 on CUDA)', async () => {
  const { InferenceBatcher } = await import('../src/pipeline/batcher.js');
  const dir = await tempDir();
  const path = join(dir, 'tint.onnx');
  await writeFile(path, tintModel(null));
  const real = await openSession(await inspectModel(path), 'cpu');
  const S = 32;
  const image = new Float32Array(3 * S * S).fill(0.5);
  async function batchesFor(batchSize: number | 'auto', provider: 'cpu' | 'cuda', photos: number): Promise<number[]> {
    const sizes: number[] = [];
    // The real CPU session, reporting the provider under test; its output is the model's own.
    const session = { provider, run: (input: Float32Array, count: number, size: number) => (sizes.push(count), real.run(input, count, size)), release: async () => undefined };
    const b = new InferenceBatcher(async () => session, S, batchSize, null);
    for (let i = 0; i < photos; i++) b.expect();
    const out = await Promise.all(Array.from({ length: photos }, () => b.infer(image)));
    assert.ok(out.every((ab) => ab.length === 2 * S * S));
    return sizes;
  }
  assert.deepEqual(await batchesFor(3, 'cpu', 7), [3, 3, 1]);
  assert.deepEqual(await batchesFor('auto', 'cpu', 4), [1, 1, 1, 1]);
  assert.deepEqual(await batchesFor('auto', 'cuda', 9), [1, 4, 4], 'the first batch loads the session; then CUDA batches of 4');
  await real.release();
});

test('float16: conversion rounds to nearest even, and a model with float16 input and output runs like its float32 twin', async () => {
  const { fromHalf, toHalf } = await import('../src/inference/half.js');
  const known: Array<[number, number]> = [[0, 0x0000], [1, 0x3c00], [-2, 0xc000], [0.5, 0x3800], [65504, 0x7bff], [1e6, 0x7c00], [2 ** -24, 0x0001], [2 ** -14, 0x0400], [0.1, 0x2e66], [-0, 0x8000]];
  for (const [v, bits] of known) assert.equal(toHalf(v), bits, `${v}`);
  assert.equal(toHalf(1 + 2 ** -11), 0x3c00, 'a tie rounds to even (down)');
  assert.equal(toHalf(1 + 3 * 2 ** -11), 0x3c02, 'a tie rounds to even (up)');
  for (let bits = 0; bits < 0x7c00; bits += 37) assert.equal(toHalf(fromHalf(bits)), bits, 'every finite half survives a round trip');
  assert.ok(Number.isNaN(fromHalf(toHalf(NaN))));

  const dir = await tempDir();
  const layers = [{ outChannels: 2, inChannels: 3, kernel: 1, weights: [40, -10, 5, -20, 10, 30], bias: [1.5, -3] }];
  await writeFile(join(dir, 'f32.onnx'), buildConvModel({ size: null, layers }));
  await writeFile(join(dir, 'f16.onnx'), buildConvModel({ size: null, layers, halfIo: true }));
  const m16 = await inspectModel(join(dir, 'f16.onnx'));
  assert.equal(m16.input.elemType, 10);
  const [s32, s16] = await Promise.all([openSession(await inspectModel(join(dir, 'f32.onnx')), 'cpu'), openSession(m16, 'cpu')]);
  const size = 32;
  const input = new Float32Array(3 * size * size).map((_, i) => (i % 97) / 96);
  const [a, b] = await Promise.all([s32.run(input, 1, size), s16.run(input, 1, size)]);
  assert.ok(b instanceof Float32Array);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  assert.ok(worst > 0 && worst < 0.1, `float16 I/O agrees within half precision (worst ${worst})`);
  await Promise.all([s32.release(), s16.release()]);
});
