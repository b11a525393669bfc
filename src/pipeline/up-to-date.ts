/**
 * "Is this output up to date?", the one rule that `colorize`, `submit` and the fleet's workers
 * all use, whatever keeps their records (the output folder's manifest, or the fleet's record in
 * Redis): decided from the input's size and mtime and the records alone, without reading the input.
 */
import { PROCESSING_VERSION } from '../inference/processing-version.js';
import type { SizeTime } from './file-states.js';
import { madeWith, type ManifestEntry, type OutputParams, type OutputRecords } from './manifest.js';
import type { SkipReason } from './photo.js';

export interface Recorded {
  /** The entry that describes the output file on disk (same size and mtime): the file is ddcolor's. */
  ours: ManifestEntry | undefined;
  /** That entry, else the output's latest, when it was made from this input as it is now (path, size, mtime). */
  known: ManifestEntry | undefined;
}

/** What the records say of an output whose input (at `inputPath`) is `input` now, and whose file on disk is `onDisk` (null: none). */
export function recorded(records: OutputRecords, outputRel: string, inputPath: string, input: SizeTime, onDisk: SizeTime | null): Recorded {
  const ours = onDisk ? records.describing(outputRel, onDisk) : undefined;
  const entry = ours ?? records.get(outputRel);
  const known = entry && entry.input === inputPath && entry.inputSize === input.size && entry.inputMtimeMs === input.mtimeMs ? entry : undefined;
  return { ours, known };
}

/**
 * Up to date without reading the input: the output on disk is ddcolor's, it is the output's latest
 * record, it was made from this input as it is now, and with these parameters and this format.
 * An output deleted, edited by hand or written by another tool, an input changed, or another
 * model, size, quality, saturation or format: not up to date.
 */
export function upToDate(records: OutputRecords, outputRel: string, format: string, params: OutputParams, seen: Recorded): boolean {
  const { ours, known } = seen;
  return ours !== undefined && ours === known && ours === records.get(outputRel) && madeWith(ours, params, format);
}

/** Found in colour by an earlier run with --skip-color, and unchanged since (`known` is its record); `limit` undefined: no --skip-color. */
export function foundInColour(known: ManifestEntry | undefined, limit: number | undefined): boolean {
  return limit !== undefined && known?.colourfulness !== undefined && known.colourfulness > limit;
}

/** What an output made now would be made with (the model, its input size, quality, saturation, this version's processing). */
export function makingParams(modelId: string, modelSize: number, quality: number, saturation: number): OutputParams {
  return { modelId, modelSize, processing: PROCESSING_VERSION, quality, saturation };
}

/** A photo as the rule sees it: its input's path, its output's place and format. */
export interface PhotoPlace {
  path: string;
  outputRel: string;
  format: string;
}

/**
 * Why a photo needs no work, decided from the records alone: already in colour (found so by an
 * earlier run with --skip-color, unchanged since; `colourLimit` undefined without --skip-color),
 * or up to date; with the record that says so. Null: it must be read. The one rule of `colorize`'s
 * state stage and of `submit`.
 */
export function leftAlone(
  records: OutputRecords,
  photo: PhotoPlace,
  input: SizeTime,
  onDisk: SizeTime | null,
  params: OutputParams,
  colourLimit: number | undefined,
): { reason: SkipReason; known: ManifestEntry } | null {
  const seen = recorded(records, photo.outputRel, photo.path, input, onDisk);
  const { known } = seen;
  if (!known) return null;
  if (foundInColour(known, colourLimit)) return { reason: 'already in colour', known };
  if (upToDate(records, photo.outputRel, photo.format, params, seen)) return { reason: 'up to date', known };
  return null;
}
