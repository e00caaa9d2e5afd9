import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { RateClient, type RateUpdate } from '@ratebus/client';
import { createBuckets, makeDoc, putCheck, putDoc, tariffN } from '@ratebus/fixtures';
import { check, NatsServer } from '@ratebus/testkit';

const FAST = {
  resyncIntervalMs: 500,
  resyncGraceMs: 100,
  retryInitialMs: 50,
  retryMaxMs: 300,
  pingIntervalMs: 500,
};
const MIN = 60_000;

describe('RateClient persistence', function () {
  this.timeout(30_000);
  let ns: NatsServer;
  let admin: NatsConnection;
  let dir: string;
  const clients: RateClient[] = [];

  before(async () => {
    ns = await NatsServer.start();
    admin = await connect({ servers: ns.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    dir = mkdtempSync(join(tmpdir(), 'ratebus-client-cache-'));
  });
  after(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await admin?.close();
    await ns?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('restarted while NATS is unreachable, serves the persisted copy with its true age and freshness', async () => {
    const bus = await createBuckets(admin);
    const t0 = Date.parse('2026-11-29T12:00:00Z');
    const { product, tariff } = tariffN(21);
    const other = tariffN(22);
    const doc = makeDoc(product, tariff, { fetchedAt: t0 - 10 * MIN });
    const rev = await putDoc(bus, doc);
    await putCheck(bus, doc, t0 - 5 * MIN);
    await putDoc(bus, makeDoc(other.product, other.tariff, { fetchedAt: t0 - 40 * MIN }));

    const first = await RateClient.connect({ servers: ns.url, cacheDir: dir, now: () => t0, ...FAST });
    await first.ready();
    await check(() => first.get(product, tariff)?.ageMs === 5 * MIN, { name: 'confirmation applied' });
    await first.close(); // flushes the cache dir
    assert.deepEqual(
      readdirSync(dir).sort(),
      [`${product}_${tariff}.json`, `${other.product}_${other.tariff}.json`].sort(),
    );
    // A corrupt file is skipped, not fatal.
    const junk = tariffN(23);
    writeFileSync(join(dir, `${junk.product}_${junk.tariff}.json`), '{"format":1,');

    await ns.stop();
    let now = t0 + 22 * MIN;
    const second = await RateClient.connect({ servers: ns.url, cacheDir: dir, now: () => now, ...FAST });
    clients.push(second);
    assert.equal(await second.ready(), 'cache');
    const v = second.get(product, tariff);
    assert.ok(v);
    assert.equal(v.ageMs, 27 * MIN, 'age counts from the fetcher confirmation before the restart');
    assert.equal(v.freshness, 'fresh');
    assert.equal(v.revision, rev);
    assert.equal(v.confirmedAt.getTime(), t0 - 5 * MIN);
    assert.equal(v.document.contentHash, doc.contentHash);
    now += 5 * MIN;
    assert.equal(second.get(product, tariff)?.freshness, 'stale');
    assert.equal(second.get(other.product, other.tariff)?.freshness, 'expired');
    assert.equal(second.get(junk.product, junk.tariff), undefined);
    assert.equal(second.stats().restored, 2);
  });
});

/** A fresh server, admin connection and cache dir per test; clients pushed to `clients` are closed after it. */
function serverPerTest(dirPrefix: string) {
  const w = {
    ns: undefined as unknown as NatsServer,
    admin: undefined as unknown as NatsConnection,
    dir: '',
    clients: [] as RateClient[],
  };
  beforeEach(async () => {
    w.ns = await NatsServer.start();
    w.admin = await connect({ servers: w.ns.url });
    w.dir = mkdtempSync(join(tmpdir(), dirPrefix));
  });
  afterEach(async () => {
    await Promise.all(w.clients.splice(0).map((c) => c.close()));
    await w.admin?.close();
    await w.ns?.stop();
    rmSync(w.dir, { recursive: true, force: true });
  });
  return w;
}

describe('RateClient after its bucket was purged or recreated', function () {
  this.timeout(30_000);
  const w = serverPerTest('ratebus-client-purge-');

  /** Holds one confirmed document with a persisted copy, empties the bucket by `empty`, waits for a relist. */
  async function heldThroughEmptying(n: number, empty: () => Promise<void>) {
    const bus = await createBuckets(w.admin);
    const t0 = Date.parse('2026-11-29T12:00:00Z');
    let now = t0;
    const { product, tariff } = tariffN(n);
    const doc = makeDoc(product, tariff, { fetchedAt: t0 - 10 * MIN });
    const rev = await putDoc(bus, doc);
    await putCheck(bus, doc, t0 - 5 * MIN);
    const c = await RateClient.connect({
      servers: w.ns.url,
      cacheDir: w.dir,
      now: () => now,
      ...FAST,
      relistIntervalMs: 300,
    });
    w.clients.push(c);
    await c.ready();
    await check(() => c.get(product, tariff)?.ageMs === 5 * MIN, { name: 'confirmed copy held' });
    await empty();
    // A listing without the key has been applied: counted as unlisted (kept) or, before the fix, dropped.
    await check(() => c.stats().unlisted >= 1 || c.get(product, tariff) === undefined, {
      name: 'a listing after emptying',
    });
    now = t0 + 27 * MIN;
    return { c, product, tariff, doc, rev, file: join(w.dir, `${product}_${tariff}.json`) };
  }

  async function assertKept(h: Awaited<ReturnType<typeof heldThroughEmptying>>): Promise<void> {
    const v = h.c.get(h.product, h.tariff);
    assert.ok(v, 'still served');
    assert.equal(v.document.contentHash, h.doc.contentHash);
    assert.equal(v.revision, h.rev);
    assert.equal(v.ageMs, 32 * MIN, 'labelled by the age of its last confirmation');
    assert.equal(v.freshness, 'stale');
    assert.equal(h.c.stats().removed, 0);
    await h.c.close(); // flushes pending disk writes: a deletion would have happened by now
    assert.ok(readdirSync(w.dir).includes(`${h.product}_${h.tariff}.json`), 'persisted copy kept');
    const restarted = await RateClient.connect({ servers: 'nats://127.0.0.1:1', cacheDir: w.dir, ...FAST });
    w.clients.push(restarted);
    assert.equal(await restarted.ready(), 'cache');
    assert.equal(restarted.get(h.product, h.tariff)?.document.contentHash, h.doc.contentHash);
  }

  it('keeps serving, and keeps the persisted copy of, a document a purged bucket no longer lists', async () => {
    const jsm = await jetstreamManager(w.admin);
    await assertKept(
      await heldThroughEmptying(31, async () => void (await jsm.streams.purge('KV_ratebus-rates'))),
    );
  });

  it('keeps serving, and keeps the persisted copy of, a document a recreated bucket does not hold', async () => {
    const jsm = await jetstreamManager(w.admin);
    const h = await heldThroughEmptying(32, async () => {
      await jsm.streams.delete('KV_ratebus-rates');
      await jsm.streams.delete('KV_ratebus-checks');
      await createBuckets(w.admin);
    });
    await assertKept(h);
  });
});

describe('RateClient when the server lost acknowledged writes', function () {
  this.timeout(30_000);
  const w = serverPerTest('ratebus-client-rebase-');

  /**
   * A pod that holds `key` at a revision the bucket no longer has (same stream): persisted by a first
   * client, then its revision raised to 999 — what a pod holds after the server acknowledged a write,
   * delivered it, and lost it in a crash (nats-server 2.9.x; see test/chaos/README.md).
   */
  async function holdLostRevision(product: string, tariff: string, term: number): Promise<void> {
    const bus = await createBuckets(w.admin);
    await putDoc(bus, makeDoc(product, tariff, { term, end: '2026-11-29T23:00:00Z' }));
    const first = await RateClient.connect({ servers: w.ns.url, cacheDir: w.dir, ...FAST });
    await first.ready();
    await first.close();
    const file = join(w.dir, `${product}_${tariff}.json`);
    const persisted = JSON.parse(readFileSync(file, 'utf8')) as { revision: number };
    writeFileSync(file, JSON.stringify({ ...persisted, revision: 999 }));
  }

  it('takes the stored document once the stream leader confirms the held revision is gone', async () => {
    const { product, tariff } = tariffN(31);
    await holdLostRevision(product, tariff, 5);
    const bus = await createBuckets(w.admin);
    const newer = makeDoc(product, tariff, { term: 5, end: '2026-11-30T23:00:00Z', seed: 2 });
    const rev = await putDoc(bus, newer);
    assert.ok(rev < 999);

    const pod = await RateClient.connect({ servers: w.ns.url, cacheDir: w.dir, ...FAST });
    w.clients.push(pod);
    const updates: RateUpdate[] = [];
    pod.on('update', (u) => updates.push(u));
    const v = await check(
      () => (pod.get(product, tariff)?.revision === rev ? pod.get(product, tariff) : null),
      {
        name: 'the stored document taken',
      },
    );
    assert.equal(v?.document.contentHash, newer.contentHash);
    assert.equal(pod.stats().rebased, 1);
    assert.ok(pod.stats().rejected['older-revision'] >= 1, 'first refused as an older revision');
    assert.ok(updates.some((u) => u.kind === 'document' && u.revision === rev && u.rebased === true));

    // From there on, writes apply as usual.
    const next = makeDoc(product, tariff, { term: 6, end: '2026-12-01T23:00:00Z', seed: 3 });
    const rev2 = await putDoc(bus, next);
    await check(() => pod.get(product, tariff)?.revision === rev2, { name: 'the next write applied' });
    assert.equal(pod.stats().rebased, 1);
    assert.equal(updates.at(-1)?.rebased, undefined);
  });

  it('still refuses a stored document of an older term than the held one', async () => {
    const { product, tariff } = tariffN(32);
    await holdLostRevision(product, tariff, 7);
    const bus = await createBuckets(w.admin);
    const older = makeDoc(product, tariff, { term: 6, end: '2026-11-30T23:00:00Z', seed: 2 });
    await putDoc(bus, older);

    const pod = await RateClient.connect({ servers: w.ns.url, cacheDir: w.dir, ...FAST });
    w.clients.push(pod);
    await check(() => pod.stats().rejected['older-term'] >= 1, { name: 'refused for its term' });
    assert.equal(pod.stats().rebased, 1, 'the loss was confirmed');
    assert.equal(pod.get(product, tariff)?.document.term, 7, 'the held document stays');
    assert.equal(pod.get(product, tariff)?.revision, 999);
  });
});
