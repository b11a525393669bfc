/**
 * The run's options, checked once at the library's entry, before anything is read or written:
 * a wrong value fails with the option's name and what was expected, never deep inside a stage
 * (a JPEG quality of 500 used to fail inside sharp, photo by photo).
 */
import { InvalidOptionError } from '../errors.js';
import { FORMAT_CHOICES } from '../image/encode.js';
import { DEVICES } from '../model/session.js';
import { atLeast, integerIn, modelSize, nonEmptyString, oneOf } from '../options.js';
import type { ColorizeOptions } from './run.js';

export function checkColorizeOptions(opts: ColorizeOptions): void {
  if (!Array.isArray(opts.paths) || opts.paths.length === 0) throw new InvalidOptionError('paths', opts.paths, 'at least one file or folder');
  opts.paths.forEach((p) => nonEmptyString('paths', p));
  nonEmptyString('outDir', opts.outDir);
  if (typeof opts.model !== 'object' || opts.model === null || typeof opts.model.id !== 'string') {
    throw new InvalidOptionError('model', opts.model, 'a model as inspectModel() describes it');
  }
  modelSize('size', opts.size);
  if (opts.model.fixedSize !== null && opts.model.fixedSize !== opts.size) {
    throw new InvalidOptionError('size', opts.size, `${opts.model.fixedSize}, the model's fixed input size`);
  }
  oneOf('device', opts.device, DEVICES);
  if (opts.batchSize !== undefined && opts.batchSize !== 'auto') integerIn('batchSize', opts.batchSize, 1, 256);
  integerIn('concurrency', opts.concurrency, 1, 256);
  atLeast('ttlMs', opts.ttlMs, 0, 'milliseconds, 0 or more (0: no expiry)');
  oneOf('format', opts.format, FORMAT_CHOICES);
  integerIn('quality', opts.quality, 1, 100);
  if (opts.saturation !== undefined && !(typeof opts.saturation === 'number' && opts.saturation >= 0 && opts.saturation <= 4)) {
    throw new InvalidOptionError('saturation', opts.saturation, 'a factor from 0 to 4 (1: the model\'s colours)');
  }
  if (opts.colorThreshold !== undefined) atLeast('colorThreshold', opts.colorThreshold, 0, 'a chroma of 0 or more (default 6)');
  if (opts.memoryBudget !== undefined) atLeast('memoryBudget', opts.memoryBudget, 1, 'bytes, 1 or more (photos larger than the budget run one at a time)');
  if (opts.maxPixels !== undefined) integerIn('maxPixels', opts.maxPixels, 1, Number.MAX_SAFE_INTEGER);
  if (opts.threads !== undefined) integerIn('threads', opts.threads, 1, 1024);
  if (opts.lockTtlMs !== undefined) atLeast('lockTtlMs', opts.lockTtlMs, 1000, 'at least 1000 ms');
  if (opts.inferenceStallMs !== undefined) atLeast('inferenceStallMs', opts.inferenceStallMs, 1000, 'at least 1000 ms');
  if (opts.cacheRetryMs !== undefined) atLeast('cacheRetryMs', opts.cacheRetryMs, 0, 'milliseconds, 0 or more');
}
