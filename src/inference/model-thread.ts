/**
 * A model session on a thread of its own (model-thread-worker.ts): the same `ModelSession` as
 * `openSession` gives, whose batches run while the main thread goes on handing photos to the pixel
 * threads and writing outputs. The input moves to the thread and the output moves back (no
 * copies); one batch runs at a time, as the batcher sends them.
 */
import { Piscina } from 'piscina';
import { ConfigError } from '../errors.js';
import type { Device } from './devices.js';
import type { ExecutionProvider, ModelSession } from './session.js';
import type { ModelInfo } from './model-info.js';

export type ModelTask =
  | { kind: 'open'; model: ModelInfo; device: Device; threads?: number }
  | { kind: 'run'; input: Float32Array; count: number; size: number }
  | { kind: 'release' };

export type ModelReply =
  | { kind: 'opened'; provider: ExecutionProvider }
  | { kind: 'ran'; output: Float32Array }
  | { kind: 'released' }
  | { kind: 'failed'; error: { config: boolean; message: string; file?: string } };

/** The reply, or its failure thrown again: a config error (a device or model that cannot work here) as a ConfigError. */
function unwrap<K extends ModelReply['kind']>(reply: ModelReply, kind: K): Extract<ModelReply, { kind: K }> {
  if (reply.kind === 'failed') throw reply.error.config ? new ConfigError(reply.error.message, reply.error.file) : new Error(reply.error.message);
  if (reply.kind !== kind) throw new Error(`the model thread answered ${reply.kind} to ${kind}`);
  return reply as Extract<ModelReply, { kind: K }>;
}

/** Open the session on its own thread; rejects as `openSession` does (a ConfigError when the device or model cannot work here). */
export async function openThreadedSession(model: ModelInfo, device: Device, threads?: number): Promise<ModelSession> {
  const pool = new Piscina({ filename: new URL('./model-thread-worker.js', import.meta.url).href, minThreads: 1, maxThreads: 1, concurrentTasksPerWorker: 1 });
  const call = async (task: ModelTask, transferList: ArrayBuffer[] = []): Promise<ModelReply> => (await pool.run(task, { transferList })) as ModelReply;
  let opened: Extract<ModelReply, { kind: 'opened' }>;
  try {
    opened = unwrap(await call({ kind: 'open', model, device, ...(threads !== undefined ? { threads } : {}) }), 'opened');
  } catch (err) {
    await pool.destroy();
    throw err;
  }
  return {
    provider: opened.provider,
    async run(input: Float32Array, count: number, size: number): Promise<Float32Array> {
      // The input moves to the thread: a view of part of a larger buffer is copied first, so the rest stays.
      const own = input.byteOffset === 0 && input.byteLength === input.buffer.byteLength ? input : input.slice();
      return unwrap(await call({ kind: 'run', input: own, count, size }, [own.buffer as ArrayBuffer]), 'ran').output;
    },
    async release(): Promise<void> {
      try {
        unwrap(await call({ kind: 'release' }), 'released');
      } finally {
        await pool.destroy();
      }
    },
  };
}
