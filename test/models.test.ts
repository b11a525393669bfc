import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Catalog } from '../src/models/catalog.js';
import { loadRegistry } from '../src/models/catalog.js';
import { pullModel, verifyModels } from '../src/models/install.js';
import { buildConvModel, tintModel } from '../src/models/tiny-model.js';
import { createServer as createHttpsServer } from 'node:https';
import { connect, type Socket } from 'node:net';
import { ALBUM, TLS_DIR, cleanup, freePort, runCli, tempDir } from './helpers.js';

/** A model big enough to be cut off midway (a 7x7 convolution stack, some hundred KB). */
function bigModel(): Buffer {
  const layer = (o: number, i: number, k: number): { outChannels: number; inChannels: number; kernel: number; weights: number[]; bias: number[] } => ({
    outChannels: o,
    inChannels: i,
    kernel: k,
    weights: Array.from({ length: o * i * k * k }, (_, n) => ((n % 13) - 6) / 500),
    bias: new Array(o).fill(0),
  });
  return buildConvModel({ size: null, layers: [layer(32, 3, 7), layer(32, 32, 7), layer(2, 32, 1)] });
}

const MODEL = bigModel();
const SHA = createHash('sha256').update(MODEL).digest('hex');
const OTHER = tintModel(null);
const OTHER_SHA = createHash('sha256').update(OTHER).digest('hex');
const NOT_A_MODEL = Buffer.from('an HTML error page a mirror served with status 200\n');
const NOT_A_MODEL_SHA = createHash('sha256').update(NOT_A_MODEL).digest('hex');

let server: Server;
let base: string;
const seen: Array<{ path: string; range: string | undefined }> = [];
let cutOnce = true;

function serveBytes(req: IncomingMessage, res: ServerResponse, bytes: Buffer, ranges: boolean): void {
  const range = ranges ? /^bytes=(\d+)-$/.exec(req.headers.range ?? '') : null;
  if (range) {
    const start = Number(range[1]);
    if (start >= bytes.length) {
      res.writeHead(416).end();
      return;
    }
    res.writeHead(206, { 'content-length': bytes.length - start, 'content-range': `bytes ${start}-${bytes.length - 1}/${bytes.length}` });
    res.end(bytes.subarray(start));
    return;
  }
  res.writeHead(200, { 'content-length': bytes.length, ...(ranges ? { 'accept-ranges': 'bytes' } : {}) });
  res.end(bytes);
}

before(async () => {
  server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    seen.push({ path, range: req.headers.range });
    switch (path) {
      case '/good.onnx':
      case '/mirror/tiny-test-export.onnx':
        return serveBytes(req, res, MODEL, true);
      case '/redirect.onnx':
        res.writeHead(302, { location: '/good.onnx' }).end();
        return;
      case '/cut.onnx':
        if (cutOnce && !req.headers.range) {
          cutOnce = false;
          res.writeHead(200, { 'content-length': MODEL.length });
          res.write(MODEL.subarray(0, Math.floor(MODEL.length / 2)), () => res.socket?.destroy());
          return;
        }
        return serveBytes(req, res, MODEL, true);
      case '/wrong.onnx':
      case '/elsewhere/good.onnx':
        return serveBytes(req, res, OTHER, true);
      case '/broken/good.onnx':
        return serveBytes(req, res, NOT_A_MODEL, true);
      case '/norange.onnx':
        return serveBytes(req, res, MODEL, false);
      default:
        res.writeHead(404).end('not found');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
});
after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await cleanup();
});

async function home(): Promise<NodeJS.ProcessEnv> {
  return { DDCOLOR_HOME: await tempDir('ddcolor-home-') };
}

test('pull <url> --sha256: downloads, verifies, installs, and the first model becomes the default', async () => {
  const env = await home();
  const r = await pullModel({ source: `${base}/redirect.onnx`, sha256: SHA, name: 'mine', env });
  assert.equal(r.already, false);
  assert.equal(r.madeDefault, true);
  assert.deepEqual(await readFile(r.path), MODEL);
  const registry = await loadRegistry(join(env.DDCOLOR_HOME!, 'models'));
  assert.equal(registry.default, 'mine');
  assert.equal(registry.models[0]!.sha256, SHA);
  const again = await pullModel({ source: `${base}/good.onnx`, sha256: SHA, name: 'mine', env });
  assert.equal(again.already, true);
  const second = await pullModel({ source: `${base}/good.onnx`, sha256: SHA, name: 'second', env });
  assert.equal(second.madeDefault, false, 'the default stays');
});

test('a pull never replaces another installed model\'s file: a URL of the same file name is installed under its own name; a forced pull that is not a model leaves the installed one as it was', async () => {
  const env = await home();
  const dir = join(env.DDCOLOR_HOME!, 'models');
  const mine = await pullModel({ source: `${base}/good.onnx`, sha256: SHA, name: 'mine', env });
  assert.equal(mine.path, join(dir, 'good.onnx'));
  // Another export that happens to have the same file name.
  const other = await pullModel({ source: `${base}/elsewhere/good.onnx`, sha256: OTHER_SHA, name: 'other', env });
  assert.equal(other.path, join(dir, 'other.onnx'));
  assert.deepEqual(await readFile(mine.path), MODEL, "mine's file is untouched");
  assert.deepEqual(await readFile(other.path), OTHER);
  assert.deepEqual((await verifyModels(undefined, env)).map((v) => [v.name, v.ok]), [['mine', true], ['other', true]]);
  // A forced pull of 'mine' that turns out not to be a model: refused, and mine is as it was.
  await assert.rejects(pullModel({ source: `${base}/broken/good.onnx`, sha256: NOT_A_MODEL_SHA, name: 'mine', force: true, env }), /is not a usable DDColor model: .*; deleted/);
  assert.deepEqual(await readFile(mine.path), MODEL, "mine's file is still there");
  assert.deepEqual((await verifyModels('mine', env)).map((v) => v.ok), [true]);
  assert.deepEqual((await readdir(dir)).sort(), ['good.onnx', 'installed.json', 'other.onnx']);
  // No file name left to install it under (its own name's file is another model's too): refused, nothing downloaded.
  const registry = await loadRegistry(dir);
  await writeFile(join(dir, 'installed.json'), JSON.stringify({ ...registry, models: [...registry.models, { ...registry.models[0]!, name: 'y', file: 'x.onnx' }] }));
  const asked = seen.length;
  await assert.rejects(pullModel({ source: `${base}/elsewhere/good.onnx`, sha256: OTHER_SHA, name: 'x', env }), /good\.onnx is the file of installed model mine, and x\.onnx of installed model y: give another --name/);
  assert.equal(seen.length, asked, 'nothing was downloaded');
});

test('a download cut off midway is resumed with a range request', async () => {
  const env = await home();
  await assert.rejects(pullModel({ source: `${base}/cut.onnx`, sha256: SHA, env }), /cut off after \d+ bytes.*run the same command again/);
  const dir = join(env.DDCOLOR_HOME!, 'models');
  const part = (await readdir(dir)).find((n) => n.endsWith('.part'));
  assert.ok(part, 'the partial download is kept');
  assert.ok((await readFile(join(dir, part))).length > 0, 'with the bytes that arrived before the cut');
  const r = await pullModel({ source: `${base}/cut.onnx`, sha256: SHA, env });
  assert.ok(r.resumedFrom > 0, 'resumed');
  assert.ok(seen.some((s) => s.path === '/cut.onnx' && s.range === `bytes=${r.resumedFrom}-`));
  assert.deepEqual(await readFile(r.path), MODEL);
  assert.deepEqual((await readdir(dir)).filter((n) => n.endsWith('.part')), []);
});

test('a download with the wrong bytes is rejected and nothing is installed', async () => {
  const env = await home();
  await assert.rejects(pullModel({ source: `${base}/wrong.onnx`, sha256: SHA, env }), new RegExp(`expected sha256 ${SHA}, got [0-9a-f]{64}.*nothing installed`));
  const dir = join(env.DDCOLOR_HOME!, 'models');
  assert.deepEqual((await readdir(dir)).filter((n) => n !== 'installed.json'), []);
  assert.deepEqual((await loadRegistry(dir)).models, []);
});

test('a server that refuses ranges: the download starts again from zero', async () => {
  const env = await home();
  const dir = join(env.DDCOLOR_HOME!, 'models');
  const { mkdir } = await import('node:fs/promises');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'norange.onnx.pulled.part'), MODEL.subarray(0, 1000));
  const restarts: string[] = [];
  const r = await pullModel({ source: `${base}/norange.onnx`, sha256: SHA, env, onRestart: (why) => restarts.push(why) });
  assert.equal(r.resumedFrom, 0);
  assert.match(restarts.join(), /starting over/);
  assert.deepEqual(await readFile(r.path), MODEL);
});

test('a 404 is a clear error', async () => {
  const env = await home();
  await assert.rejects(pullModel({ source: `${base}/nope.onnx`, sha256: SHA, env }), /download of http:\/\/127\.0\.0\.1:\d+\/nope\.onnx failed: not found \(HTTP 404\)/);
});

test('a catalog pull on a machine that cannot reach the publisher says what else works: the mirror variable, or a file copied by hand', async () => {
  const env = await home();
  const port = await freePort();
  // Nothing listens on the port: the connection is refused, as a machine without internet finds.
  const catalog: Catalog = {
    models: [{ name: 'far-away', description: 'test', inputSize: 64, fixedShape: false, precision: 'fp32', bytes: MODEL.length, sha256: SHA, license: 'MIT', url: `http://127.0.0.1:${port}/far-away.onnx`, file: 'far-away.onnx' }],
  };
  await assert.rejects(pullModel({ source: 'far-away', env, catalog }), (err: Error) => {
    assert.match(err.message, new RegExp(`download of http://127\\.0\\.0\\.1:${port}/far-away\\.onnx failed: .*ECONNREFUSED`));
    assert.match(err.message, /set DDCOLOR_MODELS_MIRROR=<base url> to a server in reach that has far-away\.onnx/);
    assert.match(err.message, /--model <path to far-away\.onnx>/);
    return true;
  });
  // With a mirror set that is not reachable either, the message names that mirror.
  await assert.rejects(pullModel({ source: 'far-away', env: { ...env, DDCOLOR_MODELS_MIRROR: `http://127.0.0.1:${port}/m` }, catalog }), /check the mirror DDCOLOR_MODELS_MIRROR=http:\/\/127\.0\.0\.1:\d+\/m/);
});

test('catalog pulls use $DDCOLOR_MODELS_MIRROR and the catalog checksum; HTTP_PROXY and NO_PROXY are honoured', async () => {
  const env = await home();
  const catalog: Catalog = {
    models: [{ name: 'test-export', description: 'test', inputSize: 64, fixedShape: false, precision: 'fp32', bytes: MODEL.length, sha256: SHA, license: 'MIT', url: 'https://example.invalid/tiny-test-export.onnx', file: 'tiny-test-export.onnx' }],
  };
  const r = await pullModel({ source: 'test-export', env: { ...env, DDCOLOR_MODELS_MIRROR: `${base}/mirror/` }, catalog });
  assert.equal(r.model.checksum, 'catalog');
  assert.equal(r.model.url, `${base}/mirror/tiny-test-export.onnx`);
  const bad: Catalog = { models: [{ ...catalog.models[0]!, name: 'bad', bytes: MODEL.length + 1 }] };
  await assert.rejects(pullModel({ source: 'bad', env: { ...env, DDCOLOR_MODELS_MIRROR: `${base}/mirror` }, catalog: bad }), /expected \d+ bytes, got \d+/);

  // A forward proxy on loopback that counts what goes through it.
  let proxied = 0;
  const proxy = createServer((req, res) => {
    proxied++;
    const upstream = request(req.url!, { method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const port = (proxy.address() as { port: number }).port;
  try {
    const viaProxy = await pullModel({ source: `${base}/good.onnx`, sha256: SHA, name: 'proxied', env: { ...env, HTTP_PROXY: `http://127.0.0.1:${port}` } });
    assert.deepEqual(await readFile(viaProxy.path), MODEL);
    assert.ok(proxied >= 1, 'went through the proxy');
    // NO_PROXY names the host: straight there, the proxy never sees it (lower-case names too).
    const before = proxied;
    const direct = await pullModel({ source: `${base}/good.onnx`, sha256: SHA, name: 'direct', env: { ...env, http_proxy: `http://127.0.0.1:${port}`, no_proxy: 'example.invalid, 127.0.0.1' } });
    assert.deepEqual(await readFile(direct.path), MODEL);
    assert.equal(proxied, before, 'NO_PROXY is honoured');
  } finally {
    proxy.closeAllConnections();
    await new Promise((resolve) => proxy.close(resolve));
  }
});

test('the CLI: pull, list, colorize with the default and by name, verify, doctor', async () => {
  const env = { DDCOLOR_HOME: await tempDir('ddcolor-home-') };
  let r = await runCli(['doctor', '--json'], env);
  assert.equal(r.code, 1, 'no model: colorize cannot run');
  r = await runCli(['doctor'], { ...env, DDCOLOR_MODEL: 'tiny-test' });
  assert.equal(r.code, 0, 'the test model runs');
  assert.match(r.stdout, /! colorize model +tiny-test .*TINTS photos sepia/, 'and doctor says it only tints');
  r = await runCli(['models', 'pull', `${base}/good.onnx`, '--name', 'conv', '--no-progress'], env);
  assert.equal(r.code, 2, 'a URL needs --sha256');
  assert.match(r.stderr, /--sha256/);
  r = await runCli(['models', 'pull', `${base}/good.onnx`, '--sha256', SHA, '--name', 'conv', '--no-progress'], env);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /installed conv .*sha256 verified.*\nconv is now the default model/);
  r = await runCli(['models', 'list', '--json'], env);
  const list = JSON.parse(r.stdout) as { default: string; models: Array<{ name: string; installed: boolean; default: boolean }> };
  assert.equal(list.default, 'conv');
  assert.ok(list.models.some((m) => m.name === 'tiny-512-int8' && !m.installed));
  assert.ok(list.models.some((m) => m.name === 'conv' && m.installed && m.default));
  const out = join(env.DDCOLOR_HOME, 'out');
  r = await runCli(['colorize', join(ALBUM, 'coins.png'), '-o', out, '--size', '64', '--cache', 'none', '--json'], env);
  assert.equal(r.code, 0, r.stderr);
  const rep = JSON.parse(r.stdout) as { model: { path: string } };
  assert.equal(rep.model.path, join(env.DDCOLOR_HOME, 'models', 'good.onnx'));
  r = await runCli(['colorize', join(ALBUM, 'coins.png'), '-o', out, '--size', '64', '--cache', 'none', '--model', 'conv', '-q', '--force'], env);
  assert.equal(r.code, 0, r.stderr);
  r = await runCli(['doctor'], env);
  assert.equal(r.code, 0, r.stdout);
  assert.match(r.stdout, /✓ smoke run +one photo colorized/);
  assert.match(r.stdout, /✓ model conv +verified/);
  r = await runCli(['models', 'verify'], env);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /ok +conv/);
  const path = join(env.DDCOLOR_HOME, 'models', 'good.onnx');
  const bytes = await readFile(path);
  bytes[bytes.length - 5]! ^= 0xff;
  await writeFile(path, bytes);
  r = await runCli(['models', 'verify', 'conv'], env);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /FAILED +conv .*sha256 is [0-9a-f]{64}, expected/);
  assert.ok(existsSync(path));
  const results = await verifyModels('conv', env);
  assert.equal(results[0]!.ok, false);
});

test('a damaged installed.json is never taken for an empty one: a pull refuses to write over it, a run that needs it says which file; a run given a model file goes on', async () => {
  const env = await home();
  const dir = join(env.DDCOLOR_HOME!, 'models');
  await pullModel({ source: `${base}/good.onnx`, sha256: SHA, name: 'mine', env });
  const registry = join(dir, 'installed.json');
  const good = await readFile(registry, 'utf8');
  for (const damaged of [good.slice(0, good.length / 2), good.replace('"good.onnx"', '"../../outside.onnx"')]) {
    await writeFile(registry, damaged);
    await assert.rejects(pullModel({ source: `${base}/elsewhere/good.onnx`, sha256: OTHER_SHA, name: 'other', env }), (err: Error) => {
      assert.match(err.message, /installed\.json: not a list of installed models \(.+\); the model files beside it are kept/);
      return true;
    });
    assert.equal(await readFile(registry, 'utf8'), damaged, 'left as it was');
    await assert.rejects(verifyModels(undefined, env), /installed\.json: not a list of installed models/);
    const out = join(env.DDCOLOR_HOME!, 'out');
    let r = await runCli(['colorize', join(ALBUM, 'coins.png'), '-o', out, '--size', '64', '--cache', 'none', '-q'], env as Record<string, string>);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /installed\.json: not a list of installed models/);
    r = await runCli(['colorize', join(ALBUM, 'coins.png'), '-o', out, '--size', '64', '--cache', 'none', '-q', '--force', '--model', join(dir, 'good.onnx')], env as Record<string, string>);
    assert.equal(r.code, 0, r.stderr);
    r = await runCli(['doctor', '--json'], env as Record<string, string>);
    const doctor = JSON.parse(r.stdout) as { checks: Array<{ name: string; status: string; detail: string }> };
    const check = doctor.checks.find((c) => c.name === 'installed models');
    assert.equal(check?.status, 'fail', r.stdout);
    assert.match(check?.detail ?? '', /installed\.json: not a list of installed models/);
  }
  // An older registry without the checksum's source, and with a field this version does not know: read, and kept when saved.
  const older = JSON.parse(good) as { models: Array<Record<string, unknown>> };
  delete older.models[0]!.checksum;
  older.models[0]!.note = 'from a newer ddcolor';
  await writeFile(registry, JSON.stringify(older));
  await pullModel({ source: `${base}/elsewhere/good.onnx`, sha256: OTHER_SHA, name: 'other', env });
  const saved = (await loadRegistry(dir)).models;
  assert.deepEqual(saved.map((m) => [m.name, m.checksum]), [['mine', 'recorded'], ['other', 'given']]);
  assert.equal((saved[0] as unknown as { note: string }).note, 'from a newer ddcolor');
});

test('HTTPS_PROXY: an https download goes through a CONNECT tunnel', async () => {
  const tls = TLS_DIR;
  const [key, cert] = await Promise.all([readFile(join(tls, 'localhost.key')), readFile(join(tls, 'localhost.crt'))]);
  const secure = createHttpsServer({ key, cert }, (req, res) => serveBytes(req, res, MODEL, true));
  await new Promise<void>((resolve) => secure.listen(0, '127.0.0.1', resolve));
  let tunnels = 0;
  const sockets: Socket[] = [];
  const proxy = createServer((_req, res) => res.writeHead(405).end());
  proxy.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
    tunnels++;
    const [host, port] = (req.url ?? '').split(':');
    const upstream = connect(Number(port), host!, () => {
      sockets.push(upstream, client);
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  try {
    const env = { DDCOLOR_HOME: await tempDir('ddcolor-home-'), HTTPS_PROXY: `http://127.0.0.1:${(proxy.address() as { port: number }).port}`, NODE_EXTRA_CA_CERTS: join(tls, 'localhost.crt') };
    const url = `https://127.0.0.1:${(secure.address() as { port: number }).port}/tls.onnx`;
    const r = await runCli(['models', 'pull', url, '--sha256', SHA, '--no-progress'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(tunnels, 1);
    assert.deepEqual(await readFile(join(env.DDCOLOR_HOME, 'models', 'tls.onnx')), MODEL);
  } finally {
    for (const s of sockets) s.destroy();
    secure.closeAllConnections();
    proxy.closeAllConnections();
    await new Promise((resolve) => secure.close(resolve));
    await new Promise((resolve) => proxy.close(resolve));
  }
});
