import assert from 'node:assert/strict';
import { halfHourSlots } from '@ratebus/fixtures';
import { type RateSlot, type TariffRef, tariffRef } from '@ratebus/schema';
import { buildDocument, checkDocument, fetchWindow } from '../src/document.js';
import type { TariffRates } from '../src/index.js';

const HALF_HOUR = 30 * 60_000;
const REF: TariffRef = tariffRef('AGILE-24-10-01', 'E-1R-AGILE-24-10-01-C');
const END = Date.parse('2026-11-29T23:00:00Z');
const WINDOW = { from: END - 7 * 24 * 3_600_000, to: END };

/** `n` contiguous half-hours ending at `end`, newest first (upstream order). */
const slots = (n: number, end = END, seed = 1): RateSlot[] => halfHourSlots(end, n, (i) => seed * 10 + i);

function rates(unitRates: RateSlot[]): TariffRates {
  return {
    registerKind: 'standard',
    fuel: 'electricity',
    region: 'C',
    direction: null,
    unitRates,
    standingCharges: [
      {
        value_exc_vat: 40,
        value_inc_vat: 42,
        valid_from: '2024-09-30T23:00:00Z',
        valid_to: null,
        payment_method: null,
      },
    ],
  };
}

function build(unitRates: RateSlot[], o: { term?: number; fetchedAt?: number; window?: typeof WINDOW } = {}) {
  const r = buildDocument({
    ref: REF,
    rates: rates(unitRates),
    window: o.window ?? WINDOW,
    fetchedAt: o.fetchedAt ?? END - 3_600_000,
    term: o.term ?? 7,
  });
  if (!r.ok) throw new Error(`not built: ${r.rejection.reason}`);
  return r.doc;
}

describe('document builder (shared with the fetcher)', () => {
  it('builds a valid document whose hash ignores window, fetch time and term', () => {
    const a = build(slots(8));
    const b = build(slots(8), {
      term: 9,
      fetchedAt: END,
      window: { from: WINDOW.from - HALF_HOUR, to: END },
    });
    assert.equal(a.coversThrough, '2026-11-29T23:00:00Z');
    assert.equal(a.term, 7);
    assert.equal(a.region, 'C');
    assert.equal(a.contentHash, b.contentHash);
    assert.notEqual(build(slots(8, END, 2)).contentHash, a.contentHash);
  });

  it('guards: empty, non-contiguous, partial and shrinking documents are refused', () => {
    const good = build(slots(8));
    assert.equal(checkDocument(good, null), null);
    assert.equal(checkDocument(build(slots(10)), good), null, 'more rows is fine');
    assert.equal(checkDocument(build([]), null)?.reason, 'empty');
    const gap = slots(8);
    gap.splice(3, 1);
    assert.equal(checkDocument(build(gap), null)?.reason, 'non-contiguous');
    assert.equal(
      checkDocument(build(slots(6)), good)?.reason,
      'shrinking',
      'fewer rows in the common window',
    );
    assert.equal(
      checkDocument(build(slots(8, END - HALF_HOUR)), good)?.reason,
      'shrinking',
      'earlier coverage',
    );
    const noStanding = { ...build(slots(8)), standingCharges: [] };
    assert.equal(checkDocument(noStanding, good)?.reason, 'partial');
  });

  it('asks from UK midnight windowDays ago to UK midnight three days ahead, in winter and in summer', () => {
    const winter = fetchWindow(Date.parse('2026-11-28T16:13:00Z'), 7);
    assert.equal(new Date(winter.from).toISOString(), '2026-11-21T00:00:00.000Z');
    assert.equal(new Date(winter.to).toISOString(), '2026-12-01T00:00:00.000Z');
    // 23:30 UTC on 1 July is already 2 July in the UK (BST): midnights are 23:00 UTC.
    const summer = fetchWindow(Date.parse('2026-07-01T23:30:00Z'), 7);
    assert.equal(new Date(summer.from).toISOString(), '2026-06-24T23:00:00.000Z');
    assert.equal(new Date(summer.to).toISOString(), '2026-07-04T23:00:00.000Z');
  });
});
