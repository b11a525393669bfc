/** hash: streaming SHA-256 of a file's bytes (Node's uses the CPU's SHA instructions). */
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { BadPhotoError } from '../errors.js';

/** A check of a file just opened, before a byte of it is read (io/roots.ts checkOpenedInput, for a fleet worker's inputs). */
export type OpenedCheck = (handle: FileHandle) => Promise<void>;

/**
 * A photo's file opened for reading, only if it is a regular file: a pipe or a device put in its
 * place after the scan (which takes regular files only) would block the open, or never end (a
 * link to /dev/zero). Opened without blocking, then checked; anything else is NOT_A_FILE.
 */
export async function openPhoto(path: string): Promise<FileHandle> {
  const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const st = await handle.stat();
    if (st.isDirectory()) throw new BadPhotoError(path, 'NOT_A_FILE', 'is a folder, not a file');
    if (!st.isFile()) throw new BadPhotoError(path, 'NOT_A_FILE', 'is not a regular file (a device, a pipe or a socket)');
  } catch (err) {
    await handle.close();
    throw err;
  }
  return handle;
}

/** Rejects as openPhoto does when `path` is not a regular file (for a reader that opens it by its path: libvips). */
export async function checkRegularFile(path: string): Promise<void> {
  await (await openPhoto(path)).close();
}

export async function sha256File(path: string, check?: OpenedCheck): Promise<string> {
  const handle = await openPhoto(path);
  try {
    await check?.(handle);
  } catch (err) {
    await handle.close();
    throw err;
  }
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    // The stream closes the file at its end or on an error.
    const stream = handle.createReadStream({ highWaterMark: 1 << 20 });
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
