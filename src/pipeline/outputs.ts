/**
 * Where each photo's output goes: `<out>/<path relative to its root>`, with the extension of the
 * output format. With `--format same` a photo keeps its own extension (`.jpeg` stays `.jpeg`);
 * formats sharp cannot write (BMP) become PNG.
 *
 * Two inputs that would land on the same output (`a.jpg` and `a.png` with `--format png`) never
 * overwrite each other: the one whose extension is kept takes the plain name, the other gets its
 * old extension in the name (`a-jpg.png`). The rule depends only on the names, so it is the same
 * on every run.
 */
import { extname, join, sep } from 'node:path';
import { EXTENSION, formatFromExtension, type FormatChoice, type OutputFormat } from '../image/formats.js';
import type { ScannedFile } from './scan.js';

export interface PlannedFile extends ScannedFile {
  /** Absolute output path. */
  output: string;
  /** Output path relative to the output folder, with '/'. */
  outputRel: string;
  format: OutputFormat;
  /** A file at the output's place that ddcolor did not write is left alone, whatever force or overwrite say (a fleet worker's output inside its input roots). */
  keepForeign?: boolean;
}

export function outputFormat(inputPath: string, choice: FormatChoice): OutputFormat {
  if (choice !== 'same') return choice;
  return formatFromExtension(extname(inputPath)) ?? 'png';
}

export function planOutputs(files: readonly ScannedFile[], outRoot: string, choice: FormatChoice): PlannedFile[] {
  const wanted = files.map((f) => {
    const format = outputFormat(f.path, choice);
    const ext = extname(f.rel);
    const keepsExt = formatFromExtension(ext) === format;
    const stem = f.rel.slice(0, f.rel.length - ext.length);
    return { f, format, keepsExt, ext, stem, rel: keepsExt ? f.rel : stem + EXTENSION[format] };
  });
  const root = join(outRoot, '.').replace(/[\\/]$/, '');
  const taken = new Set<string>();
  const result: PlannedFile[] = new Array(files.length);
  const claim = (i: number, rel: string): void => {
    const w = wanted[i]!;
    taken.add(rel.toLowerCase());
    result[i] = { path: w.f.path, rel: w.f.rel, outputRel: rel, output: sep === '/' ? `${root}/${rel}` : join(root, ...rel.split('/')), format: w.format };
  };
  // Plain names first, those keeping their own extension before the others.
  const order = wanted.map((_, i) => i).sort((a, b) => Number(wanted[b]!.keepsExt) - Number(wanted[a]!.keepsExt) || a - b);
  const deferred: number[] = [];
  for (const i of order) {
    if (taken.has(wanted[i]!.rel.toLowerCase())) deferred.push(i);
    else claim(i, wanted[i]!.rel);
  }
  for (const i of deferred) {
    const w = wanted[i]!;
    const base = `${w.stem}-${w.ext.slice(1).toLowerCase()}`;
    let rel = base + EXTENSION[w.format];
    for (let n = 2; taken.has(rel.toLowerCase()); n++) rel = `${base}-${n}${EXTENSION[w.format]}`;
    claim(i, rel);
  }
  return result;
}
