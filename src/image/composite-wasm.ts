/**
 * The composite in WebAssembly (assembly/composite.ts, built to dist/wasm/composite.wasm): the
 * JavaScript composite of model/ddcolor.ts in single precision, four pixels at a time, within one
 * code of it (tested) in a fifth of its time. One instance per thread; its memory grows to the largest photo seen and is reused, so a
 * photo's output needs no fresh allocation (first-touching fresh memory is most of the cost).
 */
import { readFileSync } from 'node:fs';
import type { AbPlanes } from '../chroma/codec.js';
import { COMPOSITE_TABLES } from './lab.js';
import { linearTaps } from './resize.js';
import { formatBytes } from '../units.js';

interface KernelExports {
  memory: WebAssembly.Memory;
  TABLES_BYTES: WebAssembly.Global;
  heapBase(): number;
  dequantize(abq: number, count: number, saturation: number, A: number, B: number): void;
  packNeutral(pix: number, n: number): number;
  composite(
    t: number, pix: number, channels: number, width: number, height: number, sw: number,
    A: number, B: number, xi0: number, xi1: number, xf: number, yi0: number, yi1: number, yf: number,
    rows: number, stride: number, out: number,
  ): void;
}

interface Kernel {
  exports: KernelExports;
  /** Where the tables are, and where a call's own memory starts. */
  tables: number;
  free: number;
}

let kernel: Kernel | null = null;

const WASM_URL = new URL('../../wasm/composite.wasm', import.meta.url);

function align(n: number, to = 16): number {
  return Math.ceil(n / to) * to;
}

function load(): Kernel {
  const module = new WebAssembly.Module(readFileSync(WASM_URL));
  const exports = new WebAssembly.Instance(module, {}).exports as unknown as KernelExports;
  const tables = align(exports.heapBase());
  const free = align(tables + (exports.TABLES_BYTES.value as number));
  grow(exports.memory, free);
  const mem = exports.memory.buffer;
  const t = COMPOSITE_TABLES;
  // The order and offsets of assembly/composite.ts.
  new Float32Array(mem, tables, 256).set(t.gray8ToFy);
  new Float64Array(mem, tables + 1024, 256).set(t.srgb8ToLinear);
  new Float64Array(mem, tables + 3072, t.cbrt.length).set(t.cbrt);
  new Uint8Array(mem, tables + 3072 + t.cbrt.length * 8, t.linearToSrgb8.length).set(t.linearToSrgb8);
  return { exports, tables, free };
}

function grow(memory: WebAssembly.Memory, bytes: number): void {
  const have = memory.buffer.byteLength;
  if (bytes <= have) return;
  try {
    memory.grow(Math.ceil((bytes - have) / 65536));
  } catch (err) {
    throw new Error(`the composite needs ${formatBytes(bytes)} of WebAssembly memory and cannot have it (${(err as Error).message})`);
  }
}

/** Byte offsets of one call's arrays, laid out one after another from `start`. */
function layout<K extends string>(start: number, sizes: Record<K, number>): { at: Record<K, number>; end: number } {
  const at = {} as Record<K, number>;
  let p = start;
  for (const name of Object.keys(sizes) as K[]) {
    at[name] = p;
    p = align(p + sizes[name]);
  }
  return { at, end: p };
}

/**
 * The one channel of interleaved RGB whose every pixel is neutral (R = G = B), in a buffer of its
 * own; null when one is not. The same as `neutralToGray` (image/decode.ts), in the kernel: about
 * a fifth of its time on a 12 MP scan, through the memory this thread's kernel already holds.
 */
export function packNeutralWasm(rgb: Uint8Array): Uint8Array | null {
  kernel ??= load();
  const k = kernel.exports;
  const at = kernel.free;
  const n = rgb.length / 3;
  grow(k.memory, at + rgb.length);
  new Uint8Array(k.memory.buffer, at, rgb.length).set(rgb);
  return k.packNeutral(at, n) === 1 ? new Uint8Array(k.memory.buffer, at, n).slice() : null;
}

/** The photo's pixels whose L the composite keeps (8-bit gray or sRGB, interleaved). */
export interface CompositeInput {
  pixels: Uint8Array;
  channels: 1 | 3;
  width: number;
  height: number;
}

/**
 * Join the photo's own L with the ab planes into interleaved 8-bit sRGB. The result is a view of
 * the kernel's memory: valid until the next call on this thread, which reuses it.
 */
export function compositeWasm(photo: CompositeInput, ab: AbPlanes, saturation: number): Uint8Array {
  kernel ??= load();
  const { exports: k, tables } = kernel;
  const { pixels, channels, width, height } = photo;
  const { width: sw, height: sh, data } = ab;
  const plane = sw * sh;
  if (pixels.length !== width * height * channels) throw new Error(`${pixels.length} values for ${width}x${height}x${channels} pixels`);
  if (data.length < 2 * plane) throw new Error(`ab planes of ${sw}x${sh} need ${2 * plane} values, got ${data.length}`);
  // Five scratch rows of f32, each padded to whole groups of four pixels.
  const stride = align(4 * width);
  const { at, end } = layout(kernel.free, {
    pix: pixels.length, abq: 2 * plane, A: 4 * plane, B: 4 * plane,
    xi0: 4 * width, xi1: 4 * width, xf: 4 * width, yi0: 4 * height, yi1: 4 * height, yf: 4 * height,
    rows: 5 * stride, out: 3 * width * height,
  });
  grow(k.memory, end);
  const mem = k.memory.buffer;
  const xs = linearTaps(sw, width);
  const ys = linearTaps(sh, height);
  new Uint8Array(mem, at.pix, pixels.length).set(pixels);
  new Uint8Array(mem, at.abq, 2 * plane).set(data.subarray(0, 2 * plane));
  new Int32Array(mem, at.xi0, width).set(xs.i0);
  new Int32Array(mem, at.xi1, width).set(xs.i1);
  new Float32Array(mem, at.xf, width).set(xs.f);
  new Int32Array(mem, at.yi0, height).set(ys.i0);
  new Int32Array(mem, at.yi1, height).set(ys.i1);
  new Float32Array(mem, at.yf, height).set(ys.f);
  k.dequantize(at.abq, plane, saturation, at.A, at.B);
  // A gray scan saved as RGB takes the one-channel path: the same output, a third of the reads.
  const packed = channels === 3 && k.packNeutral(at.pix, width * height) === 1;
  k.composite(tables, at.pix, packed ? 1 : channels, width, height, sw, at.A, at.B, at.xi0, at.xi1, at.xf, at.yi0, at.yi1, at.yf, at.rows, stride, at.out);
  return new Uint8Array(mem, at.out, 3 * width * height);
}
