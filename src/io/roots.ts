/**
 * The folders a process may read from and write into, and the checks that keep every path it was
 * handed (by a queue job, say: input from the network) inside them. A path is inside a root when
 * its real location is: `..`, an absolute path elsewhere, or a symbolic link anywhere on the way
 * that leads out of the root are all refused. Roots are resolved to their real paths once, when
 * they are given.
 */
import { lstat, realpath, stat, type FileHandle } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize, resolve, sep } from 'node:path';
import { DdcolorError, ConfigError, EnvironmentError } from '../errors.js';
import type { OpenedCheck } from './hash.js';

/** Real, absolute folders: where inputs may be read and where outputs may be written. */
export interface Roots {
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
}

/** Thrown for a path that is not where the process may go; `file` is the path as it was given. */
export class OutsideRootsError extends DdcolorError {
  constructor(path: string, reason: string) {
    super('input', `${path}: ${reason}`, path);
  }
}

/** Resolve each folder to its real path; a folder that does not exist, or is not a folder, is a config error naming it. */
export async function resolveRoots(inputs: readonly string[], outputs: readonly string[]): Promise<Roots> {
  const real = async (dir: string, what: string): Promise<string> => {
    const abs = resolve(dir);
    if (abs === sep) throw new ConfigError(`${what} ${dir}: the whole file system cannot be a root; name the folder the archive is in`);
    try {
      const r = await realpath(abs);
      if (!(await stat(r)).isDirectory()) throw new Error('not a folder');
      return r;
    } catch (err) {
      const reason = err instanceof Error && 'code' in err && err.code === 'ENOENT' ? 'no such folder' : 'not a folder that can be read';
      throw new ConfigError(`${what} ${dir}: ${reason}`, dir);
    }
  };
  if (inputs.length === 0 || outputs.length === 0) throw new ConfigError('a worker needs at least one input root and one output root');
  return {
    inputs: await Promise.all(inputs.map((d) => real(d, 'input root'))),
    outputs: await Promise.all(outputs.map((d) => real(d, 'output root'))),
  };
}

/** `path` is `root` or below it (both real and absolute). */
export function within(root: string, path: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}

/** The real path of `path` if it exists, else of its deepest existing ancestor joined with the rest. */
async function realLocation(path: string): Promise<string> {
  let head = path;
  const rest: string[] = [];
  for (;;) {
    try {
      return join(await realpath(head), ...rest.reverse());
    } catch (err) {
      if (!(err instanceof Error && 'code' in err && (err.code === 'ENOENT' || err.code === 'ENOTDIR'))) throw err;
      const up = dirname(head);
      if (up === head) throw err;
      rest.push(head.slice(up.length).replace(/^[\\/]+/, ''));
      head = up;
    }
  }
}

function absoluteAndPlain(path: string): boolean {
  return isAbsolute(path) && !path.includes('\0') && normalize(path) === path && !path.split(/[\\/]/).includes('..');
}

/** An input file the process may read: absolute, plain, and really inside an input root. Returns it as given. */
export async function checkInput(roots: Roots, path: string): Promise<string> {
  if (!absoluteAndPlain(path)) throw new OutsideRootsError(path, 'not an absolute, plain path (no "..")');
  let real: string;
  try {
    real = await realpath(path);
  } catch {
    throw new OutsideRootsError(path, 'cannot be found');
  }
  if (!roots.inputs.some((root) => within(root, real))) {
    throw new OutsideRootsError(path, `outside this worker's input roots (${roots.inputs.join(', ')})${real !== path ? `: it leads to ${real}` : ''}`);
  }
  return path;
}

/**
 * The file `handle` was opened from `path`, an input checked when its job was: refused unless
 * `path` still leads inside one of `inputs`, to that very file (the same device and inode). A link
 * swapped in after the check, to a file elsewhere, is caught on the file the read holds, whatever
 * the path says a moment later. Not the photo's fault (its content is not in question): an
 * EnvironmentError, OUTSIDE_ROOTS.
 */
export async function checkOpenedInput(inputs: readonly string[], path: string, handle: FileHandle): Promise<void> {
  const [opened, real] = await Promise.all([handle.stat(), realpath(path).catch(() => null)]);
  const there = real !== null && inputs.some((root) => within(root, real)) ? await stat(real).catch(() => null) : null;
  if (!there) {
    const where = real !== null && real !== path ? `: it leads to ${real}` : '';
    throw new EnvironmentError(path, 'OUTSIDE_ROOTS', `not read: it is no longer inside this worker's input roots (${inputs.join(', ')})${where}`);
  }
  if (there.dev !== opened.dev || there.ino !== opened.ino) {
    throw new EnvironmentError(path, 'OUTSIDE_ROOTS', `not read: the file it opened is not the one inside this worker's input roots (a link was swapped as it was read)`);
  }
}

/** The check of `path` as it is opened, for a run given input roots (none without them). */
export function openedInputCheck(inputs: readonly string[] | undefined, path: string): OpenedCheck | undefined {
  return inputs ? (handle) => checkOpenedInput(inputs, path, handle) : undefined;
}

/**
 * `dir`, a folder an output of `photo` is about to be written into (its own, or the run's
 * temporary folder), checked as it is written: refused unless its real location is inside
 * `outDir` (real, checked when the job was). A link swapped in since then would lead the output
 * out (EnvironmentError, OUTSIDE_ROOTS). The rename that follows is a moment later: Node has no
 * renameat to close that last gap.
 */
export async function checkOutputInside(outDir: string, dir: string, photo: string): Promise<void> {
  const real = await realpath(dir);
  if (!within(outDir, real)) {
    throw new EnvironmentError(photo, 'OUTSIDE_ROOTS', `not written: the folder ${dir} leads out of ${outDir} (to ${real}); ddcolor does not write through a link`);
  }
}

/** An output folder the process may write into: absolute, plain, and really (or, where it does not exist yet, its nearest existing folder) inside an output root. Returns its real location. */
export async function checkOutputFolder(roots: Roots, dir: string): Promise<string> {
  if (!absoluteAndPlain(dir)) throw new OutsideRootsError(dir, 'not an absolute, plain path (no "..")');
  const real = await realLocation(dir);
  if (!roots.outputs.some((root) => within(root, real))) {
    throw new OutsideRootsError(dir, `outside this worker's output roots (${roots.outputs.join(', ')})${real !== dir ? `: it leads to ${real}` : ''}`);
  }
  return real;
}

/**
 * A path relative to a folder, as a job names an output: '/'-separated names, none empty, `.` or
 * `..`, no backslash or NUL, and none of ddcolor's own (`.ddcolor-*`). Returns its names.
 */
export function plainRelative(rel: string): string[] {
  const names = rel.split('/');
  const bad = names.find((n) => n === '' || n === '.' || n === '..' || n.includes('\\') || n.includes('\0') || n.startsWith('.ddcolor'));
  if (bad !== undefined || rel.length > 4096) throw new OutsideRootsError(rel, 'not a plain relative path inside the output folder');
  return names;
}

/** `dir/rel` where `dir` is a real folder: refused when a link on the way (one that exists now) leads out of `dir`. */
export async function checkBelow(dir: string, rel: string): Promise<string> {
  const path = join(dir, ...plainRelative(rel));
  const real = await realLocation(dirname(path));
  if (!within(dir, real)) throw new OutsideRootsError(path, `its folder leads out of ${dir} (to ${real}); ddcolor does not write through a link`);
  const there = await lstat(path).catch(() => null);
  if (there?.isSymbolicLink()) throw new OutsideRootsError(path, 'is a symbolic link; ddcolor does not write through a link');
  return path;
}

/**
 * A folder ddcolor keeps its own files in (`.ddcolor-tmp`, `.ddcolor-runs`): it may be missing,
 * but where it exists it must be a real folder, not a symbolic link, which ddcolor never follows
 * (clearing a linked `.ddcolor-tmp` would empty the folder it points to). Returns `dir`.
 */
export async function checkOwnFolder(dir: string): Promise<string> {
  const st = await lstat(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null;
    throw err;
  });
  if (st?.isSymbolicLink()) throw new ConfigError(`${dir}: is a symbolic link; ddcolor keeps its own files there and does not follow links: remove it (the next run makes a real folder)`, dir);
  if (st && !st.isDirectory()) throw new ConfigError(`${dir}: is not a folder; ddcolor keeps its own files there: remove it`, dir);
  return dir;
}
