/**
 * The bench scripts run the pipeline in their own process, so they size libuv's thread pool as
 * bin/ddcolor does (the cores plus 4: sharp decodes and encodes on that pool, shared by every
 * pixel thread). It must be set before Node starts (ES modules use the pool as they load), so a
 * script without it runs itself again with it.
 */
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';

export function relaunchWithThreadPool(): void {
  if (process.env.UV_THREADPOOL_SIZE) return;
  const env = { ...process.env, UV_THREADPOOL_SIZE: String(Math.min(1024, availableParallelism() + 4)) };
  const r = spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit', env });
  process.exit(r.status ?? 1);
}
