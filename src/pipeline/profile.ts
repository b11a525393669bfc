/**
 * Where a run's time goes, stage by stage: wall (from the stage's first start to its last end),
 * busy (the time spent in it, summed over photos: more than wall when photos overlap) and waiting
 * (the time photos waited to enter it: for a slot and memory before decoding, for a batch before
 * the model). `colorize --profile` prints it; the report always has it.
 */

export const STAGES = ['scan', 'hash', 'lookup', 'decode', 'infer', 'composite', 'encode', 'write'] as const;
export type Stage = (typeof STAGES)[number];

export interface ProfileRow {
  stage: Stage;
  /** Photos (or batches, for infer; calls, for lookup) that went through it. */
  count: number;
  wallMs: number;
  busyMs: number;
  waitMs: number;
}

interface Tally {
  first: number;
  last: number;
  busy: number;
  wait: number;
  count: number;
}

export class StageProfile {
  private readonly tallies = new Map<Stage, Tally>();

  private tally(stage: Stage): Tally {
    let t = this.tallies.get(stage);
    if (!t) this.tallies.set(stage, (t = { first: Infinity, last: -Infinity, busy: 0, wait: 0, count: 0 }));
    return t;
  }

  /** A stretch of work from `start` to `end` (performance.now() times); `busyMs` when it differs (work in a worker). */
  span(stage: Stage, start: number, end: number, busyMs = end - start): void {
    const t = this.tally(stage);
    t.first = Math.min(t.first, start);
    t.last = Math.max(t.last, end);
    t.busy += busyMs;
    t.count++;
  }

  wait(stage: Stage, ms: number): void {
    this.tally(stage).wait += ms;
  }

  rows(): ProfileRow[] {
    const round = (v: number): number => Math.round(v * 10) / 10;
    return STAGES.filter((s) => this.tallies.has(s)).map((stage) => {
      const t = this.tallies.get(stage)!;
      return { stage, count: t.count, wallMs: round(Math.max(0, t.last - t.first)), busyMs: round(t.busy), waitMs: round(t.wait) };
    });
  }
}
