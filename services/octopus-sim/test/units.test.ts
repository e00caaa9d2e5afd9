import assert from 'node:assert/strict';
import { SimulatedClock } from '../src/clock.js';
import { pageUrl, parseDateTime, parseQuery, quotePlus } from '../src/query-and-pagination.js';
import { londonOffsetMs, londonTimeOn } from '../src/tz.js';

describe('SimulatedClock', () => {
  it('runs at its speed and re-bases on set and setSpeed', () => {
    let real = 1_000;
    const clock = new SimulatedClock(Date.parse('2026-01-01T00:00:00Z'), 60, () => real);
    real += 1_000;
    assert.equal(clock.now().toISOString(), '2026-01-01T00:01:00.000Z');
    clock.setSpeed(0);
    real += 5_000;
    assert.equal(clock.now().toISOString(), '2026-01-01T00:01:00.000Z');
    clock.set('2026-06-01T12:00:00Z');
    assert.equal(clock.now().toISOString(), '2026-06-01T12:00:00.000Z');
    assert.throws(() => clock.setSpeed(-1), RangeError);
  });
});

describe('DRF datetime and URL handling', () => {
  it('reads naive times as Europe/London, the first of an ambiguous hour and the old offset in a gap', () => {
    assert.equal(parseDateTime('2025-10-01'), Date.parse('2025-09-30T23:00:00Z'));
    assert.equal(parseDateTime('2026-01-10 12:00'), Date.parse('2026-01-10T12:00:00Z'));
    assert.equal(parseDateTime('2026-10-25T01:30:00'), Date.parse('2026-10-25T00:30:00Z'));
    assert.equal(parseDateTime('2026-03-29T01:30:00'), Date.parse('2026-03-29T01:30:00Z'));
    assert.equal(parseDateTime('2026-07-01T00:00:00.5+0130'), Date.parse('2026-06-30T22:30:00.500Z'));
    assert.equal(parseDateTime('2026-13-01'), null);
    assert.equal(parseDateTime('2026-07-01T00:00:00 01:00'), null);
  });

  it('computes London wall-clock instants across clock changes', () => {
    assert.equal(londonTimeOn('2026-03-29', 23), Date.parse('2026-03-29T22:00:00Z'));
    assert.equal(londonTimeOn('2026-03-28', 23), Date.parse('2026-03-28T23:00:00Z'));
  });

  it('re-encodes next/previous like DRF: keys sorted, quote_plus values', () => {
    const q = parseQuery('period_to=2026-01-02T00:00Z&period_from=2026-01-01 00:00&page=3');
    assert.equal(
      pageUrl('http://h', '/p/', q, 4),
      'http://h/p/?page=4&period_from=2026-01-01+00%3A00&period_to=2026-01-02T00%3A00Z',
    );
    assert.equal(pageUrl('http://h', '/p/', parseQuery('page=2'), null), 'http://h/p/');
    assert.equal(quotePlus("a+b!'()*~"), 'a%2Bb%21%27%28%29%2A~');
  });
});

describe('Europe/London from the BST rule', () => {
  it('agrees with the time-zone database (Intl) at every hour of 2016-2035 and each minute around the changes', () => {
    const intl = new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/London', timeZoneName: 'short' });
    const zone = (t: number) => intl.formatToParts(new Date(t)).find((p) => p.type === 'timeZoneName')?.value;
    const instants: number[] = [];
    for (let t = Date.UTC(2016, 0, 1); t < Date.UTC(2036, 0, 1); t += 3_600_000) instants.push(t);
    for (let y = 2016; y < 2036; y++) {
      for (const m of [2, 9]) {
        for (let d = 24; d <= 31; d++) {
          for (let mi = 0; mi < 180; mi++) instants.push(Date.UTC(y, m, d, 0, mi));
        }
      }
    }
    let summer = 0;
    for (const t of instants) {
      const expected = zone(t) === 'BST' ? 3_600_000 : 0;
      assert.equal(londonOffsetMs(t), expected, new Date(t).toISOString());
      if (expected) summer += 1;
    }
    assert.ok(summer > 0 && summer < instants.length, 'both offsets seen');
  });
});
