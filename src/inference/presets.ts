/**
 * The model's input size S. DDColor's released weights were trained at 256 and generalise to
 * larger inputs; results change with S. `person` (512) is DDColor's default; `building` (1024)
 * keeps more of the structure of architecture. `--size` overrides; an export with a fixed input
 * shape dictates S.
 */
import { modelSize } from '../validate.js';
import type { ModelInfo } from './model-info.js';

export const PRESETS = { person: 512, building: 1024 } as const;
export type Preset = keyof typeof PRESETS;
export const PRESET_NAMES = Object.keys(PRESETS) as Preset[];

/** A size given as text (`512`): a multiple of 32 from 32 to 4096. */
export function parseSize(value: string): number {
  return modelSize('size', value.trim() === '' ? value : Number(value));
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
        : `the model has a fixed ${model.fixedSize}x${model.fixedSize} input: using ${model.fixedSize} instead of ${wanted}${size !== undefined ? ' (the size asked for)' : ` (preset ${preset})`}`;
    return { size: model.fixedSize, note };
  }
  return { size: wanted, note: null };
}
