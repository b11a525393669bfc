/**
 * Whose fault a failure is, decided where it happens and never guessed: what a decoder refuses is
 * the photo's own fault (a fleet remembers it for good), what the encoder cannot hold is the
 * photo's (too large for the format), and an error of ddcolor's own (a bug in the kernel, memory
 * it could not get) is never the photo's: it is `INTERNAL`, tried again, never remembered as bad.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { BadPhotoError, EnvironmentError, InternalError, photoFailure } from '../src/errors.js';
import { compositeWasm } from '../src/image/composite-wasm.js';
import { DecoderError, EncoderError } from '../src/image/decode-errors.js';
import { pixelCount } from '../src/image/pixel-count.js';
import { thumbnail, uprightSize } from '../src/image/thumbnail.js';
import { inspectModel, type ModelInfo } from '../src/inference/model-info.js';
import { sha256File } from '../src/io/hash.js';
import { ChangedFileError, readVerified } from '../src/io/read-verified.js';
import { tintModel } from '../src/models/tiny-model.js';
import { settled } from '../src/fleet/parts.js';
import { colorize, type ColorizeOptions } from '../src/pipeline/index.js';
import { describeFailure, failureError } from '../src/pipeline/pixel-failure.js';
import type { FileRecord } from '../src/report/report.js';
import { bmp } from './fixtures.js';
import { ALBUM, cleanup, tempDir } from './helpers.js';

let dir: string;
let model: ModelInfo;

before(async () => {
  dir = await tempDir();
  await writeFile(join(dir, 'tint.onnx'), tintModel(null));
  model = await inspectModel(join(dir, 'tint.onnx'));
});
after(cleanup);

function options(src: string, out: string, more: Partial<ColorizeOptions> = {}): ColorizeOptions {
  return { paths: [src], outDir: out, model, size: 64, device: 'cpu', concurrency: 2, cache: { kind: 'none' }, ttlMs: 0, format: 'png', quality: 90, force: false, ...more };
}

/** The header of a BMP of `width` x `height` at `bits`, compression `compression`, and `rest` bytes after it. */
function bmpHeader(width: number, height: number, bits: number, compression: number, rest: number): Buffer {
  const buf = Buffer.alloc(54 + rest);
  buf.write('BM', 0, 'latin1');
  buf.writeUInt32LE(buf.length, 2);
  buf.writeUInt32LE(54, 10);
  buf.writeUInt32LE(40, 14);
  buf.writeInt32LE(width, 18);
  buf.writeInt32LE(height, 22);
  buf.writeUInt16LE(1, 26);
  buf.writeUInt16LE(bits, 28);
  buf.writeUInt32LE(compression, 30);
  return buf;
}

function byName(records: readonly FileRecord[]): Map<string, FileRecord> {
  return new Map(records.map((r) => [r.input.split('/').pop()!, r]));
}

test('what the decoder or the encoder refuses is the photo\'s own fault, each with its code and words; the good photo is made', async () => {
  const src = join(dir, 'refused');
  await mkdir(src);
  await copyFile(join(ALBUM, 'cameraman.png'), join(src, 'good.png'));
  // An RLE-compressed BMP (compression 1), which ddcolor does not read.
  await writeFile(join(src, 'rle.bmp'), bmpHeader(8, 8, 8, 1, 64));
  // A 24-bit BMP whose pixels end early.
  await writeFile(join(src, 'torn.bmp'), bmpHeader(60, 40, 24, 0, 100));
  // A 16-bit BMP with bit masks (compression 3) that ends inside its masks: its reader read past the end.
  await writeFile(join(src, 'masks.bmp'), bmpHeader(4, 4, 16, 3, 2));
  // Wider than WebP holds (16383): the decoder reads it, the encoder cannot write it.
  await sharp({ create: { width: 16_400, height: 4, channels: 3, background: '#777' } }).png().toFile(join(src, 'wide.png'));
  const report = await colorize(options(src, join(dir, 'refused-out'), { format: 'webp' }));
  const files = byName(report.files);
  assert.equal(files.get('good.png')!.status, 'inferred', files.get('good.png')!.error ?? '');
  const expected: Record<string, [string, RegExp]> = {
    'rle.bmp': ['NOT_AN_IMAGE', /rle\.bmp: a compressed BMP \(compression 1\), which ddcolor does not read; save it as PNG or TIFF$/],
    'torn.bmp': ['DAMAGED', /torn\.bmp: truncated BMP \(its pixels end early\)$/],
    'masks.bmp': ['DAMAGED', /masks\.bmp: truncated or damaged BMP \(/],
    'wide.png': ['TOO_LARGE', /wide\.png: too large/],
  };
  for (const [name, [code, words]] of Object.entries(expected)) {
    const r = files.get(name)!;
    assert.equal(r.status, 'failed', name);
    assert.equal(r.code, code, `${name}: ${r.error}`);
    assert.equal(r.transient, undefined, `${name} is the photo's own fault`);
    assert.match(r.error ?? '', words);
    assert.ok(settled(r), `${name}: a fleet would not try it again unchanged`);
  }
});

test('more pixels than the run decodes is TOO_LARGE, for a BMP (ddcolor\'s own reader) as for a PNG (libvips)', async () => {
  const src = join(dir, 'limit');
  await mkdir(src);
  await bmp(join(src, 'small.bmp'), 24, 30, 20);
  await bmp(join(src, 'big.bmp'), 24, 60, 40);
  await copyFile(join(ALBUM, 'cameraman.png'), join(src, 'big.png'));
  const report = await colorize(options(src, join(dir, 'limit-out'), { maxPixels: 1000 }));
  const files = byName(report.files);
  assert.equal(files.get('small.bmp')!.status, 'inferred', files.get('small.bmp')!.error ?? '');
  for (const name of ['big.bmp', 'big.png']) {
    assert.equal(files.get(name)!.code, 'TOO_LARGE', `${name}: ${files.get(name)!.error}`);
    assert.match(files.get(name)!.error ?? '', /too large/);
  }
});

test('an error of ddcolor\'s own in the pixel work (the kernel, memory it cannot get, a bug) is INTERNAL: tried again, never the photo\'s fault', () => {
  const path = '/in/a.png';
  // The composite kernel refusing what it was given: a bug of ours, were it ever reached.
  let kernelError: unknown = null;
  try {
    compositeWasm({ pixels: new Uint8Array(10), channels: 1, width: 4, height: 4 }, { width: 2, height: 2, data: new Uint8Array(8) }, 1);
  } catch (err) {
    kernelError = err;
  }
  assert.ok(kernelError instanceof Error, 'the kernel refused the call');
  // Memory that cannot be had.
  let noMemory: unknown = null;
  try {
    new Uint8Array(Number.MAX_SAFE_INTEGER);
  } catch (err) {
    noMemory = err;
  }
  assert.ok(noMemory instanceof RangeError);
  for (const err of [kernelError, noMemory, new TypeError("Cannot read properties of undefined (reading 'width')")]) {
    const crossed = describeFailure(path, err);
    assert.equal(crossed.fault, 'ddcolor', String(err));
    assert.equal(crossed.code, 'INTERNAL');
    assert.match(crossed.reason, /^ddcolor itself failed on it \(\w*Error: .+\); not the photo's fault/);
    const failure = failureError(path, crossed);
    assert.ok(failure instanceof InternalError && !(failure instanceof BadPhotoError));
    assert.equal(failure.transient, true);
    // The same error on the main thread is typed the same way.
    const onMain = photoFailure(path, err);
    assert.ok(onMain instanceof InternalError);
    assert.equal(onMain.code, 'INTERNAL');
  }
  // The decoder or the encoder out of memory (libvips' and libjpeg's own words) is the machine's: the scan is tried again.
  for (const err of [new DecoderError('vips_tracked: out of memory --- size == 1536MB'), new DecoderError('VipsJpeg: Insufficient memory (case 4)'), new EncoderError('vips_tracked: out of memory --- size == 96MB')]) {
    const crossed = describeFailure(path, err);
    assert.deepEqual([crossed.fault, crossed.code], ['environment', 'ENOMEM'], err.message);
    assert.match(crossed.reason, /^out of memory \(ENOMEM; the (de|en)coder said: /);
    assert.equal(failureError(path, crossed).transient, true);
  }
  // A damaged file is still the photo's.
  assert.deepEqual([describeFailure(path, new DecoderError('VipsJpeg: Premature end of JPEG file')).fault], ['photo']);
  // The machine's faults stay the machine's.
  const eacces = Object.assign(new Error('EACCES: permission denied, open'), { code: 'EACCES', path });
  assert.deepEqual([describeFailure(path, eacces).fault, describeFailure(path, eacces).code], ['environment', 'EACCES']);
  assert.ok(failureError(path, describeFailure(path, new ChangedFileError(path))) instanceof EnvironmentError);
});

test('a pipe or a device where a photo was (put there after the scan) is NOT_A_FILE at once: never a hang, never an endless read', async () => {
  const fifo = join(dir, 'pipe.png');
  execFileSync('mkfifo', [fifo]);
  for (const path of [fifo, '/dev/zero']) {
    for (const read of [() => sha256File(path), () => readVerified(path, '0'.repeat(64))]) {
      await assert.rejects(read(), (err: unknown) => {
        assert.ok(err instanceof BadPhotoError, String(err));
        assert.equal(err.code, 'NOT_A_FILE');
        assert.match(err.message, /is not a regular file \(a device, a pipe or a socket\)$/);
        return true;
      });
    }
  }
  await assert.rejects(sha256File(dir), (err: unknown) => err instanceof BadPhotoError && err.code === 'NOT_A_FILE' && /is a folder, not a file$/.test(err.message));
  // The memory budget's look at the header, and the --html page's previews, do not block on the pipe either.
  assert.equal(await pixelCount(fifo), 0);
  assert.equal(await uprightSize(fifo), null);
  await assert.rejects(thumbnail(fifo, join(dir, 'pipe-thumb.jpg')), BadPhotoError);
});
