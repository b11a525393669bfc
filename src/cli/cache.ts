/**
 * `ddcolor cache stats` and `ddcolor cache invalidate`.
 */
import { createInterface } from 'node:readline/promises';
import { Command, Option } from 'commander';
import { cacheKey } from '../cache/keys.js';
import { openCache, resolveCacheSpec } from '../cache/open.js';
import type { CacheStats, CacheStore } from '../cache/store.js';
import { DdcolorError } from '../errors.js';
import { locateModel } from '../model/locate.js';
import { PRESET_NAMES, resolveInputSize, type Preset } from '../model/presets.js';
import { inspectModel } from '../model/session.js';
import { sha256File } from '../pipeline/hash.js';
import { scanPaths } from '../pipeline/scan.js';
import { formatBytes, parseSizeFlag } from './parse.js';

interface CommonFlags {
  cache?: string;
  json?: boolean;
}

async function open(flags: CommonFlags): Promise<CacheStore> {
  const spec = resolveCacheSpec(flags.cache);
  try {
    return await openCache(spec);
  } catch (err) {
    throw new DdcolorError('config', `cannot open the cache: ${(err as Error).message}`);
  }
}

export function renderStats(s: CacheStats): string {
  const rate = s.hitRate === null ? 'n/a' : `${(s.hitRate * 100).toFixed(1)}%`;
  const lines = [
    `cache:    ${s.backend} ${s.location}`,
    `entries:  ${s.entries} (${formatBytes(s.bytes)})${s.maxBytes ? ` of at most ${formatBytes(s.maxBytes)}` : ''}`,
    `lookups:  ${s.hits} hits, ${s.misses} misses (hit rate ${rate})`,
  ];
  for (const m of s.byModel) lines.push(`  model ${m.modelId} at ${m.size}px: ${m.entries} entries, ${formatBytes(m.bytes)}`);
  if (s.redis) {
    lines.push(
      `memory:   ${formatBytes(s.redis.usedMemory)} used, maxmemory ${s.redis.maxmemory ? formatBytes(s.redis.maxmemory) : 'unset'}, policy ${s.redis.policy}, ${s.redis.evictedKeys} keys evicted`,
    );
  }
  for (const w of s.warnings) lines.push(`warning:  ${w}`);
  return lines.join('\n') + '\n';
}

async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(question);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

interface InvalidateFlags extends CommonFlags {
  all?: boolean;
  yes?: boolean;
  model?: string;
  preset: Preset;
  size?: number;
}

export function cacheCommand(): Command {
  const cache = new Command('cache').description('inspect and manage the result cache');
  cache
    .command('stats')
    .description('entries, bytes, lifetime hits and misses; on Redis its memory and eviction policy')
    .option('--cache <url>', 'the cache (default: $DDCOLOR_CACHE, $REDIS_URL, else the on-disk store)')
    .option('--json', 'print the statistics as JSON')
    .action(async (flags: CommonFlags) => {
      const store = await open(flags);
      try {
        const s = await store.stats();
        process.stdout.write(flags.json ? JSON.stringify(s, null, 2) + '\n' : renderStats(s));
        if (!flags.json) for (const w of s.warnings) process.stderr.write(`ddcolor: warning: ${w}\n`);
      } finally {
        await store.close();
      }
    });
  cache
    .command('invalidate')
    .description("drop the cached results of these photos (for the current model and size), or every ddcolor entry with --all")
    .argument('[paths...]', 'photos or folders whose cached results to drop')
    .option('--all', "drop every ddcolor entry (never keys that are not ddcolor's)")
    .option('--yes', 'do not ask for confirmation (needed for --all when not on a terminal)')
    .option('--model <file>', 'the model whose results to drop (default: the one colorize would use)')
    .addOption(new Option('--preset <name>', 'model input size preset').choices(PRESET_NAMES).default('person'))
    .option('--size <px>', 'model input size (overrides --preset)', parseSizeFlag)
    .option('--cache <url>', 'the cache (default: $DDCOLOR_CACHE, $REDIS_URL, else the on-disk store)')
    .option('--json', 'print the result as JSON')
    .action(async (paths: string[], flags: InvalidateFlags) => {
      if (flags.all && paths.length > 0) throw new DdcolorError('usage', 'give either photo paths or --all, not both');
      if (!flags.all && paths.length === 0) throw new DdcolorError('usage', 'give the photos whose results to drop, or --all --yes');
      if (flags.all && !flags.yes) {
        if (!process.stdin.isTTY || !process.stderr.isTTY) {
          throw new DdcolorError('usage', 'cache invalidate --all drops every ddcolor entry: add --yes to confirm');
        }
        const store = await open(flags);
        await store.close();
        if (!(await confirm(`Drop every ddcolor entry in ${store.backend} ${store.location}? [y/N] `))) {
          process.stderr.write('ddcolor: nothing dropped\n');
          return;
        }
      }
      let removed: number;
      let scope: string;
      if (flags.all) {
        const store = await open(flags);
        try {
          removed = await store.deleteWhere(() => true);
        } finally {
          await store.close();
        }
        scope = 'all ddcolor entries';
      } else {
        const model = await inspectModel(locateModel(flags.model).path);
        const { size } = resolveInputSize(model, flags.preset, flags.size);
        const scan = await scanPaths(paths);
        for (const p of scan.problems) process.stderr.write(`ddcolor: ${p.path}: ${p.reason}\n`);
        const keys = new Set<string>();
        for (const f of scan.files) {
          try {
            keys.add(cacheKey(model.id, size, await sha256File(f.path)));
          } catch (err) {
            process.stderr.write(`ddcolor: ${f.path}: ${(err as Error).message}\n`);
          }
        }
        const store = await open(flags);
        try {
          removed = await store.deleteKeys([...keys]);
        } finally {
          await store.close();
        }
        scope = `${scan.files.length} photo${scan.files.length === 1 ? '' : 's'}, model ${model.id} at ${size}px`;
      }
      if (flags.json) process.stdout.write(JSON.stringify({ removed, scope }) + '\n');
      else process.stdout.write(`removed ${removed} cached result${removed === 1 ? '' : 's'} (${scope})\n`);
    });
  return cache;
}
