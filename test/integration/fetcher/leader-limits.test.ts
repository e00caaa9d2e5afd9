import assert from 'node:assert/strict';
import { decode, RatesDocumentSchema, rateKey, SUBJECTS, UrlResponseSchema } from '@ratebus/schema';
import { check } from '@ratebus/testkit';
import {
  agile,
  config,
  type Env,
  errorCodeOf,
  interestBody,
  readDoc,
  refresh,
  type Started,
  simCount,
  startEnv,
  startWorker,
} from './leader-harness.js';

const count = (list: readonly string[], v: string) => list.filter((x) => x === v).length;

describe('TermWork limits (a pod cannot multiply upstream work)', function () {
  this.timeout(60_000);

  describe('refreshes and tracked tariffs', () => {
    let env: Env;
    let w: Started;
    const refreshOf = (ref: { product: string; tariff: string }, force = false) =>
      refresh(env, ref, { force, timeoutMs: 10_000 });

    before(async () => {
      env = await startEnv({ start: '2026-11-27T17:05:00Z', speed: 1 });
      w = await startWorker(
        env,
        config({
          tariffs: [agile('A')],
          limits: {
            maxTrackedTariffs: 4,
            refreshUpstreamPerMinute: 3,
            refreshTariffIntervalMs: 10 * 60_000,
          },
        }),
      );
      await check(() => readDoc(env.buckets.rates, rateKey(agile('A').product, agile('A').tariff)), {
        name: 'configured tariff fetched',
      });
    });
    after(async () => {
      await w?.stop();
      await env?.close();
    });

    it('fetches a tariff for a refresh at most once per interval, answering the held document meanwhile', async () => {
      const b = agile('B');
      assert.equal(errorCodeOf(await refreshOf(b)), null);
      const before = simCount(env.sim, `${b.tariff}/standard-unit-rates`);
      const again = await refreshOf(b, true);
      assert.equal(errorCodeOf(again), null);
      assert.ok(decode(RatesDocumentSchema, 'RatesDocument', again.data).ok, 'the held document answers');
      assert.equal(simCount(env.sim, `${b.tariff}/standard-unit-rates`), before, 'no second upstream fetch');
      assert.equal(count(w.metrics.refusals, 'refresh-tariff-rate'), 1);
    });

    it('answers THROTTLED once refreshes reach upstream more often than allowed in all', async () => {
      assert.equal(errorCodeOf(await refreshOf(agile('C'))), null);
      assert.equal(errorCodeOf(await refreshOf(agile('D'))), null);
      const e = agile('E');
      const throttled = await refreshOf(e);
      assert.equal(errorCodeOf(throttled), 'THROTTLED');
      assert.equal(count(w.metrics.refusals, 'refresh-rate'), 1);
      assert.equal(simCount(env.sim, `${e.tariff}/`), 0, 'the refused refresh cost nothing upstream');
    });

    it('tracks no more tariffs than the cap, refusing and counting new interest and refreshes', async () => {
      // B, C, D and E (tracked by its refused refresh) fill the cap of 4; the configured A is not counted.
      const flood = ['F', 'G', 'H', 'J', 'K', 'L'].map(agile);
      for (const t of flood)
        await env.buckets.interest.put(rateKey(t.product, t.tariff), interestBody(t.product, t.tariff));
      await check(() => count(w.metrics.refusals, 'tracked-limit') >= flood.length, {
        name: 'flood refused',
      });
      const refused = await refreshOf(agile('M'));
      assert.equal(errorCodeOf(refused), 'TOO_MANY_TARIFFS');
      assert.equal(w.worker.stats.refusedTariffs, flood.length + 1);
      for (const t of flood) assert.equal(simCount(env.sim, `${t.tariff}/`), 0, `${t.tariff} never fetched`);
    });
  });

  describe('URL cache', () => {
    let env: Env;
    let w: Started;
    const ask = (path: string) =>
      env.nc.request(
        SUBJECTS.urlGet,
        JSON.stringify({ type: 'url-request', schemaVersion: 1, path, by: 'pod-1' }),
        { timeout: 10_000 },
      );

    before(async () => {
      env = await startEnv({ start: '2026-11-27T17:05:00Z', speed: 1 });
      w = await startWorker(env, config({ limits: { urlMissesPerMinute: 2, urlMaxValueBytes: 1_024 } }));
      await check(async () => errorCodeOf(await ask('/v1/accounts/')) === 'FORBIDDEN');
    });
    after(async () => {
      await w?.stop();
      await env?.close();
    });

    it('refuses query strings outside the allow-list without asking upstream, and counts them', async () => {
      const before = simCount(env.sim, '/v1/products/');
      for (const path of [
        '/v1/products/?cachebust=1',
        '/v1/products/?page=999',
        '/v1/products/?is_variable=maybe',
        '/v1/products/?brand=OCTOPUS_ENERGY&brand=OTHER',
        '/v1/products/AGILE-24-10-01/?x=1',
        '/v1/industry/grid-supply-points/?postcode=not-a-postcode',
      ]) {
        assert.equal(errorCodeOf(await ask(path)), 'FORBIDDEN', path);
      }
      assert.equal(simCount(env.sim, '/v1/products/'), before);
      assert.equal(count(w.metrics.refusals, 'url-query'), 6);
      assert.ok(count(w.metrics.refusals, 'url-form') >= 1, 'the path outside the forms was counted');
    });

    it('refuses an upstream answer larger than the value bound, storing nothing', async () => {
      const r = await ask('/v1/products/AGILE-24-10-01/');
      assert.equal(errorCodeOf(r), 'TOO_LARGE');
      assert.equal(count(w.metrics.refusals, 'url-too-large'), 1);
      const keys: string[] = [];
      for await (const k of await env.buckets.urls.keys()) keys.push(k);
      assert.deepEqual(keys, []);
    });

    it('canonicalises queries so spellings of one request share an entry, and throttles misses beyond the rate', async () => {
      const a = await ask('/v1/industry/grid-supply-points/?postcode=sw1a%201aa');
      assert.equal(errorCodeOf(a), null);
      const d = decode(UrlResponseSchema, 'UrlResponse', a.data);
      assert.ok(d.ok);
      assert.equal(d.value.path, '/v1/industry/grid-supply-points/?postcode=SW1A1AA');
      const before = simCount(env.sim, 'grid-supply-points');
      assert.equal(errorCodeOf(await ask('/v1/industry/grid-supply-points?postcode=SW1A1AA')), null);
      assert.equal(simCount(env.sim, 'grid-supply-points'), before, 'a hit costs nothing upstream');
      // The too-large answer and this miss took the two misses of the minute.
      const busting = await ask('/v1/industry/grid-supply-points/?postcode=EH11YZ');
      assert.equal(errorCodeOf(busting), 'THROTTLED');
      assert.equal(count(w.metrics.refusals, 'url-rate'), 1);
      assert.equal(simCount(env.sim, 'grid-supply-points'), before);
    });
  });
});
