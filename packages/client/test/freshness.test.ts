import assert from 'node:assert/strict';
import {
  boundedConfirmation,
  CLOCK_SLACK_MS,
  freshnessOf,
  SERVER_CLOCK_WINDOW_MS,
  ServerClock,
} from '../src/copy/freshness.js';
import { InvalidOptionsError } from '../src/errors.js';
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

describe('boundedConfirmation', () => {
  it('keeps the writer’s time up to the slack after the server stored it, and the server’s beyond', () => {
    assert.equal(boundedConfirmation(5_000, 10_000), 5_000);
    assert.equal(boundedConfirmation(10_000 + CLOCK_SLACK_MS, 10_000), 10_000 + CLOCK_SLACK_MS);
    assert.equal(boundedConfirmation(10_000 + 6 * 3_600_000, 10_000), 10_000 + CLOCK_SLACK_MS);
    assert.equal(boundedConfirmation(123, undefined), 123, 'unknown storage time: the writer’s');
  });
});

describe('ServerClock', () => {
  it('maps a server timestamp onto the pod’s clock by how long ago the server stored it', () => {
    const c = new ServerClock();
    assert.equal(c.now(), undefined);
    const serverNow = Date.parse('2026-12-01T12:00:00Z');
    // The pod's clock is six hours behind; the newest entry was stored just now, an older one 10 min ago.
    const podNow = serverNow - 6 * 3_600_000;
    const fresh = c.storedAt(new Date(serverNow), podNow);
    const older = c.storedAt(new Date(serverNow - 600_000), podNow);
    assert.ok(fresh !== undefined && older !== undefined);
    assert.ok(Math.abs(fresh - podNow) < 1_000, `${fresh - podNow}`);
    assert.ok(Math.abs(older - (podNow - 600_000)) < 1_000, `${older - (podNow - 600_000)}`);
    assert.equal(c.storedAt(new Date(Number.NaN), podNow), undefined);
  });

  it('forgets a server whose clock ran ahead once others have stored entries for two windows', () => {
    let mono = 0;
    const c = new ServerClock(() => mono);
    const serverNow = (): number => Date.parse('2026-12-01T12:00:00Z') + mono;
    const ahead = 10 * 60_000;
    // A stream leader 10 min ahead stores an entry; the estimate takes its clock.
    c.observe(new Date(serverNow() + ahead));
    assert.equal(c.now(), serverNow() + ahead);
    // Leadership moves to servers in sync: an entry stored by them now looks 10 min old...
    mono += 60_000;
    c.observe(new Date(serverNow()));
    assert.equal(c.now(), serverNow() + ahead, 'within the window the largest offset stands');
    // ...until the skewed observation is two windows old.
    for (let i = 0; i < 2; i++) {
      mono += SERVER_CLOCK_WINDOW_MS;
      c.observe(new Date(serverNow()));
    }
    assert.equal(c.now(), serverNow());
    const podNow = serverNow();
    assert.equal(c.storedAt(new Date(serverNow() - 60_000), podNow), podNow - 60_000);
  });

  it('keeps the last estimate through windows without entries', () => {
    let mono = 0;
    const c = new ServerClock(() => mono);
    c.observe(new Date(1_000_000));
    mono += 5 * SERVER_CLOCK_WINDOW_MS;
    assert.equal(c.now(), 1_000_000 + mono);
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
  it('leaves the last resort off by default and fills its defaults when enabled', () => {
    assert.equal(resolveOptions({}).lastResort, undefined);
    const lr = resolveOptions({ lastResort: { octopus: {} } }).lastResort;
    assert.equal(lr?.minIntervalMs, 5 * 60_000);
    assert.equal(lr?.inboxPrefix, '_INBOX_lastresort');
    assert.equal(lr?.windowDays, 7);
  });
  it('rejects conflicting last-resort connections', () => {
    const problems = (o: Parameters<typeof resolveOptions>[0]) => {
      try {
        resolveOptions(o);
        return [];
      } catch (e) {
        return e instanceof InvalidOptionsError ? e.problems : [String(e)];
      }
    };
    const creds = { user: 'fetcher', pass: 'x' };
    assert.equal(problems({ lastResort: { octopus: {}, nc: {} as never, credentials: creds } }).length, 1);
    assert.equal(problems({ nc: {} as never, lastResort: { octopus: {}, credentials: creds } }).length, 1);
    assert.equal(problems({ nc: {} as never, lastResort: { octopus: {}, nc: {} as never } }).length, 0);
  });
});
