/**
 * The model as `colorize` finds it, for `submit` and `worker`: --model, $DDCOLOR_MODEL, else the
 * default installed one. Apart from fleet-flags.ts so that `queue` does not load onnxruntime.
 */
import { defaultCacheDir } from '../cache/file.js';
import { modelDirectory } from '../models/catalog.js';
import { locateModel } from '../models/locate.js';
import { inspectModel, type ModelInfo } from '../inference/model-info.js';
import { memoFileIn } from '../inference/model-memo.js';

/**
 * The model at `path` for a command that uses it, with the user's memo (inference/model-memo.ts,
 * in the cache folder): a model file unchanged since a command last inspected it is not read and
 * hashed again.
 */
export function inspectRemembered(path: string): Promise<ModelInfo> {
  return inspectModel(path, { memo: memoFileIn(defaultCacheDir()) });
}

/** The model as `colorize` finds it; warns through `warn`. */
export async function findModel(flag: string | undefined, warn: (message: string) => void): Promise<ModelInfo> {
  const located = locateModel(flag, await modelDirectory());
  if (located.warning) warn(located.warning);
  return inspectRemembered(located.path);
}
