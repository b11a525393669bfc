/**
 * Flag values, validated once at the edge with messages that say what was expected. Each parser
 * throws commander's InvalidArgumentError, which the CLI turns into exit code 2.
 */
import { InvalidArgumentError } from 'commander';
import { InvalidOptionError } from '../errors.js';
import { parseSize as parseModelSize } from '../inference/presets.js';
import { MB, parseBytes } from '../units.js';

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `30d`, `12h`, `90m`, `45s`, `2w`; `0` means no expiry. Returns milliseconds. */
export function parseDuration(value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([smhdw])?$/.exec(value.trim());
  if (!m) throw new InvalidArgumentError(`expected a duration such as 30d, 12h, 90m or 45s (or 0 for no expiry), got "${value}"`);
  const n = Number(m[1]);
  if (n === 0) return 0;
  if (!m[2]) throw new InvalidArgumentError(`give the duration a unit (s, m, h, d or w), e.g. ${value}d`);
  return Math.round(n * UNITS[m[2]]!);
}

export function parseIntIn(min: number, max: number): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}, got "${value}"`);
    return n;
  };
}

export function parseSizeFlag(value: string): number {
  try {
    return parseModelSize(value);
  } catch (err) {
    if (err instanceof InvalidOptionError) throw new InvalidArgumentError(`expected ${err.expected}, got "${value}"`);
    throw err;
  }
}

/** A size flag: `500MB`, `2GB` (SI), `1.5GiB` (binary), `4096` (bytes); see units.ts. */
export function parseByteSize(value: string): number {
  const bytes = parseBytes(value);
  if (bytes === null) throw new InvalidArgumentError(`expected a size such as 500MB or 2GB (SI: 1 GB = 1000 MB; KiB, MiB, GiB also taken), got "${value}"`);
  return bytes;
}

/** A saturation factor: a number from 0 to 4. */
export function parseSaturation(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 4) throw new InvalidArgumentError(`expected a factor from 0 to 4 (1: the model's colours, 1.2: livelier, 0.8: softer), got "${value}"`);
  return n;
}

/** The --skip-color threshold: a chroma of 0 or more. */
export function parseColorThreshold(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`expected a chroma of 0 or more (6: the default), got "${value}"`);
  return n;
}

const MIN_MEMORY_BUDGET = 64 * MB;

/** The memory budget for photos in flight: a size (parseByteSize) of at least 64 MB. */
export function parseMemoryBudget(value: string): number {
  const bytes = parseByteSize(value);
  if (bytes < MIN_MEMORY_BUDGET) throw new InvalidArgumentError(`expected at least 64MB (photos larger than the budget still run, one at a time), got "${value}"`);
  return bytes;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s - m * 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

