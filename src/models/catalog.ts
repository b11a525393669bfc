/**
 * The catalog of public DDColor exports (models/catalog.json) and the models installed on this
 * machine (`$DDCOLOR_HOME/models`, default `$XDG_DATA_HOME/ddcolor/models`), with a small registry
 * (`installed.json`) of what was pulled, its checksum, and which model is the default.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import * as z from 'zod';
import { ConfigError, errorMessage } from '../errors.js';
import { writeFileAtomically } from '../io/atomic-write.js';
import { parseJson } from '../parse-json.js';
import type { ModelDirectory } from './locate.js';
import { PACKAGE_MODELS_DIR } from './package-dir.js';

export interface CatalogEntry {
  name: string;
  description: string;
  inputSize: number;
  fixedShape: boolean;
  precision: string;
  /** Exact size in bytes, or null when the publisher gives none. */
  bytes: number | null;
  approxBytes?: number;
  /** The publisher's SHA-256, or null when none is published. */
  sha256: string | null;
  license: string;
  url: string;
  /** File name (also the name under $DDCOLOR_MODELS_MIRROR). */
  file: string;
}

export interface Catalog {
  models: CatalogEntry[];
}

export function loadCatalog(path = join(PACKAGE_MODELS_DIR, 'catalog.json')): Catalog {
  return JSON.parse(readFileSync(path, 'utf8')) as Catalog;
}

export function findCatalogEntry(name: string, catalog: Catalog = loadCatalog()): CatalogEntry | undefined {
  return catalog.models.find((m) => m.name === name);
}

export function modelsHome(env: NodeJS.ProcessEnv = process.env): string {
  if (env.DDCOLOR_HOME) return join(env.DDCOLOR_HOME, 'models');
  const data = env.XDG_DATA_HOME && env.XDG_DATA_HOME.length > 0 ? env.XDG_DATA_HOME : join(homedir(), '.local', 'share');
  return join(data, 'ddcolor', 'models');
}

export interface InstalledModel {
  name: string;
  /** File name inside the models folder. */
  file: string;
  sha256: string;
  bytes: number;
  url: string;
  installedAt: string;
  /** Where the checksum came from: the catalog, the user (--sha256), or recorded at first download. */
  checksum: 'catalog' | 'given' | 'recorded';
}

export interface Registry {
  default: string | null;
  models: InstalledModel[];
}

const REGISTRY = 'installed.json';

/** A file name inside the models folder: no folder part, never `.` or `..`. */
const fileName = z.string().regex(/^(?!\.\.?$)[^/\\\0]+$/, 'a file name inside the models folder');
// Loose objects: what a newer ddcolor wrote beside these fields is kept when this one saves.
const registrySchema = z.looseObject({
  default: z.string().nullable().default(null),
  models: z.array(
    z.looseObject({
      name: z.string().min(1),
      file: fileName,
      sha256: z.string().regex(/^[0-9a-f]{64}$/),
      bytes: z.number().int().nonnegative(),
      url: z.string(),
      installedAt: z.string(),
      checksum: z.enum(['catalog', 'given', 'recorded']).default('recorded'),
    }),
  ),
});

/**
 * The models installed in `home`: none when it has no `installed.json`. A registry that cannot be
 * read or is not one is a `config` error naming it, never taken for an empty one (the next pull
 * would write over it, and every model it lists would be lost to ddcolor).
 */
export async function loadRegistry(home: string = modelsHome()): Promise<Registry> {
  const path = join(home, REGISTRY);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { default: null, models: [] };
    throw new ConfigError(`${path}: cannot be read (${(err as NodeJS.ErrnoException).code ?? errorMessage(err)})`, path);
  }
  const parsed = parseJson(registrySchema, text);
  if (!parsed.ok) {
    throw new ConfigError(`${path}: not a list of installed models (${parsed.reason}); the model files beside it are kept: repair it, or move it aside and pull the models again`, path);
  }
  return parsed.data;
}

export async function saveRegistry(registry: Registry, home: string = modelsHome()): Promise<void> {
  await writeFileAtomically(join(home, REGISTRY), JSON.stringify(registry, null, 2) + '\n');
}

export function installedPath(model: InstalledModel, home: string = modelsHome()): string {
  return join(home, model.file);
}

/** The models folder as `locateModel` sees it: installed names, the default, catalog names. */
export async function modelDirectory(env: NodeJS.ProcessEnv = process.env, catalog: Catalog = loadCatalog()): Promise<ModelDirectory> {
  const home = modelsHome(env);
  // A damaged registry stops only what needs it: a run given a model file never reads it.
  const loaded = await loadRegistry(home).then(
    (r) => () => r,
    (err: unknown) => (): never => {
      throw err;
    },
  );
  const path = (name: string): string | null => {
    const m = loaded().models.find((x) => x.name === name);
    return m ? installedPath(m, home) : null;
  };
  return {
    pathOf: path,
    defaultModel: () => {
      const name = loaded().default;
      const p = name ? path(name) : null;
      return p && name ? { name, path: p } : null;
    },
    isCatalogName: (name) => catalog.models.some((m) => m.name === name),
  };
}
