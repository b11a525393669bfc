/**
 * A DDColor ONNX model's identity and contract, read without onnxruntime: the SHA-256 of the file
 * (and of weights kept beside it), part of every cache key, and its input and output (float32
 * [N, 3, S, S] in, [N, 2, S, S] out; float16 accepted). A run that finds every result cached, or
 * nothing to do, never loads onnxruntime; the session (session.ts) reads the bytes again and
 * checks them against this identity when it is made.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, resolve as resolvePath } from 'node:path';
import { errorMessage, ConfigError } from '../errors.js';
import { forgetModel, rememberedModel, rememberModel, stampOf, wallClockNs } from './model-memo.js';
import { ELEM_FLOAT16, ELEM_FLOAT32, readOnnxGraphInfo, TEST_MODEL_PRODUCER, type TensorInfo } from './onnx-info.js';

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
  /** The memo file (InspectOptions.memo) this identity was taken from, when the file was not read this time. */
  memo?: string;
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
export async function pinnedModel(model: ModelInfo): Promise<Uint8Array | string> {
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
    // A remembered identity that the bytes belie is forgotten, so that the next run hashes the file.
    if (model.memo) {
      await forgetModel(model.memo, model.path);
      throw new ConfigError(`model ${model.path}: its bytes are not those remembered for it (model ${model.id}, in ${model.memo}; now ${sha256.slice(0, 16)}); nothing was made under the remembered id, which is now forgotten: run again`, model.path);
    }
    throw new ConfigError(`model ${model.path}: the file changed since this run started (model ${model.id}, now ${sha256.slice(0, 16)}); nothing was made with the new file under the old one's id: run again to use it`, model.path);
  }
  return external.length > 0 ? model.path : bytes;
}

export interface InspectOptions {
  /**
   * A memo file (model-memo.ts; the CLI's is in its cache folder): a model whose file has not
   * changed since it was inspected is not read and hashed again, and one that is, is remembered.
   */
  memo?: string;
}

/**
 * Read and check a model file. Throws a `config` DdcolorError naming the file otherwise. With a
 * memo, a file unchanged since it was last inspected is not read again (model-memo.ts).
 */
export async function inspectModel(path: string, options: InspectOptions = {}): Promise<ModelInfo> {
  if (!options.memo) return (await readModel(path)).model;
  const remembered = await rememberedModel(options.memo, path);
  if (remembered) return remembered;
  const readFrom = wallClockNs();
  const before = await stampOf(path);
  const { model, externalFiles } = await readModel(path);
  if (before) await rememberModel(options.memo, model, externalFiles, before, readFrom);
  return model;
}

/** A model file read, checked and hashed, and the weights files beside it that were hashed with it. */
async function readModel(path: string): Promise<{ model: ModelInfo; externalFiles: string[] }> {
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
  const model: ModelInfo = {
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
  return { model, externalFiles: graph.externalFiles };
}

