/**
 * The bench scripts run the pipeline in their own process, so they size libuv's thread pool as
 * bin/ddcolor does (the cores plus 4: sharp decodes and encodes on that pool, shared by every
 * pixel thread). It must be set before Node starts (ES modules use the pool as they load), so a
 * script without it runs itself again with it, passes on the signals it gets (a `timeout` or a
 * `kill` reaches the run, and its redis-server is stopped) and ends as the run ends.
 */
import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';

export async function relaunchWithThreadPool(): Promise<void> {
  if (process.env.UV_THREADPOOL_SIZE) return;
  const env = { ...process.env, UV_THREADPOOL_SIZE: String(Math.min(1024, availableParallelism() + 4)) };
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit', env });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 + 15 : 1)));
  // This process only waits for the run.
  await new Promise<never>(() => undefined);
}
