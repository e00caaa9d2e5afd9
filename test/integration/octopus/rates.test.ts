import assert from 'node:assert/strict';
import {
  OctopusClient,
  preferPaymentMethod,
  type RequestEvent,
  type TariffRates,
  UpstreamNotFoundError,
} from '@ratebus/octopus';
import { type Simulator, startSimulator } from '@ratebus/octopus-sim';
import { discontinuities, productCode, type RateSlot, tariffCode } from '@ratebus/schema';
import { requestsOf, simClient } from './helpers.js';

const AGILE = productCode('AGILE-24-10-01');
const VAR = productCode('VAR-22-11-01');
const HALF_HOUR = 30 * 60_000;

function unit(r: TariffRates): RateSlot[] {
  assert.equal(r.registerKind, 'standard');
  return r.registerKind === 'standard' ? r.unitRates : [];
}

/** Rows are newest first, contiguous, and exactly tile [from, to). */
function assertTiles(rows: readonly RateSlot[], from: string, to: string) {
  assert.deepEqual(discontinuities(rows), []);
  assert.equal(rows[0]?.valid_to, to);
  assert.equal(rows.at(-1)?.valid_from, from);
  for (let i = 1; i < rows.length; i++) {
    assert.ok(Date.parse(rows[i - 1]!.valid_from) > Date.parse(rows[i]!.valid_from), 'newest first');
  }
}

describe('OctopusClient against the simulator', function () {
  this.timeout(20_000);
  let sim: Simulator;
  let client: OctopusClient;
  let caller: string;
  const events: RequestEvent[] = [];

  before(async () => {
    // 18:00 UK on 5 Nov 2025: D+1 Agile is published; both 2025 clock changes are in the past.
    sim = await startSimulator({ port: 0, start: '2025-11-05T18:00:00Z' });
    ({ client, caller } = simClient(sim, { hooks: { onRequest: (e) => events.push(e) } }));
  });
  after(async () => {
    await client?.close();
    await sim?.close();
  });

  it('fetches a full Agile day: 48 contiguous half-hours and the open standing charge', async () => {
    const from = '2025-11-03T00:00:00Z';
    const to = '2025-11-04T00:00:00Z';
    const r = await client.fetchTariff({
      product: AGILE,
      tariff: tariffCode('E-1R-AGILE-24-10-01-C'),
      from: new Date(from),
      to: new Date(to),
    });
    assert.equal(r.fuel, 'electricity');
    assert.equal(r.region, 'C');
    assert.equal(r.direction, null);
    const rows = unit(r);
    assert.equal(rows.length, 48);
    assertTiles(rows, from, to);
    for (const row of rows) {
      assert.equal(Date.parse(row.valid_to!) - Date.parse(row.valid_from), HALF_HOUR);
      assert.equal(row.payment_method, null);
    }
    assert.equal(r.standingCharges.length, 1);
    assert.equal(r.standingCharges[0]?.valid_to, null);
  });

  it('follows every next page of a two-month window (2,832 rows over 2 pages) with page_size=1500 and UTC Z', async () => {
    const before = requestsOf(sim, caller).length;
    const from = '2025-01-01T00:00:00Z';
    const to = '2025-03-01T00:00:00Z';
    const r = await client.fetchTariff({
      product: AGILE,
      tariff: tariffCode('E-1R-AGILE-24-10-01-K'),
      from: new Date(from),
      to: new Date(to),
    });
    const rows = unit(r);
    assert.equal(rows.length, 59 * 48);
    assertTiles(rows, from, to);
    const rateCalls = requestsOf(sim, caller)
      .slice(before)
      .filter((e) => e.path.endsWith('/standard-unit-rates/'));
    assert.equal(rateCalls.length, 2);
    const q = new URLSearchParams(rateCalls[1]!.query);
    assert.equal(q.get('page'), '2');
    assert.equal(q.get('page_size'), '1500');
    assert.equal(q.get('period_from'), from);
    assert.equal(q.get('period_to'), to);
  });

  for (const [name, day, from, to, slots] of [
    ['spring-forward', '2025-03-30', '2025-03-30T00:00:00Z', '2025-03-30T23:00:00Z', 46],
    ['fall-back', '2025-10-26', '2025-10-25T23:00:00Z', '2025-10-27T00:00:00Z', 50],
  ] as const) {
    it(`returns ${slots} contiguous slots for the ${name} day ${day} (UK local midnight to midnight)`, async () => {
      const r = await client.fetchTariff({
        product: AGILE,
        tariff: tariffCode('E-1R-AGILE-24-10-01-A'),
        from: new Date(from),
        to: new Date(to),
      });
      const rows = unit(r);
      assert.equal(rows.length, slots);
      assertTiles(rows, from, to);
    });
  }

  it('detects a day/night tariff from the product links and returns day, night and standing rows', async () => {
    const before = requestsOf(sim, caller).length;
    const r = await client.fetchTariff({
      product: VAR,
      tariff: tariffCode('E-2R-VAR-22-11-01-C'),
      from: new Date('2025-09-01T00:00:00Z'),
      to: new Date('2025-11-01T00:00:00Z'),
    });
    assert.equal(r.registerKind, 'day-night');
    if (r.registerKind !== 'day-night') return;
    for (const rows of [r.dayUnitRates, r.nightUnitRates, r.standingCharges]) {
      assert.ok(rows.length >= 2);
      assert.deepEqual(discontinuities(rows), []);
    }
    const paths = requestsOf(sim, caller)
      .slice(before)
      .map((e) => e.path);
    assert.ok(!paths.some((p) => p.endsWith('/standard-unit-rates/')), 'never asked the 1R endpoint');
    assert.ok(
      paths.some((p) => p === '/v1/products/VAR-22-11-01/'),
      'read the product links',
    );
  });

  it('falls back to the upstream 400 "This tariff has day and night rates" when not using product links', async () => {
    const { client: probing, caller: probeCaller } = simClient(sim, { useProductLinks: false });
    try {
      const r = await probing.fetchTariff({
        product: VAR,
        tariff: tariffCode('E-2R-VAR-22-11-01-A'),
        from: new Date('2025-10-01T00:00:00Z'),
        to: new Date('2025-10-02T00:00:00Z'),
      });
      assert.equal(r.registerKind, 'day-night');
      const calls = requestsOf(sim, probeCaller);
      assert.equal(calls.filter((e) => e.status === 400).length, 1, 'one 400, not retried');
      // Learned once: a second fetch goes straight to the day/night endpoints.
      await probing.fetchTariff({
        product: VAR,
        tariff: tariffCode('E-2R-VAR-22-11-01-A'),
        from: new Date('2025-10-01T00:00:00Z'),
        to: new Date('2025-10-02T00:00:00Z'),
      });
      assert.equal(requestsOf(sim, probeCaller).filter((e) => e.status === 400).length, 1);
    } finally {
      await probing.close();
    }
  });

  it('dedupes DD/NDD twins with preferPaymentMethod, preferring the configured method', async () => {
    const r = await client.fetchTariff({
      product: VAR,
      tariff: tariffCode('E-1R-VAR-22-11-01-C'),
      from: new Date('2025-04-01T00:00:00Z'),
      to: new Date('2025-11-01T00:00:00Z'),
    });
    const rows = unit(r);
    const methods = new Set(rows.map((x) => x.payment_method));
    assert.deepEqual([...methods].sort(), ['DIRECT_DEBIT', 'NON_DIRECT_DEBIT'], 'raw rows keep both methods');
    const dd = client.dedupe(r);
    assert.ok(dd.registerKind === 'standard');
    if (dd.registerKind !== 'standard') return;
    assert.equal(dd.unitRates.length * 2, rows.length);
    assert.ok(dd.unitRates.every((x) => x.payment_method === 'DIRECT_DEBIT'));
    assert.ok(dd.standingCharges.every((x) => x.payment_method === 'DIRECT_DEBIT'));
    const ndd = preferPaymentMethod(rows, 'NON_DIRECT_DEBIT');
    assert.ok(ndd.every((x) => x.payment_method === 'NON_DIRECT_DEBIT'));
    assert.deepEqual(
      ndd.map((x) => x.valid_from),
      dd.unitRates.map((x) => x.valid_from),
    );
  });

  it('fetches a gas tariff from the gas endpoints without asking the product', async () => {
    const before = requestsOf(sim, caller).length;
    const r = await client.fetchTariff({
      product: VAR,
      tariff: tariffCode('G-1R-VAR-22-11-01-H'),
      from: new Date('2025-10-01T00:00:00Z'),
      to: new Date('2025-11-01T00:00:00Z'),
    });
    assert.equal(r.fuel, 'gas');
    assert.equal(r.region, 'H');
    assert.ok(unit(r).length >= 2);
    const paths = requestsOf(sim, caller)
      .slice(before)
      .map((e) => e.path);
    assert.deepEqual(paths, [
      '/v1/products/VAR-22-11-01/gas-tariffs/G-1R-VAR-22-11-01-H/standard-unit-rates/',
      '/v1/products/VAR-22-11-01/gas-tariffs/G-1R-VAR-22-11-01-H/standing-charges/',
    ]);
  });

  it('returns the open-ended record of a fixed gas tariff', async () => {
    const r = await client.fetchTariff({
      product: productCode('OE-FIX-12M-25-09-01'),
      tariff: tariffCode('G-1R-OE-FIX-12M-25-09-01-B'),
      from: new Date('2025-10-01T00:00:00Z'),
      to: new Date('2025-10-02T00:00:00Z'),
    });
    const rows = unit(r);
    assert.equal(rows.length, 1);
    assert.equal(rows[0]?.valid_to, null);
  });

  it('fetches export rates (Agile Outgoing) with direction left null', async () => {
    const r = await client.fetchTariff({
      product: productCode('AGILE-OUTGOING-19-05-13'),
      tariff: tariffCode('E-1R-AGILE-OUTGOING-19-05-13-C'),
      from: new Date('2025-11-04T00:00:00Z'),
      to: new Date('2025-11-05T00:00:00Z'),
    });
    assert.equal(r.direction, null);
    const rows = unit(r);
    assert.equal(rows.length, 48);
    assert.ok(
      rows.every((x) => x.value_exc_vat >= 0),
      'export is floored at 0',
    );
  });

  it('throws UpstreamNotFoundError for an unknown product and an unknown tariff, without retrying', async () => {
    const before = requestsOf(sim, caller).length;
    await assert.rejects(
      client.fetchTariff({
        product: productCode('NOPE-24-01-01'),
        tariff: tariffCode('E-1R-NOPE-24-01-01-C'),
        from: new Date('2025-11-01T00:00:00Z'),
        to: new Date('2025-11-02T00:00:00Z'),
      }),
      UpstreamNotFoundError,
    );
    await assert.rejects(
      client.fetchTariff({
        product: AGILE,
        tariff: tariffCode('E-2R-AGILE-24-10-01-C'),
        from: new Date('2025-11-01T00:00:00Z'),
        to: new Date('2025-11-02T00:00:00Z'),
      }),
      (e: unknown) => e instanceof UpstreamNotFoundError && e.code === 'ERR_UPSTREAM_NOT_FOUND',
    );
    const notFound = requestsOf(sim, caller)
      .slice(before)
      .filter((e) => e.status === 404);
    assert.equal(notFound.length, 2, 'each 404 asked once');
  });

  it('reads the newest published slot end with one page_size=1 request', async () => {
    const tariff = tariffCode('E-1R-AGILE-24-10-01-C');
    await client.latestSlotEnd({ product: AGILE, tariff }); // kind already known from earlier tests
    const before = requestsOf(sim, caller).length;
    const end = await client.latestSlotEnd({ product: AGILE, tariff });
    // 18:00 UK on 5 Nov: tomorrow's prices (to 23:00 UK = 23:00Z in GMT) are out.
    assert.equal(end, '2025-11-06T23:00:00Z');
    const calls = requestsOf(sim, caller).slice(before);
    assert.equal(calls.length, 1);
    assert.equal(new URLSearchParams(calls[0]!.query).get('page_size'), '1');
    const fixed = await client.latestSlotEnd({
      product: productCode('OE-FIX-12M-25-09-01'),
      tariff: tariffCode('E-1R-OE-FIX-12M-25-09-01-C'),
    });
    assert.equal(fixed, null, 'open-ended record');
  });

  it('passes public GETs through for the URL cache: 200 body as text, 404 returned once and not retried', async () => {
    const ok = await client.getPublic('/v1/products/AGILE-24-10-01/');
    assert.equal(ok.status, 200);
    assert.match(ok.contentType, /json/);
    assert.equal(JSON.parse(ok.body).code, 'AGILE-24-10-01');
    const before = requestsOf(sim, caller).length;
    const missing = await client.getPublic('/v1/products/NOPE-24-01-01/');
    assert.equal(missing.status, 404);
    assert.equal(requestsOf(sim, caller).length - before, 1);
    await assert.rejects(client.getPublic('/v2/products/'), TypeError);
    await assert.rejects(client.getPublic('//evil.example/v1/'), TypeError);
  });

  it('reports every attempt to the onRequest hook with status and latency', () => {
    assert.ok(events.length > 10);
    assert.ok(
      events.every((e) => e.method === 'GET' && e.ms >= 0 && e.attempt >= 1 && !e.path.includes('?')),
    );
    assert.ok(events.some((e) => e.status === 200));
    assert.ok(events.some((e) => e.status === 404 && e.code === 'ERR_UPSTREAM_NOT_FOUND'));
  });

  it('identifies itself with the ratebus User-Agent', async () => {
    const anon = new OctopusClient({ baseUrl: sim.url });
    try {
      await anon.getPublic('/v1/products/');
    } finally {
      await anon.close();
    }
    const callers = sim.stats.snapshot().log.map((e) => e.caller);
    assert.ok(
      callers.some((c) => /^ratebus\/\d+\.\d+\.\d+ \(\+https:\/\/github\.com\/ratebus\/ratebus\)$/.test(c)),
    );
  });

  it('asks beforeEachRequest before every request and sends nothing once it throws', async () => {
    // A guard that allows 2 requests: the register-kind lookup (product detail) and the first page.
    let allowed = 2;
    const vetoed = new Error('no longer the leader');
    const { client: guarded, caller: guardedCaller } = simClient(sim, {
      beforeEachRequest: () => {
        if (allowed-- <= 0) throw vetoed;
      },
    });
    try {
      await assert.rejects(
        guarded.fetchTariff({
          product: VAR,
          tariff: tariffCode('E-1R-VAR-22-11-01-A'),
          from: new Date('2025-10-01T00:00:00Z'),
          to: new Date('2025-11-01T00:00:00Z'),
        }),
        (e) => e === vetoed,
      );
      // The unit rates were asked; the standing charges, which come next, were never sent (nor retried).
      const paths = requestsOf(sim, guardedCaller).map((e) => e.path);
      assert.equal(paths.length, 2, paths.join(', '));
      assert.ok(paths[1]?.endsWith('/standard-unit-rates/'));
    } finally {
      await guarded.close();
    }
  });
});
