import assert from 'node:assert/strict';
import type { NatsConnection } from '@nats-io/transport-node';
import { RateClient } from '@ratebus/client';
import { createBuckets, makeDoc, putDoc, tariffN } from '@ratebus/fixtures';
import { check } from '@ratebus/testkit';
import { suiteBus } from './suite-bus.js';

const CONNECTIONS = 4;
const CLIENTS_PER_CONNECTION = 250;

describe('RateClient fan-out', function () {
  this.timeout(90_000);
  const suite = suiteBus<RateClient>();
  const { clients } = suite;
  const conns: NatsConnection[] = [];

  it(`an update reaches ${CONNECTIONS * CLIENTS_PER_CONNECTION} clients and all converge`, async () => {
    const bus = await createBuckets(suite.bus.admin);
    const { product, tariff } = tariffN(1);
    const first = makeDoc(product, tariff, { seed: 1 });
    await putDoc(bus, first);
    for (let i = 0; i < CONNECTIONS; i++) conns.push(await suite.bus.connect({ name: `pods-${i}` }));
    // Pods start over a few seconds, not all in the same millisecond.
    for (const nc of conns) {
      const batch = await Promise.all(
        Array.from({ length: CLIENTS_PER_CONNECTION }, () =>
          RateClient.connect({ nc, resyncIntervalMs: 20_000, relistIntervalMs: 600_000 }),
        ),
      );
      clients.push(...batch);
    }
    await check(() => clients.every((c) => c.stats().ready === 'nats'), {
      timeout: 60_000,
      interval: 200,
      name: 'all ready',
    });
    assert.ok(clients.every((c) => c.get(product, tariff)?.document.contentHash === first.contentHash));

    const next = makeDoc(product, tariff, { seed: 2, term: 2 });
    const rev = await putDoc(bus, next);
    await check(() => clients.every((c) => c.get(product, tariff)?.revision === rev), {
      timeout: 30_000,
      interval: 100,
      name: 'all clients hold the update',
    });
    assert.ok(clients.every((c) => c.get(product, tariff)?.document.contentHash === next.contentHash));
  });
});
