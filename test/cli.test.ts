import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { cudaProviderInstalled } from '../src/inference/session.js';
import { sha256File } from '../src/io/hash.js';
import { tintModel } from '../src/models/tiny-model.js';
import { packageVersion } from '../src/version.js';
import { ALBUM, ROOT, TLS_DIR, cleanup, runCli, startRedis, startTlsRedis, tempDir } from './helpers.js';

let dir: string;
let model: string;

before(async () => {
  dir = await tempDir();
  model = join(dir, 'tint.onnx');
  await writeFile(model, tintModel(null));
});
after(cleanup);

test('colorize: exit 0, a summary on stdout, the report in the output folder', async () => {
  const out = join(dir, 'out0');
  const r = await runCli(['colorize', ALBUM, '-o', out, '--model', model, '--size', '64', '--cache', `file:${join(dir, 'cache0')}`, '--no-progress']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /5 photos .*: 5 inferred, 0 from cache, 0 up to date, 0 failed/);
  assert.match(r.stdout, new RegExp(`report: ${join(out, 'ddcolor-report.json')}`));
  assert.match(r.stderr, /model loaded on CPU/);
  const report = JSON.parse(await readFile(join(out, 'ddcolor-report.json'), 'utf8')) as { schema: string; totals: { inferred: number } };
  assert.equal(report.schema, 'ddcolor.report/v1');
  assert.equal(report.totals.inferred, 5);
});

test('the summary tells photos left alone in colour from those up to date, and names the model, or says it was not loaded', async () => {
  const src = join(dir, 'mixed-colour');
  await mkdir(src);
  await copyFile(join(ALBUM, 'cameraman.png'), join(src, 'gray.png'));
  // A photo in vivid colour: left alone by --skip-color.
  const vivid = Buffer.alloc(64 * 64 * 3);
  for (let i = 0; i < 64 * 64; i++) vivid.set(i % 64 < 32 ? [220, 30, 40] : [30, 60, 220], i * 3);
  await sharp(vivid, { raw: { width: 64, height: 64, channels: 3 } }).png().toFile(join(src, 'colour.png'));
  const out = join(dir, 'out-skip');
  const args = ['colorize', src, '-o', out, '--model', model, '--size', '64', '--cache', `file:${join(dir, 'cache-skip')}`, '--no-progress', '--skip-color'];
  const r = await runCli(args);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /2 photos .*: 1 inferred, 0 from cache, 0 up to date, 1 already in colour, 0 failed/);
  assert.match(r.stdout, /^Model tint \([0-9a-f]{16}\) \(test model: tints photos sepia; does not colorize\) at 64px on CPU; cache file /m);
  const again = await runCli(args);
  assert.match(again.stdout, /: 0 inferred, 0 from cache, 1 up to date, 1 already in colour, 0 failed/);
  assert.match(again.stdout, /^Model tint \([0-9a-f]{16}\) \(test model: tints photos sepia; does not colorize\) at 64px, not loaded \(no photo needed it: all from the cache or up to date\)/m);
});

test('--json prints the report and nothing else on stdout', async () => {
  const out = join(dir, 'out1');
  const r = await runCli(['colorize', ALBUM, '-o', out, '--model', model, '--size', '64', '--cache', 'none', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as { totals: { files: number }; cache: { backend: string } };
  assert.equal(report.totals.files, 5);
  assert.equal(report.cache.backend, 'none');
});

test('exit 1 when some photos fail, naming them on stderr and in the report', async () => {
  const src = join(dir, 'bad');
  await mkdir(src);
  await copyFile(join(ALBUM, 'coins.png'), join(src, 'coins.png'));
  await writeFile(join(src, 'broken.png'), 'not a png');
  const out = join(dir, 'out2');
  const r = await runCli(['colorize', src, '-o', out, '--model', model, '--size', '64', '--cache', 'none', '-q']);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '', 'quiet: no summary');
  assert.match(r.stderr, new RegExp(`failed: ${join(src, 'broken.png')}: `));
  const report = JSON.parse(await readFile(join(out, 'ddcolor-report.json'), 'utf8')) as { totals: { failed: number; inferred: number } };
  assert.deepEqual([report.totals.failed, report.totals.inferred], [1, 1]);
});

test('exit 2 for usage and configuration errors, with a message that says what is wrong', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['colorize', join(dir, 'no-such-folder'), '--model', model], /no-such-folder: no such file or folder/],
    [['colorize', ALBUM, '--model', join(dir, 'missing.onnx')], /missing\.onnx: no such file.*README/],
    [['colorize', ALBUM, '--model', model, '--size', '100'], /multiple of 32/],
    [['colorize', ALBUM, '--model', model, '--preset', 'landscape'], /Allowed choices are person, building/],
    [['colorize', ALBUM, '--model', model, '--cache', 'memcached://x'], /expected redis:\/\/.*file:<dir> or none/],
    [['colorize', ALBUM, '--model', model, '--ttl', 'forever'], /expected a duration/],
    [['colorize', ALBUM, '--model', model, '--quality', '0'], /from 1 to 100/],
    [['colorize', ALBUM, '--model', model, '--threads', '0'], /--threads.*from 1 to 1024/],
    [['colorize', ALBUM, '--model', model, '--device', 'cuda', '--cache', 'none', '-o', join(dir, 'cuda')], /CUDA/],
    [['colorize'], /missing required argument/],
    [['frobnicate'], /unknown command/],
  ];
  for (const [args, message] of cases) {
    const r = await runCli(args);
    assert.equal(r.code, 2, `${args.join(' ')}: exit ${r.code}\n${r.stderr}`);
    assert.match(r.stderr, message, args.join(' '));
    // One prefix for every error, commander's flag errors too.
    assert.match(r.stderr, /^ddcolor: /, args.join(' '));
    assert.doesNotMatch(r.stderr, /^error: /m, args.join(' '));
  }
  // Each flag's default is said once.
  const help = (await runCli(['colorize', '--help'])).stdout;
  const threshold = help.split('\n').filter((l, i, all) => l.includes('--color-threshold') || all[i - 1]?.includes('--color-threshold')).join(' ');
  assert.equal((threshold.match(/default/g) ?? []).length, 1, threshold);
});

test('--device cuda where CUDA cannot load: exit 2 before any photo is done, no output folder made, even when every photo is cached; the worker refuses to start', async (t) => {
  if (cudaProviderInstalled()) {
    t.skip('this machine has the CUDA provider installed: the refusal cannot be seen here');
    return;
  }
  const cache = join(dir, 'cuda-cache');
  // Every photo cached (by a CPU run), so that no photo would ever need the model.
  const warm = await runCli(['colorize', ALBUM, '--model', model, '--cache', `file:${cache}`, '-o', join(dir, 'cuda-warm')]);
  assert.equal(warm.code, 0, warm.stderr);
  const out = join(dir, 'cuda-out');
  const r = await runCli(['colorize', ALBUM, '--model', model, '--device', 'cuda', '--cache', `file:${cache}`, '-o', out]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /device cuda: onnxruntime's CUDA provider is not installed; install the CUDA provider with: ONNXRUNTIME_NODE_INSTALL=cuda12/);
  assert.equal(existsSync(out), false, 'no output folder');
  const w = await runCli(['worker', '--redis', 'redis://127.0.0.1:1', '--model', model, '--device', 'cuda', '--input-root', dir, '--output-root', dir]);
  assert.equal(w.code, 2, w.stderr);
  assert.match(w.stderr, /device cuda: onnxruntime's CUDA provider is not installed/);
});

test('exit 2 when the output folder cannot be written', async () => {
  if (process.getuid?.() === 0) {
    // root can write anywhere: use a path under a file instead of a read-only folder.
    const file = join(dir, 'a-file');
    await writeFile(file, '');
    const r = await runCli(['colorize', ALBUM, '--model', model, '--cache', 'none', '-o', join(file, 'out')]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /output folder .* cannot be written/);
    return;
  }
  const ro = join(dir, 'readonly');
  await mkdir(ro);
  await chmod(ro, 0o555);
  const r = await runCli(['colorize', ALBUM, '--model', model, '--cache', 'none', '-o', join(ro, 'out')]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /cannot be written/);
});

test('without a model installed: exit 2 with the exact pull command; --model tiny-test tints and says so', async () => {
  let r = await runCli(['colorize', join(ALBUM, 'coins.png'), '-o', join(dir, 'out3'), '--cache', 'none']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /no DDColor model installed.*ddcolor models pull tiny-512-int8/);
  r = await runCli(['colorize', join(ALBUM, 'coins.png'), '-o', join(dir, 'out3'), '--size', '64', '--cache', 'none', '--model', 'tiny-test', '--no-progress']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /TINTS photos sepia and does NOT colorize/);
  r = await runCli(['colorize', join(ALBUM, 'coins.png'), '-o', join(dir, 'out3'), '--cache', 'none', '--model', 'tiny-512-int8']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /model tiny-512-int8 is not installed; run: ddcolor models pull tiny-512-int8/);
});

test('cache stats and invalidate on Redis, with --json', async () => {
  const server = await startRedis();
  const out = join(dir, 'out4');
  const cache = ['--cache', server.url];
  let r = await runCli(['colorize', ALBUM, '-o', out, '--model', model, '--size', '64', ...cache, '-q']);
  assert.equal(r.code, 0, r.stderr);
  await server.client().set('not:ours', '1');
  r = await runCli(['cache', 'stats', ...cache, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const stats = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.equal(stats.backend, 'redis');
  assert.equal(stats.entries, 5);
  assert.equal(stats.misses, 5);
  assert.equal(stats.hits, 0);
  assert.equal(stats.hitRate, 0);
  assert.ok((stats.bytes as number) > 0);
  r = await runCli(['cache', 'stats', ...cache]);
  assert.match(r.stdout, /entries:\s+5/);
  assert.match(r.stdout, /policy noeviction/);
  assert.match(r.stderr, /warning: .*noeviction/);

  r = await runCli(['cache', 'invalidate', join(ALBUM, 'coins.png'), '--model', model, '--size', '64', ...cache, '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal((JSON.parse(r.stdout) as { removed: number }).removed, 1);
  r = await runCli(['cache', 'invalidate', '--all', ...cache]);
  assert.equal(r.code, 2, 'refuses --all without --yes when not on a terminal');
  assert.match(r.stderr, /--yes/);
  r = await runCli(['cache', 'invalidate', '--all', '--yes', ...cache]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /removed 4 cached results/);
  assert.equal(await server.client().get('not:ours'), '1');
});

test('cache invalidate --sha256 takes a prefix that names one cached file, refuses an ambiguous one, and says when none matches', async () => {
  const server = await startRedis();
  const cache = ['--cache', server.url];
  const client = server.client();
  const [M1, M2] = ['1111111111111111', '2222222222222222'];
  // Two files whose hashes share their first 9 digits, each cached for two models; one more apart.
  const a = 'abcdef012' + '1'.repeat(55);
  const b = 'abcdef012' + '2'.repeat(55);
  const c = '0123456' + '3'.repeat(57);
  for (const sha of [a, b, c]) for (const m of [M1, M2]) await client.set(`ddcolor:v2:${m}:64:${sha}`, 'x');

  let r = await runCli(['cache', 'invalidate', '--sha256', 'abcdef0', ...cache, '--json']);
  assert.equal(r.code, 2, 'an ambiguous prefix is a usage error');
  assert.match(r.stderr, /--sha256 abcdef0 is ambiguous: 2 cached files' hashes start with it \(abcdef0121+, abcdef0122+\); give more digits/);
  const entries = async (): Promise<number> => (await client.keys('ddcolor:v2:*')).length;
  assert.equal(await entries(), 6, 'nothing dropped');

  r = await runCli(['cache', 'invalidate', '--sha256', 'ABCDEF0122', ...cache, '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { removed: 2, scope: '1 file hash' });
  assert.equal(await client.exists(`ddcolor:v2:${M1}:64:${b}`, `ddcolor:v2:${M2}:64:${b}`), 0);
  assert.equal(await client.exists(`ddcolor:v2:${M1}:64:${a}`, `ddcolor:v2:${M2}:64:${a}`), 2, 'the other file that shared a shorter prefix stays');

  r = await runCli(['cache', 'invalidate', '--sha256', 'abcdef0', '--model', M2, ...cache]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`removed 1 cached result \\(1 file hash, model ${M2}, all sizes\\)`));
  assert.equal(await client.exists(`ddcolor:v2:${M1}:64:${a}`), 1);

  r = await runCli(['cache', 'invalidate', '--sha256', 'fffffff', ...cache]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /--sha256 fffffff: no cached result's file hash starts with it/);
  assert.match(r.stdout, /removed 0 cached results/);
  r = await runCli(['cache', 'invalidate', '--sha256', '012345', ...cache]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /ddcolor: .*first 7 or more/);
  assert.equal(await entries(), 3);
});

test('cache invalidate --sha256 with a prefix on the embedded store', async () => {
  const cacheDir = join(dir, 'cache-prefix');
  const r0 = await runCli(['colorize', join(ALBUM, 'family'), '-o', join(dir, 'out-prefix'), '--model', model, '--size', '64', '--cache', `file:${cacheDir}`, '-q']);
  assert.equal(r0.code, 0, r0.stderr);
  const family = (await readdir(join(ALBUM, 'family'))).sort();
  const sha = await sha256File(join(ALBUM, 'family', family[0]!));
  const r = await runCli(['cache', 'invalidate', '--sha256', sha.slice(0, 12), '--cache', `file:${cacheDir}`, '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal((JSON.parse(r.stdout) as { removed: number }).removed, 1);
  const s = JSON.parse((await runCli(['cache', 'stats', '--json', '--cache', `file:${cacheDir}`])).stdout) as { entries: number };
  assert.equal(s.entries, family.length - 1);
});

test('cache stats on the embedded store', async () => {
  const cacheDir = join(dir, 'cache5');
  const r0 = await runCli(['colorize', join(ALBUM, 'family'), '-o', join(dir, 'out5'), '--model', model, '--size', '64', '--cache', `file:${cacheDir}`, '-q']);
  assert.equal(r0.code, 0, r0.stderr);
  const r = await runCli(['cache', 'stats', '--json'], { XDG_CACHE_HOME: join(dir, 'xdg') });
  assert.equal((JSON.parse(r.stdout) as { location: string }).location, join(dir, 'xdg', 'ddcolor'), 'default: $XDG_CACHE_HOME/ddcolor');
  const r2 = await runCli(['cache', 'stats', '--json'], { DDCOLOR_CACHE: `file:${cacheDir}` });
  const s = JSON.parse(r2.stdout) as { backend: string; entries: number };
  assert.deepEqual([s.backend, s.entries], ['file', 3]);
});

test('rediss:// with a user and password: TLS and ACL, only ddcolor: keys, clear errors for an untrusted CA or a wrong password', async () => {
  // The ACL lets alice touch ddcolor:* keys only: a stray key would be NOPERM and degrade the run.
  const server = await startTlsRedis({ users: [['alice', 'on', '>s3cret', '~ddcolor:*', '+@all']], probe: { username: 'alice', password: 's3cret' } });
  const url = `rediss://alice:s3cret@127.0.0.1:${server.port}`;
  const trust = { NODE_EXTRA_CA_CERTS: join(TLS_DIR, 'localhost.crt') };
  const family = join(ALBUM, 'family');
  let r = await runCli(['colorize', family, '-o', join(dir, 'tls-a'), '--model', model, '--size', '64', '--cache', url, '--json'], trust);
  assert.equal(r.code, 0, r.stderr);
  type Report = { cache: { backend: string; location: string; degraded: boolean }; totals: { inferred: number; hit: number } };
  let report = JSON.parse(r.stdout) as Report;
  assert.deepEqual(report.cache, { ...report.cache, backend: 'redis', location: `127.0.0.1:${server.port}`, degraded: false });
  assert.ok(!r.stdout.includes('s3cret') && !r.stderr.includes('s3cret'), 'the password is never printed');
  assert.equal(report.totals.inferred, 3);
  r = await runCli(['colorize', family, '-o', join(dir, 'tls-b'), '--model', model, '--size', '64', '--cache', url, '--json'], trust);
  report = JSON.parse(r.stdout) as Report;
  assert.deepEqual([report.totals.hit, report.totals.inferred, report.cache.degraded], [3, 0, false], 'served over TLS from the cache');

  r = await runCli(['cache', 'stats', '--cache', url, '--json'], trust);
  assert.equal(r.code, 0, r.stderr);
  assert.equal((JSON.parse(r.stdout) as { entries: number }).entries, 3);

  r = await runCli(['cache', 'stats', '--cache', url]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /127\.0\.0\.1:\d+: self-signed certificate.*NODE_EXTRA_CA_CERTS/);

  r = await runCli(['colorize', family, '-o', join(dir, 'tls-c'), '--model', model, '--size', '64', '--cache', `rediss://alice:nope@127.0.0.1:${server.port}`, '--json'], trust);
  assert.equal(r.code, 0, 'a cache that refuses us is a warning, not a failure');
  report = JSON.parse(r.stdout) as Report;
  assert.deepEqual([report.totals.inferred, report.cache.degraded], [3, true]);
  assert.match(r.stderr, /WRONGPASS/);
  assert.ok(!r.stderr.includes('nope'));

  r = await runCli(['cache', 'invalidate', '--all', '--yes', '--cache', url, '--json'], trust);
  assert.equal(r.code, 0, r.stderr);
  assert.equal((JSON.parse(r.stdout) as { removed: number }).removed, 3);
});

test('every command and subcommand shows one worked example in its --help', async () => {
  for (const cmd of [[], ['colorize'], ['cache'], ['cache', 'stats'], ['cache', 'invalidate'], ['cache', 'prune'], ['models'], ['models', 'list'], ['models', 'pull'], ['models', 'verify'], ['doctor'], ['submit'], ['worker'], ['queue'], ['queue', 'status'], ['queue', 'retry-failed'], ['queue', 'clean']]) {
    const r = await runCli([...cmd, '--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`Example:\\n  \\$ ddcolor ${cmd.join(' ')}`), `ddcolor ${cmd.join(' ')} --help`);
    assert.doesNotMatch(r.stdout + r.stderr, /npm warn/i);
  }
});

/**
 * The packages a CLI command resolves (a resolve hook loaded with --import records them; worker
 * threads' own imports included or not, what the main thread loads is there).
 */
async function packagesLoaded(args: string[], name: string): Promise<string[]> {
  const hook = join(ROOT, 'test', 'fixtures', 'record-imports.mjs');
  const file = join(dir, `imports-${name}.txt`);
  await writeFile(file, '');
  const r = await runCli(args, { NODE_OPTIONS: `--import=${hook}`, DDCOLOR_TEST_IMPORTS: file });
  assert.equal(r.code, 0, r.stderr);
  return [...new Set((await readFile(file, 'utf8')).split('\n').map((url) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1]).filter((p): p is string => p !== undefined))];
}

test('a command loads only what it needs: --version none of sharp, onnxruntime, BullMQ or ioredis; queue status no sharp or onnxruntime; colorize none of those four (its runs load them when their photos need them) nor the XMP parser; the full help still lists every command', async () => {
  const loaded = (args: string[]): Promise<string[]> => packagesLoaded(args, args.join('-').replace(/[^a-z-]/g, ''));
  const heavy = ['sharp', 'onnxruntime-node', 'bullmq', 'ioredis'];
  const version = await loaded(['--version']);
  for (const p of heavy) assert.ok(!version.includes(p), `--version loaded ${p}`);
  const queue = await loaded(['queue', 'status', '--help']);
  for (const p of ['sharp', 'onnxruntime-node']) assert.ok(!queue.includes(p), `queue status loaded ${p}`);
  const colorize = await loaded(['colorize', '--help']);
  for (const p of heavy) assert.ok(!colorize.includes(p), `colorize loaded ${p}`);
  assert.ok(!colorize.includes('fast-xml-parser'), 'colorize\'s main thread loaded the XMP parser (the pixel threads\' own)');
  assert.ok(colorize.includes('fast-glob'), 'the record missed what colorize does load');
  const help = await runCli(['--help']);
  for (const name of ['colorize', 'cache', 'models', 'doctor', 'submit', 'worker', 'queue']) assert.match(help.stdout, new RegExp(`\\n  ${name} `), `--help lists ${name}`);
});

test('a run loads what its photos need: a warm run on the embedded store no onnxruntime or ioredis; an unchanged re-run not even sharp', async () => {
  const src = join(dir, 'loads');
  await mkdir(src);
  for (const n of ['cameraman.png', 'coins.png']) await copyFile(join(ALBUM, n), join(src, n));
  const args = (out: string): string[] => ['colorize', src, '-o', join(dir, out), '--model', model, '--size', '64', '--cache', `file:${join(dir, 'cache-loads')}`, '--no-progress'];
  const cold = await runCli(args('loads-cold'));
  assert.equal(cold.code, 0, cold.stderr);
  // Every result cached: no model to run and no Redis to ask; sharp reads the photos' headers.
  const warm = await packagesLoaded(args('loads-warm'), 'warm');
  for (const p of ['onnxruntime-node', 'ioredis']) assert.ok(!warm.includes(p), `a warm run on the embedded store loaded ${p}`);
  assert.ok(warm.includes('sharp'), 'the record missed what a warm run does load');
  // The same folder again, nothing changed (a nightly re-run): no photo is read.
  const unchanged = await packagesLoaded(args('loads-warm'), 'unchanged');
  for (const p of ['sharp', 'onnxruntime-node', 'ioredis']) assert.ok(!unchanged.includes(p), `an unchanged re-run loaded ${p}`);
  const report = JSON.parse(await readFile(join(dir, 'loads-warm', 'ddcolor-report.json'), 'utf8')) as { totals: { skipped: number; hit: number } };
  assert.equal(report.totals.skipped, 2);
});

test('an install that cannot load sharp, ioredis or onnxruntime: a run that needs it stops at once with exit 2 and says how to repair it, blaming no photo and not the cache server; an unchanged re-run does not need sharp; doctor names what cannot be loaded', async () => {
  const src = join(dir, 'no-sharp');
  await mkdir(src);
  for (const n of ['cameraman.png', 'coins.png']) await copyFile(join(ALBUM, n), join(src, n));
  const args = (out: string): string[] => ['colorize', src, '-o', join(dir, out), '--model', model, '--size', '64', '--cache', 'none', '--no-progress'];
  const broken = { NODE_OPTIONS: `--import=${join(ROOT, 'test', 'fixtures', 'record-imports.mjs')}`, DDCOLOR_TEST_UNRESOLVABLE: 'sharp' };
  const r = await runCli(args('no-sharp-out'), broken);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /sharp, which decodes the photos, cannot be loaded \(.*\): reinstall ddcolor's dependencies \(npm ci in its folder\), then check with: ddcolor doctor/);
  assert.doesNotMatch(r.stdout + r.stderr, /DAMAGED|damaged|cameraman\.png|coins\.png/, 'a photo was blamed');
  const made = await runCli(args('no-sharp-ok'));
  assert.equal(made.code, 0, made.stderr);
  const again = await runCli(args('no-sharp-ok'), broken);
  assert.equal(again.code, 0, again.stderr);
  // No server listens there: the run must stop on the install before it tries one.
  const redis = await runCli([...args('no-ioredis-out').slice(0, -3), '--cache', 'redis://127.0.0.1:1', '--no-progress'], { ...broken, DDCOLOR_TEST_UNRESOLVABLE: 'ioredis' });
  assert.equal(redis.code, 2, redis.stderr);
  assert.match(redis.stderr, /ioredis, which talks to Redis, cannot be loaded \(.*\): reinstall ddcolor's dependencies/);
  // --device cuda proves the provider loads before the run starts: onnxruntime is loaded for it.
  const cuda = await runCli([...args('no-ort-out'), '--device', 'cuda'], { ...broken, DDCOLOR_TEST_UNRESOLVABLE: 'onnxruntime-node' });
  assert.equal(cuda.code, 2, cuda.stderr);
  assert.match(cuda.stderr, /onnxruntime-node, which runs the model, cannot be loaded \(.*\): reinstall ddcolor's dependencies/);
  // What the messages send the user to: doctor, which must itself run and say which.
  for (const [pkg, check] of [['sharp', 'sharp'], ['onnxruntime-node', 'onnxruntime']] as const) {
    const doctor = await runCli(['doctor', '--json'], { ...broken, DDCOLOR_TEST_UNRESOLVABLE: pkg, DDCOLOR_CACHE: 'none' });
    assert.equal(doctor.code, 1, doctor.stderr);
    const checks = (JSON.parse(doctor.stdout) as { checks: Array<{ name: string; status: string; detail: string; fix: string | null }> }).checks;
    const failed = checks.find((c) => c.name === check);
    assert.equal(failed?.status, 'fail', `${pkg}: ${doctor.stdout}`);
    assert.match(failed.detail, new RegExp(`${pkg} cannot be loaded`));
    assert.match(failed.fix ?? '', /npm ci/);
  }
});

test('npm says nothing about the project settings (so npx ddcolor runs without its noise)', () => {
  // Any npm command reads .npmrc the way npx does; this one installs and builds nothing (npx in a
  // fresh clone would install the project into its cache, rebuilding dist/ under the other tests).
  const r = spawnSync('npm', ['pkg', 'get', 'version'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout) as string, packageVersion());
  // npm may say things of its own (an update notice); nothing about this project's settings.
  assert.doesNotMatch(r.stderr, /onnxruntime-node-install|unknown (project|env) config|npm warn config/i, r.stderr);
});

test('--profile ends with where the time went, stage by stage; the report has it too', async () => {
  const out = join(dir, 'out-profile');
  const r = await runCli(['colorize', ALBUM, '-o', out, '--model', model, '--size', '64', '--cache', 'none', '--profile', '--threads', '1', '--no-progress']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Where the time went/);
  for (const stage of ['scan', 'hash', 'decode', 'infer', 'composite', 'encode', 'write']) assert.match(r.stdout, new RegExp(`\\n${stage} +\\d+ +\\S+`), stage);
  const report = JSON.parse(await readFile(join(out, 'ddcolor-report.json'), 'utf8')) as { profile: Array<{ stage: string; count: number; busyMs: number; wallMs: number; waitMs: number }> };
  const decode = report.profile.find((p) => p.stage === 'decode')!;
  assert.equal(decode.count, 5);
  assert.ok(decode.busyMs > 0 && decode.wallMs > 0 && decode.waitMs >= 0);
  assert.equal(report.profile.find((p) => p.stage === 'infer')!.count, 5, 'one batch a photo on the CPU');
});
