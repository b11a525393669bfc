/**
 * look up: one batched cache lookup for a chunk's photos, then each photo to its path: a result
 * known (cached, made earlier in the run, or being made) is rendered from; the others are claimed:
 * the run that takes a photo's lock infers it, a photo another run holds is deferred and looked up
 * again until that run stores its result (or its lock expires and this run takes it).
 */
import type { AbPlanes } from '../../chroma/codec.js';
import { keyOf, type Prepared, type RunContext } from '../context.js';
import type { PhotoTasks } from '../photo-tasks.js';
import { afterDuplicate, fromKnown, produce } from './produce.js';

/** Look up a chunk and start every photo's work, adding it to `tasks`. */
export async function dispatch(ctx: RunContext, items: readonly Prepared[], tasks: PhotoTasks): Promise<void> {
  const { results, deferred } = ctx;
  const need = new Set<string>();
  for (const p of items) if (!results.inflight.has(p.sha) && !results.recentValue(p.sha) && !deferred.has(p.sha)) need.add(p.sha);
  const found = await lookUp(ctx, ctx.opts.force ? [] : [...need]);
  const decoded = new Map<string, AbPlanes | null>();
  const toClaim = new Map<string, Prepared[]>();
  let ran = performance.now();
  for (const p of items) {
    if (ctx.stop.stopped) {
      p.photo.cancel(ctx.stop.why);
      continue;
    }
    const running = results.inflight.get(p.sha);
    if (running) {
      tasks.add(afterDuplicate(ctx, p, running));
      continue;
    }
    const ab = decodedOnce(ctx, decoded, p, found.get(p.sha), results.recentValue(p.sha));
    if (ab) {
      tasks.add(fromKnown(ctx, p, ab));
      // Decoding a chunk's results is the main thread's largest share of a warm run (a few ms
      // each): the photos given their results start on the pixel threads while it goes on.
      if (performance.now() - ran > YIELD_AFTER_MS) ran = await nextTurn();
      continue;
    }
    const waiting = deferred.get(p.sha);
    if (waiting) {
      p.photo.wait('other-run');
      waiting.push(p);
    } else toClaim.set(p.sha, [...(toClaim.get(p.sha) ?? []), p]);
  }
  await claim(ctx, toClaim, tasks);
}

/** Synchronous work in a row, on the main thread, before dispatch lets the tasks it added start. */
const YIELD_AFTER_MS = 8;

/** A turn of the event loop (the tasks added so far start); resolves with the time it ends. */
function nextTurn(): Promise<number> {
  return new Promise((resolve) => setImmediate(() => resolve(performance.now())));
}

/** A value the lookup found, decoded: the lookup's hit when it decodes, null when it is damaged. */
function hit(ctx: RunContext, sha: string, path: string, value: Buffer): AbPlanes | null {
  const ab = ctx.results.decode(sha, path, value);
  if (ab) ctx.counters.lookupHits++;
  return ab;
}

/**
 * The result of `p`'s content from the value the lookup found (or one made earlier in the run),
 * decoded once for the chunk's photos of that content; null when there is none or it is damaged.
 */
function decodedOnce(ctx: RunContext, decoded: Map<string, AbPlanes | null>, p: Prepared, cached: Buffer | undefined, recent: Buffer | undefined): AbPlanes | null {
  if (decoded.has(p.sha)) return decoded.get(p.sha)!;
  const ab = cached ? hit(ctx, p.sha, p.file.path, cached) : recent ? ctx.results.decode(p.sha, p.file.path, recent) : null;
  decoded.set(p.sha, ab);
  return ab;
}

/** The cached values of `shas` (not decoded), counted as lookups when `first`. */
async function lookUp(ctx: RunContext, shas: string[], first = true): Promise<Map<string, Buffer>> {
  const t = performance.now();
  const values = await ctx.cache.getMany(shas.map((sha) => keyOf(ctx, sha)));
  ctx.timings.lookupMs += performance.now() - t;
  if (shas.length > 0) ctx.profile.span('lookup', t, performance.now());
  const found = new Map<string, Buffer>();
  shas.forEach((sha, i) => {
    const v = values[i];
    if (v) found.set(sha, v);
  });
  if (first) ctx.counters.lookups += shas.length;
  return found;
}

/** Take the locks of photos with no known result: produce those granted, defer the others. */
async function claim(ctx: RunContext, groups: Map<string, Prepared[]>, tasks: PhotoTasks): Promise<void> {
  const shas = [...groups.keys()];
  if (shas.length === 0) return;
  const keys = shas.map((sha) => keyOf(ctx, sha));
  const coordinated = ctx.locks.coordinated && !ctx.opts.force;
  const granted = coordinated ? await ctx.locks.take(keys) : keys.map(() => true);
  // Double-check under the lock: another run may have stored a result and released its lock
  // between our lookup and our lock.
  const late = new Map<string, AbPlanes>();
  if (coordinated) {
    const mine = shas.filter((_, i) => granted[i] && ctx.locks.coordinated);
    const values = await ctx.cache.getMany(mine.map((sha) => keyOf(ctx, sha)));
    mine.forEach((sha, i) => {
      const v = values[i];
      const ab = v ? ctx.results.decode(sha, groups.get(sha)![0]!.file.path, v) : null;
      if (ab) late.set(sha, ab);
    });
    if (late.size > 0) await ctx.locks.giveBack([...late.keys()].map((sha) => keyOf(ctx, sha)));
  }
  shas.forEach((sha, i) => {
    const items = groups.get(sha)!;
    const ab = late.get(sha);
    if (ab) {
      ctx.counters.lookupHits++;
      for (const p of items) tasks.add(fromKnown(ctx, p, ab));
    } else if (!granted[i]) {
      for (const p of items) p.photo.wait('other-run');
      ctx.deferred.set(sha, [...(ctx.deferred.get(sha) ?? []), ...items]);
    } else {
      if (coordinated) ctx.locks.hold(keys[i]!);
      tasks.add(produce(ctx, items[0]!));
      for (const p of items.slice(1)) tasks.add(afterDuplicate(ctx, p, ctx.results.inflight.get(sha)!));
    }
  });
}

/** Come back for deferred photos until each is served from the cache or inferred here. */
export async function settleDeferred(ctx: RunContext, tasks: PhotoTasks): Promise<void> {
  const { deferred } = ctx;
  if (deferred.size > 0) {
    const n = deferred.size;
    ctx.emit({
      type: 'warning',
      message: `waiting for ${n} photo${n > 1 ? 's' : ''} that another ddcolor run sharing the cache is inferring (a run that died frees them within ${Math.round(ctx.locks.ttlMs / 1000)} s)`,
    });
  }
  let wait = 100;
  while (deferred.size > 0) {
    if (ctx.stop.stopped) {
      for (const items of deferred.values()) for (const p of items) p.photo.cancel(ctx.stop.why);
      deferred.clear();
      return;
    }
    await new Promise((res) => setTimeout(res, wait));
    wait = Math.min(wait * 2, 2000);
    const shas = [...deferred.keys()];
    const groups = new Map(shas.map((sha) => [sha, deferred.get(sha)!]));
    deferred.clear();
    const found = await lookUp(ctx, shas, false);
    const again = new Map<string, Prepared[]>();
    for (const [sha, items] of groups) {
      const value = found.get(sha);
      const ab = value ? hit(ctx, sha, items[0]!.file.path, value) : null;
      if (ab) for (const p of items) tasks.add(fromKnown(ctx, p, ab));
      else again.set(sha, items);
    }
    await claim(ctx, again, tasks);
  }
}
