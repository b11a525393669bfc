/**
 * The output's EXIF, made from the scan's (a TIFF structure, what follows "Exif\0\0"): every tag
 * kept (date taken, camera, description, GPS), Orientation set to 1 (the pixels are upright), the
 * pixel dimensions set to the output's, and Software saying what made the output. A scan without
 * EXIF gets one with Software alone.
 *
 * IFD0 is written again at the end of the structure with the changed tags; the values the other
 * tags point to stay where they are (offsets in TIFF are from the structure's start), so nothing
 * else moves. The old IFD0 is left in place, unreferenced.
 */

const SOFTWARE = 0x0131;
const ORIENTATION = 0x0112;
const EXIF_IFD = 0x8769;
const PIXEL_X = 0xa002;
const PIXEL_Y = 0xa003;
const ASCII = 2;
const SHORT = 3;
const LONG = 4;

interface Entry {
  tag: number;
  type: number;
  count: number;
  /** The 4 bytes of the value field (inline value or offset), as stored. */
  field: Buffer;
}

class Tiff {
  readonly le: boolean;
  constructor(readonly buf: Buffer) {
    this.le = buf.toString('latin1', 0, 2) === 'II';
  }
  u16(at: number): number {
    return this.le ? this.buf.readUInt16LE(at) : this.buf.readUInt16BE(at);
  }
  u32(at: number): number {
    return this.le ? this.buf.readUInt32LE(at) : this.buf.readUInt32BE(at);
  }
  put16(b: Buffer, v: number, at: number): void {
    if (this.le) b.writeUInt16LE(v, at);
    else b.writeUInt16BE(v, at);
  }
  put32(b: Buffer, v: number, at: number): void {
    if (this.le) b.writeUInt32LE(v, at);
    else b.writeUInt32BE(v, at);
  }
  /** The entries of the IFD at `at`, and the offset of the next IFD. */
  ifd(at: number): { entries: Entry[]; next: number } | null {
    if (at + 2 > this.buf.length) return null;
    const n = this.u16(at);
    if (at + 2 + n * 12 + 4 > this.buf.length) return null;
    const entries: Entry[] = [];
    for (let k = 0; k < n; k++) {
      const e = at + 2 + k * 12;
      entries.push({ tag: this.u16(e), type: this.u16(e + 2), count: this.u32(e + 4), field: Buffer.from(this.buf.subarray(e + 8, e + 12)) });
    }
    return { entries, next: this.u32(at + 2 + n * 12) };
  }
}

export interface OutputExif {
  software: string;
  width: number;
  height: number;
}

/** An empty TIFF structure (little-endian header, IFD0 with no entries). */
function emptyTiff(): Buffer {
  const b = Buffer.alloc(14);
  b.write('II', 0, 'latin1');
  b.writeUInt16LE(42, 2);
  b.writeUInt32LE(8, 4);
  return b;
}

/** The output's EXIF from the scan's (or from nothing). */
export function exifForOutput(source: Uint8Array | null, out: OutputExif): Uint8Array {
  const parsed = source ? new Tiff(Buffer.from(source)) : null;
  const t = parsed && parsed.u16(2) === 42 ? parsed : new Tiff(emptyTiff());
  const buf = Buffer.from(t.buf);
  const ifd0 = t.ifd(t.u32(4)) ?? { entries: [], next: 0 };
  const exifIfd = ifd0.entries.find((e) => e.tag === EXIF_IFD);
  if (exifIfd) patchDimensions(t, buf, readField32(t, exifIfd.field), out);
  // The new IFD0 goes at the end (word-aligned), then the Software string.
  const at = buf.length + (buf.length % 2);
  const software = Buffer.from(`${out.software}\0`, 'latin1');
  const entries = ifd0.entries.filter((e) => e.tag !== SOFTWARE);
  const softwareAt = at + 2 + (entries.length + 1) * 12 + 4;
  const softwareField = Buffer.alloc(4);
  if (software.length <= 4) software.copy(softwareField);
  else t.put32(softwareField, softwareAt, 0);
  entries.push({ tag: SOFTWARE, type: ASCII, count: software.length, field: softwareField });
  entries.sort((a, b) => a.tag - b.tag);
  const ifd = Buffer.alloc(2 + entries.length * 12 + 4);
  t.put16(ifd, entries.length, 0);
  entries.forEach((e, k) => {
    const o = 2 + k * 12;
    t.put16(ifd, e.tag, o);
    t.put16(ifd, e.type, o + 2);
    t.put32(ifd, e.count, o + 4);
    if (e.tag === ORIENTATION && e.type === SHORT) t.put16(e.field, 1, 0);
    e.field.copy(ifd, o + 8);
  });
  t.put32(ifd, ifd0.next, 2 + entries.length * 12);
  const result = Buffer.concat([buf, Buffer.alloc(at - buf.length), ifd, software.length > 4 ? software : Buffer.alloc(0)]);
  t.put32(result, at, 4);
  return result;
}

function readField32(t: Tiff, field: Buffer): number {
  return t.le ? field.readUInt32LE(0) : field.readUInt32BE(0);
}

/** Set the EXIF IFD's pixel dimensions (inline SHORT or LONG values) to the output's. */
function patchDimensions(t: Tiff, buf: Buffer, exifAt: number, out: OutputExif): void {
  const sub = t.ifd(exifAt);
  if (!sub) return;
  sub.entries.forEach((e, k) => {
    if (e.tag !== PIXEL_X && e.tag !== PIXEL_Y) return;
    const value = e.tag === PIXEL_X ? out.width : out.height;
    const at = exifAt + 2 + k * 12 + 8;
    if (e.type === SHORT && value <= 0xffff) t.put16(buf, value, at);
    else if (e.type === LONG) t.put32(buf, value, at);
  });
}
