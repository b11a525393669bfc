/**
 * The pixel pool's worker thread (piscina): runs one task of pixel-work.ts and moves its buffers
 * back to the main thread instead of copying them. Parallelism comes from the pool, so libvips
 * runs one thread here. A task that fails returns its failure typed (an Error's class and code do
 * not survive the trip between threads); the pool throws it again on the main thread.
 */
import { moving } from '../moving.js';
import sharp from 'sharp';
import { describeFailure, type PixelFailed } from './pixel-failure.js';
import { prepareForModel, renderOutput, type PixelTask, type Prepared, type Rendered } from './pixel-work.js';

sharp.concurrency(1);
// Scans are read as bytes (io/read-verified.ts) into a buffer each thread reuses, and files change
// between runs of a long-lived fleet worker: libvips' operation cache must never answer for them.
sharp.cache(false);

async function runTask(task: PixelTask): Promise<Prepared | Rendered> {
  if (task.kind === 'prepare') {
    const r = await prepareForModel(task);
    const buffers = [r.decoded.pixels.buffer, r.planes.buffer];
    if (r.decoded.alpha) buffers.push(r.decoded.alpha.buffer);
    return moving(r, buffers);
  }
  const r = await renderOutput(task);
  return r.bytes ? moving(r, [r.bytes.buffer]) : r;
}

export default async function run(task: PixelTask): Promise<Prepared | Rendered | PixelFailed> {
  try {
    return await runTask(task);
  } catch (err) {
    return { failed: describeFailure(task.path, err) };
  }
}
