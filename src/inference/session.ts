/**
 * An onnxruntime-node session for a DDColor model on the execution provider asked for; float16
 * I/O, as some fp16 exports have, is converted at the edge. The model's identity and contract are
 * read without onnxruntime (model-info.ts); this module, and so onnxruntime, is loaded only where
 * a session is made: the model's thread, `doctor`, and a run that checks CUDA first.
 */
import { cudaAdvice, findCudaStack } from './cuda-libs.js';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { availableParallelism } from 'node:os';
import * as ort from 'onnxruntime-node';
import { errorMessage, ConfigError } from '../errors.js';
import type { Device } from './devices.js';
import { fromHalfArray, toHalfArray } from './half.js';
import { pinnedModel, type ModelInfo } from './model-info.js';
import { ELEM_FLOAT16 } from './onnx-info.js';

export type ExecutionProvider = 'cuda' | 'cpu';

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
