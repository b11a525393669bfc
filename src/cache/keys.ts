/**
 * Cache key schema: `ddcolor:v2:<model id>:<size>:<sha256 of the file>`.
 *
 * The model id is a hash of the ONNX file's bytes, so a new model can never be served an old
 * model's results; the size is the model's input size S, since DDColor's output changes with it.
 * The version changes whenever what the model is fed changes, so that results made the old way
 * are never served again: v1 entries (ddcolor 0.1) were made from a wrongly decoded input for
 * many grayscale scans, and from a lanczos resize for all; they are never read (they expire).
 */
import { isSha256 } from '../io/hash.js';

export const KEY_PREFIX = 'ddcolor:v2:';
/** Lifetime hit/miss counters live beside the entries, under a name no entry key can take. */
export const STATS_KEY = 'ddcolor:stats:v1';

/** Short-lived locks that make one run (of many sharing the cache) infer a photo. */
export const LOCK_PREFIX = 'ddcolor:lock:v1:';

/** The lock key guarding an entry key. */
export function lockKeyFor(entryKey: string): string {
  return LOCK_PREFIX + entryKey.slice(KEY_PREFIX.length);
}


export function cacheKey(modelId: string, size: number, sha256: string): string {
  if (!isSha256(sha256)) throw new Error(`not a sha256: ${sha256}`);
  return `${KEY_PREFIX}${modelId}:${size}:${sha256}`;
}

export interface ParsedKey {
  modelId: string;
  size: number;
  sha256: string;
}

export function parseKey(key: string): ParsedKey | null {
  if (!key.startsWith(KEY_PREFIX)) return null;
  const parts = key.slice(KEY_PREFIX.length).split(':');
  if (parts.length !== 3) return null;
  const [modelId, size, sha256] = parts as [string, string, string];
  const s = Number(size);
  if (!Number.isInteger(s) || s <= 0 || !isSha256(sha256)) return null;
  return { modelId, size: s, sha256 };
}

/** TTL with a few percent of jitter (default ±5 %), so one night's entries do not expire together. */
export function jitteredTtl(ttlMs: number, spread = 0.05, random: () => number = Math.random): number {
  if (ttlMs <= 0) return 0;
  return Math.max(1000, Math.round(ttlMs * (1 - spread + 2 * spread * random())));
}
