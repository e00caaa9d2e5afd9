import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import { InvalidOptionsError, NotFoundError, RateClient } from '@ratebus/client';
import {
  type Buckets,
  createBuckets,
  FAST_LINK,
  makeDoc,
  putCheck,
  putDoc,
  tariffN,
} from '@ratebus/fixtures';
import {
  ERROR_CODE_HEADER,
  ERROR_HEADER,
  type RatesDocument,
  ratesSubject,
  responderQueue,
} from '@ratebus/schema';
import { check, NatsServer, TcpProxy } from '@ratebus/testkit';

/** Timers long enough that only the path under test (push, reconnect, poll) can deliver within a test. */
const QUIET = { ...FAST_LINK, sync: 'tariffs' as const, resyncIntervalMs: 60_000, relistIntervalMs: 600_000 };

/** What the fetcher does: KV write, then the same bytes on the tariff's core subject. */
async function publish(nc: NatsConnection, bus: Buckets, doc: RatesDocument): Promise<number> {
  const rev = await putDoc(bus, doc);
  nc.publish(ratesSubject(doc.product, doc.tariff), JSON.stringify(doc));
  return rev;
}

/**
 * Counts the key reads made on the two KV streams, as the server routes them: direct gets (answered by any
 * replica, the nearest first) and STREAM.MSG.GET (answered by the stream leader only).
 */
async function keyReads(nc: NatsConnection): Promise<{ direct: number; leader: number; stop(): void }> {
  const counts = { direct: 0, leader: 0, stop: () => sub.unsubscribe() };
  const sub = nc.subscribe('$JS.API.>', {
    callback: (_err, m) => {
      if (m.subject.startsWith('$JS.API.DIRECT.GET.KV_ratebus-')) counts.direct++;
      else if (m.subject.startsWith('$JS.API.STREAM.MSG.GET.KV_ratebus-')) counts.leader++;
    },
  });
  await nc.flush(); // the server has the subscription before any read to count
  return counts;
}

async function consumerCount(nc: NatsConnection): Promise<number> {
  const jsm = await jetstreamManager(nc);
  let n = 0;
  for (const stream of ['KV_ratebus-rates', 'KV_ratebus-checks']) {
    for await (const _ of jsm.consumers.list(stream)) n++;
  }
  return n;
}

describe("RateClient with sync: 'tariffs'", function () {
  this.timeout(60_000);
  let ns: NatsServer;
  let admin: NatsConnection;
  /** Clients and proxies, closed after each test, newest first. */
  let owned: { close(): Promise<unknown> }[] = [];
  const open = async (o: Parameters<typeof RateClient.connect>[0]) => {
    const c = await RateClient.connect({ servers: ns.url, ...QUIET, ...o });
    owned.push(c);
    return c;
  };

  before(async () => {
    ns = await NatsServer.start();
    admin = await connect({ servers: ns.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  });
  afterEach(async () => {
    for (const o of owned.reverse()) await o.close();
    owned = [];
  });
  after(async () => Promise.all([admin?.close(), ns?.stop()]));

  it('holds only its own tariffs, with no JetStream consumer, and ensure() reads one already stored', async () => {
    const bus = await createBuckets(admin);
    const [a, b, other] = [tariffN(41), tariffN(42), tariffN(43)];
    const revA = await putDoc(bus, makeDoc(a.product, a.tariff));
    const revB = await putDoc(bus, makeDoc(b.product, b.tariff));
    await putDoc(bus, makeDoc(other.product, other.tariff));
    const c = await open({ tariffs: [a] });
    assert.equal(await c.ready(), 'nats');
    assert.equal(c.get(a.product, a.tariff)?.revision, revA);
    assert.equal(c.get(b.product, b.tariff), undefined, 'not followed, not held');
    // No fetcher runs: ensure() can only succeed by reading the stored document.
    assert.equal((await c.ensure(b.product, b.tariff, { timeoutMs: 5_000 })).revision, revB);
    assert.deepEqual(
      c
        .tariffs()
        .map((t) => t.tariff)
        .sort(),
      [a.tariff, b.tariff].sort(),
    );
    assert.equal(await consumerCount(admin), 0);
  });

  it('applies a pushed document at its KV revision, without waiting for a poll', async () => {
    const bus = await createBuckets(admin);
    const a = tariffN(44);
    await putDoc(bus, makeDoc(a.product, a.tariff, { seed: 1 }));
    const c = await open({ tariffs: [a] });
    await c.ready();
    const next = makeDoc(a.product, a.tariff, { seed: 2 });
    const rev = await publish(admin, bus, next);
    await check(() => c.get(a.product, a.tariff)?.revision === rev, { name: 'pushed document held' });
    assert.equal(c.get(a.product, a.tariff)?.document.contentHash, next.contentHash);
    assert.equal(c.stats().resyncChecks, 0, 'no poll ran');
  });

  it('takes a new confirmation within its poll period', async () => {
    const bus = await createBuckets(admin);
    const a = tariffN(45);
    const t0 = Date.parse('2026-11-29T12:00:00Z');
    const doc = makeDoc(a.product, a.tariff, { fetchedAt: t0 - 20 * 60_000 });
    await putDoc(bus, doc);
    const c = await open({ tariffs: [a], resyncIntervalMs: 200, now: () => t0 });
    await c.ready();
    assert.equal(c.get(a.product, a.tariff)?.ageMs, 20 * 60_000);
    await putCheck(bus, doc, t0 - 60_000);
    await check(() => c.get(a.product, a.tariff)?.ageMs === 60_000, { name: 'confirmation polled' });
  });

  it('recovers a document pushed during a half-open link after reconnecting, without another write', async () => {
    const bus = await createBuckets(admin);
    const a = tariffN(46);
    await putDoc(bus, makeDoc(a.product, a.tariff, { seed: 1 }));
    const proxy = await TcpProxy.start(ns.port);
    owned.push(proxy);
    const c = await open({ servers: proxy.url, tariffs: [a], resyncIntervalMs: 1_000 });
    await c.ready();
    proxy.blackhole();
    const next = makeDoc(a.product, a.tariff, { seed: 2 });
    const rev = await publish(admin, bus, next); // the push is lost on the dead link
    proxy.restore();
    await check(() => c.get(a.product, a.tariff)?.revision === rev, {
      timeout: 15_000,
      name: 'caught up after the reconnect',
    });
    assert.ok(c.stats().reconnects >= 1);
    assert.equal((await bus.rates.status()).streamInfo.state.last_seq, rev, 'no further write happened');
  });

  it('takes the document of a recreated bucket (revisions start again) and keeps one a purge removed', async () => {
    let bus = await createBuckets(admin);
    const [a, kept] = [tariffN(47), tariffN(48)];
    for (let i = 1; i <= 5; i++) await putDoc(bus, makeDoc(a.product, a.tariff, { seed: i }));
    const keptRev = await putDoc(bus, makeDoc(kept.product, kept.tariff));
    const c = await open({ tariffs: [a, kept], relistIntervalMs: 300 });
    await c.ready();
    assert.ok((c.get(a.product, a.tariff)?.revision ?? 0) >= 5);
    const jsm = await jetstreamManager(admin);
    await jsm.streams.delete('KV_ratebus-rates');
    bus = await createBuckets(admin);
    const fresh = makeDoc(a.product, a.tariff, { seed: 9 });
    const rev = await publish(admin, bus, fresh);
    assert.equal(rev, 1);
    await check(() => c.get(a.product, a.tariff)?.document.contentHash === fresh.contentHash, {
      name: "the new bucket's document",
    });
    assert.equal(c.get(a.product, a.tariff)?.revision, 1);
    assert.equal(c.stats().rebased, 0, 'taken as a new epoch, not as writes lost by the server');
    const relists = c.stats().resyncs.relist;
    await check(() => c.stats().resyncs.relist >= relists + 4, { name: 'catch-ups after the purge' });
    assert.equal(c.get(kept.product, kept.tariff)?.revision, keptRev, 'a key the bucket lacks stays held');
  });

  it('takes a recreated bucket as a new epoch even when its revisions have climbed past the held one', async () => {
    let bus = await createBuckets(admin);
    const a = tariffN(49);
    await putDoc(bus, makeDoc(a.product, a.tariff, { seed: 1, term: 50 }));
    const c = await open({ tariffs: [a], relistIntervalMs: 300 });
    await c.ready();
    const heldRev = c.get(a.product, a.tariff)?.revision ?? 0;
    const jsm = await jetstreamManager(admin);
    await jsm.streams.delete('KV_ratebus-rates');
    bus = await createBuckets(admin);
    // A system started again from nothing: terms start at 1, and other keys took the first revisions.
    for (let i = 0; i < heldRev + 2; i++)
      await putDoc(bus, makeDoc(tariffN(60 + i).product, tariffN(60 + i).tariff));
    const fresh = makeDoc(a.product, a.tariff, { seed: 2, term: 1 });
    const rev = await putDoc(bus, fresh);
    assert.ok(rev > heldRev);
    await check(() => c.get(a.product, a.tariff)?.document.contentHash === fresh.contentHash, {
      name: "the new bucket's document (term 1)",
      timeout: 10_000,
    });
    assert.equal(c.get(a.product, a.tariff)?.revision, rev);
  });

  it('stops following a tariff the fetcher says does not exist, and keeps following the ones it holds', async () => {
    const held = tariffN(700);
    const missing = tariffN(701);
    const bus = await createBuckets(admin);
    await putDoc(bus, makeDoc(held.product, held.tariff));
    const responder = await connect({ servers: ns.url });
    owned.push(responder);
    responder.subscribe('ratebus.refresh.>', {
      queue: responderQueue(1),
      callback: (_err, msg) => {
        const h = headers();
        h.set(ERROR_CODE_HEADER, 'NOT_FOUND');
        h.set(ERROR_HEADER, 'No ElectricityTariff matches the given query.');
        msg.respond('', { headers: h });
      },
    });
    await responder.flush();
    const c = await open({ name: 'tariffs-unfollow' });
    await c.ensure(held.product, held.tariff, { timeoutMs: 5_000 });
    await assert.rejects(c.ensure(missing.product, missing.tariff, { timeoutMs: 5_000 }), NotFoundError);
    const subjects = async () => {
      const z = await ns.monitor<{ connections: { name?: string; subscriptions_list?: string[] }[] }>(
        'connz?subs=1',
      );
      return z.connections.find((x) => x.name === 'tariffs-unfollow')?.subscriptions_list ?? [];
    };
    await check(async () => !(await subjects()).includes(ratesSubject(missing.product, missing.tariff)), {
      name: 'no subscription left for the missing tariff',
      timeout: 5_000,
    });
    assert.ok((await subjects()).includes(ratesSubject(held.product, held.tariff)));
  });

  it('makes its periodic catch-up through the stream leader, not the nearest replica', async () => {
    const bus = await createBuckets(admin);
    const a = tariffN(81);
    await putDoc(bus, makeDoc(a.product, a.tariff));
    const reads = await keyReads(admin);
    try {
      const c = await open({ tariffs: [a], relistIntervalMs: 300 });
      await c.ready();
      await check(() => reads.direct >= 2, { name: 'the first read of both keys, a direct get' });
      const afterStart = { ...reads };
      // Each catch-up reads both keys through the leader: a replica that numbered writes differently (seen
      // with nats-server 2.9.10 after a node crash) would otherwise keep answering a pod near it.
      await check(() => reads.leader - afterStart.leader >= 4, { name: 'two catch-ups through the leader' });
      assert.equal(c.stats().rebased, 0);
    } finally {
      reads.stop();
    }
  });

  it('reads every key through the stream leader once the server renumbered one it held', async () => {
    const bus = await createBuckets(admin);
    const a = tariffN(82);
    const dir = mkdtempSync(join(tmpdir(), 'ratebus-client-tariffs-'));
    owned.push({ close: async () => rmSync(dir, { recursive: true, force: true }) });
    const rev = await putDoc(bus, makeDoc(a.product, a.tariff, { seed: 1 }));
    // The held revision is one the stream does not have (what a pod holds after the server lost or
    // renumbered writes): persisted by a first pod, then raised.
    const first = await RateClient.connect({ servers: ns.url, ...QUIET, tariffs: [a], cacheDir: dir });
    await first.ready();
    await first.close();
    const file = join(dir, `${a.product}_${a.tariff}.json`);
    const persisted = JSON.parse(readFileSync(file, 'utf8')) as { revision: number };
    assert.equal(persisted.revision, rev);
    writeFileSync(file, JSON.stringify({ ...persisted, revision: rev + 500 }));

    const c = await open({ tariffs: [a], cacheDir: dir });
    await check(() => c.stats().rebased === 1 && c.get(a.product, a.tariff)?.revision === rev, {
      name: "the stream leader's entry taken",
    });
    const reads = await keyReads(admin);
    try {
      const next = makeDoc(a.product, a.tariff, { seed: 2 });
      const rev2 = await publish(admin, bus, next);
      await check(() => c.get(a.product, a.tariff)?.revision === rev2, { name: 'pushed document held' });
      assert.equal(reads.direct, 0, 'no direct get after the renumbering');
      assert.ok(reads.leader >= 1);
    } finally {
      reads.stop();
    }
  });

  it('rejects tariffs without tariff sync, and invalid codes, listing every problem', async () => {
    await assert.rejects(
      RateClient.connect({ servers: ns.url, tariffs: [tariffN(49)] }),
      (e: unknown) => e instanceof InvalidOptionsError && e.problems.some((p) => p.startsWith('tariffs')),
    );
    await assert.rejects(
      RateClient.connect({ servers: ns.url, sync: 'tariffs', tariffs: [{ product: 'a b', tariff: 'x' }] }),
      (e: unknown) => e instanceof InvalidOptionsError && e.problems.some((p) => p.startsWith('tariffs.0')),
    );
  });
});
