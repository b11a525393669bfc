/**
 * `ddcolor models pull` and `verify`: installing models into the models folder, verified against
 * the catalog's (or the user's) checksum, and re-checking them later.
 */
import { rename, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { InvalidOptionError, UsageError, ConfigError } from '../errors.js';
import { findCatalogEntry, installedPath, loadCatalog, loadRegistry, modelsHome, saveRegistry, type Catalog, type InstalledModel, type Registry } from './catalog.js';
import { sha256File, isSha256 } from '../io/hash.js';
import { download, UnreachableError, type DownloadProgress, type DownloadResult } from './download.js';
import { inspectModel } from '../inference/model-info.js';
import { syncPath } from '../io/atomic-write.js';

export interface PullOptions {
  /** A catalog name, or an http(s) URL. */
  source: string;
  sha256?: string;
  name?: string;
  force?: boolean;
  env?: NodeJS.ProcessEnv;
  catalog?: Catalog;
  onProgress?: (p: DownloadProgress) => void;
  onRestart?: (reason: string) => void;
}

export interface PullResult {
  model: InstalledModel;
  path: string;
  /** Already installed: nothing was downloaded. */
  already: boolean;
  /** Became the default model. */
  madeDefault: boolean;
  resumedFrom: number;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** What a pull fetches: from where, under which name and file name, checked against what. */
interface PullSource {
  url: string;
  name: string;
  /** The catalog's or the URL's file name (also the name under $DDCOLOR_MODELS_MIRROR). */
  file: string;
  sha256: string | null;
  bytes: number | null;
  checksum: InstalledModel['checksum'];
  fromCatalog: boolean;
}

/** A URL (with --sha256) or a catalog name, as what to fetch. */
function sourceOf(options: PullOptions, catalog: Catalog, env: NodeJS.ProcessEnv): PullSource {
  if (/^https?:\/\//i.test(options.source)) {
    if (!options.sha256) throw new UsageError(`models pull ${options.source}: give the file's checksum with --sha256 <hex> (a download is never used unverified)`);
    if (!isSha256(options.sha256.toLowerCase())) throw new InvalidOptionError('sha256', options.sha256, 'a SHA-256: 64 hex digits');
    let file = basename(new URL(options.source).pathname) || 'model.onnx';
    if (!file.endsWith('.onnx')) file += '.onnx';
    const name = options.name ?? file.replace(/\.onnx$/, '');
    return { url: options.source, name, file, sha256: options.sha256.toLowerCase(), bytes: null, checksum: 'given', fromCatalog: false };
  }
  const entry = findCatalogEntry(options.source, catalog);
  if (!entry) {
    throw new UsageError(`models pull ${options.source}: not in the catalog (known: ${catalog.models.map((m) => m.name).join(', ')}); to pull any export give its URL and --sha256`);
  }
  const mirror = env.DDCOLOR_MODELS_MIRROR;
  return {
    url: mirror ? `${mirror.replace(/\/+$/, '')}/${entry.file}` : entry.url,
    name: options.name ?? entry.name,
    file: entry.file,
    sha256: options.sha256?.toLowerCase() ?? entry.sha256,
    bytes: entry.bytes,
    checksum: options.sha256 ? 'given' : entry.sha256 ? 'catalog' : 'recorded',
    fromCatalog: true,
  };
}

/** Download `source` to `to`, verified; a catalog model out of reach says what else works. */
function fetchVerified(source: PullSource, to: string, options: PullOptions, env: NodeJS.ProcessEnv): Promise<DownloadResult> {
  return download(source.url, to, {
    expectedBytes: source.bytes,
    sha256: source.sha256,
    env,
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    ...(options.onRestart ? { onRestart: options.onRestart } : {}),
  }).catch((err: unknown) => {
    if (!(err instanceof UnreachableError) || !source.fromCatalog) throw err;
    const { file } = source;
    const mirror = env.DDCOLOR_MODELS_MIRROR ? `check the mirror DDCOLOR_MODELS_MIRROR=${env.DDCOLOR_MODELS_MIRROR}` : `set DDCOLOR_MODELS_MIRROR=<base url> to a server in reach that has ${file}`;
    throw new UnreachableError(err.url, err.reason, `. Without internet access: ${mirror}, or copy ${file} here by other means and use it with --model <path to ${file}>`);
  });
}

export async function pullModel(options: PullOptions): Promise<PullResult> {
  const env = options.env ?? process.env;
  const home = modelsHome(env);
  const source = sourceOf(options, options.catalog ?? loadCatalog(), env);
  const { name, url } = source;
  if (!NAME.test(name)) throw new InvalidOptionError('name', name, "a name of letters, digits, '.', '_' and '-'");
  const registry = await loadRegistry(home);
  const existing = registry.models.find((m) => m.name === name);
  if (existing && !options.force) {
    return { model: existing, path: installedPath(existing, home), already: true, madeDefault: false, resumedFrom: 0 };
  }
  const file = fileFor(registry, name, source.file);
  const dest = join(home, file);
  // Downloaded and checked beside it, put in place only once it is a usable model: a forced pull
  // that is not one leaves the installed file as it was.
  const staged = join(home, `${file}.pulled`);
  const result = await fetchVerified(source, staged, options, env);
  try {
    await inspectModel(staged);
  } catch (err) {
    await rm(staged, { force: true });
    throw new ConfigError(`${url} is not a usable DDColor model: ${(err as Error).message}; deleted`);
  }
  await rename(staged, dest);
  await syncPath(home);
  const model: InstalledModel = { name, file, sha256: result.sha256, bytes: result.bytes, url, installedAt: new Date().toISOString(), checksum: source.checksum };
  registry.models = [...registry.models.filter((m) => m.name !== name), model];
  const madeDefault = registry.default === null || !registry.models.some((m) => m.name === registry.default);
  if (madeDefault) registry.default = name;
  await saveRegistry(registry, home);
  return { model, path: dest, already: false, madeDefault, resumedFrom: result.resumedFrom };
}

/**
 * The file a model named `name` is installed as: `preferred` (the catalog's or the URL's file
 * name), or `<name>.onnx` when `preferred` is another installed model's file; never another
 * model's (two exports are often both called ddcolor.onnx).
 */
function fileFor(registry: Registry, name: string, preferred: string): string {
  const owner = (file: string): InstalledModel | undefined => registry.models.find((m) => m.file === file && m.name !== name);
  const taken = owner(preferred);
  if (!taken) return preferred;
  const own = `${name}.onnx`;
  const alsoTaken = owner(own);
  if (alsoTaken) throw new UsageError(`models pull: ${preferred} is the file of installed model ${taken.name}, and ${own} of installed model ${alsoTaken.name}: give another --name`);
  return own;
}

export interface VerifyResult {
  name: string;
  path: string;
  ok: boolean;
  expected: string;
  got: string | null;
  reason: string | null;
}

/** Re-hash installed models against the catalog (or the checksum recorded when they were pulled). */
export async function verifyModels(name?: string, env: NodeJS.ProcessEnv = process.env, catalog: Catalog = loadCatalog()): Promise<VerifyResult[]> {
  const home = modelsHome(env);
  const registry = await loadRegistry(home);
  const models = name ? registry.models.filter((m) => m.name === name) : registry.models;
  if (name && models.length === 0) throw new UsageError(`models verify ${name}: not installed (installed: ${registry.models.map((m) => m.name).join(', ') || 'none'})`);
  const out: VerifyResult[] = [];
  for (const m of models) {
    const path = installedPath(m, home);
    const expected = findCatalogEntry(m.name, catalog)?.sha256 ?? m.sha256;
    let got: string | null = null;
    let reason: string | null = null;
    try {
      got = await sha256File(path);
      if (got !== expected) reason = `sha256 is ${got}, expected ${expected}`;
    } catch (err) {
      reason = `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
    }
    out.push({ name: m.name, path, ok: reason === null, expected, got, reason });
  }
  return out;
}
