/**
 * What a model file was found to be (its SHA-256 and its graph's contract), remembered by the
 * file's stamps, so that a run whose model has not changed does not read and hash it again: the
 * catalog's 113 MB model took about 185 ms and as much memory on every run, warm or unchanged,
 * and an export of DDColor large is 0.9 GB.
 *
 * The stamps are git's: device, inode, size, and the modification and change times in
 * nanoseconds. A program can set a file's modification time back, never its change time, so a
 * model rewritten in place or replaced has other stamps. A file changed within a clock tick of
 * being hashed could keep its stamps, so a file whose change time is that recent is not
 * remembered (git's "racily clean"). Whatever is remembered, the bytes are checked against the
 * SHA-256 whenever the model is loaded (model-info.ts, pinnedModel): no result is ever stored
 * under another model's id. The memo is a cache: unreadable, damaged or unwritable, it is ignored.
 */
import { readFile, stat } from 'node:fs/promises';
import { dirname, join, resolve as resolvePath } from 'node:path';
import * as z from 'zod';
import { writeFileAtomically } from '../io/atomic-write.js';
import { parseJson } from '../parse-json.js';
import type { ModelInfo } from './model-info.js';

const SCHEMA = 'ddcolor.model-memo/v1';
/** Models remembered at most (the most recently inspected kept). */
const MAX_MODELS = 16;
/** A file changed less than this before it was hashed is not remembered: its stamps could outlive a change. */
const RACY_NS = 2_000_000_000n;

const stampSchema = z.object({ dev: z.string(), ino: z.string(), size: z.string(), mtimeNs: z.string(), ctimeNs: z.string() });
const tensorSchema = z.object({ name: z.string(), elemType: z.number().int(), shape: z.array(z.union([z.number().int(), z.string()])) });
const entrySchema = z.object({
  path: z.string(),
  stamp: stampSchema,
  /** Weights kept beside the .onnx (external data), each with its stamps. */
  external: z.array(z.object({ path: z.string(), stamp: stampSchema })),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  bytes: z.number().int().nonnegative(),
  input: tensorSchema,
  output: tensorSchema,
  fixedSize: z.number().int().positive().nullable(),
  fixedBatch: z.number().int().positive().nullable(),
  testModel: z.string().nullable(),
});
const memoSchema = z.object({ schema: z.literal(SCHEMA), models: z.array(entrySchema).max(MAX_MODELS) });

export type Stamp = z.infer<typeof stampSchema>;
type MemoEntry = z.infer<typeof entrySchema>;

/** A file's stamps, or null when it cannot be stat'ed. */
export async function stampOf(path: string): Promise<Stamp | null> {
  try {
    const s = await stat(path, { bigint: true });
    return { dev: String(s.dev), ino: String(s.ino), size: String(s.size), mtimeNs: String(s.mtimeNs), ctimeNs: String(s.ctimeNs) };
  } catch {
    return null;
  }
}

function sameStamp(a: Stamp | null, b: Stamp): boolean {
  return a !== null && a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs;
}

async function readMemo(file: string): Promise<MemoEntry[]> {
  try {
    const parsed = parseJson(memoSchema, await readFile(file, 'utf8'));
    return parsed.ok ? parsed.data.models : [];
  } catch {
    return [];
  }
}

/** The model at `path` as remembered, when it and its weights files have the stamps they had then; null otherwise. */
export async function rememberedModel(memoFile: string, path: string): Promise<ModelInfo | null> {
  const full = resolvePath(path);
  const entry = (await readMemo(memoFile)).find((e) => e.path === full);
  if (!entry || !sameStamp(await stampOf(full), entry.stamp)) return null;
  for (const w of entry.external) if (!sameStamp(await stampOf(w.path), w.stamp)) return null;
  const { stamp: _stamp, external: _external, path: _path, ...info } = entry;
  return { ...info, path, id: entry.sha256.slice(0, 16), memo: memoFile };
}

/** Forget what is remembered of the model at `path` (its bytes were found not to be what the memo says). */
export async function forgetModel(memoFile: string, path: string): Promise<void> {
  const full = resolvePath(path);
  const models = await readMemo(memoFile);
  if (models.some((e) => e.path === full)) await writeMemo(memoFile, models.filter((e) => e.path !== full));
}

async function writeMemo(memoFile: string, models: MemoEntry[]): Promise<void> {
  try {
    await writeFileAtomically(memoFile, `${JSON.stringify({ schema: SCHEMA, models }, null, 1)}\n`);
  } catch {
    // A cache: a home that cannot be written only means the model is hashed again next run.
  }
}

/** Now, in nanoseconds since the epoch, as file times are. */
export function wallClockNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

/**
 * Remember `model`, whose file had the stamps `before` when its reading began at `readFrom`
 * (wallClockNs), and has them still. A file (the model's or a weights file's) that changed less
 * than two seconds before the reading began, or since, is not remembered.
 */
export async function rememberModel(memoFile: string, model: ModelInfo, externalFiles: readonly string[], before: Stamp, readFrom: bigint): Promise<void> {
  const full = resolvePath(model.path);
  const settled = (stamp: Stamp): boolean => readFrom - BigInt(stamp.ctimeNs) >= RACY_NS;
  if (!sameStamp(await stampOf(full), before) || !settled(before)) return;
  const external: MemoEntry['external'] = [];
  for (const file of externalFiles) {
    const p = resolvePath(dirname(full), file);
    const stamp = await stampOf(p);
    if (!stamp || !settled(stamp)) return;
    external.push({ path: p, stamp });
  }
  const { path: _path, id: _id, memo: _memo, ...info } = model;
  const entry: MemoEntry = { path: full, stamp: before, external, ...info };
  const others = (await readMemo(memoFile)).filter((e) => e.path !== full);
  await writeMemo(memoFile, [entry, ...others].slice(0, MAX_MODELS));
}

/** Where a user's memo is kept: beside the embedded cache (`$XDG_CACHE_HOME/ddcolor`, else `~/.cache/ddcolor`). */
export function memoFileIn(cacheDir: string): string {
  return join(cacheDir, 'models-v1.json');
}
