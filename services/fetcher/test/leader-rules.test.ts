import assert from 'node:assert/strict';
import { buildDocument, checkDocument, ukMidnight, ukWallTime } from '@ratebus/octopus';
import type { RateSlot, RatesDocument } from '@ratebus/schema';
import { productCode, tariffCode } from '@ratebus/schema';
import {
  backoffMs,
  failureDelayMs,
  MARK_PAUSE_MS,
  meetsMarkGuard,
  nearMark,
  nextRoutine,
  offMarks,
  publicationWindow,
} from '../src/leader/schedule-rules.js';
import { SingleFlight } from '../src/leader/single-flight.js';
import { normaliseUrl } from '../src/leader/url-cache.js';

const iso = (t: number) => `${new Date(t).toISOString().slice(0, 19)}Z`;
/** Half-hour Agile rows, newest first, covering [from, to). */
function slots(from: string, to: string, skip: number[] = []): RateSlot[] {
  const out: RateSlot[] = [];
  for (let t = Date.parse(from), i = 0; t < Date.parse(to); t += 1_800_000, i++) {
    if (!skip.includes(i)) {
      out.push({
        value_exc_vat: 10,
        value_inc_vat: 10.5,
        valid_from: iso(t),
        valid_to: iso(t + 1_800_000),
        payment_method: null,
      });
    }
  }
  return out.reverse();
}
const standing: RateSlot[] = [
  {
    value_exc_vat: 40,
    value_inc_vat: 42,
    valid_from: '2024-09-30T23:00:00Z',
    valid_to: null,
    payment_method: null,
  },
];
const ref = { product: productCode('AGILE-24-10-01'), tariff: tariffCode('E-1R-AGILE-24-10-01-C') };

function doc(unit: RateSlot[], windowFrom = '2026-11-20T00:00:00Z', sc = standing): RatesDocument {
  const r = buildDocument({
    ref,
    rates: {
      registerKind: 'standard',
      fuel: 'electricity',
      region: 'C',
      direction: 'IMPORT',
      unitRates: unit,
      standingCharges: sc,
    },
    window: { from: Date.parse(windowFrom), to: Date.parse('2026-11-30T00:00:00Z') },
    fetchedAt: Date.parse('2026-11-27T17:00:00Z'),
    term: 7,
  });
  assert.ok(r.ok);
  return r.doc;
}

describe('worker rules', () => {
  describe('Europe/London time', () => {
    it('finds UK midnight in winter and in summer', () => {
      assert.equal(iso(ukMidnight(Date.parse('2026-11-27T17:00:00Z'))), '2026-11-27T00:00:00Z');
      assert.equal(iso(ukMidnight(Date.parse('2026-07-01T12:00:00Z'))), '2026-06-30T23:00:00Z');
      assert.equal(iso(ukMidnight(Date.parse('2026-07-01T23:30:00Z'))), '2026-07-01T23:00:00Z');
      assert.equal(iso(ukMidnight(Date.parse('2026-11-27T17:00:00Z'), -7)), '2026-11-20T00:00:00Z');
      assert.equal(iso(ukWallTime({ y: 2026, m: 7, d: 2 }, 23)), '2026-07-02T22:00:00Z');
    });
  });

  describe('schedule', () => {
    it('never plans a call within ±30 s of :00 or :30', () => {
      for (let t = Date.parse('2026-11-27T15:58:00Z'); t < Date.parse('2026-11-27T16:03:00Z'); t += 1_000) {
        assert.ok(!nearMark(offMarks(t, true)), iso(t));
        assert.ok(!nearMark(offMarks(t, false)), iso(t));
        assert.ok(offMarks(t, false) >= t);
        assert.ok(offMarks(t, true) <= t);
      }
    });

    it('says which intervals meet a mark guard, and bounds the pause there', () => {
      const at = (hms: string) => Date.parse(`2026-11-27T${hms}Z`);
      assert.equal(meetsMarkGuard(at('15:28:00'), at('15:29:00')), false);
      assert.equal(meetsMarkGuard(at('15:28:00'), at('15:29:20')), true);
      assert.equal(meetsMarkGuard(at('15:30:40'), at('15:31:00')), true);
      assert.equal(meetsMarkGuard(at('15:30:50'), at('15:59:00')), false);
      assert.equal(meetsMarkGuard(at('15:30:50'), at('16:00:00')), true);
      for (let t = at('15:58:00'); t < at('16:03:00'); t += 1_000) {
        const pause = offMarks(t, false) - t;
        assert.ok(pause <= MARK_PAUSE_MS, iso(t));
        assert.equal(meetsMarkGuard(t, t), pause > 0, iso(t));
      }
    });

    it('plans routine checks within the cadence minus jitter, off the marks', () => {
      const now = Date.parse('2026-11-27T15:31:10Z');
      for (const r of [0, 0.25, 0.5, 0.999]) {
        const next = nextRoutine(now, 30 * 60_000, 4 * 60_000, () => r);
        assert.ok(next - now <= 30 * 60_000 && next - now >= 26 * 60_000 - 90_000);
        assert.ok(!nearMark(next));
      }
    });

    it('backs off 1, 2, 3 … minutes, capped, honouring Retry-After', () => {
      assert.deepEqual(
        [1, 2, 3, 40].map((n) => backoffMs(n, 30 * 60_000)),
        [60_000, 120_000, 180_000, 1_800_000],
      );
      assert.equal(backoffMs(1, 30 * 60_000, 300_000), 300_000);
    });

    it('retries a NATS failure within seconds and an upstream failure after minutes', () => {
      const max = 30 * 60_000;
      const nats = Object.assign(new Error('timeout'), { name: 'TimeoutError' });
      const upstream = Object.assign(new Error('502'), { code: 'ERR_UPSTREAM_HTTP' });
      assert.deepEqual(
        [1, 2, 3].map((n) => failureDelayMs(nats, n, max)),
        [5_000, 10_000, 15_000],
      );
      assert.deepEqual(
        [1, 2, 3].map((n) => failureDelayMs(upstream, n, max)),
        [60_000, 120_000, 180_000],
      );
      assert.equal(failureDelayMs(upstream, 1, max, 300_000), 300_000, 'Retry-After');
      assert.equal(failureDelayMs(undefined, 1, max), 60_000, 'a rejected document');
      assert.equal(failureDelayMs(nats, 2, 8_000), 8_000, 'never above the cap');
    });

    it('opens the Agile window 16:00–20:00 UK and the Tracker window 11:00–13:00 UK', () => {
      const at = (s: string, p: string) => publicationWindow(p, Date.parse(s));
      assert.equal(at('2026-11-27T15:59:00Z', 'AGILE-24-10-01')?.open, false);
      assert.equal(at('2026-11-27T16:00:00Z', 'AGILE-24-10-01')?.open, true);
      assert.equal(at('2026-11-27T20:00:00Z', 'AGILE-OUTGOING-19-05-13')?.open, false);
      assert.equal(iso(at('2026-11-27T16:00:00Z', 'AGILE-24-10-01')?.target ?? 0), '2026-11-28T23:00:00Z');
      assert.equal(at('2026-07-01T15:30:00Z', 'AGILE-24-10-01')?.open, true); // 16:30 BST
      assert.equal(at('2026-11-27T11:30:00Z', 'SILVER-25-09-02')?.open, true);
      assert.equal(iso(at('2026-11-27T11:30:00Z', 'SILVER-25-09-02')?.target ?? 0), '2026-11-29T00:00:00Z');
      assert.equal(at('2026-11-27T16:30:00Z', 'GO-VAR-22-10-14'), null);
    });
  });

  describe('publish guards', () => {
    const good = doc(slots('2026-11-20T00:00:00Z', '2026-11-28T23:00:00Z'));

    it('accepts a first document and a grown one, with a content hash independent of fetch time and term', () => {
      assert.equal(checkDocument(good, null), null);
      const grown = doc(slots('2026-11-20T00:00:00Z', '2026-11-29T23:00:00Z'));
      assert.equal(checkDocument(grown, good), null);
      assert.equal(doc(slots('2026-11-20T00:00:00Z', '2026-11-28T23:00:00Z')).contentHash, good.contentHash);
      assert.notEqual(grown.contentHash, good.contentHash);
    });

    it('rejects empty, non-contiguous, partial and shrinking documents', () => {
      assert.equal(checkDocument(doc([]), good)?.reason, 'empty');
      const gap = doc(slots('2026-11-20T00:00:00Z', '2026-11-28T23:00:00Z', [5]));
      assert.equal(checkDocument(gap, null)?.reason, 'non-contiguous');
      const noStanding = doc(slots('2026-11-20T00:00:00Z', '2026-11-28T23:00:00Z'), undefined, []);
      assert.equal(checkDocument(noStanding, good)?.reason, 'partial');
      const older = doc(slots('2026-11-20T00:00:00Z', '2026-11-27T23:00:00Z'));
      assert.equal(checkDocument(older, good)?.reason, 'shrinking');
      const fewer = doc(slots('2026-11-22T00:00:00Z', '2026-11-28T23:00:00Z'));
      assert.equal(checkDocument(fewer, good)?.reason, 'shrinking');
      // A window that moved on by a day is not shrinking.
      const moved = doc(slots('2026-11-21T00:00:00Z', '2026-11-28T23:00:00Z'), '2026-11-21T00:00:00Z');
      assert.equal(checkDocument(moved, good), null);
    });
  });

  describe('URL cache', () => {
    it('normalises allowed paths and refuses everything else', () => {
      assert.equal(
        normaliseUrl('/v1/products?page=2&is_variable=TRUE&brand=OCTOPUS_ENERGY'),
        '/v1/products/?brand=OCTOPUS_ENERGY&is_variable=true&page=2',
      );
      assert.equal(normaliseUrl('/v1/products/AGILE-24-10-01/'), '/v1/products/AGILE-24-10-01/');
      assert.equal(
        normaliseUrl('/v1/products/AGILE-24-10-01?tariffs_active_at=2025-03-01T01%3A00%2B01%3A00'),
        '/v1/products/AGILE-24-10-01/?tariffs_active_at=2025-03-01T00%3A00%3A00Z',
      );
      assert.equal(
        normaliseUrl('/v1/industry/grid-supply-points/?postcode=sw1a%201aa'),
        '/v1/industry/grid-supply-points/?postcode=SW1A1AA',
      );
      for (const bad of [
        '/v1/accounts/A-1/',
        '/v1/products/agile/',
        '/v1/products/AGILE-24-10-01/electricity-tariffs/',
        '/v1/products/../accounts/',
        '/v1/products/%2e%2e/',
        '//evil.example/v1/products/',
        '/v1/products/?b=2&a=1',
        '/v1/products/?available_at=yesterday',
        '/v1/products/?page=21',
        '/v1/products/?is_green=true&is_green=false',
        '/v1/products/AGILE-24-10-01/?tariffs_active_at=2026-01-01T00:00:00Z&x=1',
        '/v1/industry/grid-supply-points/?postcode=SW1A1AA&cachebust=1',
      ]) {
        assert.equal(normaliseUrl(bad), null, bad);
      }
    });
  });

  describe('SingleFlight', () => {
    it('shares one run per key among concurrent callers', async () => {
      const sf = new SingleFlight<number>();
      let runs = 0;
      let release = () => {};
      const gate = new Promise<void>((r) => {
        release = r;
      });
      const all = Array.from({ length: 10 }, () =>
        sf.do('k', async () => {
          runs++;
          await gate;
          return 42;
        }),
      );
      release();
      assert.deepEqual(await Promise.all(all), Array(10).fill(42));
      assert.equal(runs, 1);
      assert.equal(await sf.do('k', async () => 7), 7, 'a new run after the last settled');
    });
  });
});
