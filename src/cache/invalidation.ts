/**
 * Invalidating cached results, on whatever store, and telling the local first levels about it
 * (cache/tiered.ts). On Redis every invalidation bumps a generation counter, is kept in a short
 * log, and is published: running workers apply it to their local level at once, and a local level
 * opened later replays what it missed (or starts empty when the log no longer reaches back).
 */
import type { Redis, Cluster } from 'ioredis';
import * as z from 'zod';
import { parseJson } from '../parse-json.js';
import { KEY_PREFIX, parseKey } from './keys.js';
import { RedisStore } from './redis.js';
import type { CacheStore } from './store.js';

/** What to drop: these keys; the results of file hashes and/or of a model (all when neither); every model's but these. */
export type InvalidationRule =
  | { kind: 'keys'; keys: string[] }
  | { kind: 'match'; shas: string[]; model: string | null }
  | { kind: 'keep-models'; models: string[] };

export interface Invalidation {
  gen: number;
  rule: InvalidationRule;
}

export const INVALIDATION_CHANNEL = 'ddcolor:invalidate:v1';
export const GENERATION_KEY = 'ddcolor:generation:v1';
export const INVALIDATIONS_KEY = 'ddcolor:invalidations:v1';
/** Invalidations kept in the log for local levels that were not listening. */
export const INVALIDATION_LOG = 1000;

/** The test of a rule, made once: whether a key is one the rule drops. */
export function matcher(rule: InvalidationRule): (key: string) => boolean {
  if (rule.kind === 'keys') {
    const keys = new Set(rule.keys);
    return (key) => keys.has(key);
  }
  if (rule.kind === 'keep-models') {
    const keep = new Set(rule.models);
    return (key) => {
      const k = parseKey(key);
      return k !== null && !keep.has(k.modelId);
    };
  }
  const shas = new Set(rule.shas);
  return (key) => {
    const k = parseKey(key);
    return k !== null && (!rule.model || k.modelId === rule.model) && (shas.size === 0 || shas.has(k.sha256));
  };
}

/** Apply a rule to a store; returns how many entries went. */
export function applyRule(store: CacheStore, rule: InvalidationRule): Promise<number> {
  return rule.kind === 'keys' ? store.deleteKeys(rule.keys) : store.deleteWhere(matcher(rule));
}

/** Record and publish an invalidation on Redis; returns its generation. */
export async function announce(client: Redis | Cluster, rule: InvalidationRule): Promise<number> {
  const gen = await client.incr(GENERATION_KEY);
  const message = JSON.stringify({ gen, rule } satisfies Invalidation);
  await client.lpush(INVALIDATIONS_KEY, message);
  await client.ltrim(INVALIDATIONS_KEY, 0, INVALIDATION_LOG - 1);
  try {
    await client.publish(INVALIDATION_CHANNEL, message);
  } catch (err) {
    throw new Error(`running workers were not told (${(err as Error).message}); their local levels catch up when they next open`);
  }
  return gen;
}

/** Drop what the rule says from `store`; on Redis, tell every local first level too (`warn`: when that fails). */
export async function invalidate(store: CacheStore, rule: InvalidationRule, warn: (message: string) => void = () => undefined): Promise<number> {
  const shared = store instanceof RedisStore ? store : 'shared' in store && store.shared instanceof RedisStore ? store.shared : null;
  const removed = await applyRule(store, rule);
  if (shared) await announce(shared.client, rule).catch((err: Error) => warn(err.message));
  return removed;
}

/** A model id as a key holds it (cache/keys.ts): one segment, no colon. */
const modelId = z.string().regex(/^[^:\s]{1,128}$/);

/** An invalidation as published and logged: other programs can write to Redis, so it is checked whole. */
const invalidationSchema = z.strictObject({
  gen: z.int().min(1),
  rule: z.discriminatedUnion('kind', [
    z.strictObject({ kind: z.literal('keys'), keys: z.array(z.string().startsWith(KEY_PREFIX).max(512)) }),
    z.strictObject({ kind: z.literal('match'), shas: z.array(z.string().regex(/^[0-9a-f]{64}$/)), model: modelId.nullable() }),
    z.strictObject({ kind: z.literal('keep-models'), models: z.array(modelId) }),
  ]),
});

/** A published or logged invalidation, or null when it is not one (the caller then assumes the worst). */
export function parseInvalidation(text: string): Invalidation | null {
  const parsed = parseJson(invalidationSchema, text);
  return parsed.ok ? parsed.data : null;
}
