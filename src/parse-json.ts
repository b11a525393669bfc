/**
 * JSON read from outside the process (Redis, the queue, a shared folder), parsed against a zod
 * schema: the value, or why it is not one, in words that never echo what it holds.
 */
import * as z from 'zod';

/** The first few issues of a failed parse, in words (never the value itself). */
export function why(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.join('.') || 'value'}: ${i.message}`)
    .join('; ');
}

/** `text` as JSON parsed against `schema`; the reason when it is not one. */
export function parseJson<T>(schema: z.ZodType<T>, text: string): { ok: true; data: T } | { ok: false; reason: string } {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'not JSON' };
  }
  const r = schema.safeParse(v);
  return r.success ? { ok: true, data: r.data } : { ok: false, reason: why(r.error) };
}
