import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { RateClient } from '@ratebus/client';
import { type FetcherProcess, startFetcher } from '@ratebus/fixtures';
import { Gateway, NatsUrlCache } from '@ratebus/gateway';
import { type Simulator, startSimulator } from '@ratebus/octopus-sim';
import { check, NatsServer } from '@ratebus/testkit';
import { pino } from 'pino';
import { stringify } from 'yaml';

/**
 * Issue 7's compatibility test: the request sequences of PredBat and of the Home Assistant integration
 * (docs/clients-in-the-wild.md §1.2, §4) against the simulator and against the gateway fed by a real fetcher
 * process from that simulator; the answers must be equal modulo the origin in links.
 *
 * The fetcher process follows the simulator's (frozen) clock (OCTOPUS_SIM_CLOCK=1), so a
 * clock-change day and a young product's whole history can be inside its document window.
 */

const API_KEY = 'sk_live_CompatTestKey000';
const BASIC = `Basic ${Buffer.from(`${API_KEY}:`).toString('base64')}`;

interface Ref {
  product: string;
  tariff: string;
}
const AGILE: Ref = { product: 'AGILE-24-10-01', tariff: 'E-1R-AGILE-24-10-01-C' };
const FLEX_E7: Ref = { product: 'VAR-22-11-01', tariff: 'E-2R-VAR-22-11-01-A' };
const FLEX_GAS: Ref = { product: 'VAR-22-11-01', tariff: 'G-1R-VAR-22-11-01-A' };
const GO: Ref = { product: 'GO-VAR-22-10-14', tariff: 'E-1R-GO-VAR-22-10-14-C' };

const fuelPath = (t: string) => (t.startsWith('G-') ? 'gas-tariffs' : 'electricity-tariffs');
const chargePath = (r: Ref, charge: string, slash = true) =>
  `/v1/products/${r.product}/${fuelPath(r.tariff)}/${r.tariff}/${charge}${slash ? '/' : ''}`;

interface Answer {
  status: number;
  body: unknown;
}

/** One world: simulator (frozen at `simNow`), nats-server, fetcher process, RateClient and gateway. */
class World {
  sim!: Simulator;
  ns!: NatsServer;
  fetcher!: FetcherProcess;
  client!: RateClient;
  gwNc!: NatsConnection;
  gw!: Gateway;
  dir!: string;

  static async start(simNow: string, tariffs: Ref[], windowDays: number): Promise<World> {
    const w = new World();
    w.sim = await startSimulator({ port: 0, start: simNow, speed: 0 });
    w.ns = await NatsServer.start();
    w.dir = mkdtempSync(join(tmpdir(), 'ratebus-compat-'));
    const config = join(w.dir, 'ratebus.yaml');
    writeFileSync(config, stringify({ tariffs, schedule: { windowDays } }));
    w.fetcher = await startFetcher({
      id: 'compat',
      natsUrl: w.ns.url,
      upstream: w.sim.url,
      config,
      logLevel: 'warn',
      simClock: true, // the fetcher runs on the simulator's (frozen) date
    });
    w.client = await RateClient.connect({ servers: w.ns.url, name: 'compat-gateway' });
    w.gwNc = await connect({ servers: w.ns.url, name: 'compat-gateway-urls' });
    w.gw = await Gateway.start({
      source: w.client,
      urlCache: new NatsUrlCache({ nc: w.gwNc, by: 'compat-gateway', timeoutMs: 10_000 }),
      logger: pino({ level: 'silent' }),
      port: 0,
      ensureTimeoutMs: 20_000,
      upstreamOrigin: w.sim.url,
    });
    await check(() => tariffs.every((t) => w.client.get(t.product, t.tariff)), {
      timeout: 45_000,
      interval: 100,
      name: `fetcher published ${tariffs.length} tariffs (fetcher output: ${w.fetcher.output().slice(-2_000)})`,
    }).catch((e: unknown) => {
      throw new Error(`${String(e)}\n--- fetcher output ---\n${w.fetcher.output().slice(-3_000)}`);
    });
    return w;
  }

  async stop(): Promise<void> {
    await this.gw?.stop();
    await this.client?.close();
    await this.gwNc?.close();
    await this.fetcher?.stop(5_000);
    await this.ns?.stop();
    await this.sim?.close();
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }

  /** Replaces both origins by one placeholder, so bodies compare modulo host. */
  normalise(a: Answer): Answer {
    const text = JSON.stringify(a.body).replaceAll(this.sim.url, 'ORIGIN').replaceAll(this.gw.url, 'ORIGIN');
    return { status: a.status, body: JSON.parse(text) };
  }
}

async function get(url: string, auth: boolean): Promise<Answer> {
  const res = await fetch(url, {
    headers: auth
      ? { authorization: BASIC, 'user-agent': 'bottlecapdave-ha-octopus-energy/18.3.1' }
      : { 'user-agent': 'predbat/1.0' },
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // compared as text
  }
  return { status: res.status, body };
}

const nextOf = (a: Answer): string | null =>
  a.status === 200 && typeof a.body === 'object' && a.body !== null
    ? ((a.body as { next?: string | null }).next ?? null)
    : null;

/** PredBat: product detail, then each charge with no period parameters, following `next` for at most 3 pages. */
async function predbat(base: string, r: Ref, charges: string[]): Promise<Answer[]> {
  const out: Answer[] = [await get(`${base}/v1/products/${r.product}/`, false)];
  for (const charge of charges) {
    let url: string | null = `${base}${chargePath(r, charge)}`;
    for (let pages = 0; url && pages < 3; pages++) {
      const a = await get(url, false);
      out.push(a);
      url = nextOf(a);
    }
  }
  return out;
}

/** Home Assistant: product detail and each charge over a period window, no trailing slash, every page, Basic auth. */
async function homeAssistant(
  base: string,
  r: Ref,
  charges: string[],
  from: string,
  to: string,
): Promise<Answer[]> {
  const out: Answer[] = [await get(`${base}/v1/products/${r.product}`, true)];
  for (const charge of charges) {
    let url: string | null = `${base}${chargePath(r, charge, false)}?period_from=${from}&period_to=${to}`;
    while (url) {
      const a = await get(url, true);
      out.push(a);
      url = nextOf(a);
    }
  }
  return out;
}

function assertSame(w: World, viaSim: Answer[], viaGateway: Answer[], label: string): void {
  assert.equal(viaGateway.length, viaSim.length, `${label}: number of requests`);
  viaSim.forEach((s, i) => {
    assert.deepEqual(w.normalise(viaGateway[i] as Answer), w.normalise(s), `${label}: request ${i}`);
  });
}

describe('gateway compatibility with the upstream API (simulator + real fetcher)', function () {
  this.timeout(120_000);

  describe('on the autumn clock-change day 2026 (Home Assistant windows, Agile, Economy 7, gas)', () => {
    let w: World;
    const tariffs = [AGILE, FLEX_E7, FLEX_GAS];
    // Monday 26 Oct 2026 18:10 UK (off the :00/:30 marks the fetcher avoids): yesterday (Sunday 25 Oct) had 50 half-hours; D+1 Agile is published.
    const FROM = '2026-10-24T23:00:00Z';
    const TO = '2026-10-28T00:00:00Z';
    before(async () => {
      w = await World.start('2026-10-26T18:10:00Z', tariffs, 7);
    });
    after(async () => {
      await w?.stop();
    });

    it('answers the Home Assistant sequence for Agile like upstream, across the 50-slot day', async () => {
      const charges = ['standard-unit-rates', 'standing-charges'];
      const sim = await homeAssistant(w.sim.url, AGILE, charges, FROM, TO);
      const gw = await homeAssistant(w.gw.url, AGILE, charges, FROM, TO);
      assertSame(w, sim, gw, 'HA Agile');
      // The window really holds the clock-change day: 50 half-hours on Sunday 25 Oct (UK).
      // Every half-hour row of every unit-rate page (standing charges are one open record).
      const rows = sim
        .slice(1)
        .flatMap(
          (a) =>
            (a.body as { results?: Array<{ valid_from: string; valid_to: string | null }> }).results ?? [],
        )
        .filter(
          (r) => r.valid_to !== null && Date.parse(r.valid_to) - Date.parse(r.valid_from) === 30 * 60_000,
        );
      const sunday = rows.filter(
        (r) => r.valid_from >= '2026-10-24T23:00:00Z' && r.valid_from < '2026-10-26T00:00:00Z',
      );
      assert.equal(sunday.length, 50);
    });

    it('answers the Home Assistant sequence for Economy 7 day/night rates with DD/NDD rows like upstream', async () => {
      const charges = ['day-unit-rates', 'night-unit-rates', 'standing-charges'];
      const sim = await homeAssistant(w.sim.url, FLEX_E7, charges, FROM, TO);
      assertSame(w, sim, await homeAssistant(w.gw.url, FLEX_E7, charges, FROM, TO), 'HA E7');
      const methods = (sim[1] as Answer).body as { results: Array<{ payment_method: string }> };
      const pms = methods.results.map((r) => r.payment_method);
      assert.ok(pms.includes('DIRECT_DEBIT') && pms.includes('NON_DIRECT_DEBIT'));
    });

    it('answers the Home Assistant sequence for gas like upstream', async () => {
      const charges = ['standard-unit-rates', 'standing-charges'];
      const sim = await homeAssistant(w.sim.url, FLEX_GAS, charges, FROM, TO);
      assertSame(w, sim, await homeAssistant(w.gw.url, FLEX_GAS, charges, FROM, TO), 'HA gas');
    });

    it("gives older PredBat's 400 for standard rates of a day/night tariff", async () => {
      const sim = await get(`${w.sim.url}${chargePath(FLEX_E7, 'standard-unit-rates')}`, false);
      const gw = await get(`${w.gw.url}${chargePath(FLEX_E7, 'standard-unit-rates')}`, false);
      assert.deepEqual(sim, { status: 400, body: { detail: 'This tariff has day and night rates' } });
      assert.deepEqual(gw, sim);
    });

    it('answers malformed queries with the same status and body as upstream', async () => {
      const win = `period_from=${FROM}&period_to=${TO}`;
      const queries = [
        'period_to=2026-10-25T00:00Z',
        'period_from=2026-10-26T00:00Z&period_to=2026-10-25T00:00Z',
        'period_from=garbage',
        'period_from=2026-10-25T00:00:00+01:00',
        'period_from=2026-10-25T00:00:00%2B01:00&period_to=nope',
        'period_from=2026-13-01&period_to=2026-10-32',
        'period_from=%20',
        'period_from=2026-10-25&period_to=2026-10-26',
        `${win}&page=0`,
        `${win}&page=999`,
        `${win}&page=abc`,
        `${win}&page=`,
        `${win}&page=last`,
        `${win}&page_size=0`,
        `${win}&page_size=-3&page=2`,
        `${win}&page_size=abc`,
        `${win}&page_size=99999`,
        `${win}&page_size=7&page=3&order_by=period&zzz=1+2`,
      ];
      for (const q of queries) {
        const path = `${chargePath(AGILE, 'standard-unit-rates')}?${q}`;
        const sim = await get(`${w.sim.url}${path}`, false);
        const gw = await get(`${w.gw.url}${path}`, false);
        assert.deepEqual(w.normalise(gw), w.normalise(sim), q);
      }
      for (const path of [
        chargePath(AGILE, 'day-unit-rates'),
        `/v1/products/${AGILE.product}/gas-tariffs/${AGILE.tariff}/standing-charges/`,
      ]) {
        assert.deepEqual(
          await get(`${w.gw.url}${path}`, false),
          await get(`${w.sim.url}${path}`, false),
          path,
        );
      }
    });

    it('answers PredBat (no period) with the same newest pages; count covers only the held window', async () => {
      const sim = await predbat(w.sim.url, AGILE, ['standard-unit-rates']);
      const gw = await predbat(w.gw.url, AGILE, ['standard-unit-rates']);
      assert.equal(gw.length, sim.length);
      assert.deepEqual(w.normalise(gw[0] as Answer), w.normalise(sim[0] as Answer), 'product detail');
      for (let i = 1; i < sim.length; i++) {
        const { count: simCount, ...s } = w.normalise(sim[i] as Answer).body as { count: number };
        const { count: gwCount, ...g } = w.normalise(gw[i] as Answer).body as { count: number };
        assert.deepEqual(g, s, `page ${i}`);
        assert.ok(gwCount < simCount, 'the gateway counts only what its document window holds');
      }
    });
  });

  describe('while the whole history of Agile fits in the document window (PredBat, Agile, standing charges)', () => {
    let w: World;
    before(async () => {
      // Agile October 2024 rates start on 2024-09-15T23:00Z; a 25-day window on 3 Oct 2024 holds them all.
      w = await World.start('2024-10-03T18:10:00Z', [AGILE], 25);
    });
    after(async () => {
      await w?.stop();
    });

    it('answers the PredBat sequence exactly like upstream, count included', async () => {
      const charges = ['standard-unit-rates', 'standing-charges'];
      const sim = await predbat(w.sim.url, AGILE, charges);
      const gw = await predbat(w.gw.url, AGILE, charges);
      assertSame(w, sim, gw, 'PredBat Agile');
      assert.equal(sim.length, 5, 'product + 3 pages of unit rates + 1 page of standing charges');
    });

    it('fetches a tariff nobody configured through ensure() and answers Home Assistant like upstream', async () => {
      const charges = ['standard-unit-rates', 'standing-charges'];
      const gw = await homeAssistant(w.gw.url, GO, charges, '2024-10-01T23:00:00Z', '2024-10-04T23:00:00Z');
      const sim = await homeAssistant(w.sim.url, GO, charges, '2024-10-01T23:00:00Z', '2024-10-04T23:00:00Z');
      assertSame(w, sim, gw, 'HA Go');
    });
  });
});
