/**
 * A memory budget for the photos in flight, counted in pixels. A photo's decode, composite and
 * encode hold about BYTES_PER_PIXEL bytes per pixel at once (measured: a 48 MP scan adds about
 * 1 GB to the process), so a count of photos alone cannot bound memory: eight 48 MP scans at
 * once would need 8 GB. Photos take their pixels from the budget before they are decoded and
 * give them back when they are written; a photo larger than the whole budget runs alone.
 * First come, first served, so a large photo is never starved by small ones.
 */
import { totalmem } from 'node:os';

/** What one pixel of a photo in flight costs: RGB, L as float32, the output, and libvips' buffers. */
export const BYTES_PER_PIXEL = 24;

/** The default budget: a quarter of the machine's memory (no fixed cap: a machine with more memory holds more photos in flight). */
export function defaultMemoryBudget(): number {
  return totalmem() / 4;
}

export class PixelBudget {
  private used = 0;
  private readonly queue: Array<{ need: number; grant: () => void }> = [];

  /** `limit`: pixels allowed in flight at once. */
  constructor(readonly limit: number) {}

  static forBytes(bytes: number): PixelBudget {
    return new PixelBudget(Math.max(1, Math.floor(bytes / BYTES_PER_PIXEL)));
  }

  get inUse(): number {
    return this.used;
  }

  /** Wait until `pixels` fit; resolves to the function that gives them back (idempotent). */
  acquire(pixels: number): Promise<() => void> {
    const need = Math.max(0, Math.min(pixels, this.limit));
    return new Promise((resolve) => {
      this.queue.push({
        need,
        grant: () => {
          let released = false;
          resolve(() => {
            if (released) return;
            released = true;
            this.used -= need;
            this.pump();
          });
        },
      });
      this.pump();
    });
  }

  private pump(): void {
    while (this.queue.length > 0 && this.used + this.queue[0]!.need <= this.limit) {
      const next = this.queue.shift()!;
      this.used += next.need;
      next.grant();
    }
  }
}
