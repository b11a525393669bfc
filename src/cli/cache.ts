/**
 * `ddcolor cache stats` and `ddcolor cache invalidate`.
 */
import { createInterface } from 'node:readline/promises';
import { Command, InvalidArgumentError, Option } from 'commander';
import { existsSync } from 'node:fs';
import { cacheKey, parseKey } from '../cache/keys.js';
import { FileStore } from '../cache/file.js';
import { invalidate } from '../cache/invalidation.js';
import { openCache, resolveCacheSpec } from '../cache/open.js';
import type { CacheStats, CacheStore } from '../cache/store.js';
import { UsageError, ConfigError } from '../errors.js';
import { modelDirectory } from '../models/catalog.js';
import { locateModel } from '../models/locate.js';
import { PRESET_NAMES, resolveInputSize, type Preset } from '../inference/presets.js';
import { inspectRemembered } from './find-model.js';
import { isSha256, sha256File } from '../io/hash.js';
import { scanPaths } from '../pipeline/index.js';
import { parseByteSize, parseSizeFlag } from './parse.js';
import { formatBytes } from '../units.js';
import { printOut, printMessage } from './output.js';

interface CommonFlags {
  cache?: string;
  json?: boolean;
}

async function open(flags: CommonFlags): Promise<CacheStore> {
  const spec = resolveCacheSpec(flags.cache);
  try {
    return await openCache(spec);
  } catch (err) {
    throw new ConfigError(`cannot open the cache: ${(err as Error).message}`);
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
  // Warnings go to stderr (see the stats action), once.
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
  sha256?: string[];
  model?: string;
  preset: Preset;
  size?: number;
}

interface PruneFlags extends CommonFlags {
  keep?: string[];
  maxSize?: number;
}

const MODEL_ID = /^[0-9a-f]{16}$/;

/** A model given as a file (hashed) or as a model id (16 hex digits, as `cache stats` shows). */
async function modelIdOf(spec: string): Promise<string> {
  if (MODEL_ID.test(spec) && !existsSync(spec)) return spec;
  return (await inspectRemembered(locateModel(spec, await modelDirectory()).path)).id;
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Shortest --sha256 prefix taken (as git's short hashes); a prefix is resolved against the cache. */
const MIN_SHA_PREFIX = 7;

function parseSha(value: string, previous: string[] = []): string[] {
  const v = value.toLowerCase().replace(/…$|\.\.\.$/, '');
  if (!new RegExp(`^[0-9a-f]{${MIN_SHA_PREFIX},64}$`).test(v)) {
    throw new InvalidArgumentError(`expected a SHA-256 (64 hex digits, or the first ${MIN_SHA_PREFIX} or more), got "${value}"`);
  }
  return [...previous, v];
}

function print(flags: CommonFlags, json: object, text: string): void {
  printOut(flags.json ? JSON.stringify(json) + '\n' : text + '\n');
}

export function cacheCommand(): Command {
  return new Command('cache').description('inspect and manage the result cache').addCommand(statsCommand()).addCommand(invalidateCommand()).addCommand(pruneCommand());
}

function statsCommand(): Command {
  return new Command('stats')
    .description('entries and bytes per model, lifetime hits and misses; on Redis its memory and eviction policy')
    .option('--cache <url>', 'the cache (default: $DDCOLOR_CACHE, $REDIS_URL, else the on-disk store)')
    .option('--json', 'print the statistics as JSON')
    .action(async (flags: CommonFlags) => {
      const store = await open(flags);
      try {
        const s = await store.stats();
        printOut(flags.json ? JSON.stringify(s, null, 2) + '\n' : renderStats(s));
        for (const w of s.warnings) printMessage(`warning: ${w}`);
      } finally {
        await store.close();
      }
    });
}

function warnLine(message: string): void {
  printMessage(`warning: ${message}`);
}

function invalidateCommand(): Command {
  return new Command('invalidate')
    .description('drop cached results: of photos, of file hashes, of a model, or all of them')
    .argument('[paths...]', 'photos or folders whose cached results to drop (for --model and --preset/--size)')
    .option('--sha256 <hash>', 'drop the results of the file with this SHA-256 (or its first 7+ digits, if only one cached file starts so), every model and size (repeatable)', parseSha)
    .option('--model <file|id>', 'with paths: the model whose results to drop (default: the one colorize would use); alone: drop every result of this model, all sizes')
    .addOption(new Option('--preset <name>', 'model input size preset, with paths').choices(PRESET_NAMES).default('person'))
    .option('--size <px>', 'model input size, with paths (overrides --preset)', parseSizeFlag)
    .option('--all', "drop every ddcolor entry (never keys that are not ddcolor's)")
    .option('--yes', 'do not ask for confirmation (needed for --all when not on a terminal)')
    .option('--cache <url>', 'the cache (default: $DDCOLOR_CACHE, $REDIS_URL, else the on-disk store)')
    .option('--json', 'print the result as JSON')
    .action(async (paths: string[], flags: InvalidateFlags) => {
      const shas = flags.sha256 ?? [];
      const modes = [paths.length > 0, shas.length > 0, flags.all === true].filter(Boolean).length;
      if (modes > 1) throw new UsageError('give photo paths, --sha256 or --all, not several');
      if (modes === 0 && !flags.model) throw new UsageError('give the photos whose results to drop, --sha256 <hash>, --model <file|id>, or --all --yes');
      if (flags.all && !flags.yes && !(await confirmAll(flags))) {
        printMessage('nothing dropped');
        return;
      }
      const { removed, scope } = paths.length > 0 ? await dropPhotos(paths, flags) : await dropMatching(shas, flags);
      print(flags, { removed, scope }, `removed ${removed} cached result${removed === 1 ? '' : 's'} (${scope})`);
    });
}

/** `--all` without `--yes`: asked on a terminal, refused elsewhere. */
async function confirmAll(flags: InvalidateFlags): Promise<boolean> {
  if (!process.stdin.isTTY || !process.stderr.isTTY) {
    throw new UsageError('cache invalidate --all drops every ddcolor entry: add --yes to confirm');
  }
  const probe = await open(flags);
  await probe.close();
  return confirm(`Drop every ddcolor entry in ${probe.backend} ${probe.location}? [y/N] `);
}

/** Drop the results of these photos, for one model and input size. */
async function dropPhotos(paths: string[], flags: InvalidateFlags): Promise<{ removed: number; scope: string }> {
  const model = await inspectRemembered(locateModel(flags.model, await modelDirectory()).path);
  const { size } = resolveInputSize(model, flags.preset, flags.size);
  const scan = await scanPaths(paths);
  for (const p of scan.problems) printMessage(`${p.path}: ${p.reason}`);
  const keys = new Set<string>();
  for (const f of scan.files) {
    try {
      keys.add(cacheKey(model.id, size, await sha256File(f.path)));
    } catch (err) {
      printMessage(`${f.path}: ${(err as Error).message}`);
    }
  }
  const store = await open(flags);
  try {
    const removed = await invalidate(store, { kind: 'keys', keys: [...keys] }, warnLine);
    return { removed, scope: `${scan.files.length} photo${scan.files.length === 1 ? '' : 's'}, model ${model.id} at ${size}px` };
  } finally {
    await store.close();
  }
}

/** Drop the results of these file hashes and/or of a model (every size), or all of them. */
async function dropMatching(given: string[], flags: InvalidateFlags): Promise<{ removed: number; scope: string }> {
  const modelId = flags.model ? await modelIdOf(flags.model) : null;
  const store = await open(flags);
  let removed = 0;
  let shas = given;
  try {
    shas = await resolveShaPrefixes(store, given, modelId);
    if (given.length > 0 && shas.length === 0) return { removed, scope: 'no cached result matched' };
    removed = await invalidate(store, { kind: 'match', shas, model: modelId }, warnLine);
  } finally {
    await store.close();
  }
  const scope = flags.all ? 'all ddcolor entries' : [shas.length ? `${shas.length} file hash${shas.length === 1 ? '' : 'es'}` : '', modelId ? `model ${modelId}, all sizes` : ''].filter(Boolean).join(', ');
  return { removed, scope };
}

/**
 * Full hashes for --sha256 values: a full hash stands as given; a prefix is looked up among the
 * cached results (of `modelId`, when given) and must name one file. A prefix that names none is
 * said and left out; one that names several is a usage error listing them, and nothing is dropped.
 */
async function resolveShaPrefixes(store: CacheStore, given: string[], modelId: string | null): Promise<string[]> {
  const prefixes = given.filter((v) => !isSha256(v));
  if (prefixes.length === 0) return given;
  const keys = await store.keysWhere((k) => {
    const p = parseKey(k);
    return p !== null && (!modelId || p.modelId === modelId) && prefixes.some((x) => p.sha256.startsWith(x));
  });
  const cached = new Set(keys.map((k) => parseKey(k)!.sha256));
  const out: string[] = [];
  for (const v of given) {
    if (isSha256(v)) {
      out.push(v);
      continue;
    }
    const found = [...cached].filter((sha) => sha.startsWith(v)).sort();
    if (found.length > 1) {
      const shown = found.slice(0, 5).join(', ') + (found.length > 5 ? `, and ${found.length - 5} more` : '');
      throw new UsageError(`--sha256 ${v} is ambiguous: ${found.length} cached files' hashes start with it (${shown}); give more digits`);
    }
    if (found.length === 0) printMessage(`--sha256 ${v}: no cached result's file hash starts with it`);
    else out.push(found[0]!);
  }
  return out;
}

/**
 * The model ids whose results to keep: --keep, else the model colorize would use. Null when no
 * model is installed and --max-size is given: pruning by size needs no model.
 */
async function modelsToKeep(flags: PruneFlags): Promise<Set<string> | null> {
  const keep = new Set<string>();
  if (flags.keep) {
    for (const m of flags.keep) keep.add(await modelIdOf(m));
    return keep;
  }
  try {
    keep.add(await modelIdOf(locateModel(undefined, await modelDirectory()).path));
  } catch (err) {
    if (flags.maxSize !== undefined && err instanceof ConfigError) return null;
    throw err;
  }
  return keep;
}

function pruneCommand(): Command {
  return new Command('prune')
    .description("drop the results of models other than the current one; on the embedded store, shrink it to --max-size")
    .option('--keep <model>', 'a model (file or id) whose results to keep; repeatable (default: the one colorize would use)', collect)
    .option('--max-size <size>', 'embedded store only: drop least recently used entries until it fits, e.g. 500MB, 2GB', parseByteSize)
    .option('--cache <url>', 'the cache (default: $DDCOLOR_CACHE, $REDIS_URL, else the on-disk store)')
    .option('--json', 'print the result as JSON')
    .action(async (flags: PruneFlags) => {
      const keep = await modelsToKeep(flags);
      const store = await open(flags);
      try {
        if (flags.maxSize !== undefined && !(store instanceof FileStore)) {
          throw new UsageError(`--max-size applies to the embedded store; ${store.backend} evicts by its own policy (set maxmemory and maxmemory-policy on Redis)`);
        }
        // With --max-size alone and no model to name, only the size is pruned: no model's results are dropped.
        const removed = keep ? await invalidate(store, { kind: 'keep-models', models: [...keep] }, warnLine) : 0;
        let lru: { removed: number; bytes: number } | null = null;
        if (flags.maxSize !== undefined && store instanceof FileStore) lru = await store.prune(flags.maxSize);
        const kept = keep ? [...keep] : null;
        const models = kept ? `removed ${removed} result${removed === 1 ? '' : 's'} of other models (kept ${kept.join(', ')})` : 'no model installed: results of every model kept';
        print(
          flags,
          { removed, kept, evicted: lru?.removed ?? null, bytes: lru?.bytes ?? null },
          models + (lru ? `; evicted ${lru.removed} least recently used entr${lru.removed === 1 ? 'y' : 'ies'}, ${formatBytes(lru.bytes)} left` : ''),
        );
      } finally {
        await store.close();
      }
    });
}
