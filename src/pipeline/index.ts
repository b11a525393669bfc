/**
 * The pipeline's public module: what the CLI and the fleet use of it, and nothing else. A run
 * (`colorize`, or `colorizeFiles` for photos already planned, a fleet worker's job), its options
 * and events; the scan and the outputs' plan that `submit` makes as `colorize` does; the one
 * up-to-date rule; the records an output folder keeps.
 */
export { colorize, colorizeFiles, DEFAULT_LOCK_TTL_MS, type WorkPlace } from './run.js';
export { checkDevice } from './open-run.js';
export { checkColorizeOptions, concurrencyFor, type ColorizeOptions, type RunEvent } from './options.js';
export { PixelPool, pixelThreads } from './pixel-pool.js';
export { scanPaths, type ScanProblem, type ScannedFile } from './scan.js';
export { planOutputs, type PlannedFile } from './outputs.js';
export { FileStates, type SizeTime } from './file-states.js';
export { leftAlone, makingParams } from './up-to-date.js';
export type { SkipReason } from './photo.js';
export { TMP_DIR } from './leftovers.js';
export type { ManifestEntry, OutputParams, OutputRecords } from './manifest.js';
export { manifestEntrySchema } from './manifest.js';
