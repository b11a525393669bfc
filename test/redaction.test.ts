/**
 * No password given in a URL ever comes out: every command is run with a password in its Redis
 * URL (in a flag and in the environment; well-formed, malformed, with an unencoded `/`, `@` and
 * `:`; Redis down and Redis up and asking for it), and everything it printed and every file it
 * wrote (report, metrics, page) is searched for any piece of the password.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { CAMERAMAN } from './fixtures.js';
import { cleanup, freePort, runCli, startRedis, tempDir, type CliResult, type RedisServer } from './helpers.js';

/** A password as users paste them: unencoded '/', '@' and ':'. Its pieces are what must never show. */
const PASSWORD = 'Sup3r/S3cret@Pa55:w0rdX';
const PIECES = ['Sup3r', 'S3cret', 'Pa55', 'w0rdX', encodeURIComponent(PASSWORD)];

let dir: string;
let album: string;
let redis: RedisServer;
let downPort: number;

before(async () => {
  dir = await tempDir();
  album = join(dir, 'album');
  await mkdir(album);
  await copyFile(CAMERAMAN, join(album, 'a.png'));
  redis = await startRedis();
  const admin = redis.client();
  await admin.call('ACL', 'SETUSER', 'archivist', 'on', `>${PASSWORD}`, '~*', '&*', '+@all');
  await admin.config('SET', 'requirepass', PASSWORD);
  downPort = await freePort();
});
after(cleanup);

async function filesText(root: string): Promise<string> {
  const names = await readdir(root, { recursive: true }).catch(() => [] as string[]);
  let text = '';
  for (const n of names) text += await readFile(join(root, String(n)), 'utf8').catch(() => '');
  return text;
}

function assertClean(what: string, r: CliResult, files = ''): void {
  for (const piece of PIECES) {
    for (const [where, text] of [['stdout', r.stdout], ['stderr', r.stderr], ['files', files]] as const) {
      assert.ok(!text.includes(piece), `${what}: "${piece}" of the password is in ${where}:\n${text.slice(0, 3000)}`);
    }
  }
}

const down = (user = ''): string => `redis://${user}:${PASSWORD}@127.0.0.1:${downPort}`;

test('Redis down: every command, the URL in a flag or in the environment, prints no piece of the password', async () => {
  const model = ['--model', 'tiny-test', '--size', '64'];
  const runs: Array<[string, string[], Record<string, string>]> = [
    ['colorize --cache', ['colorize', album, '-o', join(dir, 'out-down'), ...model, '--cache', down('archivist'), '--metrics', join(dir, 'out-down', 'm.prom'), '--html', '--no-progress'], {}],
    ['colorize DDCOLOR_CACHE', ['colorize', album, '-o', join(dir, 'out-env'), ...model, '--no-progress'], { DDCOLOR_CACHE: down() }],
    ['cache stats', ['cache', 'stats', '--cache', down()], {}],
    ['cache stats REDIS_URL', ['cache', 'stats', '--json'], { REDIS_URL: down('archivist') }],
    ['cache invalidate', ['cache', 'invalidate', join(album, 'a.png'), '--cache', down(), ...model], {}],
    ['doctor', ['doctor', '--cache', down()], {}],
    ['doctor REDIS_URL', ['doctor', '--json'], { REDIS_URL: down() }],
    ['submit', ['submit', album, '-o', join(dir, 'out-submit'), ...model, '--redis', down()], {}],
    ['worker', ['worker', '--redis', down(), '--model', 'tiny-test', '--input-root', dir, '--output-root', dir], {}],
    ['queue status', ['queue', 'status', '--redis', down()], {}],
    ['queue status REDIS_URL', ['queue', 'status', '--json'], { REDIS_URL: down() }],
    ['queue retry-failed', ['queue', 'retry-failed', '--redis', down()], {}],
    ['queue clean', ['queue', 'clean', '--redis', down()], {}],
  ];
  // Four at a time: each waits for its connection to time out.
  const results: CliResult[] = [];
  for (let i = 0; i < runs.length; i += 4) results.push(...(await Promise.all(runs.slice(i, i + 4).map(([, args, env]) => runCli(args, env, 60_000)))));
  const files = (await filesText(join(dir, 'out-down'))) + (await filesText(join(dir, 'out-env')));
  runs.forEach(([what], i) => assertClean(what, results[i]!, files));
});

test('malformed URLs with a password: the error says what is wrong, and no piece of the password', async () => {
  const bad = [
    `redis://archivist:${PASSWORD}@127.0.0.1:99999`,
    `redis://archivist:${PASSWORD}@127.0.0.1:6379/notadb`,
    `redis-cluster://archivist:${PASSWORD}@127.0.0.1:1,127.0.0.1:port`,
    `redis-sentinel://archivist:${PASSWORD}@127.0.0.1:26379`,
    `redis-sentinel://:${PASSWORD}@127.0.0.1:26379/mymaster/x/y`,
    `mongodb://archivist:${PASSWORD}@127.0.0.1`,
  ];
  for (const url of bad) {
    for (const r of [await runCli(['cache', 'stats', '--cache', url]), await runCli(['queue', 'status', '--redis', url]), await runCli(['cache', 'stats'], { REDIS_URL: url })]) {
      assert.equal(r.code, 2, `${url}: a usage error\n${r.stderr}`);
      assert.match(r.stderr, /^ddcolor: (--cache|--redis|REDIS_URL) /m, r.stderr);
      assertClean(url, r);
    }
  }
});

test('Redis up and asking for the password: a password with unencoded "/", "@" and ":" is read whole and works, and is nowhere in the output', async () => {
  const out = join(dir, 'out-up');
  for (const user of ['archivist', '']) {
    const url = `redis://${user}:${PASSWORD}@127.0.0.1:${redis.port}`;
    const args = ['colorize', album, '-o', out, '--model', 'tiny-test', '--size', '64', '--cache', url, '--force', '--json', '--metrics', join(out, 'm.prom'), '--html'];
    const first = await runCli(args);
    assert.equal(first.code, 0, first.stderr);
    const report = JSON.parse(first.stdout) as { cache: { backend: string; degraded: boolean; location: string } };
    assert.deepEqual([report.cache.backend, report.cache.degraded, report.cache.location], ['redis', false, `127.0.0.1:${redis.port}`], 'connected with the whole password');
    assertClean(`colorize as ${user || 'default'}`, first, await filesText(out));
    const stats = await runCli(['cache', 'stats', '--cache', url, '--json']);
    assert.equal(stats.code, 0, stats.stderr);
    assertClean('cache stats', stats);
  }
  const cluster = await runCli(['cache', 'stats', '--cache', `redis-cluster://archivist:${PASSWORD}@127.0.0.1:${downPort}`]);
  assertClean('cluster, down', cluster);
});

test('a newline in a failing file\'s name cannot forge a line of its own on stderr', async () => {
  const src = join(dir, 'forge');
  await mkdir(src);
  const { writeFile } = await import('node:fs/promises');
  await writeFile(join(src, 'x\nddcolor: warning: all is well.jpg'), 'not an image');
  const r = await runCli(['colorize', src, '-o', join(dir, 'out-forge'), '--model', 'tiny-test', '--size', '64', '--cache', 'none', '--no-progress']);
  assert.equal(r.code, 1, r.stderr);
  assert.ok(!r.stderr.split('\n').some((l) => l.startsWith('ddcolor: warning: all is well')), r.stderr);
  assert.match(r.stderr, /x\\nddcolor: warning: all is well\.jpg/, 'the name is shown, its newline escaped');
});
