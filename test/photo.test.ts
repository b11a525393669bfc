/**
 * A photo's life (src/pipeline/photo.ts): every transition the design has works, every other one
 * throws, and what the ledger records is read from the photo's state: a cancelled photo is never
 * failed, a failure keeps its type (whose fault, a code), and an output's record is written
 * before the photo counts as written.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BadPhotoError, BlockedError, CancelledError, EnvironmentError, InternalError, TransientError } from '../src/errors.js';
import { Ledger } from '../src/pipeline/ledger.js';
import type { ManifestEntry } from '../src/pipeline/manifest.js';
import type { RunEvent } from '../src/pipeline/options.js';
import type { PlannedFile } from '../src/pipeline/outputs.js';
import { IllegalTransitionError, Photo, type PhotoState } from '../src/pipeline/photo.js';

const FILE: PlannedFile = { path: '/in/a.png', rel: 'a.png', output: '/out/a.png', outputRel: 'a.png', format: 'png' };
const ENTRY = { output: 'a.png', input: '/in/a.png' } as ManifestEntry;

/** A photo with its own ledger and records, brought to `state` the way a run would. */
function photoIn(state: PhotoState): { photo: Photo; ledger: Ledger; recorded: ManifestEntry[]; events: RunEvent[] } {
  const events: RunEvent[] = [];
  const ledger = new Ledger([FILE], (e) => events.push(e));
  const recorded: ManifestEntry[] = [];
  const photo = new Photo(0, FILE, { ended: (p) => ledger.ended(p), record: async (e) => void recorded.push(e) });
  const paths: Record<PhotoState, Array<(p: Photo) => unknown>> = {
    planned: [],
    hashed: [(p) => p.hashed('ab12')],
    waiting: [(p) => p.hashed('ab12'), (p) => p.wait('duplicate')],
    hit: [(p) => p.hashed('ab12'), (p) => p.hit()],
    inferring: [(p) => p.hashed('ab12'), (p) => p.infer()],
    writing: [(p) => p.hashed('ab12'), (p) => p.infer(), (p) => p.outputReady(ENTRY)],
    written: [(p) => p.hashed('ab12'), (p) => p.infer(), (p) => p.outputReady(ENTRY), (p) => p.written()],
    skipped: [(p) => p.skip('up to date')],
    failed: [(p) => p.fail(new Error('x'))],
    cancelled: [(p) => p.cancel('interrupted')],
  };
  for (const step of paths[state]) void step(photo);
  assert.equal(photo.state, state);
  return { photo, ledger, recorded, events };
}

/** Each transition, by the state it leads to. */
const MOVES: Record<PhotoState, ((p: Photo) => unknown) | null> = {
  planned: null,
  hashed: (p) => p.hashed('cd34'),
  waiting: (p) => p.wait('other-run'),
  hit: (p) => p.hit(),
  inferring: (p) => p.infer(),
  writing: (p) => p.outputReady(ENTRY),
  written: (p) => p.written(),
  skipped: (p) => p.skip('already in colour'),
  failed: (p) => p.fail(new Error('broken')),
  cancelled: (p) => p.cancel('interrupted'),
};

/** The life DESIGN.md describes ("A photo's life"), written out independently of photo.ts. */
const LEGAL: Record<PhotoState, PhotoState[]> = {
  planned: ['hashed', 'skipped', 'failed', 'cancelled'],
  hashed: ['waiting', 'hit', 'inferring', 'skipped', 'failed', 'cancelled'],
  waiting: ['waiting', 'hit', 'inferring', 'skipped', 'failed', 'cancelled'],
  hit: ['writing', 'skipped', 'failed', 'cancelled'],
  inferring: ['writing', 'skipped', 'failed', 'cancelled'],
  writing: ['written', 'failed'],
  written: [],
  skipped: [],
  failed: [],
  cancelled: [],
};

const STATES = Object.keys(LEGAL) as PhotoState[];

test('every transition of a photo\'s life works, and every other one throws IllegalTransitionError naming the file', async () => {
  for (const from of STATES) {
    for (const to of STATES) {
      const move = MOVES[to];
      if (!move) continue;
      const { photo } = photoIn(from);
      if (LEGAL[from].includes(to)) {
        await move(photo);
        assert.equal(photo.state, to, `${from} -> ${to}`);
      } else {
        await assert.rejects(
          async () => move(photo),
          (err: unknown) => err instanceof IllegalTransitionError && err.from === from && err.to === to && err.message.startsWith('/in/a.png:'),
          `${from} -> ${to} must be refused`,
        );
        assert.equal(photo.state, from, `a refused ${from} -> ${to} leaves the photo as it was`);
      }
    }
  }
});

test('a photo ends once: the ledger counts it once, and its record says how it ended', async () => {
  const cases: Array<[PhotoState, (p: Photo) => unknown, string]> = [
    ['hit', async (p) => (await p.outputReady(ENTRY), p.written()), 'hit'],
    ['inferring', async (p) => (await p.outputReady(ENTRY), p.written()), 'inferred'],
    ['hashed', (p) => p.skip('up to date'), 'skipped'],
    ['waiting', (p) => p.cancel('interrupted'), 'not-processed'],
    ['inferring', (p) => p.fail(new Error('x')), 'failed'],
  ];
  for (const [from, end, status] of cases) {
    const { photo, ledger, events } = photoIn(from);
    await end(photo);
    assert.equal(ledger.records[0]!.status, status);
    assert.equal(ledger.totals.files, 1);
    const counted = ledger.totals.hit + ledger.totals.inferred + ledger.totals.skipped + ledger.totals.failed + ledger.totals.notProcessed;
    assert.equal(counted, 1, `${status}: counted once`);
    assert.deepEqual(events.map((e) => e.type), ['file']);
    assert.equal(ledger.records[0]!.output, status === 'hit' || status === 'inferred' ? '/out/a.png' : null);
  }
});

test('cancelled is never failed: a CancelledError given as a failure cancels the photo, and its record has no failure', () => {
  const { photo, ledger, events } = photoIn('waiting');
  photo.fail(new CancelledError('interrupted'));
  assert.equal(photo.state, 'cancelled');
  assert.equal(photo.failure, null);
  const r = ledger.records[0]!;
  assert.equal(r.status, 'not-processed');
  assert.equal(r.transient, undefined);
  assert.equal(r.code, undefined);
  assert.match(r.error ?? '', /^\/in\/a\.png: not processed \(interrupted\)$/);
  const e = events[0]!;
  assert.ok(e.type === 'file' && e.failure === null);
});

test('a failure keeps its type: the photo\'s own fault, the environment\'s, another file\'s; nothing is read from the message', () => {
  const enospc = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', path: '/out/a.png' });
  const cases: Array<[unknown, new (...args: never[]) => Error, string, { transient?: true; blocked?: true }]> = [
    [new BadPhotoError('/in/a.png', 'DAMAGED', 'truncated or damaged PNG'), BadPhotoError, 'DAMAGED', {}],
    [enospc, EnvironmentError, 'ENOSPC', { transient: true }],
    [new TransientError('Redis did not answer'), EnvironmentError, 'TRANSIENT', { transient: true }],
    [new BlockedError('/in/a.png', '/out/a.png', 'OUTPUT_TAKEN', 'its output /out/a.png already exists'), BlockedError, 'OUTPUT_TAKEN', { blocked: true }],
    [Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT' }), BadPhotoError, 'NOT_FOUND', {}],
    // A message that reads like a full disk is not an errno: only the errno counts. An error no
    // decoder or system call typed is ddcolor's own, never the photo's: tried again.
    [new Error('ENOSPC the disk is full'), InternalError, 'INTERNAL', { transient: true }],
    [new TypeError("Cannot read properties of undefined (reading 'width')"), InternalError, 'INTERNAL', { transient: true }],
  ];
  for (const [err, type, code, flags] of cases) {
    const { photo, ledger } = photoIn('hit');
    photo.fail(err);
    assert.ok(photo.failure instanceof type, `${code}: ${photo.failure?.name}`);
    const r = ledger.records[0]!;
    assert.equal(r.status, 'failed');
    assert.equal(r.code, code);
    assert.equal(r.transient, flags.transient);
    assert.equal(r.blocked, flags.blocked);
    assert.ok(r.error?.startsWith('/in/a.png: '), r.error ?? '');
  }
  const enospcRecord = (() => {
    const { photo, ledger } = photoIn('hit');
    photo.fail(enospc);
    return ledger.records[0]!.error;
  })();
  assert.equal(enospcRecord, '/in/a.png: the disk is full (ENOSPC, /out/a.png)');
});

test('an output\'s record is written before the photo counts as written; a record that cannot be written fails the photo, never half-ends it', async () => {
  const order: string[] = [];
  const ledger = new Ledger([FILE], () => order.push('ended'));
  const photo = new Photo(0, FILE, { ended: (p) => ledger.ended(p), record: async () => void order.push('recorded') });
  photo.hashed('ab12');
  photo.hit();
  await photo.outputReady(ENTRY);
  assert.equal(photo.state, 'writing');
  photo.written();
  assert.deepEqual(order, ['recorded', 'ended']);

  const full = Object.assign(new Error('ENOSPC'), { code: 'ENOSPC' });
  const ledger2 = new Ledger([FILE], () => undefined);
  const skipping = new Photo(0, FILE, { ended: (p) => ledger2.ended(p), record: () => Promise.reject(full) });
  skipping.hashed('ab12');
  await skipping.skipRecorded('already in colour', ENTRY);
  assert.equal(skipping.state, 'failed');
  assert.equal(ledger2.records[0]!.code, 'ENOSPC');
  assert.equal(ledger2.totals.skipped, 0);
});
