/**
 * The catalog of public DDColor exports (models/catalog.json) and the models installed on this
 * machine (`$DDCOLOR_HOME/models`, default `$XDG_DATA_HOME/ddcolor/models`), with a small registry
 * (`installed.json`) of what was pulled, its checksum, and which model is the default.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomically } from '../io/atomic-write.js';
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

export async function loadRegistry(home: string = modelsHome()): Promise<Registry> {
  try {
    const r = JSON.parse(await readFile(join(home, REGISTRY), 'utf8')) as Registry;
    return { default: r.default ?? null, models: Array.isArray(r.models) ? r.models : [] };
  } catch {
    return { default: null, models: [] };
  }
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
  const registry = await loadRegistry(home);
  const path = (name: string): string | null => {
    const m = registry.models.find((x) => x.name === name);
    return m ? installedPath(m, home) : null;
  };
  return {
    pathOf: path,
    defaultModel: () => {
      const p = registry.default ? path(registry.default) : null;
      return p && registry.default ? { name: registry.default, path: p } : null;
    },
    isCatalogName: (name) => catalog.models.some((m) => m.name === name),
  };
}
