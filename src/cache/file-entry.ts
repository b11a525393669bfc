/**
 * The embedded store's entry file format, and its verification: every read checks the magic, the
 * version, the lengths, the key and a digest of key and value, so a torn, truncated or altered
 * file is never served (it reads as absent).
 *
 *   magic "DDCE" 4 | version 1 | pad 3 | expiresAt f64 8 | key length u32 4 | value length u32 4
 *   key | value | first 16 bytes of SHA-256(header, key, value)
 *
 * Version 2 extends the digest over the header (version 1 left the expiry unchecked); a version 1
 * file reads as absent, so the photo is inferred again and its entry rewritten.
 */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';

const MAGIC = Buffer.from('DDCE', 'ascii');
const VERSION = 2;
const DIGEST = 16;
const HEAD = 24;
/** Keys are short (ddcolor:v2:<model>:<size>:<sha256>); a longer one means a damaged header. */
const MAX_KEY = 512;

function digest(head: Buffer, key: Buffer, value: Buffer): Buffer {
  return createHash('sha256').update(head).update(key).update(value).digest().subarray(0, DIGEST);
}

export function encodeEntry(key: string, value: Buffer, expiresAt: number): Buffer {
  const k = Buffer.from(key, 'utf8');
  const head = Buffer.alloc(HEAD);
  MAGIC.copy(head, 0);
  head.writeUInt8(VERSION, 4);
  head.writeDoubleLE(expiresAt, 8);
  head.writeUInt32LE(k.length, 16);
  head.writeUInt32LE(value.length, 20);
  return Buffer.concat([head, k, value, digest(head, k, value)]);
}

export interface DecodedEntry {
  key: string;
  value: Buffer;
  expiresAt: number;
}

/** Parse and verify an entry file; null when it is damaged in any way. */
export function decodeEntry(buf: Buffer): DecodedEntry | null {
  if (buf.length < HEAD + DIGEST || !buf.subarray(0, 4).equals(MAGIC) || buf.readUInt8(4) !== VERSION) return null;
  const expiresAt = buf.readDoubleLE(8);
  const kl = buf.readUInt32LE(16);
  const vl = buf.readUInt32LE(20);
  if (buf.length !== HEAD + kl + vl + DIGEST) return null;
  const k = buf.subarray(HEAD, HEAD + kl);
  const value = buf.subarray(HEAD + kl, HEAD + kl + vl);
  if (!digest(buf.subarray(0, HEAD), k, value).equals(buf.subarray(HEAD + kl + vl))) return null;
  return { key: k.toString('utf8'), value, expiresAt };
}

/** The key of an entry file from its header alone (for listing and invalidating); null when damaged or gone. */
export async function readEntryKey(path: string): Promise<string | null> {
  const fh = await open(path, 'r').catch(() => null);
  if (!fh) return null;
  try {
    const head = Buffer.alloc(HEAD + MAX_KEY);
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    if (bytesRead < HEAD || !head.subarray(0, 4).equals(MAGIC)) return null;
    const kl = head.readUInt32LE(16);
    if (kl > MAX_KEY || bytesRead < HEAD + kl) return null;
    return head.subarray(HEAD, HEAD + kl).toString('utf8');
  } finally {
    await fh.close();
  }
}
