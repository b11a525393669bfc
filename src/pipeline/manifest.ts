/**
 * state: the manifest in the output folder (`.ddcolor-manifest.ndjson`), one JSON line per output
 * ddcolor wrote. It remembers the input's size, mtime and content hash, the model id and input
 * size, and the output's format, quality, size and mtime, so that a re-run skips an up-to-date
 * output with a `stat` of each file and no hashing.
 *
 * Lines are appended as each output is renamed into place (a killed run keeps what it finished; a
 * torn last line is ignored) and the file is rewritten compactly, atomically, at the end of a run.
 */
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';

export const MANIFEST_NAME = '.ddcolor-manifest.ndjson';

export interface ManifestEntry {
  /** Output path relative to the output folder. */
  output: string;
  input: string;
  inputSize: number;
  inputMtimeMs: number;
  sha256: string;
  modelId: string;
  modelSize: number;
  format: string;
  quality: number;
  outputSize: number;
  outputMtimeMs: number;
}

function isEntry(v: unknown): v is ManifestEntry {
  if (typeof v !== 'object' || v === null) return false;
  const e = v as Record<string, unknown>;
  return (
    typeof e.output === 'string' &&
    typeof e.input === 'string' &&
    typeof e.sha256 === 'string' &&
    typeof e.modelId === 'string' &&
    typeof e.format === 'string' &&
    ['inputSize', 'inputMtimeMs', 'modelSize', 'quality', 'outputSize', 'outputMtimeMs'].every((k) => typeof e[k] === 'number')
  );
}

export class Manifest {
  private readonly entries = new Map<string, ManifestEntry>();
  private handle: Promise<FileHandle> | null = null;
  readonly path: string;

  constructor(readonly outRoot: string) {
    this.path = join(outRoot, MANIFEST_NAME);
  }

  /** Load what earlier runs recorded; a missing or damaged manifest just means nothing is known. */
  async load(): Promise<this> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch {
      return this;
    }
    for (const line of text.split('\n')) {
      if (!line) continue;
      try {
        const v: unknown = JSON.parse(line);
        if (isEntry(v)) this.entries.set(v.output, v);
      } catch {
        // a torn line from a killed run
      }
    }
    return this;
  }

  get(outputRel: string): ManifestEntry | undefined {
    return this.entries.get(outputRel);
  }

  get size(): number {
    return this.entries.size;
  }

  /** Record an output that is now in place (appended at once, so a killed run keeps it). */
  async record(entry: ManifestEntry): Promise<void> {
    this.entries.set(entry.output, entry);
    this.handle ??= open(this.path, 'a');
    await (await this.handle).write(JSON.stringify(entry) + '\n');
  }

  /** Rewrite the manifest compactly and atomically. */
  async save(): Promise<void> {
    await this.close();
    const tmp = join(this.outRoot, `.ddcolor-tmp-${randomBytes(6).toString('hex')}-manifest`);
    const lines = [...this.entries.values()].map((e) => JSON.stringify(e));
    try {
      await writeFile(tmp, lines.length ? lines.join('\n') + '\n' : '');
      await rename(tmp, this.path);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  async close(): Promise<void> {
    const h = this.handle;
    this.handle = null;
    if (h) await (await h).close();
  }
}
