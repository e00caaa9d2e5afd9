import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, headers, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { RateClient } from '@ratebus/client';
import { type Buckets, createBuckets, makeDoc, publish } from '@ratebus/fixtures';
import {
  attachMirror,
  Gateway,
  GatewayMetrics,
  MirrorWriter,
  mirrorTariffs,
  NatsUrlCache,
  type RatesPage,
  tariffsDir,
} from '@ratebus/gateway';
import {
  ERROR_CODE_HEADER,
  ERROR_HEADER,
  type RatesDocument,
  refreshSubject,
  SUBJECTS,
  type UrlResponse,
} from '@ratebus/schema';
import { check, NatsServer } from '@ratebus/testkit';
import { pino } from 'pino';
import { parse } from 'yaml';

const AGILE = { product: 'AGILE-24-10-01', tariff: 'E-1R-AGILE-24-10-01-C' };
const ratesPath = (p: string, t: string, charge = 'standard-unit-rates') =>
  `/v1/products/${p}/electricity-tariffs/${t}/${charge}/`;

describe('gateway on a real bus (KV documents, RateClient, URL cache)', function () {
  this.timeout(60_000);
  let ns: NatsServer;
  let admin: NatsConnection;
  let gwNc: NatsConnection;
  let bus: Buckets;
  let client: RateClient;
  let gw: Gateway;
  let writer: MirrorWriter;
  let detach: () => void;
  let mirrorRoot: string;
  const subs: Array<{ unsubscribe(): void }> = [];

  before(async () => {
    ns = await NatsServer.start();
    admin = await connect({ servers: ns.url });
    bus = await createBuckets(admin);
    await publish(bus, makeDoc(AGILE.product, AGILE.tariff, { slots: 150 }));
    mirrorRoot = mkdtempSync(join(tmpdir(), 'ratebus-gw-mirror-'));
    client = await RateClient.connect({ servers: ns.url, name: 'gateway-it', resyncIntervalMs: 500 });
    gwNc = await connect({ servers: ns.url, name: 'gateway-it-urls' });
    const metrics = new GatewayMetrics();
    writer = new MirrorWriter({ dir: mirrorRoot, logger: pino({ level: 'silent' }) });
    detach = attachMirror(client, writer);
    gw = await Gateway.start({
      source: client,
      urlCache: new NatsUrlCache({ nc: gwNc, by: 'gateway-it', timeoutMs: 1_000 }),
      logger: pino({ level: 'silent' }),
      metrics,
      port: 0,
      ensureTimeoutMs: 1_500,
    });
    await client.ready();
    mirrorTariffs(client, writer, client.tariffs());
  });
  afterEach(() => {
    for (const s of subs.splice(0)) s.unsubscribe();
  });
  after(async () => {
    await gw?.stop();
    detach?.();
    await writer?.idle();
    await client?.close();
    await gwNc?.close();
    await admin?.close();
    await ns?.stop();
    if (mirrorRoot) rmSync(mirrorRoot, { recursive: true, force: true });
  });

  const getJson = async (path: string) => {
    const res = await fetch(`${gw.url}${path}`);
    return { res, body: (await res.json()) as unknown };
  };
  const mirrorFiles = () =>
    existsSync(tariffsDir(mirrorRoot)) ? readdirSync(tariffsDir(mirrorRoot)).sort() : [];

  it('is ready once the initial snapshot is loaded and serves a document from KV, fresh', async () => {
    assert.equal((await fetch(`${gw.url}/readyz`)).status, 200);
    const held = client.get(AGILE.product, AGILE.tariff);
    assert.ok(held);
    const { res, body } = await getJson(`${ratesPath(AGILE.product, AGILE.tariff)}?page_size=60&page=2`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-ratebus-freshness'), 'fresh');
    assert.equal(res.headers.get('x-ratebus-covers-through'), '2026-11-29T23:00:00Z');
    assert.ok(Number(res.headers.get('age')) < 60);
    const page = body as RatesPage;
    assert.equal(page.count, 150);
    assert.deepEqual(
      page.results,
      (held.document as Extract<RatesDocument, { registerKind: 'standard' }>).unitRates.slice(60, 120),
    );
    assert.equal(page.previous, `${gw.url}${ratesPath(AGILE.product, AGILE.tariff)}?page_size=60`);
  });

  it('follows updates in KV: the answer and the mirror file change, one YAML per tariff, no temp files', async () => {
    await check(() => mirrorFiles().length === 1, { name: 'first mirror file' });
    const next = makeDoc(AGILE.product, AGILE.tariff, { seed: 2, slots: 152, term: 2 });
    await publish(bus, next);
    await check(() => client.get(AGILE.product, AGILE.tariff)?.document.contentHash === next.contentHash, {
      name: 'client holds the update',
    });
    const { body } = await getJson(ratesPath(AGILE.product, AGILE.tariff));
    assert.equal((body as RatesPage).count, 152);
    const file = join(tariffsDir(mirrorRoot), 'AGILE-24-10-01_E-1R-AGILE-24-10-01-C.yaml');
    const y = await check(
      () => {
        const doc = parse(readFileSync(file, 'utf8'));
        return doc.content_hash === next.contentHash ? doc : null;
      },
      { name: 'mirror file updated' },
    );
    assert.equal(y.term, 2);
    assert.equal(y.standard_unit_rates.length, 152);
    await writer.idle();
    assert.deepEqual(mirrorFiles(), ['AGILE-24-10-01_E-1R-AGILE-24-10-01-C.yaml']);
  });

  it('ensures a tariff it does not hold through the fetcher refresh request and serves it', async () => {
    const t = { product: 'GO-VAR-22-10-14', tariff: 'E-1R-GO-VAR-22-10-14-C' };
    const doc = makeDoc(t.product, t.tariff, { slots: 10 });
    let asked = 0;
    subs.push(
      admin.subscribe(refreshSubject(t.product, t.tariff), {
        callback: (_e, msg: Msg) => {
          asked++;
          void publish(bus, doc).then(() => msg.respond(JSON.stringify(doc)));
        },
      }),
    );
    await admin.flush();
    const { res, body } = await getJson(ratesPath(t.product, t.tariff));
    assert.equal(res.status, 200);
    assert.equal((body as RatesPage).count, 10);
    assert.ok(asked >= 1);
    await check(() => mirrorFiles().includes('GO-VAR-22-10-14_E-1R-GO-VAR-22-10-14-C.yaml'), {
      name: 'mirrored',
    });
  });

  it('answers the upstream 404 when the fetcher says NOT_FOUND, and 503 with Retry-After when nobody answers', async () => {
    const missing = { product: 'AGILE-24-10-01', tariff: 'E-2R-AGILE-24-10-01-C' };
    subs.push(
      admin.subscribe(refreshSubject(missing.product, missing.tariff), {
        callback: (_e, msg: Msg) => {
          const h = headers();
          h.set(ERROR_CODE_HEADER, 'NOT_FOUND');
          h.set(ERROR_HEADER, 'no such tariff upstream');
          msg.respond('', { headers: h });
        },
      }),
    );
    await admin.flush();
    const nf = await getJson(ratesPath(missing.product, missing.tariff));
    assert.equal(nf.res.status, 404);
    assert.deepEqual(nf.body, { detail: 'No ElectricityTariff matches the given query.' });

    const nobody = await getJson(ratesPath('COSY-22-12-08', 'E-1R-COSY-22-12-08-C'));
    assert.equal(nobody.res.status, 503);
    assert.ok(Number(nobody.res.headers.get('retry-after')) > 0);
  });

  it('answers products, product detail and GSP lookups through ratebus.urls.get', async () => {
    const asked: string[] = [];
    subs.push(
      admin.subscribe(SUBJECTS.urlGet, {
        callback: (_e, msg: Msg) => {
          const req = msg.json<{ path: string }>();
          asked.push(req.path);
          const r: UrlResponse = {
            type: 'url-response',
            schemaVersion: 1,
            path: req.path,
            status: 200,
            contentType: 'application/json',
            body: '{"count":1,"next":null,"previous":null,"results":[{"group_id":"_C"}]}',
            fetchedAt: new Date().toISOString(),
          };
          msg.respond(JSON.stringify(r));
        },
      }),
    );
    await admin.flush(); // the responder is registered at the server before the gateway asks
    const { res, body } = await getJson('/v1/industry/grid-supply-points?postcode=SW1A%201AA');
    assert.equal(res.status, 200);
    assert.deepEqual(body, { count: 1, next: null, previous: null, results: [{ group_id: '_C' }] });
    assert.deepEqual(asked, ['/v1/industry/grid-supply-points/?postcode=SW1A%201AA']);
    for (const s of subs.splice(0)) s.unsubscribe();
    await admin.flush();
    const down = await fetch(`${gw.url}/v1/products/`);
    assert.equal(down.status, 503);
    assert.ok(down.headers.get('retry-after'));
    await down.arrayBuffer();
  });

  it('never lets traversal or wildcard codes reach NATS or the file system', async () => {
    const observer = await connect({ servers: ns.url, name: 'observer' });
    try {
      const seen: string[] = [];
      subs.push(
        observer.subscribe('>', {
          callback: (_e, m) => {
            seen.push(m.subject);
          },
        }),
      );
      await observer.flush();
      // Positive control: a valid tariff nobody holds is asked for on the bus, and the observer sees it.
      await (
        await fetch(`${gw.url}${ratesPath('FLUX-IMPORT-23-02-14', 'E-1R-FLUX-IMPORT-23-02-14-C')}`)
      ).arrayBuffer();
      await check(() => seen.some((s) => s.startsWith('ratebus.refresh.FLUX-IMPORT-23-02-14.')), {
        name: 'control',
      });
      const before = mirrorFiles();
      seen.length = 0;
      const bad = [
        '/v1/products/AGILE-24-10-01/electricity-tariffs/..%2F..%2F..%2Ftmp%2Fx/standard-unit-rates/',
        '/v1/products/AGILE-24-10-01/electricity-tariffs/%2E%2E/standard-unit-rates/',
        '/v1/products/AGILE-24-10-01/electricity-tariffs/*/standard-unit-rates/',
        '/v1/products/AGILE-24-10-01/electricity-tariffs/%3E/standard-unit-rates/',
        '/v1/products/AGILE-24-10-01/electricity-tariffs/E-1R-AGILE-24-10-01-C.%3E/standard-unit-rates/',
        '/v1/products/*/electricity-tariffs/E-1R-AGILE-24-10-01-C/standard-unit-rates/',
        '/v1/products/AGILE.*/',
        '/v1/products/..%2F..%2Fetc/',
        '/v1/products/%3E/',
      ];
      for (const path of bad) {
        const res = await fetch(`${gw.url}${path}`);
        assert.equal(res.status, 404, path);
        assert.deepEqual(await res.json(), { detail: 'Not found.' });
      }
      await gwNc.flush();
      await observer.flush();
      const leaked = seen.filter(
        (s) =>
          /^ratebus\.(refresh|urls)\b/.test(s) ||
          /^\$KV\.ratebus-interest\.(?!FLUX|GO|AGILE-24-10-01\.E-1R|COSY|AGILE-24-10-01\.E-2R)/.test(s),
      );
      assert.deepEqual(leaked, []);
      assert.deepEqual(mirrorFiles(), before);
      assert.deepEqual(readdirSync(mirrorRoot), ['shared']);
    } finally {
      await observer.close();
    }
  });
});
