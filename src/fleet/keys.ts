/**
 * The fleet's keys. Every key, BullMQ's and ddcolor's own, starts with the hash tag `{ddcolor}`,
 * so that on Redis Cluster they all live in one slot (BullMQ's scripts need their keys together).
 * None of them has a TTL: with `maxmemory-policy volatile-lru` Redis evicts cache entries (which
 * all have one) and never these.
 */
import { createHash } from 'node:crypto';

/** BullMQ's key prefix (its keys are `{ddcolor}:<queue>:…`). */
export const PREFIX = '{ddcolor}';

/** The queue's runs by the time they were submitted (a sorted set: an index; each run is its own job, fleet/runs.ts). */
export function runsKey(queue: string): string {
  return `${PREFIX}:${queue}:runs`;
}

/** Photos finished per worker name. */
export function workersKey(queue: string): string {
  return `${PREFIX}:${queue}:workers`;
}

/** The outputs of one output folder that the fleet has written (fleet/done-state.ts). */
export function doneKey(outDir: string): string {
  return `${PREFIX}:done:${createHash('sha256').update(outDir).digest('hex').slice(0, 16)}`;
}

/** The inputs of an output folder that failed for good (unreadable, not an image), by path. */
export function badKey(outDir: string): string {
  return `${PREFIX}:bad:${createHash('sha256').update(outDir).digest('hex').slice(0, 16)}`;
}
