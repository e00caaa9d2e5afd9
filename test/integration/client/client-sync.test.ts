import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import {
  EnsureTimeoutError,
  InvalidCodeError,
  NoFetcherError,
  NotFoundError,
  RateClient,
  type RateClientOptions,
  type RateUpdate,
} from '@ratebus/client';
import { type Buckets, createBuckets, makeDoc, putCheck, putDoc, tariffN } from '@ratebus/fixtures';
import { ERROR_CODE_HEADER, ERROR_HEADER, rateKey, refreshSubject, responderQueue } from '@ratebus/schema';
import { check, NatsServer } from '@ratebus/testkit';

const FAST = {
  resyncIntervalMs: 500,
  resyncGraceMs: 100,
  retryInitialMs: 50,
  retryMaxMs: 500,
  pingIntervalMs: 1_000,
};

describe('RateClient (single server)', function () {
  this.timeout(30_000);
  let ns: NatsServer;
  let nc: NatsConnection;
  let bus: Buckets;
  const clients: RateClient[] = [];
  const open = async (o: Parameters<typeof RateClient.connect>[0] = {}) => {
    const c = await RateClient.connect({ servers: ns.url, ...FAST, ...o });
    clients.push(c);
    return c;
  };

  before(async () => {
    ns = await NatsServer.start();
    nc = await connect({ servers: ns.url });
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });
  after(async () => {
    await nc?.close();
    await ns?.stop();
  });

  it('waits for buckets that do not exist yet, then syncs (a pod started before any fetcher)', async () => {
    const c = await open();
    await new Promise((r) => setTimeout(r, 200)); // the client must be retrying the bind by now
    assert.equal(c.stats().ready, null);
    bus = await createBuckets(nc);
    assert.equal(await c.ready(), 'nats');
    assert.equal(c.stats().held, 0);
  });

  it('is ready with all 100 tariffs after a cold start', async () => {
    const docs = Array.from({ length: 100 }, (_, i) =>
      makeDoc(tariffN(i).product, tariffN(i).tariff, { seed: i }),
    );
    await Promise.all(docs.map((d) => putDoc(bus, d)));
    const c = await open();
    assert.equal(await c.ready(), 'nats');
    assert.equal(c.stats().held, 100);
    for (const d of docs) {
      const v = c.get(d.product, d.tariff);
      assert.ok(v, d.tariff);
      assert.equal(v.document.contentHash, d.contentHash);
      assert.equal(v.freshness, 'fresh');
      assert.equal(v.coversThrough, d.coversThrough);
    }
  });

  it('applies updates and deletions, and tells listeners and iterators', async () => {
    const { product, tariff } = tariffN(200);
    const c = await open();
    await c.ready();
    const seen: RateUpdate[] = [];
    c.on('update', (u) => seen.push(u));
    const it = c.updates();
    const rev = await putDoc(bus, makeDoc(product, tariff, { seed: 7 }));
    await check(() => c.get(product, tariff)?.revision === rev, { name: 'update applied' });
    const first = await it.next();
    assert.equal(first.done, false);
    assert.equal(first.value?.kind, 'document');
    assert.equal(first.value?.tariff, tariff);
    await bus.rates.delete(rateKey(product, tariff));
    await check(() => c.get(product, tariff) === undefined, { name: 'deletion applied' });
    assert.deepEqual(
      seen.filter((u) => u.tariff === tariff).map((u) => u.kind),
      ['document', 'removed'],
    );
    await it.return?.();
  });

  it('rejects garbage JSON, wrong-schema, other-tariff, stale-term and regressed messages and keeps the last good copy', async () => {
    const { product, tariff } = tariffN(300);
    const key = rateKey(product, tariff);
    const c = await open();
    await c.ready();
    const good = makeDoc(product, tariff, { seed: 1, term: 5, end: '2026-11-29T23:00:00Z' });
    const goodRev = await putDoc(bus, good);
    await check(() => c.get(product, tariff)?.revision === goodRev, { name: 'good copy' });

    await bus.rates.put(key, '{"not json');
    await bus.rates.put(key, JSON.stringify({ ...good, unitRates: 'nope' }));
    const other = tariffN(301);
    await bus.rates.put(key, JSON.stringify(makeDoc(other.product, other.tariff)));
    await putDoc(bus, makeDoc(product, tariff, { seed: 2, term: 4 }));
    const last = await putDoc(
      bus,
      makeDoc(product, tariff, { seed: 3, term: 5, end: '2026-11-29T22:00:00Z' }),
    );

    await check(() => c.stats().rejected['regressed-coverage'] === 1, { name: 'all rejected' });
    const r = c.stats().rejected;
    assert.equal(r['invalid-payload'], 2);
    assert.equal(r['key-mismatch'], 1);
    assert.equal(r['older-term'], 1);
    const v = c.get(product, tariff);
    assert.equal(v?.document.contentHash, good.contentHash);
    assert.equal(v?.revision, goodRev);
    // Rejected revisions still count as seen: resync checks find nothing missing.
    const checks = c.stats().resyncChecks;
    await check(() => c.stats().resyncChecks >= checks + 4, { name: 'resync checks ran' });
    assert.equal(c.stats().resyncs.resume, 0);
    assert.ok(last > goodRev);

    // A newer term replaces the held copy again.
    const newer = makeDoc(product, tariff, { seed: 4, term: 6, end: '2026-11-29T22:00:00Z' });
    await putDoc(bus, newer);
    await check(() => c.get(product, tariff)?.document.contentHash === newer.contentHash, {
      name: 'newer term',
    });
  });

  it('validates codes before use', async () => {
    const c = await open();
    assert.throws(() => c.get('agile', 'E-1R-AGILE-24-10-01-C'), InvalidCodeError);
    assert.throws(() => c.get('AGILE-24-10-01', 'E-1R-OTHER-24-10-01-C'), InvalidCodeError);
    await assert.rejects(c.ensure('A..B', 'E-1R-A-C'), InvalidCodeError);
  });

  it('returns slots overlapping [from, to) oldest first, one row per period', async () => {
    const { product, tariff } = tariffN(400);
    const doc = makeDoc(product, tariff, { twins: true, end: '2026-11-29T23:00:00Z', slots: 8 });
    const c = await open();
    await c.ready();
    await putDoc(bus, doc);
    await check(() => c.get(product, tariff), { name: 'doc' });
    const rows = c.slots(product, tariff, { from: '2026-11-29T20:15:00Z', to: '2026-11-29T21:30:00Z' });
    assert.deepEqual(
      rows?.map((r) => [r.valid_from, r.payment_method]),
      [
        ['2026-11-29T20:00:00Z', 'DIRECT_DEBIT'],
        ['2026-11-29T20:30:00Z', 'DIRECT_DEBIT'],
        ['2026-11-29T21:00:00Z', 'DIRECT_DEBIT'],
      ],
    );
    const ndd = c.slots(product, tariff, {
      from: Date.parse('2026-11-29T22:30:00Z'),
      to: new Date('2026-11-29T23:00:00Z'),
      paymentMethod: 'NON_DIRECT_DEBIT',
    });
    assert.deepEqual(
      ndd?.map((r) => r.payment_method),
      ['NON_DIRECT_DEBIT'],
    );
    assert.equal(c.slots(tariffN(401).product, tariffN(401).tariff, { from: 0, to: 1 }), undefined);
  });

  it('moves fresh → stale → expired as confirmations stop, and back to fresh when they resume', async () => {
    const { product, tariff } = tariffN(500);
    let now = Date.parse('2026-11-29T12:00:00Z');
    const c = await open({ now: () => now, freshForMs: 30 * 60_000, staleForMs: 35 * 60_000 });
    await c.ready();
    const doc = makeDoc(product, tariff, { fetchedAt: now - 60_000 });
    await putDoc(bus, doc);
    await check(() => c.get(product, tariff), { name: 'doc' });
    assert.equal(c.get(product, tariff)?.freshness, 'fresh');
    assert.equal(c.get(product, tariff)?.ageMs, 60_000);

    // A confirmation of the same content moves the confirmation time forward.
    await putCheck(bus, doc, now);
    await check(() => c.get(product, tariff)?.ageMs === 0, { name: 'confirmation applied' });
    now += 31 * 60_000;
    assert.equal(c.get(product, tariff)?.freshness, 'stale');
    now += 5 * 60_000;
    const expired = c.get(product, tariff);
    assert.equal(expired?.freshness, 'expired');
    assert.equal(expired?.ageMs, 36 * 60_000);
    assert.equal(expired?.document.contentHash, doc.contentHash, 'expired data is still served');

    // A check of OTHER content does not confirm the held document.
    await putCheck(bus, makeDoc(product, tariff, { seed: 9 }), now);
    await check(() => c.get(product, tariff)?.confirmedAt.getTime() === Date.parse(doc.fetchedAt), {
      name: 'confirmation falls back to fetchedAt',
    });
    assert.equal(c.get(product, tariff)?.freshness, 'expired');

    await putCheck(bus, doc, now - 1_000);
    await check(() => c.get(product, tariff)?.freshness === 'fresh', { name: 'fresh again' });
    assert.equal(c.get(product, tariff)?.confirmedAt.getTime(), now - 1_000);
  });

  it('ensure(): NoFetcherError without a fetcher, NotFoundError on NOT_FOUND, the document when one answers', async () => {
    const c = await open();
    await c.ready();
    const a = tariffN(600);
    await assert.rejects(c.ensure(a.product, a.tariff, { timeoutMs: 600 }), NoFetcherError);

    const fetcher = await connect({ servers: ns.url });
    try {
      fetcher.subscribe('ratebus.refresh.>', {
        queue: responderQueue(1),
        callback: (_err, msg) => {
          const [, , product, tariff] = msg.subject.split('.') as [string, string, string, string];
          if (tariff === tariffN(601).tariff) {
            const h = headers();
            h.set(ERROR_CODE_HEADER, 'NOT_FOUND');
            h.set(ERROR_HEADER, 'No ElectricityTariff matches the given query.');
            msg.respond('', { headers: h });
            return;
          }
          if (tariff === tariffN(603).tariff) return; // never answers
          const doc = makeDoc(product, tariff, { seed: 42 });
          void putDoc(bus, doc).then(() => msg.respond(JSON.stringify(doc)));
        },
      });
      await fetcher.flush();
      const nf = tariffN(601);
      await assert.rejects(c.ensure(nf.product, nf.tariff, { timeoutMs: 2_000 }), (e: unknown) => {
        assert.ok(e instanceof NotFoundError);
        assert.equal(e.code, 'ERR_TARIFF_NOT_FOUND');
        return true;
      });
      const ok = tariffN(602);
      const view = await c.ensure(ok.product, ok.tariff, { timeoutMs: 5_000 });
      assert.equal(view.document.tariff, ok.tariff);
      assert.equal(c.get(ok.product, ok.tariff)?.revision, view.revision);
      const silent = tariffN(603);
      await assert.rejects(c.ensure(silent.product, silent.tariff, { timeoutMs: 800 }), EnsureTimeoutError);
      // The refresh subject is the one docs/buses.md names.
      assert.equal(refreshSubject(ok.product, ok.tariff), `ratebus.refresh.${ok.product}.${ok.tariff}`);
      // Interest was declared for every ensured tariff.
      await check(async () => (await bus.interest.get(rateKey(ok.product, ok.tariff)))?.operation === 'PUT', {
        name: 'interest written',
      });
    } finally {
      await fetcher.close();
    }
  });

  it('uses a given connection without closing it', async () => {
    const own = await connect({ servers: ns.url });
    const c = await RateClient.connect({ nc: own, ...FAST });
    assert.equal(await c.ready(), 'nats');
    await c.close();
    assert.equal(own.isClosed(), false);
    await own.close();
  });

  describe('confirmations from other terms and other clocks', () => {
    const MIN = 60_000;
    const HOUR = 60 * MIN;
    /** Thresholds short enough to see data expire by the server's clock within a test. */
    const SHORT = { freshForMs: 1_000, staleForMs: 2_000 };
    const openReady = async (o: RateClientOptions = {}) => {
      const c = await open(o);
      await c.ready();
      return c;
    };

    it('takes the fetcher’s checks again after a Checked record of a higher term (a last-resort lock won above it)', async () => {
      const { product, tariff } = tariffN(700);
      const c = await openReady({ freshForMs: 30 * MIN, staleForMs: 35 * MIN });
      const doc = makeDoc(product, tariff, { term: 5, fetchedAt: Date.now() - 50 * MIN });
      await putDoc(bus, doc);
      await check(() => c.get(product, tariff)?.freshness === 'expired', { name: 'the document, expired' });
      // A last-resort pod whose lock revision is above the running fetcher's term confirmed the same content.
      const foreignAt = Date.now() - 40 * MIN;
      await putCheck(bus, { ...doc, term: 900 }, foreignAt);
      await check(() => c.get(product, tariff)?.confirmedAt.getTime() === foreignAt, {
        name: 'foreign check',
      });

      // The healthy fetcher (term 5) confirms it now: the pod must count it, not refuse it for its term.
      await putCheck(bus, doc, Date.now());
      await check(() => c.get(product, tariff)?.freshness === 'fresh', { name: 'fresh from the fetcher' });
      assert.equal(c.stats().rejected['older-term'], 0);
    });

    it('ages a confirmation from a writer whose clock is ahead from when the server stored it', async () => {
      const { product, tariff } = tariffN(701);
      const c = await openReady(SHORT);
      // A fetcher six hours ahead published and confirmed, then stopped.
      const ahead = Date.now() + 6 * HOUR;
      const doc = makeDoc(product, tariff, { fetchedAt: ahead });
      await putDoc(bus, doc);
      await putCheck(bus, doc, ahead);
      await check(() => c.get(product, tariff), { name: 'held' });
      const expired = await check(
        () => {
          const v = c.get(product, tariff);
          return v?.freshness === 'expired' ? v : null;
        },
        { timeout: 10_000, name: 'expired by the server’s clock' },
      );
      assert.ok(expired.confirmedAt.getTime() <= Date.now(), 'not confirmed in the future');
      assert.ok(expired.ageMs >= SHORT.staleForMs);
      assert.ok(c.stats().maxAgeMs >= SHORT.staleForMs);
    });

    it('ages a confirmation from when it reached the pod when the pod’s own clock is behind the writer’s', async () => {
      const { product, tariff } = tariffN(702);
      const c = await openReady({ ...SHORT, now: () => Date.now() - 6 * HOUR });
      const doc = makeDoc(product, tariff, { fetchedAt: Date.now() });
      await putDoc(bus, doc);
      await putCheck(bus, doc, Date.now());
      await check(() => c.get(product, tariff)?.freshness === 'expired', {
        timeout: 10_000,
        name: 'expired by the server’s clock',
      });
    });

    it('keeps the writer’s times when writer and pod share one clock ahead of the server (a simulated clock)', async () => {
      const { product, tariff } = tariffN(703);
      const skew = 6 * HOUR;
      const c = await openReady({ freshForMs: 30 * MIN, staleForMs: 35 * MIN, now: () => Date.now() + skew });
      const doc = makeDoc(product, tariff, { fetchedAt: Date.now() + skew - 10 * MIN });
      await putDoc(bus, doc);
      const v = await check(() => c.get(product, tariff), { name: 'held' });
      assert.equal(v.confirmedAt.toISOString(), doc.fetchedAt);
      assert.equal(v.freshness, 'fresh');
      assert.ok(v.ageMs >= 10 * MIN && v.ageMs < 11 * MIN, `age ${v.ageMs}`);
    });

    it('keeps the server’s timestamps across a restart from the cache directory', async () => {
      const { product, tariff } = tariffN(704);
      const dir = await mkdtemp(join(tmpdir(), 'ratebus-fences-'));
      try {
        const ahead = Date.now() + 6 * HOUR;
        const doc = makeDoc(product, tariff, { fetchedAt: ahead });
        await putDoc(bus, doc);
        await putCheck(bus, doc, ahead);
        const first = await openReady({ ...SHORT, cacheDir: dir });
        await check(() => first.get(product, tariff), { name: 'held' });
        await first.close();
        // The restored copy keeps the stored entries' server timestamps (relisting finds the same revisions).
        const second = await RateClient.connect({ ...FAST, ...SHORT, servers: ns.url, cacheDir: dir });
        assert.ok(second.get(product, tariff), 'restored');
        await check(() => second.get(product, tariff)?.freshness === 'expired', {
          timeout: 10_000,
          name: 'expired by the server’s clock after the restart',
        });
        await second.close();
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });
});
