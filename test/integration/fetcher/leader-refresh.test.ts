import assert from 'node:assert/strict';
import { urlKey } from '@ratebus/fetcher';
import { refreshBody } from '@ratebus/fixtures';
import {
  decode,
  RatesDocumentSchema,
  rateKey,
  refreshSubject,
  SUBJECTS,
  UrlResponseSchema,
} from '@ratebus/schema';
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

describe('TermWork responders (refresh, URL cache, interest)', function () {
  this.timeout(60_000);
  let env: Env;
  let w: Started;

  before(async () => {
    env = await startEnv({ start: '2026-11-27T17:05:00Z', speed: 1 });
    w = await startWorker(env, config({ notFoundTtlMs: 60 * 60_000 }));
    // The responders are up once a bad request gets a typed answer instead of "no responders".
    await check(async () => errorCodeOf(await env.nc.request('ratebus.refresh.bad', '', { timeout: 500 })));
  });
  after(async () => {
    await w?.stop();
    await env?.close();
  });

  it('answers 200 concurrent refresh requests for an unfetched tariff with one upstream fetch', async () => {
    const { product, tariff } = agile('C');
    const replies = await Promise.all(Array.from({ length: 200 }, () => refresh(env, { product, tariff })));
    const hashes = new Set<string>();
    for (const m of replies) {
      assert.equal(errorCodeOf(m), null);
      const d = decode(RatesDocumentSchema, 'RatesDocument', m.data);
      assert.ok(d.ok, 'reply is a valid rates document');
      assert.equal(d.value.tariff, tariff);
      assert.equal(d.value.term, w.fence.term);
      hashes.add(d.value.contentHash);
    }
    assert.equal(hashes.size, 1);
    assert.equal(simCount(env.sim, `${tariff}/standard-unit-rates`), 1);
    assert.equal(simCount(env.sim, `${tariff}/standing-charges`), 1);
    assert.equal(w.worker.stats.fetches.refresh, 1);
    const held = await readDoc(env.buckets.rates, rateKey(product, tariff));
    assert.equal(held?.doc.contentHash, [...hashes][0]);
    assert.equal(held?.doc.coversThrough, '2026-11-28T23:00:00Z');
  });

  it('answers NOT_FOUND for a tariff upstream does not have, and remembers it', async () => {
    const product = 'AGILE-99-10-01';
    const tariff = `E-1R-${product}-C`;
    const ask = () => refresh(env, { product, tariff }, { timeoutMs: 10_000 });
    const first = await ask();
    assert.equal(errorCodeOf(first), 'NOT_FOUND');
    assert.equal(first.data.length, 0);
    const before = env.sim.stats.snapshot().total;
    const second = await ask();
    assert.equal(errorCodeOf(second), 'NOT_FOUND');
    assert.equal(env.sim.stats.snapshot().total, before, 'the second ask cost no upstream request');
    assert.equal(simCount(env.sim, product), 1);
  });

  it('answers BAD_REQUEST for an invalid subject or a body that does not match it', async () => {
    const bad = await env.nc.request('ratebus.refresh.agile.e-1r', refreshBody(agile('C'), 'pod-1'));
    assert.equal(errorCodeOf(bad), 'BAD_REQUEST');
    const { product, tariff } = agile('D');
    const mismatch = await env.nc.request(refreshSubject(product, tariff), refreshBody(agile('E'), 'pod-1'));
    assert.equal(errorCodeOf(mismatch), 'BAD_REQUEST');
    const garbage = await env.nc.request(refreshSubject(product, tariff), '{"type":"refresh-request"');
    assert.equal(errorCodeOf(garbage), 'BAD_REQUEST');
    assert.equal(simCount(env.sim, `${agile('D').tariff}/`), 0);
  });

  it('serves a public URL once from upstream however many ask, then from the cache', async () => {
    const ask = (path: string) =>
      env.nc.request(
        SUBJECTS.urlGet,
        JSON.stringify({ type: 'url-request', schemaVersion: 1, path, by: 'pod-1' }),
        {
          timeout: 10_000,
        },
      );
    const before = simCount(env.sim, '/v1/products/');
    const replies = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        ask(
          i % 2
            ? '/v1/products/?is_variable=true&brand=OCTOPUS_ENERGY'
            : '/v1/products?brand=OCTOPUS_ENERGY&is_variable=true',
        ),
      ),
    );
    const bodies = new Set<string>();
    for (const m of replies) {
      const d = decode(UrlResponseSchema, 'UrlResponse', m.data);
      assert.ok(d.ok, 'reply is a UrlResponse');
      assert.equal(d.value.status, 200);
      assert.equal(d.value.path, '/v1/products/?brand=OCTOPUS_ENERGY&is_variable=true');
      bodies.add(d.value.body);
    }
    assert.equal(bodies.size, 1);
    assert.equal(simCount(env.sim, '/v1/products/') - before, 1);
    const stored = await env.buckets.urls.get(urlKey('/v1/products/?brand=OCTOPUS_ENERGY&is_variable=true'));
    assert.ok(stored && decode(UrlResponseSchema, 'UrlResponse', stored.value).ok);
    await ask('/v1/products/?is_variable=true&brand=OCTOPUS_ENERGY');
    assert.equal(simCount(env.sim, '/v1/products/') - before, 1, 'a hit costs no upstream request');
    assert.ok(w.metrics.urlOutcomes.includes('hit'));

    const forbidden = await ask('/v1/accounts/A-1234/');
    assert.equal(errorCodeOf(forbidden), 'FORBIDDEN');
    const escaping = await ask('/v1/products/../accounts/');
    assert.equal(errorCodeOf(escaping), 'FORBIDDEN');
  });

  it('fetches tariffs pods declare interest in and ignores invalid interest entries', async () => {
    const { product, tariff } = agile('F');
    await env.buckets.interest.put(rateKey(product, tariff), interestBody(product, tariff));
    const bad = agile('G');
    await env.buckets.interest.put(rateKey(bad.product, bad.tariff), '{"type":"interest","schemaVersion":1}');
    const held = await check(() => readDoc(env.buckets.rates, rateKey(product, tariff)), {
      name: 'interest fetched',
    });
    assert.equal(held.doc.tariff, tariff);
    await check(() => w.worker.stats.invalidInterest >= 1, { name: 'invalid interest counted' });
    assert.equal(await env.buckets.rates.get(rateKey(bad.product, bad.tariff)), null);
    assert.equal(simCount(env.sim, `${bad.tariff}/`), 0);
  });
});
