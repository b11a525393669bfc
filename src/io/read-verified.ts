/**
 * read-verified: a scan's bytes read whole and checked against the SHA-256 the run took of it
 * earlier, so the bytes decoded are the bytes whose hash names the cached result. A file replaced
 * or rewritten in between (a rescan saved over the old one during a nightly run) is refused, not
 * decoded: its pixels would be paired with another picture's colours, and stored under its key.
 */
import { createHash } from 'node:crypto';
import { openPhoto, type OpenedCheck } from './hash.js';

/** The file's content is not what the run hashed: it changed after the state stage read it. */
export class ChangedFileError extends Error {
  override readonly name = 'ChangedFileError';
  constructor(readonly path: string) {
    // The photo's record puts its path first (errors cross from the worker thread as messages).
    super('changed while ddcolor was working on it (its bytes are no longer those it hashed): not colorized this run; the next run takes the new version');
  }
}

/** Files up to this size are read into one buffer per thread, reused (fresh memory costs more than the read). */
const KEEP_BYTES = 64 * 2 ** 20;
let kept = Buffer.allocUnsafe(0);

/**
 * The bytes of `path` when their SHA-256 is `sha256`, else a ChangedFileError; `check` sees the
 * file opened before it is read. The result may be this thread's reused buffer: valid until the
 * next call on the same thread.
 */
export async function readVerified(path: string, sha256: string, check?: OpenedCheck): Promise<Buffer> {
  const file = await openPhoto(path);
  let bytes: Buffer;
  try {
    await check?.(file);
    const { size } = await file.stat();
    // One byte more than the size, so that a file growing as it is read is noticed.
    let buf = size + 1 <= kept.length ? kept : Buffer.allocUnsafe(size + 1);
    let n = 0;
    for (;;) {
      if (n === buf.length) buf = Buffer.concat([buf, Buffer.allocUnsafe(buf.length)]);
      const { bytesRead } = await file.read(buf, n, buf.length - n, n);
      if (bytesRead === 0) break;
      n += bytesRead;
    }
    if (buf !== kept && buf.length <= KEEP_BYTES) kept = buf;
    bytes = buf.subarray(0, n);
  } finally {
    await file.close();
  }
  if (createHash('sha256').update(bytes).digest('hex') !== sha256) throw new ChangedFileError(path);
  return bytes;
}
