/**
 * Which model file a run uses:
 *   1. `--model`, else 2. $DDCOLOR_MODEL: a file, or the name of an installed model;
 *   3. the default installed model (`ddcolor models pull` makes the first one the default);
 *   4. models/ddcolor.onnx in the package, where someone put one.
 * With none of these: a configuration error with the exact `ddcolor models pull` command to run.
 * `tiny-test` names the tiny model generated at install (models/ddcolor-tiny-test.onnx): it tints,
 * it does not colorize, and the caller is told so.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError } from '../errors.js';
import { formatBytes } from '../units.js';
import { findCatalogEntry } from './catalog.js';
import { PACKAGE_MODELS_DIR } from './package-dir.js';

export { PACKAGE_MODELS_DIR };

export const DEFAULT_MODEL = join(PACKAGE_MODELS_DIR, 'ddcolor.onnx');
export const TEST_MODEL = join(PACKAGE_MODELS_DIR, 'ddcolor-tiny-test.onnx');
export const TEST_MODEL_NAME = 'tiny-test';
export const RECOMMENDED_MODEL = 'tiny-512-int8';

export const TEST_MODEL_WARNING =
  'using the tiny generated test model, which TINTS photos sepia and does NOT colorize them; for real colour run: ddcolor models pull ' +
  RECOMMENDED_MODEL;

export interface LocatedModel {
  path: string;
  /** How it was chosen. */
  source: 'flag' | 'env' | 'installed-default' | 'package' | 'test-model';
  /** The installed model's name, when it was chosen by name or as the default. */
  name: string | null;
  /** Set when the stand-in test model is used. */
  warning: string | null;
}

export interface ModelDirectory {
  /** Path of an installed model by name, or null. */
  pathOf(name: string): string | null;
  defaultModel(): { name: string; path: string } | null;
  isCatalogName(name: string): boolean;
}

function byName(value: string, source: 'flag' | 'env', dir: ModelDirectory): LocatedModel {
  if (value === TEST_MODEL_NAME && !existsSync(value)) return { path: TEST_MODEL, source: 'test-model', name: TEST_MODEL_NAME, warning: TEST_MODEL_WARNING };
  const asPath = resolve(value);
  if (existsSync(asPath) || /[\\/]|\.onnx$/i.test(value)) return { path: asPath, source, name: null, warning: null };
  const installed = dir.pathOf(value);
  if (installed) return { path: installed, source, name: value, warning: null };
  if (dir.isCatalogName(value)) {
    throw new ConfigError(`model ${value} is not installed; run: ddcolor models pull ${value}`);
  }
  return { path: asPath, source, name: null, warning: null };
}

export function locateModel(flag: string | undefined, dir: ModelDirectory, env: NodeJS.ProcessEnv = process.env): LocatedModel {
  if (flag) return byName(flag, 'flag', dir);
  if (env.DDCOLOR_MODEL) return byName(env.DDCOLOR_MODEL, 'env', dir);
  const def = dir.defaultModel();
  if (def) return { path: def.path, source: 'installed-default', name: def.name, warning: null };
  if (existsSync(DEFAULT_MODEL)) return { path: DEFAULT_MODEL, source: 'package', name: null, warning: null };
  throw new ConfigError(
    `no DDColor model installed. Get one (${recommendedSize()}) with: ddcolor models pull ${RECOMMENDED_MODEL}` +
      ` (or pass --model <file.onnx>, or set DDCOLOR_MODEL). To try ddcolor without one: --model ${TEST_MODEL_NAME} (tints, does not colorize)`,
  );
}

/** The recommended model's download size, as the catalog gives it. */
function recommendedSize(): string {
  const bytes = findCatalogEntry(RECOMMENDED_MODEL)?.bytes;
  return bytes ? formatBytes(bytes) : 'about 113 MB';
}
