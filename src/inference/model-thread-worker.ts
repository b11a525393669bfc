/**
 * The model's thread (piscina, one thread): owns the onnxruntime session. onnxruntime-node runs a
 * session synchronously on the thread that calls it, so on the main thread every batch would stop
 * the run for its whole length: no photo handed to the pixel threads, none written, while the
 * model works. Here it blocks only this thread. Buffers move both ways; an error comes back as
 * its kind and message (a class does not survive the trip between threads).
 */
import { moving } from '../moving.js';
import { DdcolorError, errorMessage } from '../errors.js';
import { openSession, type ModelSession } from './session.js';
import type { ModelTask, ModelReply } from './model-thread.js';

let session: Promise<ModelSession> | null = null;

async function runTask(task: ModelTask): Promise<ModelReply> {
  switch (task.kind) {
    case 'open':
      session = openSession(task.model, task.device, task.threads);
      return { kind: 'opened', provider: (await session).provider };
    case 'run': {
      if (!session) throw new Error('the model thread has no session');
      // onnxruntime's output may live in memory it owns: a copy of our own can move.
      const output = (await (await session).run(task.input, task.count, task.size)).slice();
      return moving({ kind: 'ran', output }, [output.buffer]);
    }
    case 'release':
      await (await session)?.release();
      session = null;
      return { kind: 'released' };
  }
}

export default async function run(task: ModelTask): Promise<ModelReply> {
  try {
    return await runTask(task);
  } catch (err) {
    return { kind: 'failed', error: { config: err instanceof DdcolorError && err.kind === 'config', message: errorMessage(err), ...(err instanceof DdcolorError && err.file ? { file: err.file } : {}) } };
  }
}
