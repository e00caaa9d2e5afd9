import assert from 'node:assert/strict';
import { InvalidOptionsError } from '../src/errors.js';
import { freshnessOf } from '../src/freshness.js';
import { resolveOptions } from '../src/options.js';

describe('freshnessOf', () => {
  const t = { freshForMs: 30 * 60_000, staleForMs: 35 * 60_000 };
  it('is fresh below 30 min, stale below 35 min, expired beyond, by default thresholds', () => {
    assert.equal(freshnessOf(0, 30 * 60_000 - 1, t).freshness, 'fresh');
    assert.equal(freshnessOf(0, 30 * 60_000, t).freshness, 'stale');
    assert.equal(freshnessOf(0, 35 * 60_000, t).freshness, 'expired');
  });
  it('counts a confirmation from the future (clock skew) as age 0', () => {
    assert.deepEqual(freshnessOf(1_000, 0, t), { freshness: 'fresh', ageMs: 0 });
  });
});

describe('resolveOptions', () => {
  it('fills defaults with units', () => {
    const o = resolveOptions({});
    assert.equal(o.freshForMs, 30 * 60_000);
    assert.equal(o.staleForMs, 35 * 60_000);
    assert.equal(o.resyncIntervalMs, 15_000);
    assert.equal(o.relistIntervalMs, 5 * 60_000);
    assert.equal(o.pingIntervalMs, 5_000);
  });
  it('reports every problem at once', () => {
    assert.throws(
      () =>
        resolveOptions({ freshForMs: 10, staleForMs: 5, resyncIntervalMs: 1, nc: {} as never, servers: 'x' }),
      (e: unknown) => {
        assert.ok(e instanceof InvalidOptionsError);
        assert.equal(e.code, 'ERR_CLIENT_OPTIONS');
        assert.equal(e.problems.length, 3);
        return true;
      },
    );
  });
});
