import assert from 'node:assert/strict';
import type { Simulator } from '../src/index.js';
import { AGILE, admin, FLEX, getJson, type Page, type Row, startFrozen } from './util.js';

const SLOT = 30 * 60_000;
const t = (s: string) => Date.parse(s);

function assertNewestFirstContiguous(rows: Row[]): void {
  for (let i = 1; i < rows.length; i++) {
    const prev = rows[i - 1] as Row;
    const cur = rows[i] as Row;
    assert.equal(cur.valid_to, prev.valid_from, `gap or overlap at ${cur.valid_to} / ${prev.valid_from}`);
  }
}

describe('rates endpoints', () => {
  let sim: Simulator;
  // 2026-10-05 is a Monday in BST, before the 16:00 publication.
  before(async () => {
    sim = await startFrozen('2026-10-05T10:00:00Z');
  });
  after(() => sim.close());

  it('reproduces the shape of the captured Agile page (§6a): envelope, 100 newest-first rows, absolute next', async () => {
    const { status, body, headers } = await getJson(`${sim.url}${AGILE}/standard-unit-rates/`);
    assert.equal(status, 200);
    assert.deepEqual(Object.keys(body), ['count', 'next', 'previous', 'results']);
    assert.equal(body.next, `${sim.url}${AGILE}/standard-unit-rates/?page=2`);
    assert.equal(body.previous, null);
    assert.equal(body.results.length, 100);
    const first = body.results[0] as Row;
    assert.deepEqual(Object.keys(first), [
      'value_exc_vat',
      'value_inc_vat',
      'valid_from',
      'valid_to',
      'payment_method',
    ]);
    // Before 16:00 the newest slot ends at 23:00 London today.
    assert.equal(first.valid_from, '2026-10-05T21:30:00Z');
    assert.equal(first.valid_to, '2026-10-05T22:00:00Z');
    assert.equal(first.payment_method, null);
    assert.match(first.valid_from, /^\d{4}-\d\d-\d\dT\d\d:\d\d:00Z$/);
    assertNewestFirstContiguous(body.results);
    // Rates begin 2024-09-15T23:00Z: the count is every slot since then.
    assert.equal(body.count, (t('2026-10-05T22:00:00Z') - t('2024-09-15T23:00:00Z')) / SLOT);
    assert.equal(headers.get('access-control-allow-origin'), '*');
    assert.equal(headers.get('cache-control'), 'max-age=300');
    assert.match(headers.get('content-type') ?? '', /application\/json/);
  });

  it('walking next pages returns exactly the unpaged set with no duplicates', async () => {
    const query = 'period_from=2026-08-01T00:00:00Z&period_to=2026-09-15T00:00:00Z';
    const unpaged = await getJson(`${sim.url}${AGILE}/standard-unit-rates/?${query}&page_size=1500`);
    assert.equal(unpaged.body.count, 45 * 48);
    const rows: Row[] = [];
    let url: string | null = `${sim.url}${AGILE}/standard-unit-rates/?${query}`;
    let pages = 0;
    const first = url;
    while (url) {
      const { body }: { body: Page } = await getJson(url);
      if (pages === 1) {
        // Page 2 links back to the same query without `page` (DRF's remove_query_param).
        const back = new URL(body.previous ?? 'http://missing/');
        assert.equal(back.searchParams.has('page'), false);
        assert.deepEqual([...back.searchParams], [...new URL(first).searchParams]);
      }
      rows.push(...body.results);
      url = body.next;
      pages++;
      if (url) assert.match(url, /period_from=2026-08-01T00%3A00%3A00Z/);
    }
    assert.equal(pages, Math.ceil((45 * 48) / 100));
    assert.equal(new Set(rows.map((r) => r.valid_from)).size, rows.length);
    // The unpaged request was capped at 1500 rows; compare on its own page plus the next.
    const second = await getJson(unpaged.body.next as string);
    assert.deepEqual(rows, [...unpaged.body.results, ...second.body.results]);
    assertNewestFirstContiguous(rows);
  });

  it('clamps page_size at 1500 and falls back to 100 for invalid values', async () => {
    for (const size of ['1500', '1501', '25000']) {
      const { body } = await getJson(`${sim.url}${AGILE}/standard-unit-rates/?page_size=${size}`);
      assert.equal(body.results.length, 1500, `page_size=${size}`);
    }
    for (const size of ['0', '-5', 'abc']) {
      const { body } = await getJson(`${sim.url}${AGILE}/standard-unit-rates/?page_size=${size}`);
      assert.equal(body.results.length, 100, `page_size=${size}`);
    }
  });

  it('has 46 and 50 half-hours on the 2026 clock-change days', async () => {
    const day = async (from: string, to: string) =>
      (
        await getJson(
          `${sim.url}${AGILE}/standard-unit-rates/?period_from=${from}&period_to=${to}&page_size=1500`,
        )
      ).body;
    const spring = await day('2026-03-29', '2026-03-30');
    assert.equal(spring.count, 46);
    assertNewestFirstContiguous(spring.results);
    const autumn = await day('2026-10-25', '2026-10-26');
    // Not published yet at the sim's "now": move the clock past it.
    assert.equal(autumn.count, 0);
    await admin(sim, 'POST', '/_sim/clock', { now: '2026-10-27T12:00:00Z' });
    try {
      const later = await day('2026-10-25', '2026-10-26');
      assert.equal(later.count, 50);
      assertNewestFirstContiguous(later.results);
      assert.equal(later.results.at(-1)?.valid_from, '2026-10-24T23:00:00Z');
      assert.equal(later.results[0]?.valid_to, '2026-10-26T00:00:00Z');
    } finally {
      await admin(sim, 'POST', '/_sim/clock', { now: '2026-10-05T10:00:00Z' });
    }
  });

  it('returns records overlapping [period_from, period_to) and reads naive times as Europe/London', async () => {
    const { body } = await getJson(
      `${sim.url}${AGILE}/standard-unit-rates/?period_from=2026-01-10T02:45:00Z&period_to=2026-01-10T03:15:00Z`,
    );
    assert.deepEqual(
      body.results.map((r) => r.valid_from),
      ['2026-01-10T03:00:00Z', '2026-01-10T02:30:00Z'],
    );
    const naive = await getJson(
      `${sim.url}${AGILE}/standard-unit-rates/?period_from=2025-10-01&period_to=2025-10-01T00:30`,
    );
    assert.deepEqual(
      naive.body.results.map((r) => r.valid_from),
      ['2025-09-30T23:00:00Z'],
    );
    const encoded = await getJson(
      `${sim.url}${AGILE}/standard-unit-rates/?period_from=2025-10-01T00:00:00%2B01:00&period_to=2025-10-01T00:30:00%2B01:00`,
    );
    assert.deepEqual(naive.body.results, encoded.body.results);
    const open = await getJson(`${sim.url}${AGILE}/standing-charges/?period_from=2026-01-01T00:00:00Z`);
    assert.equal(open.body.count, 1);
    assert.equal(open.body.results[0]?.valid_to, null);
    assert.equal(open.body.results[0]?.value_exc_vat, 59.1087);
  });

  it('answers every documented 400 body', async () => {
    const cases: [string, unknown][] = [
      [
        'period_to=2026-01-01T00:00:00Z',
        { period_from: ['This field is required when providing a `period_to`.'] },
      ],
      [
        'period_from=2026-01-02T00:00:00Z&period_to=2026-01-01T00:00:00Z',
        { period_from: ['Must not be greater than `period_to`.'] },
      ],
      ['period_from=yesterday', { period_from: ['Enter a valid date/time.'] }],
      ['period_from=2026-02-30T00:00:00Z', { period_from: ['Enter a valid date/time.'] }],
      // An unencoded + in the offset decodes to a space.
      ['period_from=2025-10-01T00:00:00+01:00', { period_from: ['Enter a valid date/time.'] }],
      ['period_from=2026-01-01T00:00:00Z&period_to=nope', { period_to: ['Enter a valid date/time.'] }],
    ];
    for (const [q, expected] of cases) {
      const { status, body } = await getJson<unknown>(`${sim.url}${AGILE}/standard-unit-rates/?${q}`);
      assert.equal(status, 400, q);
      assert.deepEqual(body, expected, q);
    }
    const dn = await getJson<unknown>(`${sim.url}${FLEX}/E-2R-VAR-22-11-01-A/standard-unit-rates/`);
    assert.equal(dn.status, 400);
    assert.deepEqual(dn.body, { detail: 'This tariff has day and night rates' });
  });

  it('answers the documented 404 bodies and an out-of-range page', async () => {
    const cases: [string, unknown][] = [
      ['/v1/products/NOPE-1/', { detail: 'No EnergyProduct matches the given query.' }],
      [
        '/v1/products/NOPE-1/electricity-tariffs/E-1R-NOPE-1-A/standard-unit-rates/',
        { detail: 'No EnergyProduct matches the given query.' },
      ],
      [
        '/v1/products/AGILE-24-10-01/electricity-tariffs/E-1R-AGILE-24-10-01-Z/standard-unit-rates/',
        { detail: 'No ElectricityTariff matches the given query.' },
      ],
      [
        '/v1/products/AGILE-24-10-01/gas-tariffs/G-1R-AGILE-24-10-01-A/standard-unit-rates/',
        { detail: 'No GasTariff matches the given query.' },
      ],
      [`${AGILE}/standard-unit-rates/?page=100000`, { detail: 'Invalid page.' }],
      [`${AGILE}/standard-unit-rates/?page=0`, { detail: 'Invalid page.' }],
      [`${AGILE}/standard-unit-rates/?page=x`, { detail: 'Invalid page.' }],
    ];
    for (const [path, expected] of cases) {
      const { status, body } = await getJson<unknown>(`${sim.url}${path}`);
      assert.equal(status, 404, path);
      assert.deepEqual(body, expected, path);
    }
    const unknown = await fetch(`${sim.url}/v1/nothing-here/`);
    assert.equal(unknown.status, 404);
    assert.match(unknown.headers.get('content-type') ?? '', /text\/html/);
  });

  it('accepts paths with and without the trailing slash', async () => {
    const a = await getJson(`${sim.url}${AGILE}/standard-unit-rates?page_size=3`);
    const b = await getJson(`${sim.url}${AGILE}/standard-unit-rates/?page_size=3`);
    assert.equal(a.status, 200);
    assert.deepEqual(a.body, b.body);
  });

  it('ignores order_by and keeps rows newest first', async () => {
    const { body } = await getJson(`${sim.url}${AGILE}/standard-unit-rates/?order_by=period&page_size=5`);
    assert.ok(t((body.results[0] as Row).valid_from) > t((body.results[4] as Row).valid_from));
  });

  it('publishes Flexible as DD/NDD twin rows with an open current record, in both orders', async () => {
    for (const [tariff, endpoint] of [
      ['E-1R-VAR-22-11-01-A', 'standard-unit-rates'],
      ['E-1R-VAR-22-11-01-A', 'standing-charges'],
      ['E-2R-VAR-22-11-01-A', 'day-unit-rates'],
      ['E-2R-VAR-22-11-01-A', 'night-unit-rates'],
    ]) {
      const { status, body } = await getJson(`${sim.url}${FLEX}/${tariff}/${endpoint}/`);
      assert.equal(status, 200);
      assert.equal(body.count % 2, 0);
      assert.equal(body.results[0]?.valid_to, null, 'current quarter is open-ended');
      for (let i = 0; i < body.results.length; i += 2) {
        const a = body.results[i] as Row;
        const b = body.results[i + 1] as Row;
        assert.equal(a.valid_from, b.valid_from);
        assert.deepEqual(
          new Set([a.payment_method, b.payment_method]),
          new Set(['DIRECT_DEBIT', 'NON_DIRECT_DEBIT']),
        );
      }
    }
    const { body } = await getJson(`${sim.url}${FLEX}/E-1R-VAR-22-11-01-A/standard-unit-rates/`);
    const firsts = new Set(body.results.filter((_, i) => i % 2 === 0).map((r) => r.payment_method));
    assert.equal(firsts.size, 2, 'twin order varies between periods');
    const gas = await getJson(
      `${sim.url}/v1/products/VAR-22-11-01/gas-tariffs/G-1R-VAR-22-11-01-A/standing-charges/`,
    );
    assert.equal(gas.status, 200);
    assert.equal(gas.body.results[0]?.valid_to, null);
  });

  it('serves fixed, Tracker and time-of-use products as documented', async () => {
    const fixed = await getJson(
      `${sim.url}/v1/products/OE-FIX-12M-25-09-01/electricity-tariffs/E-1R-OE-FIX-12M-25-09-01-C/standard-unit-rates/`,
    );
    assert.equal(fixed.body.count, 1);
    assert.equal(fixed.body.results[0]?.valid_to, null);
    assert.equal(fixed.body.results[0]?.payment_method, null);
    // Tracker: one record per London day; tomorrow appears at 11:00 London (10:00Z in BST).
    const tracker = `${sim.url}/v1/products/SILVER-25-09-02/electricity-tariffs/E-1R-SILVER-25-09-02-C/standard-unit-rates/?page_size=2`;
    const before = await getJson(tracker);
    assert.equal(before.body.results[0]?.valid_from, '2026-10-05T23:00:00Z');
    assert.equal(before.body.results[0]?.valid_to, '2026-10-06T23:00:00Z');
    await admin(sim, 'POST', '/_sim/clock', { now: '2026-10-05T09:59:00Z' });
    try {
      const early = await getJson(tracker);
      assert.equal(early.body.results[0]?.valid_from, '2026-10-04T23:00:00Z');
    } finally {
      await admin(sim, 'POST', '/_sim/clock', { now: '2026-10-05T10:00:00Z' });
    }
    const gas = await getJson(
      `${sim.url}/v1/products/SILVER-25-09-02/gas-tariffs/G-1R-SILVER-25-09-02-C/standard-unit-rates/?page_size=1`,
    );
    assert.equal(gas.status, 200);
    // Go: alternating bands, off-peak 00:30–05:30 London, published a day ahead.
    const go = await getJson(
      `${sim.url}/v1/products/GO-VAR-22-10-14/electricity-tariffs/E-1R-GO-VAR-22-10-14-C/standard-unit-rates/?period_from=2026-10-05T00:00:00Z&period_to=2026-10-06T00:00:00Z`,
    );
    assert.deepEqual(
      go.body.results.map((r) => [r.valid_from, r.valid_to]),
      [
        ['2026-10-05T23:30:00Z', '2026-10-06T04:30:00Z'],
        ['2026-10-05T04:30:00Z', '2026-10-05T23:30:00Z'],
        ['2026-10-04T23:30:00Z', '2026-10-05T04:30:00Z'],
      ],
    );
    assertNewestFirstContiguous(go.body.results);
    const cosy = await getJson(
      `${sim.url}/v1/products/COSY-22-12-08/electricity-tariffs/E-1R-COSY-22-12-08-C/standard-unit-rates/?period_from=2026-10-04T23:00:00Z&period_to=2026-10-05T23:00:00Z`,
    );
    assert.equal(cosy.body.count, 7);
    for (const p of [
      'INTELLI-VAR-24-10-29',
      'FLUX-IMPORT-23-02-14',
      'FLUX-EXPORT-23-02-14',
      'AGILE-OUTGOING-19-05-13',
    ]) {
      const r = await getJson(
        `${sim.url}/v1/products/${p}/electricity-tariffs/E-1R-${p}-C/standard-unit-rates/?page_size=10`,
      );
      assert.equal(r.status, 200, p);
      assertNewestFirstContiguous(r.body.results);
    }
  });

  it('computes inc VAT as exc × 1.05, floors Agile Outgoing at 0 without VAT, and zero-rates electricity in the 2026/27 window', async () => {
    const feb = await getJson(
      `${sim.url}${AGILE}/standard-unit-rates/?period_from=2026-02-01T00:00:00Z&period_to=2026-02-08T00:00:00Z&page_size=1500`,
    );
    for (const r of feb.body.results)
      assert.equal(r.value_inc_vat, Math.round(r.value_exc_vat * 1.05 * 1e8) / 1e8);
    const oct = await getJson(
      `${sim.url}${AGILE}/standard-unit-rates/?period_from=2026-10-02T00:00:00Z&period_to=2026-10-03T00:00:00Z`,
    );
    for (const r of oct.body.results) assert.equal(r.value_inc_vat, r.value_exc_vat);
    const out = await getJson(
      `${sim.url}/v1/products/AGILE-OUTGOING-19-05-13/electricity-tariffs/E-1R-AGILE-OUTGOING-19-05-13-C/standard-unit-rates/?period_from=2025-01-01T00:00:00Z&period_to=2025-02-01T00:00:00Z&page_size=1500`,
    );
    assert.equal(out.body.count, 31 * 48);
    for (const r of out.body.results) {
      assert.ok(r.value_exc_vat >= 0);
      assert.equal(r.value_inc_vat, r.value_exc_vat);
    }
    // Turning the VAT holiday off restores ×1.05 on the open standing charge.
    await admin(sim, 'POST', '/_sim/switches', { electricityVatHoliday: false });
    try {
      const sc = await getJson(`${sim.url}${AGILE}/standing-charges/`);
      assert.equal(sc.body.results[0]?.value_inc_vat, Math.round(59.1087 * 1.05 * 1e8) / 1e8);
    } finally {
      await admin(sim, 'POST', '/_sim/switches', { electricityVatHoliday: true });
    }
  });

  it('has occasional negative Agile import prices and caps at 95p ex VAT, deterministically for a seed', async () => {
    const url = `${sim.url}${AGILE}/standard-unit-rates/?period_from=2025-10-01T00:00:00Z&period_to=2026-01-01T00:00:00Z&page_size=1500`;
    const rows: Row[] = [];
    for (let next: string | null = url; next; ) {
      const { body }: { body: Page } = await getJson(next);
      rows.push(...body.results);
      next = body.next;
    }
    assert.ok(rows.some((r) => r.value_exc_vat < 0));
    assert.ok(rows.every((r) => r.value_exc_vat <= 95));
    const again = await getJson(url);
    assert.deepEqual(again.body.results, rows.slice(0, 1500));
  });
});

describe('Agile day-ahead publication', () => {
  let sim: Simulator;
  before(async () => {
    sim = await startFrozen('2026-10-05T14:59:00Z', { publicationDelayMinutes: 0 });
  });
  after(() => sim.close());

  const newestEnd = async () =>
    (await getJson(`${sim.url}${AGILE}/standard-unit-rates/?page_size=1`)).body.results[0]?.valid_to;
  const at = (now: string) => admin(sim, 'POST', '/_sim/clock', { now });

  it('is absent at 15:59 and present at 16:00 Europe/London (BST)', async () => {
    await at('2026-10-05T14:59:59Z');
    assert.equal(await newestEnd(), '2026-10-05T22:00:00Z');
    await at('2026-10-05T15:00:00Z');
    assert.equal(await newestEnd(), '2026-10-06T22:00:00Z');
  });

  it('is absent at 15:59 and present at 16:00 Europe/London (GMT) and a future period is empty', async () => {
    await at('2026-11-10T15:59:00Z');
    assert.equal(await newestEnd(), '2026-11-10T23:00:00Z');
    const future = await getJson(`${sim.url}${AGILE}/standard-unit-rates/?period_from=2026-11-11T00:00:00Z`);
    assert.deepEqual(future.body, { count: 0, next: null, previous: null, results: [] });
    await at('2026-11-10T16:00:00Z');
    assert.equal(await newestEnd(), '2026-11-11T23:00:00Z');
  });

  it('honours the publication delay and the not-published-today switch', async () => {
    await admin(sim, 'POST', '/_sim/publication', { delayMinutes: 45 });
    await at('2026-11-10T16:44:00Z');
    assert.equal(await newestEnd(), '2026-11-10T23:00:00Z');
    await at('2026-11-10T16:45:00Z');
    assert.equal(await newestEnd(), '2026-11-11T23:00:00Z');
    await admin(sim, 'POST', '/_sim/publication', { delayMinutes: 0, skipDates: ['2026-11-10'] });
    assert.equal(await newestEnd(), '2026-11-10T23:00:00Z');
    assert.deepEqual(await admin(sim, 'GET', '/_sim/publication'), {
      delayMinutes: 0,
      skipDates: ['2026-11-10'],
    });
    await at('2026-11-11T16:00:00Z');
    assert.equal(await newestEnd(), '2026-11-12T23:00:00Z');
    // A delay to the second: 7.25 minutes is 16:07:15.
    await admin(sim, 'POST', '/_sim/publication', { delayMinutes: 7.25, skipDates: [] });
    await at('2026-11-12T16:07:14Z');
    assert.equal(await newestEnd(), '2026-11-12T23:00:00Z');
    await at('2026-11-12T16:07:15Z');
    assert.equal(await newestEnd(), '2026-11-13T23:00:00Z');
  });

  it('advances with the clock speed', async () => {
    await admin(sim, 'POST', '/_sim/clock', { now: '2026-11-20T14:00:00Z', speed: 3600 });
    const clock = await admin<{ now: string; speed: number }>(sim, 'GET', '/_sim/clock');
    assert.equal(clock.speed, 3600);
    assert.ok(Date.parse(clock.now) >= Date.parse('2026-11-20T14:00:00Z'));
    await admin(sim, 'POST', '/_sim/clock', { speed: 0 });
  });
});

describe('products and grid supply points', () => {
  let sim: Simulator;
  before(async () => {
    sim = await startFrozen('2026-10-05T10:00:00Z');
  });
  after(() => sim.close());

  it('lists current products with the documented item shape and filters', async () => {
    const { body } = await getJson<{ count: number; results: Record<string, unknown>[]; next: null }>(
      `${sim.url}/v1/products/?page_size=5`,
    );
    const codes = body.results.map((p) => p.code);
    for (const c of [
      'AGILE-24-10-01',
      'AGILE-OUTGOING-19-05-13',
      'GO-VAR-22-10-14',
      'VAR-22-11-01',
      'OE-FIX-12M-25-09-01',
    ]) {
      assert.ok(codes.includes(c), c);
    }
    assert.equal(body.count, body.results.length, 'page_size is ignored on the products list');
    const agile = body.results.find((p) => p.code === 'AGILE-24-10-01') as Record<string, unknown>;
    assert.deepEqual(Object.keys(agile), [
      'code',
      'direction',
      'full_name',
      'display_name',
      'description',
      'is_variable',
      'is_green',
      'is_tracker',
      'is_prepay',
      'is_business',
      'is_restricted',
      'term',
      'available_from',
      'available_to',
      'links',
      'brand',
    ]);
    assert.equal(agile.direction, 'IMPORT');
    const exports = await getJson<{ results: { direction: string }[] }>(
      `${sim.url}/v1/products/?is_variable=false`,
    );
    assert.ok(
      exports.body.results.every((p) => (p as unknown as { is_variable: boolean }).is_variable === false),
    );
    const bad = await getJson<unknown>(`${sim.url}/v1/products/?available_at=never`);
    assert.equal(bad.status, 400);
    assert.deepEqual(bad.body, { available_at: ['Enter a valid date/time.'] });
  });

  it('reproduces the product detail shape (§6d): region maps _A…_P, payment keys, links by rel, direction null', async () => {
    const { status, body } = await getJson<Record<string, unknown>>(
      `${sim.url}/v1/products/AGILE-24-10-01/?tariffs_active_at=2025-02-28T12:00:00Z`,
    );
    assert.equal(status, 200);
    assert.equal(body.direction, null);
    assert.equal(body.tariffs_active_at, '2025-02-28T12:00:00.000000Z');
    const single = body.single_register_electricity_tariffs as Record<
      string,
      Record<string, Record<string, unknown>>
    >;
    assert.deepEqual(
      Object.keys(single),
      ['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'J', 'K', 'L', 'M', 'N', 'P'].map((r) => `_${r}`),
    );
    const k = single._K?.direct_debit_monthly as Record<string, unknown>;
    assert.equal(k.code, 'E-1R-AGILE-24-10-01-K');
    assert.equal(k.standing_charge_exc_vat, 59.1087);
    assert.equal(typeof k.standard_unit_rate_exc_vat, 'number');
    assert.deepEqual(
      (k.links as { rel: string }[]).map((l) => l.rel),
      ['standing_charges', 'standard_unit_rates'],
    );
    assert.deepEqual(body.dual_register_electricity_tariffs, {});
    assert.deepEqual(body.single_register_gas_tariffs, {});
    for (const key of ['sample_quotes', 'sample_consumption', 'links', 'brand']) assert.ok(key in body, key);
    const flex = await getJson<Record<string, Record<string, Record<string, Record<string, unknown>>>>>(
      `${sim.url}/v1/products/VAR-22-11-01/`,
    );
    const dual = flex.body.dual_register_electricity_tariffs?._A?.varying as Record<string, unknown>;
    assert.equal(dual.code, 'E-2R-VAR-22-11-01-A');
    assert.deepEqual((dual.links as { rel: string }[]).map((l) => l.rel).sort(), [
      'day_unit_rates',
      'night_unit_rates',
      'standing_charges',
    ]);
    assert.equal(flex.body.single_register_gas_tariffs?._A?.varying?.code, 'G-1R-VAR-22-11-01-A');
  });

  it('maps postcodes to GSP groups (§6c)', async () => {
    const { body } = await getJson<unknown>(`${sim.url}/v1/industry/grid-supply-points/?postcode=SW1A%201AA`);
    assert.deepEqual(body, { count: 1, next: null, previous: null, results: [{ group_id: '_C' }] });
    const all = await getJson<{ count: number }>(`${sim.url}/v1/industry/grid-supply-points/`);
    assert.equal(all.body.count, 14);
    const none = await getJson<{ count: number }>(`${sim.url}/v1/industry/grid-supply-points/?postcode=XX`);
    assert.equal(none.body.count, 0);
  });
});
