import assert from 'node:assert/strict';
import { sleep } from '../src/backoff.js';
import { AbortedError, backoffDelay, parseRetryAfter } from '../src/index.js';

describe('backoffDelay', () => {
  it('doubles per retry between half and all of the step', () => {
    const opts = { baseMs: 100, maxMs: 10_000 };
    assert.equal(
      backoffDelay(1, opts, () => 0),
      50,
    );
    assert.equal(
      backoffDelay(1, opts, () => 1),
      100,
    );
    assert.equal(
      backoffDelay(3, opts, () => 0),
      200,
    );
    assert.equal(
      backoffDelay(3, opts, () => 1),
      400,
    );
  });

  it('never exceeds the cap however many retries', () => {
    for (let r = 1; r < 60; r++)
      assert.ok(backoffDelay(r, { baseMs: 500, maxMs: 30_000 }, () => 1) <= 30_000);
  });

  it('defaults to 500 ms first and 30 s cap', () => {
    assert.equal(
      backoffDelay(1, {}, () => 1),
      500,
    );
    assert.equal(
      backoffDelay(20, {}, () => 1),
      30_000,
    );
  });
});

describe('parseRetryAfter', () => {
  it('reads delta-seconds', () => {
    assert.equal(parseRetryAfter('3'), 3000);
    assert.equal(parseRetryAfter(' 0 '), 0);
  });

  it('reads an HTTP date relative to now', () => {
    const now = Date.parse('2025-03-01T12:00:00Z');
    assert.equal(parseRetryAfter('Sat, 01 Mar 2025 12:00:07 GMT', now), 7000);
    assert.equal(parseRetryAfter('Sat, 01 Mar 2025 11:00:00 GMT', now), 0, 'a past date means now');
  });

  it('ignores absent or unreadable values', () => {
    assert.equal(parseRetryAfter(undefined), undefined);
    assert.equal(parseRetryAfter('soon'), undefined);
    assert.equal(parseRetryAfter('-5'), undefined);
    assert.equal(parseRetryAfter('1.5'), undefined);
  });
});

describe('sleep', () => {
  it('stops waiting with AbortedError as soon as the signal fires', async () => {
    const ac = new AbortController();
    const p = sleep(60_000, ac.signal);
    ac.abort();
    await assert.rejects(p, AbortedError);
  });
});
