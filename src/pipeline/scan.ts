/**
 * scan: the photos under each path given. A folder is walked recursively with fast-glob (image
 * extensions only, case-insensitive); a file is taken as it is. Symlinked folders are followed
 * once: a folder reached again through a symlink (a loop, or a second link to it) is reported
 * and not walked twice. Unreadable folders and broken links are reported; none stops the scan.
 */
import * as fs from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, extname, resolve, sep } from 'node:path';
import fg from 'fast-glob';
import { UsageError } from '../errors.js';

export const IMAGE_EXTENSIONS = ['jpg', 'jpeg', 'png', 'tif', 'tiff', 'webp', 'bmp', 'gif'] as const;
const IMAGE_EXT_SET = new Set<string>(IMAGE_EXTENSIONS.map((e) => `.${e}`));

export function isImagePath(path: string): boolean {
  return IMAGE_EXT_SET.has(extname(path).toLowerCase());
}

export interface ScannedFile {
  /** Absolute path of the photo. */
  path: string;
  /** Its path relative to the root it was found under (a file given directly: its basename), with '/'. */
  rel: string;
}

export interface ScanProblem {
  path: string;
  reason: string;
}

export interface ScanResult {
  files: ScannedFile[];
  problems: ScanProblem[];
}

export interface ScanOptions {
  /** Folders never walked into (the output folder when it lies inside an input folder). */
  exclude?: string[];
}

type ReaddirCallback = (err: NodeJS.ErrnoException | null, entries?: fs.Dirent[] | string[]) => void;

/** A readdir for fast-glob that records unreadable folders and refuses to walk one twice. */
function guardedReaddir(problems: ScanProblem[], visited: Map<string, string>, exclude: string[]) {
  return (path: string, options: unknown, callback?: ReaddirCallback): void => {
    const cb = (typeof options === 'function' ? options : callback) as ReaddirCallback;
    const opts = typeof options === 'function' ? undefined : options;
    fs.realpath(path, (err, real) => {
      if (err) {
        problems.push({ path, reason: `cannot read folder: ${err.code ?? err.message}` });
        return cb(err);
      }
      const refuse = (reason: string, code: string): void => {
        const e: NodeJS.ErrnoException = new Error(reason);
        e.code = code;
        cb(e);
      };
      if (exclude.some((x) => real === x || real.startsWith(x + sep))) return refuse('excluded', 'EEXCLUDED');
      const first = visited.get(real);
      if (first !== undefined && first !== path) {
        problems.push({ path, reason: `symlink loop or second link to ${first}: not walked again` });
        return refuse('loop', 'ELOOP');
      }
      visited.set(real, path);
      const done = (e: NodeJS.ErrnoException | null, entries?: fs.Dirent[] | string[]): void => {
        if (e) problems.push({ path, reason: `cannot read folder: ${e.code ?? e.message}` });
        cb(e, entries);
      };
      if (opts === undefined) fs.readdir(path, done);
      else fs.readdir(path, opts as { withFileTypes: true }, done);
    });
  };
}

/** Why a link fast-glob could not follow is unusable: a loop (it points to itself, or round), or a missing target. */
function brokenLinkReason(path: string): string {
  try {
    fs.statSync(path);
    return 'symlink that cannot be followed: ignored';
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ELOOP'
      ? 'symlink loop (the link points to itself, or round to itself): ignored'
      : 'broken symlink (its target does not exist): ignored';
  }
}

/**
 * Scan `paths`. A path that does not exist is a usage error (exit 2); everything found inside the
 * folders is returned sorted, so runs are deterministic.
 */
export async function scanPaths(paths: readonly string[], options: ScanOptions = {}): Promise<ScanResult> {
  const problems: ScanProblem[] = [];
  const files: ScannedFile[] = [];
  const seen = new Set<string>();
  const visited = new Map<string, string>();
  const exclude = (options.exclude ?? []).map((p) => {
    try {
      return fs.realpathSync(p);
    } catch {
      return resolve(p);
    }
  });
  const add = (path: string, rel: string): void => {
    if (seen.has(path)) return;
    seen.add(path);
    files.push({ path, rel });
  };
  for (const given of paths) {
    const abs = resolve(given);
    let st: fs.Stats;
    try {
      st = await stat(abs);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new UsageError(`${given}: ${code === 'ENOENT' ? 'no such file or folder' : `cannot read (${code})`}`, given);
    }
    if (st.isFile()) {
      if (isImagePath(abs)) add(abs, basename(abs));
      else problems.push({ path: abs, reason: `not an image file name (expected ${IMAGE_EXTENSIONS.join(', ')}): ignored` });
      continue;
    }
    if (!st.isDirectory()) throw new UsageError(`${given}: not a file or folder`, given);
    // The output folder is not walked when it lies inside a folder given, but a folder given that
    // lies inside the output folder is walked: the user named it. The output folder itself is refused.
    const real = fs.realpathSync(abs);
    if (exclude.includes(real)) {
      throw new UsageError(`${given}: is the output folder itself; its photos and ddcolor's outputs would mix: choose another output folder (-o)`, given);
    }
    const excludeHere = exclude.filter((x) => !real.startsWith(x + sep));
    const entries = await fg(`**/*.{${IMAGE_EXTENSIONS.join(',')}}`, {
      cwd: abs,
      absolute: false,
      onlyFiles: false,
      objectMode: true,
      dot: false,
      caseSensitiveMatch: false,
      followSymbolicLinks: true,
      suppressErrors: true,
      fs: { ...fs, readdir: guardedReaddir(problems, visited, excludeHere) as unknown as typeof fs.readdir },
    });
    const found: string[] = [];
    for (const e of entries) {
      if (e.dirent.isFile()) found.push(e.path);
      // Links are followed, so a link still reported as a link is one whose target is gone.
      else if (e.dirent.isSymbolicLink()) problems.push({ path: resolve(abs, e.path), reason: brokenLinkReason(resolve(abs, e.path)) });
    }
    found.sort();
    for (const rel of found) add(resolve(abs, rel), rel);
  }
  return { files, problems };
}
