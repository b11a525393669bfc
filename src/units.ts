/**
 * Sizes in one convention, SI: 1 kB = 1000 bytes, 1 MB = 1000 kB, 1 GB = 1000 MB, as disks and
 * downloads are labelled. Every size ddcolor prints comes from formatBytes; every size flag is read
 * by parseBytes, which takes the binary units too (KiB, MiB, GiB, TiB), each meaning what it says.
 */

export const KB = 1000;
export const MB = 1000 ** 2;
export const GB = 1000 ** 3;

const MULTIPLIERS: Readonly<Record<string, number>> = {
  b: 1,
  k: KB,
  kb: KB,
  m: MB,
  mb: MB,
  g: GB,
  gb: GB,
  t: 1000 ** 4,
  tb: 1000 ** 4,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
};

/** `500MB`, `2 GB`, `1.5GiB`, `4096` (bytes); case does not matter. Null when it is not a size. */
export function parseBytes(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim());
  if (!m) return null;
  const mult = MULTIPLIERS[(m[2] || 'b').toLowerCase()];
  return mult === undefined ? null : Math.round(Number(m[1]) * mult);
}

/** `812 B`, `4.2 kB`, `112.7 MB`, `2 GB`: SI units, one decimal below 100 and none above. */
export function formatBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  if (i === 0) return `${Math.round(v)} B`;
  const digits = Math.abs(v) >= 100 ? 0 : 1;
  return `${Number(v.toFixed(digits))} ${units[i]}`;
}
