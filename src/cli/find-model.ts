/**
 * The model as `colorize` finds it, for `submit` and `worker`: --model, $DDCOLOR_MODEL, else the
 * default installed one. Apart from fleet-flags.ts so that `queue` does not load onnxruntime.
 */
import { modelDirectory } from '../models/catalog.js';
import { locateModel } from '../models/locate.js';
import { inspectModel, type ModelInfo } from '../inference/model-info.js';

/** The model as `colorize` finds it; warns through `warn`. */
export async function findModel(flag: string | undefined, warn: (message: string) => void): Promise<ModelInfo> {
  const located = locateModel(flag, await modelDirectory());
  if (located.warning) warn(located.warning);
  return inspectModel(located.path);
}
