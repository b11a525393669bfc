/**
 * The before/after page (`--html`): a self-contained `index.html` with a card per photo of the run,
 * the original and the colorized photo on top of each other, and a slider (an `<input type=range>`,
 * usable by keyboard and screen readers) that moves the line between them. Thumbnails are written
 * beside it (`.ddcolor-thumbs/`, named after the content so a re-run reuses them) and loaded lazily,
 * so a page of thousands of photos opens fast. No CDN, no server: it opens from file://.
 */
import { createHash } from 'node:crypto';
import { mkdir, open, stat } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import { writeTextAtomically } from '../io/atomic-write.js';
import { redacted } from '../redact.js';
import type { FileRecord, RunReport } from './report.js';
import { formatBytes } from '../units.js';

/** The thumbnail maker (sharp), loaded by the page's writer alone: `isHtmlPage` runs after every run. */
type Thumbnails = typeof import('../image/thumbnail.js');

export const THUMBS_DIR = '.ddcolor-thumbs';

interface Card {
  record: FileRecord;
  before: string | null;
  after: string | null;
  size: { width: number; height: number } | null;
  outputBytes: number | null;
}

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A thumbnail of `file` in the thumbnails folder, made unless one of the same content is there. */
async function thumbOf(images: Thumbnails, file: string, key: string, dir: string): Promise<string | null> {
  const name = `${createHash('sha256').update(key).digest('hex').slice(0, 32)}.jpg`;
  const dest = join(dir, name);
  try {
    await stat(dest);
  } catch {
    try {
      await images.thumbnail(file, dest);
    } catch {
      return null;
    }
  }
  return name;
}

async function card(images: Thumbnails, record: FileRecord, thumbs: string): Promise<Card> {
  const out = record.output ? await stat(record.output).catch(() => null) : null;
  const before = await thumbOf(images, record.input, `before:${record.sha256 ?? record.input}`, thumbs);
  const after = record.output && out ? await thumbOf(images, record.output, `after:${record.output}:${out.size}:${out.mtimeMs}`, thumbs) : null;
  return { record, before, after, size: await images.uprightSize(record.input), outputBytes: out?.size ?? null };
}

/**
 * A link to `file` from the page's folder: relative, each name URL-encoded and `./` first, so a
 * photo named `javascript:alert(1).png` or `?x#y.jpg` is a file, never a scheme or a query.
 */
export function fileLink(pageDir: string, file: string): string {
  const names = relative(pageDir, file).split(/[\\/]/).map(encodeURIComponent);
  return `./${names.join('/')}`;
}

/** A photo's status as the summary says it: "from cache", "skipped: up to date", "not processed". */
function statusWords(r: Card['record']): string {
  switch (r.status) {
    case 'hit':
      return 'from cache';
    case 'skipped':
      return `skipped: ${r.reason ?? 'up to date'}`;
    case 'not-processed':
      return 'not processed';
    default:
      return r.status;
  }
}

function renderCard(c: Card, pageDir: string, thumbsRel: string, index: number): string {
  const r = c.record;
  const name = basename(r.input);
  const status = statusWords(r);
  const facts = [c.size ? `${c.size.width}×${c.size.height}` : null, c.outputBytes !== null ? formatBytes(c.outputBytes) : null, r.ms !== undefined ? `${Math.round(r.ms)} ms` : null].filter(Boolean).join(' · ');
  const img = (file: string, alt: string, cls: string): string => `<img class="${cls}" src="${escape(`${thumbsRel}/${file}`)}" alt="${escape(alt)}" loading="lazy" decoding="async">`;
  const pictures =
    c.before && c.after
      ? `<div class="compare">${img(c.before, `${name}, original`, 'before')}${img(c.after, `${name}, colorized`, 'after')}</div>` +
        `<input type="range" min="0" max="100" value="50" aria-label="Move the line between the original (left) and the colorized photo (right) of ${escape(name)}">`
      : c.before
        ? `<div class="single">${img(c.before, `${name}, original`, 'before')}</div>`
        : `<div class="single missing">no preview</div>`;
  const link = r.output ? `<a href="${escape(fileLink(pageDir, r.output))}">open</a>` : '';
  const error = r.error ? `<p class="error">${escape(r.error)}</p>` : '';
  return `<li class="card ${r.status}" id="photo-${index}"><figure>${pictures}<figcaption><span class="name">${escape(name)}</span> <span class="status">${escape(status)}</span><br><span class="facts">${escape(facts)}</span> ${link}${error}</figcaption></figure></li>`;
}

const STYLE = `body{font:15px/1.4 system-ui,sans-serif;margin:1.5rem;background:#f6f4ef;color:#222}
h1{font-size:1.4rem;margin:0 0 .3rem}.totals{margin:0 0 1.2rem;color:#444}
ul{list-style:none;padding:0;display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:1rem}
.card{background:#fff;border-radius:8px;padding:.6rem;box-shadow:0 1px 3px #0002}.card figure{margin:0}
.compare{position:relative;line-height:0}.compare img{width:100%;height:auto;display:block}
.compare .after{position:absolute;inset:0;height:100%;object-fit:cover;clip-path:inset(0 0 0 50%)}
.single img{width:100%;height:auto}.missing{padding:2rem;text-align:center;color:#888}
input[type=range]{width:100%;margin:.4rem 0 0}.status{font-weight:600}.failed .status,.error{color:#b00020}
.skipped .status{color:#555}.facts{color:#666;font-size:.9em}.error{margin:.3rem 0 0;font-size:.9em;overflow-wrap:anywhere}`;

/** Keeps each card's line where its slider is. */
const SCRIPT = `for(const c of document.querySelectorAll('.card')){const r=c.querySelector('input[type=range]');const a=c.querySelector('.after');if(!r||!a)continue;const set=()=>{a.style.clipPath='inset(0 0 0 '+r.value+'%)'};r.addEventListener('input',set);set()}`;

function* page(report: RunReport, cards: Card[], pageDir: string, thumbsRel: string): Generator<string> {
  const t = report.totals;
  const inColour = report.files.filter((f) => f.status === 'skipped' && f.reason === 'already in colour').length;
  const totals = [`${t.files} photos`, `${t.inferred} inferred`, `${t.hit} from cache`, `${t.skipped - inColour} up to date`, inColour ? `${inColour} already in colour` : null, `${t.failed} failed`, t.notProcessed ? `${t.notProcessed} not processed` : null].filter(Boolean).join(' · ');
  const modelName = basename(report.model.path).replace(/\.onnx$/i, '');
  yield `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="generator" content="ddcolor">`;
  yield `<title>ddcolor: ${escape(report.output)}</title><style>${STYLE}</style></head><body>`;
  const heading = report.model.testModel ? `Photos through ddcolor's test model (${report.model.testModel})` : 'Colorized photos';
  yield `<h1>${escape(heading)}</h1><p class="totals">${escape(totals)} — ${escape(report.finishedAt)}, ${(report.durationMs / 1000).toFixed(1)} s, model ${escape(modelName)} (${escape(report.model.id)}) at ${report.model.inputSize}px</p><ul>`;
  for (let i = 0; i < cards.length; i++) yield renderCard(cards[i]!, pageDir, thumbsRel, i);
  yield `</ul><script>${SCRIPT}</script></body></html>\n`;
}

/** Whether `path` is a page ddcolor wrote (its generator tag in the first bytes). */
export async function isHtmlPage(path: string): Promise<boolean> {
  // The first bytes only: an archive's page can be tens of megabytes.
  const file = await open(path, 'r').catch(() => null);
  if (!file) return false;
  try {
    const { buffer, bytesRead } = await file.read(Buffer.alloc(400), 0, 400, 0);
    return buffer.subarray(0, bytesRead).toString('utf8').includes('<meta name="generator" content="ddcolor">');
  } finally {
    await file.close();
  }
}

/** Write the page for `report` at `path` (thumbnails beside it); returns how many cards it has. */
export async function writeHtmlPage(report: RunReport, path: string): Promise<number> {
  const pageDir = dirname(path);
  const thumbs = join(pageDir, THUMBS_DIR);
  await mkdir(thumbs, { recursive: true });
  const images = await import('../image/thumbnail.js');
  const cards: Card[] = [];
  // A few at a time: libvips uses every core for each.
  for (let i = 0; i < report.files.length; i += 4) cards.push(...(await Promise.all(report.files.slice(i, i + 4).map((r) => card(images, r, thumbs)))));
  await writeTextAtomically(path, redacted(page(report, cards, pageDir, THUMBS_DIR)));
  return cards.length;
}
