/**
 * The pixel work of one photo, as run in a worker thread of the pixel pool: decoding, the model's
 * input, the L channel, the composite and the encode. Each task returns fresh buffers that move
 * back to the main thread without a copy; the main thread only coordinates and feeds the model.
 */
import type { AbPlanes } from '../chroma/codec.js';
import { colourfulness } from '../image/colourfulness.js';
import { decodeImage, ownedPixels, shrinkForModel, type DecodedImage } from '../image/decode.js';
import { compositeWasm } from '../image/composite-wasm.js';
import { encodeImage } from '../image/encode.js';
import type { OutputFormat } from '../image/formats.js';
import type { Provenance } from '../image/xmp.js';
import { readVerified } from '../io/read-verified.js';
import { openedInputCheck } from '../io/roots.js';
import { preprocess } from '../inference/ddcolor.js';

/** Milliseconds spent in each part of a task. */
export interface PixelTimings {
  decodeMs: number;
  compositeMs: number;
  encodeMs: number;
}

export interface PrepareTask {
  kind: 'prepare';
  path: string;
  /** The SHA-256 the run took of the file: what is decoded must be those bytes (io/read-verified.ts). */
  sha256: string;
  size: number;
  maxPixels?: number;
  /** The folders the file must really be in as it is read (ColorizeOptions.inputRoots). */
  inputRoots?: readonly string[];
}

export interface Prepared {
  decoded: DecodedImage;
  /** How colourful the photo is (image/colourfulness.ts). */
  colourfulness: number;
  /** The model's input for this photo: 3 planes of size*size (R, G, B in [0, 1]). */
  planes: Float32Array;
  timings: PixelTimings;
}

export interface RenderTask {
  kind: 'render';
  /** The scan: decoded here when `decoded` is not given (a cache hit), and its metadata. */
  path: string;
  /** The SHA-256 the run took of the file: what is read here must be those bytes. */
  sha256: string;
  /** The folders the file must really be in as it is read (ColorizeOptions.inputRoots). */
  inputRoots?: readonly string[];
  decoded?: DecodedImage;
  ab: AbPlanes;
  format: OutputFormat;
  quality: number;
  /** Chroma scale (1: as the model made it). */
  saturation: number;
  provenance: Provenance;
  /** With --skip-color: render nothing when the photo is more colourful than this. */
  skipColourAbove?: number;
  maxPixels?: number;
}

export interface Rendered {
  /** The output file's bytes; null when the photo is already in colour (skipColourAbove). */
  bytes: Uint8Array | null;
  colourfulness: number | null;
  timings: PixelTimings;
}

export type PixelTask = PrepareTask | RenderTask;

function since(t: number): number {
  return performance.now() - t;
}

/** The scan's bytes, those the run hashed, from inside the task's input roots when it has them. */
function readScan(task: PrepareTask | RenderTask): Promise<Buffer> {
  return readVerified(task.path, task.sha256, openedInputCheck(task.inputRoots, task.path));
}

/** Decode a photo and make its model input. */
export async function prepareForModel(task: PrepareTask): Promise<Prepared> {
  const t = performance.now();
  // Its pixels go back to the main thread (and on to the render task), so into buffers that can move.
  const bytes = await readScan(task);
  const decoded = ownedPixels(await decodeImage(bytes, task.maxPixels ? { maxPixels: task.maxPixels } : {}));
  const planes = new Float32Array(3 * task.size * task.size);
  preprocess(shrinkForModel(decoded, task.size), planes, 0);
  const colour = colourfulness(decoded.pixels, decoded.channels, decoded.width, decoded.height);
  return { decoded, colourfulness: colour, planes, timings: { decodeMs: since(t), compositeMs: 0, encodeMs: 0 } };
}

/** The colorized photo's file bytes: the photo's own L with the result's ab, encoded. */
export async function renderOutput(task: RenderTask): Promise<Rendered> {
  const decodeOptions = task.maxPixels ? { maxPixels: task.maxPixels } : {};
  let t = performance.now();
  // A hit decodes here and composites at once: a gray scan saved as RGB is left RGB, and the
  // composite kernel packs it to one channel in its own memory (unless --skip-color measures it).
  // A scan its cached result says is gray is decoded to one channel straight away.
  const neutralAsGray = task.skipColourAbove !== undefined;
  // The scan's bytes, when they are needed: to decode (a hit), or as the TIFF output's base.
  const scan = !task.decoded || task.format === 'tiff' ? await readScan(task) : null;
  const decoded = task.decoded ?? (await decodeImage(scan ?? task.path, { ...decodeOptions, neutralAsGray, knownGray: task.ab.scanIsGray === true }));
  const decodeMs = task.decoded ? 0 : since(t);
  let colour: number | null = null;
  if (task.skipColourAbove !== undefined) {
    colour = colourfulness(decoded.pixels, decoded.channels, decoded.width, decoded.height);
    if (colour > task.skipColourAbove) return { bytes: null, colourfulness: colour, timings: { decodeMs, compositeMs: 0, encodeMs: 0 } };
  }
  t = performance.now();
  const { width, height } = decoded;
  // A view of the kernel's memory, reused by the next task on this thread (tasks run one at a time).
  const rgb = compositeWasm(decoded, task.ab, task.saturation);
  const compositeMs = since(t);
  t = performance.now();
  const bytes = await encodeImage({
    source: scan ?? task.path,
    rgb,
    width,
    height,
    alpha: decoded.alpha,
    format: task.format,
    quality: task.quality,
    provenance: task.provenance,
    carried: decoded.carried,
    decode: decodeOptions,
  });
  return { bytes, colourfulness: colour, timings: { decodeMs, compositeMs, encodeMs: since(t) } };
}
