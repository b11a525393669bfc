import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseByteSize } from '../src/cli/parse.js';
import { formatBytes, parseBytes } from '../src/units.js';
import { runCli } from './helpers.js';

test('sizes are read in SI units, and binary units mean what they say', () => {
  assert.equal(parseBytes('500MB'), 500_000_000);
  assert.equal(parseBytes('2 GB'), 2_000_000_000);
  assert.equal(parseBytes('1.5gb'), 1_500_000_000);
  assert.equal(parseBytes('20KB'), 20_000);
  assert.equal(parseBytes('2G'), 2_000_000_000);
  assert.equal(parseBytes('4096'), 4096);
  assert.equal(parseBytes('2GiB'), 2 * 1024 ** 3);
  assert.equal(parseBytes('64 MiB'), 64 * 1024 ** 2);
  assert.equal(parseBytes('1KiB'), 1024);
  for (const bad of ['', 'MB', '2 GBs', '-1GB', '1e9', '2 gigabytes']) assert.equal(parseBytes(bad), null, bad);
  assert.throws(() => parseByteSize('2 GBs'), /expected a size such as 500MB or 2GB \(SI: 1 GB = 1000 MB; KiB, MiB, GiB also taken\), got "2 GBs"/);
});

test('sizes are printed in SI units, labelled so', () => {
  assert.equal(formatBytes(812), '812 B');
  assert.equal(formatBytes(4200), '4.2 kB');
  assert.equal(formatBytes(112_723_138), '113 MB');
  assert.equal(formatBytes(99_950_000), '100 MB');
  assert.equal(formatBytes(12_345_678), '12.3 MB');
  assert.equal(formatBytes(2_000_000_000), '2 GB');
  assert.equal(formatBytes(2 * 1024 ** 3), '2.1 GB', 'never 2 GiB printed as "2 GB"');
  // A size printed and read back is the same size, to the digits shown.
  for (const n of [1500, 2_500_000, 1_000_000_000]) assert.equal(parseBytes(formatBytes(n).replace(' ', '')), n);
});

test("a size flag's default is shown in the same units, not as a count of bytes", async () => {
  const r = await runCli(['submit', '--help']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout.replace(/\s+/g, ' '), /--job-bytes <size> input bytes per job at most, e\.g\. 500MB \(default: 1 GB\)/);
  assert.doesNotMatch(r.stdout, /1073741824|1000000000/);
});
