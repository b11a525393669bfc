/**
 * "Safe at a power cut" as the system calls show it: a real `ddcolor colorize` runs under strace,
 * and for every file renamed (or, a new output, hard-linked) into place (each output, each cache entry, the manifest and the
 * report) the log must show its temporary file flushed (fsync) before the rename and its folder
 * flushed after it, and each manifest line flushed (fdatasync) before its output's rename. A
 * write that only renames (what a killed process survives, but not a power cut) fails here.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { CAMERAMAN } from './fixtures.js';
import { ALBUM, BIN, cleanup, tempDir } from './helpers.js';

let dir: string;

before(async () => {
  dir = await tempDir();
});
after(cleanup);

interface Call {
  line: number;
  name: string;
  args: string;
}

/** The system calls of an strace -f -y log, in order, with their arguments (fd paths shown by -y). */
function calls(log: string): Call[] {
  const out: Call[] = [];
  log.split('\n').forEach((text, line) => {
    const m = /^\d+\s+(fsync|fdatasync|rename|renameat2?|link|linkat)\((.*)$/.exec(text);
    if (m) out.push({ line, name: m[1]!, args: m[2]! });
  });
  return out;
}

function strace(args: string[], logFile: string): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn('strace', ['-f', '-y', '-s', '4096', '-e', 'trace=fsync,fdatasync,rename,renameat,renameat2,link,linkat', '-o', logFile, process.execPath, BIN, ...args], {
      stdio: 'ignore',
      env: { ...process.env, DDCOLOR_HOME: join(dir, 'home'), XDG_CACHE_HOME: join(dir, 'xdg') },
    });
    child.on('error', reject);
    child.on('exit', resolve);
  });
}

test('every file renamed into place was flushed before its rename, and its folder after it; manifest lines before their outputs', async () => {
  const src = join(dir, 'album');
  await mkdir(src);
  await copyFile(CAMERAMAN, join(src, 'a.png'));
  await copyFile(join(ALBUM, 'coins.png'), join(src, 'b.png'));
  const out = join(dir, 'out');
  const log = join(dir, 'strace.log');
  const code = await strace(['colorize', src, '-o', out, '--model', 'tiny-test', '--size', '64', '--cache', `file:${join(dir, 'cache')}`, '--no-progress', '-q'], log);
  assert.equal(code, 0);
  const all = calls(await readFile(log, 'utf8'));
  const renames = all
    .map((c, i) => ({ c, i, paths: [...c.args.matchAll(/"([^"]+)"/g)].map((m) => m[1]!) }))
    // Put in place by a rename, or (a new output, which must not replace what appeared there) a hard link.
    .filter((r) => (r.c.name.startsWith('rename') || r.c.name.startsWith('link')) && r.paths.length === 2 && r.paths[0]!.includes('.ddcolor-tmp-'));
  const dests = renames.map((r) => r.paths[1]!);
  for (const want of [join(out, 'a.png'), join(out, 'b.png'), join(out, '.ddcolor-manifest.ndjson'), join(out, 'ddcolor-report.json')]) {
    assert.ok(dests.includes(want), `${want} renamed into place:\n${dests.join('\n')}`);
  }
  assert.ok(dests.filter((d) => d.startsWith(join(dir, 'cache'))).length >= 2, 'the cache entries too');
  const flushed = (path: string, from: number, to: number): boolean =>
    all.slice(from, to).some((c) => (c.name === 'fsync' || c.name === 'fdatasync') && c.args.startsWith(`${/^\d+/.exec(c.args)?.[0] ?? ''}<${path}>`));
  for (const r of renames) {
    const [tmp, dest] = r.paths as [string, string];
    assert.ok(flushed(tmp, 0, r.i), `${tmp} flushed before its rename to ${dest}`);
    assert.ok(flushed(dirname(dest), r.i + 1, all.length), `${dirname(dest)} flushed after ${dest} was renamed into it`);
  }
  // Each output's manifest line is on the disk before the output is renamed into place.
  for (const name of ['a.png', 'b.png']) {
    const r = renames.find((x) => x.paths[1] === join(out, name))!;
    const manifestSyncs = all.slice(0, r.i).filter((c) => c.name === 'fdatasync' && c.args.includes(`<${join(out, '.ddcolor-manifest.ndjson')}>`));
    assert.ok(manifestSyncs.length >= 1, `a manifest line flushed before ${name} is renamed`);
  }
});
