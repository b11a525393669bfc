/**
 * What a killed run leaves in its output folder, cleared by the next run once it holds the
 * folder's lock (so no other run is writing there): the temporary files of outputs in progress,
 * all kept in `<out>/.ddcolor-tmp/`, and temporary manifests or reports (`.ddcolor-tmp-*`) beside
 * them. A run's own folder of temporary files is removed when it ends.
 */
import { readdir, rm, rmdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { TMP_PREFIX } from '../io/atomic-write.js';
import { checkOwnFolder } from '../io/roots.js';

/** The folder of a run's temporary output files, inside the output folder (same file system). */
export const TMP_DIR = '.ddcolor-tmp';

/** Remove what killed runs left; returns how many files went. A `.ddcolor-tmp` that is a link is refused, never followed. */
export async function clearLeftovers(outDir: string): Promise<number> {
  let removed = 0;
  const tmp = await checkOwnFolder(join(outDir, TMP_DIR));
  for (const name of await readdir(tmp).catch(() => [] as string[])) {
    await rm(join(tmp, name), { recursive: true, force: true });
    removed++;
  }
  for (const name of await readdir(outDir).catch(() => [] as string[])) {
    if (!name.startsWith(TMP_PREFIX)) continue;
    await rm(join(outDir, name), { force: true });
    removed++;
  }
  return removed;
}

/**
 * Remove the run's folder of temporary files when nothing is left in it; a fleet worker's, inside
 * `.ddcolor-tmp`, takes that folder with it when no other worker has one there.
 */
export async function removeTmpDir(tmpDir: string): Promise<void> {
  await rmdir(tmpDir).catch(() => undefined);
  if (basename(dirname(tmpDir)) === TMP_DIR) await rmdir(dirname(tmpDir)).catch(() => undefined);
}
