/**
 * Checks for the values the library takes, in one place (the style of sharp's lib/is.js): each
 * throws an InvalidOptionError naming the option and what was expected. The library checks its
 * options once, at its entry; the CLI's flag parsers use the same checks.
 */
import { InvalidOptionError } from './errors.js';

export function integerIn(option: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidOptionError(option, value, `a whole number from ${min} to ${max}`);
  }
  return value;
}

export function atLeast(option: string, value: unknown, min: number, what: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) throw new InvalidOptionError(option, value, what);
  return value;
}

export function oneOf<T extends string>(option: string, value: unknown, choices: readonly T[]): T {
  if (typeof value !== 'string' || !(choices as readonly string[]).includes(value)) {
    throw new InvalidOptionError(option, value, `one of ${choices.join(', ')}`);
  }
  return value as T;
}

export function nonEmptyString(option: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) throw new InvalidOptionError(option, value, 'a non-empty string');
  return value;
}

/** A model input size: a multiple of 32 from 32 to 4096. */
export function modelSize(option: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 32 || value > 4096 || value % 32 !== 0) {
    throw new InvalidOptionError(option, value, 'a multiple of 32 from 32 to 4096');
  }
  return value;
}
