/**
 * Which model file a run uses: `--model`, else $DDCOLOR_MODEL, else models/ddcolor.onnx in the
 * package. When none of those names a file and nothing was asked for explicitly, the tiny test
 * model generated at install (models/ddcolor-tiny-test.onnx) stands in, and the caller is told:
 * it tints, it does not colorize.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package's models/ folder (dist/src/model -> package root). */
export const PACKAGE_MODELS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'models');
export const DEFAULT_MODEL = join(PACKAGE_MODELS_DIR, 'ddcolor.onnx');
export const TEST_MODEL = join(PACKAGE_MODELS_DIR, 'ddcolor-tiny-test.onnx');

export interface LocatedModel {
  path: string;
  /** How it was chosen. */
  source: 'flag' | 'env' | 'default' | 'test-model';
  /** Set when the stand-in test model is used. */
  warning: string | null;
}

export function locateModel(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): LocatedModel {
  if (flag) return { path: resolve(flag), source: 'flag', warning: null };
  if (env.DDCOLOR_MODEL) return { path: resolve(env.DDCOLOR_MODEL), source: 'env', warning: null };
  if (existsSync(DEFAULT_MODEL) || !existsSync(TEST_MODEL)) return { path: DEFAULT_MODEL, source: 'default', warning: null };
  return {
    path: TEST_MODEL,
    source: 'test-model',
    warning:
      'no DDColor model installed: using the tiny generated test model, which TINTS photos sepia and does NOT colorize them. Get a real model: see "Getting a DDColor model" in the README',
  };
}
