/**
 * libuv's thread pool, which sharp decodes and encodes on, is sized by `bin/ddcolor` to the cores
 * plus 4 (4 by default: on a many-core machine no more than 4 photos were decoded or encoded at
 * once). The size must be set before Node loads ES modules, so the test counts the threads of a
 * real `ddcolor worker` process (Linux's /proc) against the same process started with a pool of 1.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { tintModel } from '../src/models/tiny-model.js';
import { BIN, cleanup, startRedis, tempDir } from './helpers.js';

after(cleanup);

/** Threads of a `ddcolor worker` once it waits for jobs, with `env` added to its environment. */
async function workerThreads(url: string, dir: string, env: Record<string, string>): Promise<number> {
  const child = spawn(process.execPath, [BIN, 'worker', '--redis', url, '--model', join(dir, 'tint.onnx'), '--input-root', dir, '--output-root', dir], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    await new Promise<void>((resolve, reject) => {
      let said = '';
      child.stderr.on('data', (d: Buffer) => {
        said += d.toString();
        if (said.includes('waiting for jobs')) resolve();
      });
      child.on('exit', (code) => reject(new Error(`the worker ended (${code}): ${said}`)));
    });
    // The pool starts whole on its first use, long before the worker says it waits.
    const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
    return Number(/^Threads:\s+(\d+)$/m.exec(status)?.[1]);
  } finally {
    child.kill('SIGKILL');
  }
}

test('bin/ddcolor gives libuv\'s pool the cores plus 4 threads, and keeps a size given in the environment', async () => {
  const dir = await tempDir();
  await writeFile(join(dir, 'tint.onnx'), tintModel(null));
  const redis = await startRedis();
  try {
    const withOne = await workerThreads(redis.url, dir, { UV_THREADPOOL_SIZE: '1' });
    const byDefault = await workerThreads(redis.url, dir, {});
    const withTen = await workerThreads(redis.url, dir, { UV_THREADPOOL_SIZE: '10' });
    assert.equal(byDefault - withOne, availableParallelism() + 4 - 1, `threads: ${withOne} with a pool of 1, ${byDefault} by default`);
    assert.equal(withTen - withOne, 9, 'the size given is kept');
  } finally {
    await redis.stop();
  }
});
