import assert from 'node:assert/strict';
import type { KvEntry } from '@nats-io/kv';
import { LeaseWatch } from '../src/index.js';

/** A read of the lease key as the KV client returns it: only what a watcher looks at. */
const read = (revision: number, value: string): KvEntry =>
  ({
    revision,
    operation: 'PUT',
    value: new TextEncoder().encode(value),
    string: () => value,
  }) as unknown as KvEntry;

const DURATION = 1_000;

describe('LeaseWatch', () => {
  it('calls a write lapsed only once it was seen unchanged for the whole duration', () => {
    const w = new LeaseWatch();
    assert.deepEqual(w.see(read(5, 'a'), DURATION, 0), { kind: 'changed', previousAt: null });
    assert.equal(w.see(read(5, 'a'), DURATION, 999).kind, 'held');
    assert.equal(w.see(read(5, 'a'), DURATION, 1_000).kind, 'lapsed');
  });

  it('restarts the count on a renewal, and says when the replaced write was first seen', () => {
    const w = new LeaseWatch();
    w.see(read(5, 'a'), DURATION, 0);
    assert.deepEqual(w.see(read(6, 'a'), DURATION, 800), { kind: 'changed', previousAt: 0 });
    assert.equal(w.see(read(6, 'a'), DURATION, 1_700).kind, 'held');
    assert.equal(w.see(read(6, 'a'), DURATION, 1_800).kind, 'lapsed');
  });

  it('never lets a lagging replica’s lower revision restart the count', () => {
    const w = new LeaseWatch();
    w.see(read(7, 'b'), DURATION, 0);
    assert.equal(w.see(read(6, 'a'), DURATION, 500).kind, 'held');
    assert.equal(w.see(read(7, 'b'), DURATION, 900).kind, 'held');
    assert.equal(w.see(read(6, 'a'), DURATION, 999).kind, 'held');
    assert.equal(w.see(read(7, 'b'), DURATION, 1_000).kind, 'lapsed', 'counted from the first read of 7');
  });

  it('does not lapse a lower revision while reads of the seen one come in between', () => {
    const w = new LeaseWatch();
    w.see(read(7, 'b'), DURATION, 0);
    assert.equal(w.see(read(6, 'a'), DURATION, 100).kind, 'held');
    assert.deepEqual(
      w.see(read(8, 'b'), DURATION, 600),
      { kind: 'changed', previousAt: 0 },
      'the holder renewed',
    );
    assert.equal(
      w.see(read(6, 'a'), DURATION, 1_200).kind,
      'held',
      'the lagging count started again at 1200',
    );
    assert.equal(w.see(read(6, 'a'), DURATION, 2_100).kind, 'held');
  });

  it('lapses a lower write that every read returned for a whole duration (the store went back)', () => {
    const w = new LeaseWatch();
    w.see(read(7, 'b'), DURATION, 0);
    assert.equal(w.see(read(3, 'z'), DURATION, 500).kind, 'held');
    assert.equal(w.see(read(3, 'z'), DURATION, 1_499).kind, 'held');
    assert.equal(w.see(read(3, 'z'), DURATION, 1_500).kind, 'lapsed', 'a whole duration of reads of 3 only');
    assert.equal(w.see(read(3, 'z'), DURATION, 1_600).kind, 'lapsed', 'and it is now the write counted');
    assert.deepEqual(
      w.see(read(4, 'y'), DURATION, 1_700),
      { kind: 'changed', previousAt: 500 },
      'a holder on the restored store renews',
    );
  });

  it('restarts the lower count when the lower write changes (a holder renewing on a restored store)', () => {
    const w = new LeaseWatch();
    w.see(read(7, 'b'), DURATION, 0);
    w.see(read(3, 'z'), DURATION, 100);
    assert.equal(w.see(read(4, 'z'), DURATION, 900).kind, 'held');
    assert.equal(w.see(read(4, 'z'), DURATION, 1_800).kind, 'held', 'counted from 900, not 100');
    assert.equal(w.see(read(4, 'z'), DURATION, 1_900).kind, 'lapsed');
  });

  it('takes another value under a seen revision as a new write (a server that reissued the number)', () => {
    const w = new LeaseWatch();
    w.see(read(7, 'b'), DURATION, 0);
    assert.deepEqual(w.see(read(7, 'c'), DURATION, 900), { kind: 'changed', previousAt: 0 });
    assert.equal(w.see(read(7, 'c'), DURATION, 1_000).kind, 'held');
  });

  it('starts over after forget()', () => {
    const w = new LeaseWatch();
    w.see(read(7, 'b'), DURATION, 0);
    w.forget();
    assert.deepEqual(w.see(read(3, 'z'), DURATION, 2_000), { kind: 'changed', previousAt: null });
    assert.equal(w.see(read(3, 'z'), DURATION, 2_900).kind, 'held', 'counted from the read after forget()');
    assert.equal(w.see(read(3, 'z'), DURATION, 3_000).kind, 'lapsed');
  });
});
