/**
 * A worker thread's result (piscina) whose buffers are transferred to the main thread, not
 * cloned: piscina moves what a task returns only at its top level, so a reply that holds buffers
 * says which, here.
 */
import { move, Piscina } from 'piscina';

export function moving<T>(value: T, buffers: ArrayBufferLike[]): T {
  const transferable = {
    get [Piscina.transferableSymbol]() {
      return buffers;
    },
    get [Piscina.valueSymbol]() {
      return value;
    },
  };
  return move(transferable as unknown as Parameters<typeof move>[0]) as unknown as T;
}
