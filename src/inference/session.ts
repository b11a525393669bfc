/**
 * The DDColor ONNX model: its identity (a hash of the file's bytes), its input/output contract
 * (float32 [N, 3, S, S] in, [N, 2, S, S] out; float16 I/O, as some fp16 exports have, is converted
 * at the edge), and an onnxruntime-node session on the execution provider asked for.
 *
 * `inspectModel` reads the file and its graph without creating a session, so the input size and
 * the model id (both part of every cache key) are known at once; `openSession` creates the
 * session only when a photo actually needs inferring.
 */
import { cudaAdvice, findCudaStack } from './cuda-libs.js';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve as resolvePath } from 'node:path';
import { availableParallelism } from 'node:os';
import * as ort from 'onnxruntime-node';
import { errorMessage, ConfigError } from '../errors.js';
import type { Device } from './devices.js';
import { fromHalfArray, toHalfArray } from './half.js';
import { ELEM_FLOAT16, ELEM_FLOAT32, readOnnxGraphInfo, TEST_MODEL_PRODUCER, type TensorInfo } from './onnx-info.js';

export { DEVICES, type Device } from './devices.js';
export type ExecutionProvider = 'cuda' | 'cpu';

export interface ModelInfo {
  path: string;
  /** First 16 hex digits of the SHA-256 of the ONNX file: part of every cache key. */
  id: string;
  sha256: string;
  bytes: number;
  input: TensorInfo;
  output: TensorInfo;
  /** The square input size the export fixes, or null when H and W are dynamic. */
  fixedSize: number | null;
  /** The batch size the export fixes (official exports: 1), or null when dynamic. */
  fixedBatch: number | null;
  /** For one of ddcolor's own test networks, what it does instead ("tints photos sepia; does not colorize"); null for any other model. */
  testModel: string | null;
}

const MISSING_MODEL_HELP =
  'get one with: ddcolor models pull tiny-512-int8 (see "Getting a DDColor model" in the README), or pass --model <file>';

function pickByName(list: TensorInfo[], name: string): TensorInfo | undefined {
  return list.find((t) => t.name === name) ?? list[0];
}

/** The SHA-256 of a model: its file's bytes and, when its weights live beside it (external data), theirs. */
async function digestModel(path: string, bytes: Buffer, externalFiles: readonly string[]): Promise<{ sha256: string; total: number }> {
  const hash = createHash('sha256').update(bytes);
  let total = bytes.length;
  for (const file of externalFiles) {
    const full = resolvePath(dirname(path), file);
    try {
      for await (const chunk of createReadStream(full, { highWaterMark: 1 << 20 })) {
        hash.update(chunk as Buffer);
        total += (chunk as Buffer).length;
      }
    } catch (err) {
      throw new ConfigError(`model ${path}: its weights file ${full} cannot be read (${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}); keep the files that came with the .onnx beside it`, path);
    }
  }
  return { sha256: hash.digest('hex'), total };
}

/**
 * What the session is made from: the model's bytes read now and checked against the id the run was
 * started with, so that the bytes hashed are the bytes loaded. A model replaced meanwhile (`models
 * pull --force` during a run) is a `config` error: its results would otherwise be stored under
 * the old model's id. A model whose weights live beside it is loaded from its path (onnxruntime
 * finds them there), after the same check.
 */
async function pinnedModel(model: ModelInfo): Promise<Uint8Array | string> {
  let bytes: Buffer;
  let external: string[];
  try {
    bytes = await readFile(model.path);
    external = readOnnxGraphInfo(bytes).externalFiles;
  } catch (err) {
    throw new ConfigError(`model ${model.path}: cannot be read again to load it (${(err as NodeJS.ErrnoException).code ?? errorMessage(err)})`, model.path);
  }
  const { sha256 } = await digestModel(model.path, bytes, external);
  if (sha256 !== model.sha256) {
    throw new ConfigError(`model ${model.path}: the file changed since this run started (model ${model.id}, now ${sha256.slice(0, 16)}); nothing was made with the new file under the old one's id: run again to use it`, model.path);
  }
  return external.length > 0 ? model.path : bytes;
}

/** Read and check a model file. Throws a `config` DdcolorError naming the file otherwise. */
export async function inspectModel(path: string): Promise<ModelInfo> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : errorMessage(err);
    throw new ConfigError(`model ${path}: ${why}; ${MISSING_MODEL_HELP}`, path);
  }
  let graph;
  try {
    graph = readOnnxGraphInfo(bytes);
  } catch (err) {
    throw new ConfigError(`model ${path}: not a readable ONNX file (${errorMessage(err)})`, path);
  }
  const input = pickByName(graph.inputs, 'input');
  const output = pickByName(graph.outputs, 'output');
  const bad = (why: string): never => {
    throw new ConfigError(`model ${path}: ${why}; expected DDColor's contract: input float32 [N,3,S,S], output float32 [N,2,S,S] (float16 also accepted)`, path);
  };
  if (!input || !output) return bad('the graph has no input or no output');
  const floating = (t: TensorInfo): boolean => t.elemType === ELEM_FLOAT32 || t.elemType === ELEM_FLOAT16;
  if (!floating(input) || !floating(output)) bad('input or output is neither float32 nor float16');
  if (input.shape.length !== 4 || input.shape[1] !== 3) bad(`input ${input.name} has shape [${input.shape.join(',')}]`);
  if (output.shape.length !== 4 || output.shape[1] !== 2) bad(`output ${output.name} has shape [${output.shape.join(',')}]`);
  const [n, , h, w] = input.shape;
  let fixedSize: number | null = null;
  if (typeof h === 'number' || typeof w === 'number') {
    if (h !== w) bad(`input is not square (${h}x${w})`);
    fixedSize = h as number;
  }
  const { sha256, total } = await digestModel(path, bytes, graph.externalFiles);
  return {
    path,
    id: sha256.slice(0, 16),
    sha256,
    bytes: total,
    input,
    output,
    fixedSize,
    fixedBatch: typeof n === 'number' && n > 0 ? n : null,
    testModel: graph.producer === TEST_MODEL_PRODUCER ? (graph.doc ?? 'a test network, not DDColor') : null,
  };
}

/** The folder holding onnxruntime-node's native binding for this platform. */
export function ortBindingDir(): string | null {
  try {
    const pkg = dirname(dirname(createRequire(import.meta.url).resolve('onnxruntime-node')));
    const bin = join(pkg, 'bin');
    for (const napi of readdirSync(bin)) {
      const dir = join(bin, napi, process.platform, process.arch);
      if (existsSync(dir)) return dir;
    }
  } catch {
    // not installed the usual way
  }
  return null;
}

/** Whether onnxruntime-node's CUDA provider library is installed (Linux x64 only). */
export function cudaProviderInstalled(): boolean {
  const dir = ortBindingDir();
  return dir !== null && existsSync(join(dir, 'libonnxruntime_providers_cuda.so'));
}

export const CUDA_INSTALL_HELP =
  'install the CUDA provider with: ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node (Linux x64, CUDA 12 and cuDNN 9 drivers needed)';

export interface ModelSession {
  readonly provider: ExecutionProvider;
  /** Run `count` images laid out [count, 3, S, S]; returns [count, 2, S, S]. A threaded session (model-thread.ts) moves `input` away: the caller must not use it after. */
  run(input: Float32Array, count: number, size: number): Promise<Float32Array>;
  release(): Promise<void>;
}

/**
 * The session. On the CPU the model gets one thread per core unless told otherwise: onnxruntime's
 * own default ran it on one of two cores here, half as fast (BENCHMARKS.md, cold run).
 */
async function create(source: Uint8Array | string, provider: ExecutionProvider, threads?: number): Promise<ort.InferenceSession> {
  const intraOpNumThreads = threads ?? (provider === 'cpu' ? availableParallelism() : undefined);
  const options: ort.InferenceSession.SessionOptions = {
    executionProviders: [provider],
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
    ...(intraOpNumThreads ? { intraOpNumThreads } : {}),
  };
  return typeof source === 'string' ? ort.InferenceSession.create(source, options) : ort.InferenceSession.create(source, options);
}

/** A session on the CUDA provider; a config error that says why when it is not installed or does not load. */
async function cudaSession(source: Uint8Array | string, threads?: number): Promise<ort.InferenceSession> {
  if (!cudaProviderInstalled()) throw new ConfigError(`device cuda: onnxruntime's CUDA provider is not installed; ${CUDA_INSTALL_HELP}`);
  try {
    return await create(source, 'cuda', threads);
  } catch (err) {
    // onnxruntime names the first library it missed; say which are missing, and how to add them.
    const advice = cudaAdvice(findCudaStack());
    throw new ConfigError(`device cuda: the CUDA provider does not load here (${errorMessage(err)}); ${advice ?? 'check the NVIDIA driver, CUDA 12 and cuDNN 9'}`);
  }
}

/**
 * Prove the CUDA provider loads, with `probe` (the bytes of a tiny network): a config error that
 * says why when it does not. Costs a session of a few kB, so a run can check before it starts.
 */
export async function checkCuda(probe: Uint8Array): Promise<void> {
  const session = await cudaSession(probe, 1);
  await session.release();
}

/**
 * Create the session. `auto` tries CUDA where its provider is installed and falls back to the CPU;
 * `cuda` that cannot load is a `config` error, never a silent CPU run.
 */
export async function openSession(model: ModelInfo, device: Device, threads?: number): Promise<ModelSession> {
  let session: ort.InferenceSession | null = null;
  let provider: ExecutionProvider = 'cpu';
  const source = await pinnedModel(model);
  if (device === 'cuda') {
    session = await cudaSession(source, threads);
    provider = 'cuda';
  } else if (device === 'auto' && cudaProviderInstalled()) {
    session = await cudaSession(source, threads).catch(() => null);
    if (session) provider = 'cuda';
  }
  if (!session) {
    try {
      session = await create(source, 'cpu', threads);
    } catch (err) {
      throw new ConfigError(`model ${model.path}: onnxruntime cannot load it (${errorMessage(err)})`, model.path);
    }
  }
  const s = session;
  const inputName = s.inputNames.includes(model.input.name) ? model.input.name : s.inputNames[0]!;
  const outputName = s.outputNames.includes(model.output.name) ? model.output.name : s.outputNames[0]!;
  return {
    provider,
    async run(input: Float32Array, count: number, size: number): Promise<Float32Array> {
      const dims = [count, 3, size, size];
      const tensor = model.input.elemType === ELEM_FLOAT16 ? new ort.Tensor('float16', toHalfArray(input), dims) : new ort.Tensor('float32', input, dims);
      const results = await s.run({ [inputName]: tensor });
      const out = results[outputName];
      if (!out || (out.type !== 'float32' && out.type !== 'float16')) throw new Error(`model ${model.path}: output ${outputName} is missing or not float32/float16`);
      const shape = out.dims;
      if (shape.length !== 4 || shape[0] !== count || shape[1] !== 2 || shape[2] !== size || shape[3] !== size) {
        throw new Error(`model ${model.path}: output has shape [${shape.join(',')}], expected [${count},2,${size},${size}]`);
      }
      return out.type === 'float16' ? fromHalfArray(out.data as Uint16Array) : (out.data as Float32Array);
    },
    async release() {
      await s.release();
    },
  };
}
