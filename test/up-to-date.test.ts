/**
 * "Is this output up to date?" is one rule (pipeline/up-to-date.ts) for `colorize` (its manifest)
 * and for `submit` and the fleet's workers (the fleet's record in Redis). Each case below starts
 * from outputs made by each, changes one thing, and asks both again: they must agree, and agree
 * with the table.
 */
import assert from 'node:assert/strict';
import { appendFile, copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { openQueueConnection, type QueueConnection } from '../src/fleet/connection.js';
import { submit, type SubmitOptions } from '../src/fleet/submit.js';
import { waitForRun } from '../src/fleet/wait.js';
import { startWorker, type FleetWorker } from '../src/fleet/worker.js';
import type { FormatChoice } from '../src/image/formats.js';
import { resolveRoots } from '../src/io/roots.js';
import { inspectModel, type ModelInfo } from '../src/inference/model-info.js';
import { linearAbModel, tintModel } from '../src/models/tiny-model.js';
import { colorize } from '../src/pipeline/index.js';
import { ALBUM, cleanup, startRedis, tempDir, type RedisServer } from './helpers.js';

let dir: string;
let redis: RedisServer;
let conn: QueueConnection;
let modelA: ModelInfo;
let modelB: ModelInfo;

before(async () => {
  dir = await tempDir();
  redis = await startRedis();
  conn = await openQueueConnection({ kind: 'redis', url: redis.url });
  await writeFile(join(dir, 'a.onnx'), tintModel(null));
  modelA = await inspectModel(join(dir, 'a.onnx'));
  // Another network (any input size, like the first).
  await writeFile(join(dir, 'b.onnx'), linearAbModel(null, [[10, 0, 0], [0, 0, -10]], [1, 2]));
  modelB = await inspectModel(join(dir, 'b.onnx'));
});
after(async () => {
  conn?.disconnect();
  await cleanup();
});

interface Params {
  model: ModelInfo;
  size: number;
  format: FormatChoice;
  saturation: number;
}
const BASE: Omit<Params, 'model'> = { size: 64, format: 'png', saturation: 1 };

interface Case {
  name: string;
  /** What is changed on disk after the first run (in the input folder and the output folder). */
  change?: (input: string, out: string) => Promise<void>;
  /** What the second run asks for. */
  params?: Partial<Params>;
  upToDate: boolean;
}

const CASES: Case[] = [
  { name: 'nothing changed', upToDate: true },
  { name: 'input changed', change: (input) => copyFile(join(ALBUM, 'coins.png'), join(input, 'p.png')), upToDate: false },
  { name: 'model changed', params: { model: undefined }, upToDate: false },
  { name: 'size changed', params: { size: 128 }, upToDate: false },
  { name: 'format changed', params: { format: 'jpg' }, upToDate: false },
  { name: 'saturation changed', params: { saturation: 1.5 }, upToDate: false },
  { name: 'output deleted', change: (_, out) => rm(join(out, 'p.png')), upToDate: false },
  { name: 'output edited by hand', change: (_, out) => appendFile(join(out, 'p.png'), Buffer.from('edited')), upToDate: false },
  { name: 'output written by another tool', change: (_, out) => copyFile(join(ALBUM, 'coins.png'), join(out, 'p.png')), upToDate: false },
];

/** colorize's answer: the photo skipped as up to date (with no other reason). */
async function colorizeSays(input: string, out: string, p: Params): Promise<boolean> {
  const r = await colorize({ paths: [input], outDir: out, model: p.model, size: p.size, device: 'cpu', concurrency: 1, cache: { kind: 'none' }, ttlMs: 0, format: p.format, quality: 90, saturation: p.saturation, force: false });
  const f = r.files[0]!;
  return f.status === 'skipped' && !f.reason;
}

function submitOptions(input: string, out: string, p: Params, queue: string): SubmitOptions {
  return { paths: [input], outDir: out, model: p.model, size: p.size, format: p.format, quality: 90, saturation: p.saturation, ttlMs: 0, redis: { kind: 'redis', url: redis.url }, queue };
}

test('one up-to-date rule: colorize and submit agree, case by case', async () => {
  for (const [k, c] of CASES.entries()) {
    const input = join(dir, `in-${k}`);
    await mkdir(input);
    await copyFile(join(ALBUM, 'cameraman.png'), join(input, 'p.png'));
    const [outC, outF] = [join(dir, `colorize-${k}`), join(dir, `fleet-${k}`)];
    const first: Params = { ...BASE, model: modelA };
    const second: Params = { ...first, ...c.params, model: c.params && 'model' in c.params ? modelB : modelA };
    // The first outputs: colorize's, and the fleet's (submit, and a worker that does the job).
    assert.equal(await colorizeSays(input, outC, first), false);
    const queue = `utd-${k}`;
    const worker: FleetWorker = startWorker({ redis: conn, queue, model: modelA, device: 'cpu', roots: await resolveRoots([dir], [dir]), cache: { kind: 'none' }, concurrency: 1, threads: 1 });
    const s = await submit(submitOptions(input, outF, first, queue));
    await waitForRun(conn, queue, s.run, s.outDir, { pollMs: 100 });
    await worker.stop();
    // The change, in both worlds; then both are asked again.
    if (c.change) {
      await c.change(input, outC);
      if (!c.name.startsWith('input')) await c.change(input, outF);
    }
    const saysColorize = await colorizeSays(input, outC, second);
    const again = await submit(submitOptions(input, outF, second, `${queue}-again`));
    const saysSubmit = again.upToDate === 1;
    assert.deepEqual({ case: c.name, colorize: saysColorize, submit: saysSubmit }, { case: c.name, colorize: c.upToDate, submit: c.upToDate });
  }
});
