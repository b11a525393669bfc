#!/usr/bin/env node
// Runs the compiled test files (dist/test/*.test.js) with Node's test runner.
// Each file runs in its own process; integration tests start their own redis-server processes.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const dir = join(import.meta.dirname, '..', 'dist', 'test');
const files = readdirSync(dir).filter((f) => f.endsWith('.test.js')).sort().map((f) => join(dir, f));
const only = process.argv.slice(2);
const selected = only.length ? files.filter((f) => only.some((o) => f.includes(o))) : files;
// A test that fails with a client or server still open would keep its file's process alive for
// ever: --test-force-exit (Node 20.14 and later) ends each file once its tests are done.
const [major, minor] = process.versions.node.split('.').map(Number);
const forceExit = major > 20 || (major === 20 && minor >= 14) ? ['--test-force-exit'] : [];
// An unhandled rejection fails the run, in the test files and in every ddcolor process they start.
const env = { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --unhandled-rejections=strict`.trim() };
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=2', '--test-timeout=300000', ...forceExit, ...selected], { stdio: 'inherit', env });
process.exit(r.status ?? 1);
