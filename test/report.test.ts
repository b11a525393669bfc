import assert from 'node:assert/strict';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { REPORT_SCHEMA, emptyTotals, reportText, writeReport, type FileRecord, type RunReport } from '../src/report/report.js';
import { cleanup, tempDir } from './helpers.js';

after(cleanup);

function report(files: FileRecord[]): RunReport {
  return {
    schema: REPORT_SCHEMA,
    startedAt: '2026-11-24T02:00:00.000Z',
    finishedAt: '2026-11-24T02:10:00.000Z',
    durationMs: 600_000,
    interrupted: false,
    model: { path: '/models/ddcolor.onnx', id: '3594b9b53e35242b', inputSize: 512, device: 'cpu', note: null, testModel: null },
    cache: { backend: 'redis', location: '10.0.0.5:6379', degraded: false, errors: 0, error: null },
    output: '/archive/colorized',
    totals: { ...emptyTotals(), files: files.length, inferred: files.length },
    hitRate: 0,
    timings: { scanMs: 1, hashMs: 2, lookupMs: 3, decodeMs: 4, inferenceMs: 5, compositeMs: 6, encodeMs: 7, modelLoadMs: 8 },
    problems: [{ path: '/archive/scans/loop', reason: 'symlink loop' }],
    profile: [{ stage: 'decode', count: 3, wallMs: 40, busyMs: 70, waitMs: 5 }],
    files,
  };
}

const photo = (i: number): FileRecord => ({
  input: `/archive/scans/box "${i}"/scan-${i}.tif`,
  output: `/archive/colorized/box "${i}"/scan-${i}.tif`,
  sha256: i.toString(16).padStart(64, '0'),
  status: i % 5 === 0 ? 'failed' : 'inferred',
  error: i % 5 === 0 ? `/archive/scans/box "${i}"/scan-${i}.tif: premature end of JPEG image\n` : null,
});

test('the report streams as valid JSON in blocks, one line per photo, with or without photos', async () => {
  for (const n of [0, 1, 2500]) {
    const r = report(Array.from({ length: n }, (_, i) => photo(i)));
    const blocks = [...reportText(r, 4096)];
    if (n === 2500) assert.ok(blocks.length > 10, 'produced in many blocks, never one string');
    const text = blocks.join('');
    assert.deepEqual(JSON.parse(text), r);
    const lines = text.split('\n');
    assert.equal(lines.filter((l) => l.includes('"sha256"')).length, n, 'one line per photo');
  }
  const dir = await tempDir();
  const path = join(dir, 'sub', 'ddcolor-report.json');
  const r = report(Array.from({ length: 30 }, (_, i) => photo(i)));
  await writeReport(path, r);
  assert.deepEqual(JSON.parse(await readFile(path, 'utf8')), r);
  assert.deepEqual(await readdir(join(dir, 'sub')), ['ddcolor-report.json'], 'written through a temporary name, none left behind');
});

test('atomic writes: a failed write leaves nothing, and a write in progress is removed when the process must exit at once', async () => {
  const { removeAbandonedFiles, removeOnAbandon, writeAtomically } = await import('../src/io/atomic-write.js');
  const dir = await tempDir();
  const dest = join(dir, 'out.png');
  await assert.rejects(writeAtomically(dest, async (tmp) => {
    await writeFile(tmp, 'half');
    throw new Error('disk full');
  }), /disk full/);
  assert.deepEqual(await readdir(dir), []);

  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const writing = writeAtomically(dest, async (tmp) => {
    await writeFile(tmp, 'half');
    await gate;
  });
  await new Promise((r) => setTimeout(r, 20));
  assert.equal((await readdir(dir)).length, 1, 'the temporary file exists while the write is in progress');
  const lock = join(dir, '.ddcolor-lock');
  await writeFile(lock, 'mine');
  removeOnAbandon(lock);
  removeAbandonedFiles();
  assert.deepEqual(await readdir(dir), [], 'the write in progress and the registered lock are gone');
  release();
  await assert.rejects(writing, /ENOENT/, 'the abandoned write never lands');
});
