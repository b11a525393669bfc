/**
 * ddcolor as a library: the same run the `ddcolor colorize` command makes, with its report.
 *
 *   import { colorize, inspectModel, parseCacheUrl } from 'ddcolor';
 *   const model = await inspectModel('/models/ddcolor.onnx');
 *   const report = await colorize({ paths: ['scans'], outDir: 'colorized', model, size: 512,
 *     device: 'auto', concurrency: 4, cache: parseCacheUrl('redis://localhost:6379'),
 *     ttlMs: 30 * 86_400_000, format: 'same', quality: 90, force: false });
 *
 * `inspectModel(path, { memo: file })` remembers the model's hash in `file` by the model file's
 * stamps, so that a program started again does not hash an unchanged model (the CLI's memo is
 * `models-v1.json` in its cache folder; see the README).
 *
 * A program that makes many runs can start the pixel threads once and give them to each run
 * (`sharedPixels: new PixelPool(pixelThreads(concurrency))`, closed with `close()` at the end):
 * each thread's start costs about 0.4 s of a core.
 *
 * The library never prints and never exits: progress comes as events (`onEvent`), problems as
 * the report's records (a failed photo's `code`; its typed failure in the `file` event) or as a
 * thrown DdcolorError whose class and `kind` say what went wrong.
 */
export { colorize, PixelPool, pixelThreads, type ColorizeOptions, type RunEvent } from './pipeline/index.js';
export type { FileRecord, FileStatus, RunReport, Totals } from './report/report.js';
export { type Device } from './inference/devices.js';
export { inspectModel, type InspectOptions, type ModelInfo } from './inference/model-info.js';
export { resolveInputSize, PRESETS, type Preset } from './inference/presets.js';
export { parseCacheUrl, openCache, type CacheSpec } from './cache/open.js';
export {
  DdcolorError,
  UsageError,
  ConfigError,
  InterruptedError,
  PhotoFailure,
  BadPhotoError,
  EnvironmentError,
  InternalError,
  BlockedError,
  type ErrorKind,
  type Fault,
} from './errors.js';
