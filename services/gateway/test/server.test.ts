import assert from 'node:assert/strict';
import { request } from 'node:http';
import { agileDoc } from '@ratebus/fixtures';
import type { RatesDocument } from '@ratebus/schema';
import { Liveness } from '@ratebus/service-kit';
import { pino } from 'pino';
import {
  Gateway,
  type GatewayOptions,
  type HeldRateView,
  PageCache,
  type RateSource,
  type UrlCache,
  type UrlCacheResult,
} from '../src/index.js';

const AGILE = '/v1/products/AGILE-24-10-01/electricity-tariffs/E-1R-AGILE-24-10-01-C/standard-unit-rates/';
const GO = '/v1/products/GO-VAR-22-10-14/electricity-tariffs/E-1R-GO-VAR-22-10-14-C/standard-unit-rates/';

/** An in-memory source with the RateClient's shape; counts every call. */
class FakeSource implements RateSource {
  held = new Map<string, HeldRateView>();
  calls: string[] = [];
  ensureImpl: (key: string) => Promise<unknown> = async () => undefined;
  connected = true;
  private readyResolve!: () => void;
  private readonly readyP = new Promise<void>((r) => {
    this.readyResolve = r;
  });
  put(doc: RatesDocument, over: Partial<HeldRateView> = {}) {
    this.held.set(`${doc.product}.${doc.tariff}`, {
      document: doc,
      freshness: 'fresh',
      ageMs: 90_000,
      ...over,
    });
  }
  get(p: string, t: string) {
    this.calls.push(`get ${p}.${t}`);
    return this.held.get(`${p}.${t}`);
  }
  ensure(p: string, t: string) {
    this.calls.push(`ensure ${p}.${t}`);
    return this.ensureImpl(`${p}.${t}`);
  }
  ready() {
    return this.readyP;
  }
  markReady() {
    this.readyResolve();
  }
  isConnected() {
    return this.connected;
  }
}

/** GET with a chosen Host header (fetch does not let a caller set it). */
function getWithHost(
  url: string,
  host: string,
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { host } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const coded = (code: string) => Object.assign(new Error(code), { code });

describe('Gateway HTTP', () => {
  let source: FakeSource;
  let gw: Gateway;
  let logs: string[];
  let urlResult: UrlCacheResult;
  const urlAsked: string[] = [];

  async function start(over: Partial<GatewayOptions> = {}) {
    logs = [];
    const logger = pino({ level: 'debug' }, { write: (s: string) => logs.push(s) });
    const urlCache: UrlCache = {
      get: async (p) => {
        urlAsked.push(p);
        return urlResult;
      },
    };
    gw = await Gateway.start({ source, urlCache, logger, port: 0, ensureTimeoutMs: 200, ...over });
  }

  beforeEach(async () => {
    source = new FakeSource();
    urlAsked.length = 0;
    await start();
  });
  afterEach(async () => {
    await gw.stop();
  });

  it('serves a held tariff with Age, Cache-Control, freshness and coverage headers, links on the Host origin', async () => {
    const doc = agileDoc('2025-03-01T00:00:00Z', 150);
    source.put(doc);
    const res = await getWithHost(`${gw.url}${AGILE}?page_size=100`, 'pod.local:8092');
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'application/json');
    assert.equal(res.headers.age, '90');
    assert.equal(res.headers['cache-control'], 'max-age=300');
    assert.equal(res.headers['x-ratebus-freshness'], 'fresh');
    assert.equal(res.headers['x-ratebus-covers-through'], doc.coversThrough);
    const body = JSON.parse(res.body) as { count: number; next: string; results: unknown[] };
    assert.equal(body.count, 150);
    assert.equal(body.next, `http://pod.local:8092${AGILE}?page=2&page_size=100`);
    assert.deepEqual(body.results, doc.unitRates.slice(0, 100));
  });

  it('uses PUBLIC_BASE_URL for links when configured', async () => {
    await gw.stop();
    await start({ publicBaseUrl: 'https://rates.example/' });
    source.put(agileDoc('2025-03-01T00:00:00Z', 150));
    const body = (await (await fetch(`${gw.url}${AGILE}`)).json()) as { next: string };
    assert.equal(body.next, `https://rates.example${AGILE}?page=2`);
  });

  it('still serves an expired copy, saying so', async () => {
    source.put(agileDoc(), { freshness: 'expired', ageMs: 3 * 3_600_000 });
    const res = await fetch(`${gw.url}${AGILE}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-ratebus-freshness'), 'expired');
    assert.equal(res.headers.get('cache-control'), 'max-age=0');
    assert.equal(res.headers.get('age'), '10800');
  });

  it('answers Basic-auth requests the same and never logs the credentials', async () => {
    source.put(agileDoc());
    const secret = 'sk_live_SuperSecretKey123';
    const auth = `Basic ${Buffer.from(`${secret}:`).toString('base64')}`;
    const plain = await fetch(`${gw.url}${AGILE}?period_from=2025-03-01T10:00Z`);
    const authed = await fetch(`${gw.url}${AGILE}?period_from=2025-03-01T10:00Z`, {
      headers: { authorization: auth },
    });
    assert.equal(authed.status, plain.status);
    assert.equal(await authed.text(), await plain.text());
    const all = logs.join('');
    assert.ok(all.includes('"route":"rates"'), 'requests are logged');
    assert.ok(!all.includes(secret) && !all.includes(auth.slice(6)) && !/authorization/i.test(all));
  });

  it('waits for a tariff it does not hold and answers once it arrives', async () => {
    source.ensureImpl = async () => {
      source.put(agileDoc());
    };
    const res = await fetch(`${gw.url}${AGILE}`);
    assert.equal(res.status, 200);
    assert.ok(source.calls.includes('ensure AGILE-24-10-01.E-1R-AGILE-24-10-01-C'));
  });

  it('maps ensure failures: not found → upstream 404 body, timeout → 503 + Retry-After, no fetcher → 503', async () => {
    source.ensureImpl = async () => {
      throw coded('ERR_TARIFF_NOT_FOUND');
    };
    let res = await fetch(`${gw.url}${GO}`);
    assert.equal(res.status, 404);
    assert.deepEqual(await res.json(), { detail: 'No ElectricityTariff matches the given query.' });
    res = await fetch(`${gw.url}/v1/products/VAR-22-11-01/gas-tariffs/G-1R-VAR-22-11-01-A/standing-charges`);
    assert.deepEqual(await res.json(), { detail: 'No GasTariff matches the given query.' });

    source.ensureImpl = async () => {
      throw coded('ERR_ENSURE_TIMEOUT');
    };
    res = await fetch(`${gw.url}${GO}`);
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('retry-after'), '5');
    assert.equal(typeof ((await res.json()) as { detail: unknown }).detail, 'string');

    source.ensureImpl = async () => {
      throw coded('ERR_NO_FETCHER');
    };
    res = await fetch(`${gw.url}${GO}`);
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('retry-after'), '30');
    await res.arrayBuffer();
  });

  it('declares interest once for a tariff it serves from a copy it did not ask for', async () => {
    source.put(agileDoc());
    for (let i = 0; i < 3; i++) await (await fetch(`${gw.url}${AGILE}`)).arrayBuffer();
    assert.equal(source.calls.filter((c) => c.startsWith('ensure')).length, 1);
  });

  it('rejects traversal and wildcard codes with 404 before touching the source or the URL cache', async () => {
    for (const path of [
      '/v1/products/AGILE-24-10-01/electricity-tariffs/..%2F..%2Fetc%2Fpasswd/standard-unit-rates/',
      '/v1/products/AGILE-24-10-01/electricity-tariffs/*/standard-unit-rates/',
      '/v1/products/%3E/electricity-tariffs/E-1R-AGILE-24-10-01-C/standard-unit-rates/',
      '/v1/products/..%2F/',
      '/v1/products/AGILE.*/',
    ]) {
      const res = await fetch(`${gw.url}${path}`);
      assert.equal(res.status, 404, path);
      assert.deepEqual(await res.json(), { detail: 'Not found.' });
    }
    assert.deepEqual(source.calls, []);
    assert.deepEqual(urlAsked, []);
  });

  it('returns the upstream 400 bodies for malformed queries of a held tariff', async () => {
    source.put(agileDoc());
    const res = await fetch(`${gw.url}${AGILE}?period_from=2025-03-01T00:00:00+01:00`);
    assert.equal(res.status, 400);
    assert.deepEqual(await res.json(), { period_from: ['Enter a valid date/time.'] });
  });

  it('proxies the other public GETs through the URL cache, rewriting upstream links to its own origin', async () => {
    urlResult = {
      ok: true,
      response: {
        type: 'url-response',
        schemaVersion: 1,
        path: '/v1/products/AGILE-24-10-01/',
        status: 200,
        contentType: 'application/json',
        body: '{"code":"AGILE-24-10-01","links":[{"href":"https://api.octopus.energy/v1/products/AGILE-24-10-01/","rel":"self"}]}',
        fetchedAt: new Date(Date.now() - 60_000).toISOString(),
      },
    };
    const res = await getWithHost(
      `${gw.url}/v1/products/AGILE-24-10-01?tariffs_active_at=2025-03-01T00%3A00Z`,
      'pod.local:8092',
    );
    assert.equal(res.status, 200);
    assert.deepEqual(urlAsked, ['/v1/products/AGILE-24-10-01/?tariffs_active_at=2025-03-01T00%3A00Z']);
    const body = JSON.parse(res.body) as { links: Array<{ href: string }> };
    assert.equal(body.links[0]?.href, 'http://pod.local:8092/v1/products/AGILE-24-10-01/');
    assert.ok(Number(res.headers.age) >= 59);
    const evil = await getWithHost(`${gw.url}/v1/products/`, 'evil.example/"><script>');
    assert.ok(!evil.body.includes('evil.example'), 'an invalid Host header is never echoed into links');

    urlResult = { ok: false, status: 503, reason: 'no-fetcher' };
    const down = await fetch(`${gw.url}/v1/industry/grid-supply-points/?postcode=SW1A%201AA`);
    assert.equal(down.status, 503);
    assert.equal(down.headers.get('retry-after'), '30');
    assert.match(((await down.json()) as { detail: string }).detail, /no-fetcher/);
    urlResult = { ok: false, status: 502, reason: 'invalid-reply' };
    const bad = await fetch(`${gw.url}/v1/products/`);
    assert.equal(bad.status, 502);
    await bad.arrayBuffer();
    urlResult = { ok: false, status: 400, reason: 'forbidden', message: 'query parameter not allowed' };
    const refused = await fetch(`${gw.url}/v1/products/?cachebust=1`);
    assert.equal(refused.status, 400);
    assert.match(((await refused.json()) as { detail: string }).detail, /query parameter not allowed/);
  });

  it('liveness ignores NATS and fails only when wedged; readiness needs the snapshot and NATS', async () => {
    source.markReady();
    await source.ready();
    await new Promise((r) => setImmediate(r));
    assert.equal((await fetch(`${gw.url}/readyz`)).status, 200);
    source.connected = false;
    const notReady = await fetch(`${gw.url}/readyz`);
    assert.equal(notReady.status, 503);
    assert.deepEqual(await notReady.json(), {
      status: 'unavailable',
      snapshot: 'loaded',
      nats: 'disconnected',
    });
    assert.equal((await fetch(`${gw.url}/livez`)).status, 200, 'NATS away: still live');
    assert.equal((await fetch(`${gw.url}/healthz`)).status, 200);
    source.connected = true;
    assert.equal((await fetch(`${gw.url}/readyz`)).status, 200);

    await gw.stop();
    const liveness = new Liveness();
    await start({ liveness });
    assert.equal((await fetch(`${gw.url}/livez`)).status, 200);
    liveness.fatal('test');
    const dead = await fetch(`${gw.url}/livez`);
    assert.equal(dead.status, 503);
    assert.equal(((await dead.json()) as { fatal: string }).fatal, 'test');
  });

  it('reports readiness once the source is ready, health always, and metrics by route and status', async () => {
    assert.equal((await fetch(`${gw.url}/healthz`)).status, 200);
    assert.equal((await fetch(`${gw.url}/readyz`)).status, 503);
    source.markReady();
    await source.ready();
    await new Promise((r) => setImmediate(r));
    assert.equal((await fetch(`${gw.url}/readyz`)).status, 200);
    source.put(agileDoc());
    await (await fetch(`${gw.url}${AGILE}`)).arrayBuffer();
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    assert.match(text, /ratebus_gateway_requests_total\{route="rates",status="200"\} 1/);
    assert.match(text, /ratebus_gateway_served_total\{freshness="fresh"\} 1/);
    assert.match(text, /ratebus_gateway_request_duration_seconds_count\{route="rates"\} 1/);
  });

  it('computes a page once per document and reuses its bytes, with Age and freshness of each request', async () => {
    const doc = agileDoc('2025-03-01T00:00:00Z', 150);
    source.put(doc, { ageMs: 60_000 });
    const first = await getWithHost(`${gw.url}${AGILE}`, 'pod.local:8092');
    source.put(doc, { ageMs: 1_900_000, freshness: 'stale' });
    const second = await getWithHost(`${gw.url}${AGILE}`, 'pod.local:8092');
    assert.equal(second.body, first.body);
    assert.equal(second.headers.etag, first.headers.etag);
    assert.equal(first.headers.age, '60');
    assert.equal(second.headers.age, '1900');
    assert.equal(second.headers['x-ratebus-freshness'], 'stale');
    assert.equal(second.headers['cache-control'], 'max-age=0');
    // A new copy of the tariff (a new document) is a new page, even at the same URL.
    const newer = agileDoc('2025-03-01T00:00:00Z', 180);
    source.put(newer);
    const third = await getWithHost(`${gw.url}${AGILE}`, 'pod.local:8092');
    assert.notEqual(third.headers.etag, first.headers.etag);
    assert.equal((JSON.parse(third.body) as { count: number }).count, 180);
    // Another Host is another origin in the links: its own page.
    const other = await getWithHost(`${gw.url}${AGILE}`, 'other.local:8092');
    assert.match(other.body, /"next":"http:\/\/other\.local:8092\//);
    assert.equal(other.headers['content-length'], String(Buffer.byteLength(other.body)));
    // Back to the first Host: its own page again, not the other origin's (the URL is the same).
    const back = await getWithHost(`${gw.url}${AGILE}`, 'pod.local:8092');
    assert.equal(back.body, third.body);
    assert.equal(back.headers.etag, third.headers.etag);
    assert.equal(back.headers['content-length'], String(Buffer.byteLength(third.body)));
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    assert.match(text, /ratebus_gateway_rates_pages_total\{outcome="hit"\} 2\n/);
    assert.match(text, /ratebus_gateway_rates_pages_total\{outcome="miss"\} 3\n/);
    assert.match(text, /ratebus_gateway_page_cache_entries 2\n/);
  });

  it('answers If-None-Match with 304 and the same validators, and a changed page with 200', async () => {
    source.put(agileDoc('2025-03-01T00:00:00Z', 150));
    const first = await fetch(`${gw.url}${AGILE}`);
    const etag = first.headers.get('etag');
    const body = await first.text();
    assert.match(etag ?? '', /^"[A-Za-z0-9_-]{22}"$/);
    for (const inm of [etag as string, `W/${etag}`, `"nope", ${etag}`, '*']) {
      const res = await fetch(`${gw.url}${AGILE}`, { headers: { 'if-none-match': inm } });
      assert.equal(res.status, 304, inm);
      assert.equal(await res.text(), '');
      assert.equal(res.headers.get('etag'), etag);
      assert.equal(res.headers.get('age'), '90');
      assert.equal(res.headers.get('x-ratebus-freshness'), 'fresh');
      assert.equal(res.headers.get('cache-control'), 'max-age=300');
    }
    const miss = await fetch(`${gw.url}${AGILE}`, { headers: { 'if-none-match': '"other"' } });
    assert.equal(miss.status, 200);
    assert.equal(await miss.text(), body);
    source.put(agileDoc('2025-03-01T00:00:00Z', 151));
    const changed = await fetch(`${gw.url}${AGILE}`, { headers: { 'if-none-match': etag as string } });
    assert.equal(changed.status, 200);
    assert.notEqual(changed.headers.get('etag'), etag);
    await changed.arrayBuffer();
    // Error answers carry no validator and never turn into 304.
    const bad = await fetch(`${gw.url}${AGILE}?period_from=nonsense`, { headers: { 'if-none-match': '*' } });
    assert.equal(bad.status, 400);
    assert.equal(bad.headers.get('etag'), null);
    await bad.arrayBuffer();
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    assert.match(text, /ratebus_gateway_rates_pages_total\{outcome="not-modified"\} 4\n/);
  });

  it('keeps the page cache within its bounds under unique query strings', async () => {
    await gw.stop();
    await start({ pageCache: new PageCache({ maxEntries: 5, maxBytes: 1_000_000 }) });
    source.put(agileDoc('2025-03-01T00:00:00Z', 150));
    for (let i = 0; i < 40; i++) {
      const res = await fetch(`${gw.url}${AGILE}?bust=${i}`);
      assert.equal(res.status, 200);
      await res.arrayBuffer();
    }
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    assert.match(text, /ratebus_gateway_page_cache_entries 5\n/);
  });

  it('answers HEAD without a body and other methods with 405', async () => {
    source.put(agileDoc());
    const head = await fetch(`${gw.url}${AGILE}`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');
    const post = await fetch(`${gw.url}${AGILE}`, { method: 'POST', body: '{}' });
    assert.equal(post.status, 405);
    assert.deepEqual(await post.json(), { detail: 'Method "POST" not allowed.' });
  });
});
