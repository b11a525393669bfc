/**
 * The model's input size S. DDColor's released weights were trained at 256 and generalise to
 * larger inputs; results change with S. `person` (512) is DDColor's default; `building` (1024)
 * keeps more of the structure of architecture. `--size` overrides; an export with a fixed input
 * shape dictates S.
 */
import { DdcolorError } from '../errors.js';
import type { ModelInfo } from './session.js';

export const PRESETS = { person: 512, building: 1024 } as const;
export type Preset = keyof typeof PRESETS;
export const PRESET_NAMES = Object.keys(PRESETS) as Preset[];

export function parsePreset(value: string): Preset {
  if (value in PRESETS) return value as Preset;
  throw new DdcolorError('usage', `--preset ${value}: expected one of ${PRESET_NAMES.join(', ')}`);
}

export function parseSize(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 32 || n > 4096 || n % 32 !== 0) {
    throw new DdcolorError('usage', `--size ${value}: expected a multiple of 32 between 32 and 4096`);
  }
  return n;
}

export interface InputSize {
  size: number;
  /** Set when the model overrode what was asked for. */
  note: string | null;
}

/** S for this model: the fixed size of the export, else --size, else the preset's. */
export function resolveInputSize(model: ModelInfo, preset: Preset, size: number | undefined): InputSize {
  const wanted = size ?? PRESETS[preset];
  if (model.fixedSize !== null) {
    const note =
      model.fixedSize === wanted
        ? null
        : `the model has a fixed ${model.fixedSize}x${model.fixedSize} input: using ${model.fixedSize} instead of ${wanted}${size !== undefined ? ' (--size)' : ` (--preset ${preset})`}`;
    return { size: model.fixedSize, note };
  }
  return { size: wanted, note: null };
}
