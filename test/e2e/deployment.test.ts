import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KV } from '@nats-io/kv';
import { type NatsConnection, PermissionViolationError } from '@nats-io/transport-node';
import { collectViolations, isViolation } from '@ratebus/fixtures';
import {
  BUCKETS,
  LEASE_KEY,
  type RatesDocument,
  rateKey,
  ratesSubject,
  type TariffRef,
  unitRateRows,
} from '@ratebus/schema';
import { check } from '@ratebus/testkit';
import { parse } from 'yaml';
import { openKv, scheduledWaitMs, simAdmin, storedDoc, waitForLeader } from './bus.js';
import { Topology } from './topology.js';

const DAY_MS = 86_400_000;
/** Own requests to the simulator are tagged, so they are never mistaken for the gateway's. */
const SIM_CALLER = { 'x-sim-caller': 'e2e-test' };

interface StatsSnapshot {
  byPath: Record<string, number>;
  log: { at: string; path: string; caller: string }[];
}

describe('ratebus end to end: a healthy deployment', function () {
  this.timeout(240_000);
  let topo: Topology;
  let inspector: NatsConnection;
  let rates: KV;

  before(async () => {
    topo = await Topology.start({ label: 'e2e-deploy' });
    inspector = await topo.connect('inspector');
    rates = await openKv(inspector, BUCKETS.rates);
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed' || process.env.RATEBUS_E2E_LOGS)
      console.log(topo?.diagnostics());
  });
  after(async () => {
    await topo?.stop();
  });

  /** Every configured tariff's stored document, once all are there. */
  async function storedDocs(): Promise<Map<TariffRef, RatesDocument>> {
    const out = new Map<TariffRef, RatesDocument>();
    for (const t of topo.tariffs) {
      const doc = await storedDoc(rates, t);
      if (!doc) throw new Error(`${t.tariff} not in ${BUCKETS.rates} yet`);
      out.set(t, doc);
    }
    return out;
  }

  it('every pod holds every configured tariff, fresh, with the content hash stored in KV', async () => {
    const leader = await waitForLeader(inspector, 30_000);
    assert.ok(topo.fetcherIds.includes(leader.holder), `the lease holder ${leader.holder} is one of ours`);
    const docs = await check(
      async () => {
        const docs = await storedDocs();
        for (const [t, doc] of docs) {
          for (const [i, pod] of topo.pods.entries()) {
            const view = pod.get(t.product, t.tariff);
            if (!view) throw new Error(`pod ${i + 1} lacks ${t.tariff}`);
            if (view.document.contentHash !== doc.contentHash)
              throw new Error(`pod ${i + 1} holds another ${t.tariff}`);
            if (view.freshness !== 'fresh') throw new Error(`pod ${i + 1}: ${t.tariff} ${view.freshness}`);
          }
        }
        return docs;
      },
      { timeout: scheduledWaitMs(45_000), interval: 250, name: 'pods converge' },
    );
    assert.equal(docs.size, topo.tariffs.length);
    for (const [t, doc] of docs) {
      assert.equal(doc.product, t.product);
      assert.equal(doc.tariff, t.tariff);
      assert.ok(doc.term <= leader.term, 'written by the current or an earlier term');
      assert.ok(unitRateRows(doc).length > 0, `${t.tariff} has unit rates`);
    }
  });

  it('the gateway answers an Agile rates request like upstream, with freshness headers', async () => {
    const agile = topo.tariffs.find((t) => t.product.startsWith('AGILE-') && !t.product.includes('OUTGOING'));
    assert.ok(agile, 'an Agile import tariff is configured');
    const doc = await check(() => storedDoc(rates, agile), {
      timeout: scheduledWaitMs(45_000),
      name: 'Agile stored',
    });
    // Yesterday (UTC): inside the fetcher's window, so the answer must equal the upstream one exactly.
    const midnight = Math.floor(Date.now() / DAY_MS) * DAY_MS;
    const query = `period_from=${new Date(midnight - DAY_MS).toISOString()}&period_to=${new Date(midnight).toISOString()}&page_size=1500`;
    const path = `/v1/products/${agile.product}/electricity-tariffs/${agile.tariff}/standard-unit-rates/?${query}`;
    const res = await check(
      async () => {
        const r = await fetch(`${topo.gatewayUrl}${path}`);
        if (r.status !== 200) throw new Error(`gateway answered ${r.status}: ${await r.text()}`);
        return r;
      },
      { timeout: 30_000, name: 'gateway 200' },
    );
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    assert.equal(res.headers.get('x-ratebus-freshness'), 'fresh');
    assert.match(res.headers.get('age') ?? '', /^\d+$/);
    assert.match(res.headers.get('cache-control') ?? '', /max-age=\d+/);
    assert.equal(res.headers.get('x-ratebus-covers-through'), doc.coversThrough);
    const body = (await res.json()) as { count: number; results: { valid_from: string }[] };
    assert.ok(body.count >= 46, `a day of half-hours (${body.count})`);

    const upstream = await fetch(`${topo.simUrl}${path}`, { headers: SIM_CALLER });
    assert.equal(upstream.status, 200);
    assert.deepEqual(body, await upstream.json(), 'same JSON as upstream');
  });

  it('the gateway lists products through the shared URL cache, never asking upstream itself', async () => {
    const since = new Date().toISOString();
    const before = (await simAdmin<StatsSnapshot>(topo.simUrl, '/_sim/stats')).byPath['/v1/products/'] ?? 0;
    const first = await check(
      async () => {
        const r = await fetch(`${topo.gatewayUrl}/v1/products/`);
        if (r.status !== 200) throw new Error(`gateway answered ${r.status}: ${await r.text()}`);
        return (await r.json()) as { count: number; results: { code: string }[] };
      },
      { timeout: 30_000, name: 'products via gateway' },
    );
    const again = await fetch(`${topo.gatewayUrl}/v1/products/`);
    assert.equal(again.status, 200);
    assert.match(again.headers.get('age') ?? '', /^\d+$/, 'served from the cache, with its age');
    assert.deepEqual(await again.json(), first);

    const stats = await simAdmin<StatsSnapshot>(topo.simUrl, '/_sim/stats');
    const upstreamCalls = (stats.byPath['/v1/products/'] ?? 0) - before;
    assert.ok(upstreamCalls <= 1, `at most one upstream call for two gateway requests (${upstreamCalls})`);
    const callers = stats.log.filter((e) => e.at >= since && e.path === '/v1/products/').map((e) => e.caller);
    for (const c of callers) assert.match(c, /fetcher\/fetcher-\d+$/, 'only a fetcher went upstream');

    const upstream = (await (await fetch(`${topo.simUrl}/v1/products/`, { headers: SIM_CALLER })).json()) as {
      count: number;
      results: { code: string }[];
    };
    assert.equal(first.count, upstream.count);
    assert.deepEqual(
      first.results.map((p) => p.code),
      upstream.results.map((p) => p.code),
    );
    // The leader keeps the answer in its URL cache bucket (readable by the inspector, not by pods).
    const urls = await openKv(inspector, BUCKETS.urls);
    const paths: string[] = [];
    for await (const k of await urls.keys()) {
      const e = await urls.get(k);
      if (e?.operation === 'PUT') paths.push((JSON.parse(e.string()) as { path: string }).path);
    }
    assert.ok(paths.includes('/v1/products/'), `cached paths: ${paths.join(', ')}`);
  });

  it('the gateway mirrors every configured tariff as YAML in the shared cache layout, no temp files left', async () => {
    const dir = join(topo.mirrorDir, 'shared', 'tariffs');
    await check(
      async () => {
        const docs = await storedDocs();
        const names = readdirSync(dir);
        const temp = names.filter((n) => n.startsWith('.') || n.endsWith('.tmp'));
        if (temp.length > 0) throw new Error(`temp files: ${temp.join(', ')}`);
        for (const [t, doc] of docs) {
          const name = `${t.product}_${t.tariff}.yaml`;
          if (!names.includes(name)) throw new Error(`${name} missing`);
          const y = parse(readFileSync(join(dir, name), 'utf8')) as Record<string, unknown>;
          assert.equal(y.format, 'ratebus-tariff-mirror/1');
          assert.equal(y.product, t.product);
          assert.equal(y.tariff, t.tariff);
          if (y.content_hash !== doc.contentHash) throw new Error(`${name} holds another content`);
          assert.equal((y.standard_unit_rates as unknown[]).length, unitRateRows(doc).length);
        }
        return true;
      },
      { timeout: 30_000, interval: 250, name: 'mirror written' },
    );
  });

  describe("a pod's credentials", () => {
    let pod: NatsConnection;
    let violations: PermissionViolationError[];
    before(async () => {
      // One node for the forger, the listener and the fetcher: a forged push would reach the listener before
      // the server answers the forger's PING, and before the genuine push sent after it.
      pod = await topo.connect('pod', topo.servers[0]);
      violations = collectViolations(pod);
    });

    it('cannot publish live rates: the violation is reported and subscribers receive nothing', async () => {
      const t = topo.tariffs[0] as TariffRef;
      const subject = ratesSubject(t.product, t.tariff);
      const listener = await topo.connect('inspector', topo.servers[0]);
      const fetcher = await topo.connect('fetcher', topo.servers[0]);
      const got: string[] = [];
      listener.subscribe(subject, { callback: (_e, m) => void got.push(m.string()) });
      await listener.flush();

      pod.publish(subject, 'forged by a pod');
      await pod.flush(); // the server has refused the publish before it answers the ping
      fetcher.publish(subject, 'genuine marker');

      await check(() => violations.some((v) => v.subject === subject && v.operation === 'publish'), {
        name: 'permission violation reported',
      });
      await check(() => got.includes('genuine marker'), { name: 'the genuine push arrives' });
      assert.ok(!got.includes('forged by a pod'), 'the forged push was not delivered');
    });

    it('cannot put, create or delete in ratebus-rates or ratebus-checks', async () => {
      const t = topo.tariffs[0] as TariffRef;
      const key = rateKey(t.product, t.tariff);
      const before = await check(() => storedDoc(rates, t), { timeout: 30_000, name: 'stored doc' });
      for (const bucket of [BUCKETS.rates, BUCKETS.checks]) {
        const kv = await openKv(pod, bucket);
        assert.equal((await kv.status()).bucket, bucket, 'a pod may bind and read it');
        await assert.rejects(kv.put(key, '{"forged":true}'), isViolation(`$KV.${bucket}.${key}`));
        await assert.rejects(kv.create('NEW.KEY', '{}'), isViolation(`$KV.${bucket}.NEW.KEY`));
        await assert.rejects(kv.delete(key), isViolation(`$KV.${bucket}.${key}`));
      }
      const after = await storedDoc(rates, t);
      assert.equal(after?.contentHash, before.contentHash, 'the stored document is untouched');
    });

    it('cannot open, read or watch the lease or the URL cache', async () => {
      for (const bucket of [BUCKETS.lease, BUCKETS.urls]) {
        const kv = await openKv(pod, bucket); // binding sends nothing; every use is refused
        await assert.rejects(kv.status(), isViolation(`$JS.API.STREAM.INFO.KV_${bucket}`));
        await assert.rejects(
          kv.get(LEASE_KEY),
          isViolation(new RegExp(`^\\$JS\\.API\\.(DIRECT\\.GET|STREAM\\.MSG\\.GET)\\.KV_${bucket}`)),
        );
        await assert.rejects(
          kv.watch(),
          isViolation(new RegExp(`^\\$JS\\.API\\.CONSUMER\\.CREATE\\.KV_${bucket}\\.`)),
        );
        // nor listen to its writes
        const sub = pod.subscribe(`$KV.${bucket}.>`);
        assert.ok(
          (await sub.closed) instanceof PermissionViolationError,
          `subscribe $KV.${bucket}.> refused`,
        );
      }
    });
  });
});
