import assert from 'node:assert/strict';
import type { NatsConnection } from '@nats-io/transport-node';
import { RateClient } from '@ratebus/client';
import { createBuckets, makeDoc, putDoc, tariffN } from '@ratebus/fixtures';
import { rateKey } from '@ratebus/schema';
import { check } from '@ratebus/testkit';
import { suiteBus } from './suite-bus.js';

const PODS = 300;
const INTEREST_TTL_MS = 2_000;

describe('RateClient interest renewal', function () {
  this.timeout(60_000);
  const suite = suiteBus<RateClient>();
  const { clients } = suite;
  const conns: NatsConnection[] = [];

  it(`${PODS} pods interested in one tariff write about once per half TTL, not once each`, async () => {
    const bus = await createBuckets(suite.bus.admin, { interestTtlMs: INTEREST_TTL_MS });
    const { product, tariff } = tariffN(7);
    await putDoc(bus, makeDoc(product, tariff));
    for (let i = 0; i < 3; i++) conns.push(await suite.bus.connect());
    for (let i = 0; i < PODS; i++) {
      const nc = conns[i % conns.length] as NatsConnection;
      clients.push(await RateClient.connect({ nc, interestCheckIntervalMs: 250, resyncIntervalMs: 30_000 }));
    }
    const started = Date.now();
    await Promise.all(clients.map((c) => c.ensure(product, tariff, { timeoutMs: 20_000 })));

    // Run until the interest has outlived its TTL several times over (so it was renewed, not just created).
    const stream = async () => (await bus.interest.status()).streamInfo.state.last_seq;
    const reads = () => clients.reduce((n, c) => n + c.stats().interestChecks, 0);
    await check(async () => (await stream()) >= 5 && Date.now() - started > 3 * INTEREST_TTL_MS, {
      timeout: 30_000,
      interval: 100,
      name: 'several renewals',
    });
    const elapsed = Date.now() - started;
    const writes = await stream();
    const counted = clients.reduce((n, c) => n + c.stats().interestWrites, 0);

    assert.equal(counted, writes, 'every stream message is a counted client write');
    // At most one write per half TTL (plus the first create and one period of slack) ...
    assert.ok(writes <= 2 + Math.ceil(elapsed / (INTEREST_TTL_MS / 2)), `${writes} writes in ${elapsed} ms`);
    // ... although every pod looked at the entry many times.
    assert.ok(reads() >= PODS * 5, `${reads()} reads`);
    assert.ok(clients.some((c) => c.stats().interestCasLost > 0) || writes < PODS, 'losers do not write');
    const entry = await bus.interest.get(rateKey(product, tariff));
    assert.equal(entry?.operation, 'PUT', 'interest still alive after 3 × TTL');
  });
});
