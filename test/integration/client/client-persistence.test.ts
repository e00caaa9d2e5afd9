import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { RateClient } from '@ratebus/client';
import { check, NatsServer } from '@ratebus/testkit';
import { createBuckets, makeDoc, putCheck, putDoc, tariffN } from './bus.js';

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
