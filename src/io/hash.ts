/** hash: streaming SHA-256 of a file's bytes (Node's uses the CPU's SHA instructions). */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

export function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    const stream = createReadStream(path, { highWaterMark: 1 << 20 });
    stream.on('data', (chunk) => hash.update(chunk));
    stream.on('error', reject);
    stream.on('end', () => resolve(hash.digest('hex')));
  });
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** Whether `text` is a SHA-256 as ddcolor writes it: 64 lowercase hex digits. */
export function isSha256(text: string): boolean {
  return SHA256_HEX.test(text);
}
