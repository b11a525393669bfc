import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import sharp from 'sharp';
import { decodeAb, encodeAb, quantizeAb } from '../src/chroma/codec.js';
import { FileStore } from '../src/cache/file.js';
import { cacheKey } from '../src/cache/keys.js';
import { decodeImage } from '../src/image/decode.js';
import { sha256File } from '../src/io/hash.js';
import { inspectModel } from '../src/inference/model-info.js';
import { tintModel } from '../src/models/tiny-model.js';
import { colorize } from '../src/pipeline/index.js';
import { cleanup, tempDir } from './helpers.js';

after(cleanup);

/** High-contrast gray noise, each value three times: a gray scan saved as RGB. */
function neutralRgb(width: number, height: number): Buffer {
  const out = Buffer.alloc(width * height * 3);
  let s = 17;
  for (let i = 0; i < width * height; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    out.fill(s >>> 24, 3 * i, 3 * i + 3);
  }
  return out;
}

test('a cached result remembers that its scan decoded to gray; values written without the flag read as not gray', () => {
  const ab = quantizeAb(Float32Array.from({ length: 2 * 16 * 16 }, (_, i) => Math.sin(i) * 40), 16, 16);
  assert.equal(decodeAb(encodeAb(ab), 16).scanIsGray, false);
  assert.equal(decodeAb(encodeAb({ ...ab, scanIsGray: true }), 16).scanIsGray, true);
  assert.deepEqual(decodeAb(encodeAb({ ...ab, scanIsGray: true }), 16).data, ab.data);
});

test('a scan known to be gray is decoded to one channel with the values a full decode finds, profile or not; a 16-bit one as before', async () => {
  const dir = await tempDir();
  const [w, h] = [173, 91];
  const raw = { raw: { width: w, height: h, channels: 3 as const } };
  const jpg = join(dir, 'gray-as-rgb.jpg');
  // sharp's withMetadata also embeds an sRGB profile, as scanners and cameras often do.
  await sharp(neutralRgb(w, h), raw).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toFile(jpg);
  const p3 = join(dir, 'gray-as-p3.png');
  await sharp(neutralRgb(w, h), raw).withIccProfile('p3').png().toFile(p3);
  for (const file of [jpg, p3]) {
    const m = await sharp(file).metadata();
    assert.deepEqual([m.channels, m.hasProfile], [3, true]);
    const full = await decodeImage(file, { neutralAsGray: false });
    assert.equal(full.channels, 3);
    const known = await decodeImage(file, { neutralAsGray: false, knownGray: true });
    assert.deepEqual([known.channels, known.width, known.height], [1, full.width, full.height], `${file}: one channel, upright`);
    for (let i = 0; i < known.pixels.length; i++) {
      assert.equal(full.pixels[3 * i], full.pixels[3 * i + 2], `${file}: pixel ${i} decodes neutral`);
      assert.equal(known.pixels[i], full.pixels[3 * i], `${file}: pixel ${i}`);
    }
  }
  assert.equal((await decodeImage(jpg)).width, h, 'the JPEG is turned upright');
  const wide = join(dir, 'gray-as-rgb16.png');
  await sharp(neutralRgb(w, h), raw).toColourspace('rgb16').png().toFile(wide);
  assert.equal((await decodeImage(wide, { neutralAsGray: false, knownGray: true })).channels, 3);
});

test('a run stores with each result whether its scan decoded to gray: a gray scan saved as RGB yes, a colour one no', async () => {
  const dir = await tempDir();
  await mkdir(join(dir, 'in'));
  const [w, h] = [64, 48];
  const raw = { raw: { width: w, height: h, channels: 3 as const } };
  const colour = Buffer.from(neutralRgb(w, h));
  for (let i = 0; i < colour.length; i += 3) colour[i] = 255 - colour[i]!;
  await sharp(neutralRgb(w, h), raw).jpeg({ quality: 95 }).toFile(join(dir, 'in', 'gray.jpg'));
  await sharp(colour, raw).jpeg({ quality: 95 }).toFile(join(dir, 'in', 'colour.jpg'));
  await writeFile(join(dir, 'tint.onnx'), tintModel(null));
  const model = await inspectModel(join(dir, 'tint.onnx'));
  const cache = join(dir, 'cache');
  const report = await colorize({
    paths: [join(dir, 'in')], outDir: join(dir, 'out'), model, size: 32, device: 'cpu', concurrency: 2,
    cache: { kind: 'file', dir: cache }, ttlMs: 86_400_000, format: 'png', quality: 90, force: false,
  });
  assert.equal(report.totals.inferred, 2);
  const store = new FileStore(cache);
  for (const [name, gray] of [['gray.jpg', true], ['colour.jpg', false]] as const) {
    const [value] = await store.getMany([cacheKey(model.id, 32, await sha256File(join(dir, 'in', name)))]);
    assert.ok(value, `${name} has a cached result`);
    assert.equal(decodeAb(value, 32).scanIsGray, gray, name);
  }
});
