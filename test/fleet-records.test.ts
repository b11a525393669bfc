/**
 * The fleet's record of a run, on a real redis-server: when many workers finish a run's last
 * jobs at the same moment, exactly one of them is told it finished the run (and writes the
 * combined report), and every job's totals are counted once.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { openQueueConnection, type QueueConnection } from '../src/fleet/connection.js';
import type { JobData } from '../src/fleet/jobs.js';
import { runKey } from '../src/fleet/keys.js';
import { finishJob, runProgress } from '../src/fleet/runs.js';
import { cleanup, startRedis } from './helpers.js';

let conns: QueueConnection[] = [];

before(async () => {
  const redis = await startRedis();
  conns = await Promise.all(Array.from({ length: 4 }, () => openQueueConnection({ kind: 'redis', url: redis.url })));
});
after(async () => {
  for (const c of conns) c.disconnect();
  await cleanup();
});

test('workers finishing a run\'s last jobs at once: exactly one is told the run is finished', async () => {
  const result = { hit: 1, inferred: 0, skipped: 0, failed: 0, notProcessed: 0 };
  for (let k = 0; k < 40; k++) {
    const run = `run-race-${k}`;
    const data = { run } as JobData;
    await conns[0]!.hset(runKey('q', run), { outDir: '/x', jobs: '4', photos: '4', submittedAt: '1' });
    // Four workers, each on its own connection, finish the run's four jobs at the same moment.
    const last = await Promise.all(conns.map((c, i) => finishJob(c, 'q', data, `job-${i}`, result, `w${i}`, 1)));
    assert.equal(last.filter(Boolean).length, 1, `${run}: ${JSON.stringify(last)}`);
    // A job finished again (its worker was presumed dead) does not finish the run a second time.
    assert.equal(await finishJob(conns[0]!, 'q', data, 'job-0', result, 'w0', 0), false);
    const p = (await runProgress(conns[0]!, 'q', run))!;
    assert.deepEqual([p.finishedJobs, p.totals.hit], [4, 4]);
  }
});
