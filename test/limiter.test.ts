/**
 * The pipeline's concurrency limit: never more tasks at once than the limit, even when a newcomer
 * arrives in the very microtask after a task ends and before the task it woke has started (the
 * race that let two heavy stages run under a limit of one). And the back-pressure: `settle()`
 * resolves only once the tasks running and queued are within the limit.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Limiter } from '../src/pipeline/limiter.js';

/** A task that counts how many run at once. */
function counter(): { task: () => Promise<void>; max: () => number } {
  let active = 0;
  let max = 0;
  return {
    task: async () => {
      active++;
      max = Math.max(max, active);
      await new Promise((resolve) => setImmediate(resolve));
      active--;
    },
    max: () => max,
  };
}

test('a newcomer arriving just as a task ends waits its turn: never two tasks under a limit of one', async () => {
  const lim = new Limiter(1);
  const c = counter();
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  // The first task's own promise, chained twice: the limiter's reaction first, then the newcomer's.
  const first = (async () => {
    await gate;
  })();
  const running = [lim.run(() => first), lim.run(c.task)];
  running.push(first.then(() => lim.run(c.task)));
  release();
  await Promise.all(running);
  assert.equal(c.max(), 1);
});

test('under load from many producers, the limit holds and every task runs once', async () => {
  for (const limit of [1, 2, 5]) {
    const lim = new Limiter(limit);
    let active = 0;
    let max = 0;
    let done = 0;
    const task = async (): Promise<void> => {
      active++;
      max = Math.max(max, active);
      for (let k = 0; k < (done % 3) + 1; k++) await Promise.resolve();
      if (done % 7 === 0) await new Promise((resolve) => setImmediate(resolve));
      active--;
      done++;
    };
    const all: Array<Promise<void>> = [];
    for (let i = 0; i < 500; i++) {
      all.push(lim.run(task));
      // Newcomers at every microtask boundary, some chained on tasks that just ended.
      if (i % 5 === 0) await Promise.resolve();
      if (i % 11 === 0) all.push(all[all.length - 1]!.then(() => lim.run(task)));
    }
    await Promise.all(all);
    assert.ok(max <= limit, `limit ${limit}: ${max} ran at once`);
    assert.equal(done, all.length);
  }
});

test('settle() waits until the tasks running and queued are within the limit', async () => {
  const lim = new Limiter(2);
  const gates: Array<() => void> = [];
  const tasks = Array.from({ length: 5 }, () => lim.run(() => new Promise<void>((resolve) => gates.push(resolve))));
  assert.equal(lim.load, 5);
  let settled = false;
  const settling = lim.settle().then(() => (settled = true));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(settled, false, '5 tasks under a limit of 2: not settled');
  gates.shift()!();
  gates.shift()!();
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(settled, false, '3 left: not settled');
  gates.shift()!();
  await settling;
  assert.ok(lim.load <= 2);
  while (gates.length > 0 || lim.load > 0) {
    gates.shift()?.();
    await new Promise((resolve) => setImmediate(resolve));
  }
  await Promise.all(tasks);
});
