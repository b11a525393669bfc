import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, truncate, writeFile } from 'node:fs/promises';
import { after, test } from 'node:test';
import { decodeEntry, encodeEntry, readEntryKey } from '../src/cache/file-entry.js';
import { FileStore } from '../src/cache/file.js';
import { CorruptValueError, decodeAb, encodeAb, quantizeAb } from '../src/chroma/codec.js';
import { cacheKey, jitteredTtl, parseKey } from '../src/cache/keys.js';
import { cleanup, tempDir } from './helpers.js';

after(cleanup);

function planes(size: number): Float32Array {
  const ab = new Float32Array(2 * size * size);
  for (let i = 0; i < ab.length; i++) ab[i] = Math.sin(i / 97) * 60 + (i < size * size ? 10 : -20);
  return ab;
}

test('an ab value survives encoding: quantized to within half a Lab unit, and small', () => {
  const size = 64;
  const ab = planes(size);
  const q = quantizeAb(ab, size, size);
  const value = encodeAb(q);
  const back = decodeAb(value, size);
  assert.equal(back.width, size);
  assert.deepEqual(back.data, q.data);
  for (let i = 0; i < ab.length; i++) assert.ok(Math.abs(back.data[i]! - 128 - ab[i]!) <= 0.5 + 1e-6);
  assert.ok(value.length < 2 * size * size, `compressed to ${value.length} bytes`);
});

test('any bytes at any width survive encoding exactly (rows whose width is not a multiple of 4 too)', () => {
  let seed = 7;
  const random = (): number => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
  for (const [w, h] of [[1, 1], [3, 2], [7, 5], [510, 3], [512, 4]] as const) {
    const data = Uint8Array.from({ length: 2 * w * h }, random);
    const back = decodeAb(encodeAb({ width: w, height: h, data }));
    assert.deepEqual(back.data, data, `${w}x${h}`);
  }
});

test('quantization clamps values outside -128..127', () => {
  const q = quantizeAb(Float32Array.from([-500, 500]), 1, 1);
  assert.deepEqual([...q.data], [0, 255]);
});

test('a flipped bit, a truncated value, a wrong size or foreign bytes are refused, never decoded', () => {
  const value = encodeAb(quantizeAb(planes(32), 32, 32));
  const flipped = Buffer.from(value);
  flipped[flipped.length - 3]! ^= 0x10;
  assert.throws(() => decodeAb(flipped, 32), CorruptValueError);
  assert.throws(() => decodeAb(value.subarray(0, value.length - 5), 32), CorruptValueError);
  assert.throws(() => decodeAb(value, 64), CorruptValueError);
  assert.throws(() => decodeAb(Buffer.from('hello world, this is not an ab value'), 32), CorruptValueError);
  const badSum = Buffer.from(value);
  badSum[17]! ^= 1;
  assert.throws(() => decodeAb(badSum, 32), /checksum/);
});

test('cache keys follow ddcolor:v2:<model id>:<size>:<sha256> and parse back', () => {
  const sha = 'a'.repeat(64);
  const key = cacheKey('0123456789abcdef', 512, sha);
  assert.equal(key, `ddcolor:v2:0123456789abcdef:512:${sha}`);
  assert.deepEqual(parseKey(key), { modelId: '0123456789abcdef', size: 512, sha256: sha });
  assert.equal(parseKey('ddcolor:stats:v1'), null);
  assert.equal(parseKey('other:v1:x:1:' + sha), null);
  assert.throws(() => cacheKey('m', 512, 'not-a-hash'));
});

test('TTL jitter spreads expiry over ±5% of the TTL', () => {
  const ttl = 30 * 86_400_000;
  const values = Array.from({ length: 1000 }, () => jitteredTtl(ttl));
  assert.ok(values.every((v) => v >= ttl * 0.95 && v <= ttl * 1.05));
  assert.ok(new Set(values).size > 900, 'expiries are spread, not equal');
  assert.equal(jitteredTtl(0), 0);
});

test('embedded store entries are verified at every read: damaged, truncated, misplaced or expired files read as absent and are removed', async () => {
  const key = cacheKey('3594b9b53e35242b', 512, 'ab'.repeat(32));
  const value = Buffer.from('some ab planes');
  const bytes = encodeEntry(key, value, 1e15);
  assert.deepEqual(decodeEntry(bytes), { key, value, expiresAt: 1e15 });
  for (let i = 0; i < bytes.length; i += 7) {
    const flipped = Buffer.from(bytes);
    flipped[i]! ^= 0x10;
    assert.equal(decodeEntry(flipped), null, `a flipped bit at byte ${i} is caught`);
  }
  assert.equal(decodeEntry(bytes.subarray(0, bytes.length - 1)), null);

  let now = 1_000_000;
  const store = await new FileStore(await tempDir(), { now: () => now }).open();
  const other = cacheKey('3594b9b53e35242b', 512, 'cd'.repeat(32));
  await store.setMany([{ key, value }, { key: other, value }], 60_000);
  assert.equal(await readEntryKey(store.pathFor(key)), key);
  assert.deepEqual(await store.getMany([key, other]), [value, value]);
  // Damaged on disk: absent, and the file is gone.
  await truncate(store.pathFor(key), 30);
  assert.deepEqual(await store.getMany([key]), [null]);
  assert.equal(existsSync(store.pathFor(key)), false);
  // An intact entry under another key's name (a misplaced file) is not served for that key.
  await writeFile(store.pathFor(key), await readFile(store.pathFor(other)));
  assert.deepEqual(await store.getMany([key]), [null]);
  // Expired (the TTL with its jitter is at most 105 % of 60 s).
  now += 63_001;
  assert.deepEqual(await store.getMany([other]), [null]);
  assert.equal(existsSync(store.pathFor(other)), false);
});
