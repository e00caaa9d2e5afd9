import assert from 'node:assert/strict';
import { AbortedError, OctopusClient, RequestBudget } from '@ratebus/octopus';
import { productCode, tariffCode } from '@ratebus/schema';
import { check } from '@ratebus/testkit';
import { requestsOf, simClient, suiteSimulator } from './helpers.js';

/** Slack for the time between a token being taken and the simulator logging the request. */
const LOG_SLACK_MS = 150;

describe('RequestBudget shared by many callers, counted at the simulator', function () {
  this.timeout(30_000);
  const world = suiteSimulator({ port: 0, start: '2025-11-05T18:00:00Z' });

  it('never lets 50 concurrent callers on 5 clients exceed 10 requests per second, retries included', async () => {
    const budget = new RequestBudget({ requests: 10, perMs: 1_000 });
    const caller = `budget-${process.pid}`;
    const clients = Array.from(
      { length: 5 },
      () =>
        simClient(world.sim, {
          budget,
          maxAttempts: 8,
          backoff: { baseMs: 1, maxMs: 20 },
          headers: { 'X-Sim-Caller': caller },
        }).client,
    );
    // Some answers fail, so retries compete for the same tokens.
    world.sim.faults.add({ path: 'gas-tariffs', kind: 'json500', probability: 0.2 });
    try {
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          clients[i % 5]!.latestSlotEnd({
            product: productCode('OE-FIX-12M-25-09-01'),
            tariff: tariffCode(`G-1R-OE-FIX-12M-25-09-01-${'ABCDEFGHJKLMNP'[i % 14]}`),
          }),
        ),
      );
      assert.equal(results.length, 50);
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
    const log = requestsOf(world.sim, caller);
    assert.ok(log.length >= 50, `all 50 calls reached the simulator (${log.length} with retries)`);
    assert.ok(
      log.some((e) => e.status === 500),
      'some attempts were retried',
    );
    const at = log.map((e) => Date.parse(e.at)).sort((a, b) => a - b);
    for (let i = 0; i + 10 < at.length; i++) {
      const span = at[i + 10]! - at[i]!;
      assert.ok(span >= 1_000 - LOG_SLACK_MS, `11 requests within ${span} ms (from #${i})`);
    }
  });

  it('makes a caller wait for a token, and lets it leave with AbortedError before anything is sent', async () => {
    const { client, caller } = simClient(world.sim, {
      budget: new RequestBudget({ requests: 1, perMs: 60_000 }),
    });
    try {
      await client.getPublic('/v1/products/');
      const ac = new AbortController();
      const waiting = client.getPublic('/v1/products/', { signal: ac.signal });
      await check(() => client.budget.waiting === 1, { name: 'caller queued for a token' });
      ac.abort();
      await assert.rejects(waiting, AbortedError);
      assert.equal(requestsOf(world.sim, caller).length, 1);
    } finally {
      await client.close();
    }
  });
});

describe('cancellation', function () {
  this.timeout(20_000);
  const world = suiteSimulator({ port: 0, start: '2025-11-05T18:00:00Z' });

  const REQ = {
    product: productCode('AGILE-24-10-01'),
    tariff: tariffCode('E-1R-AGILE-24-10-01-C'),
    from: new Date('2025-11-03T00:00:00Z'),
    to: new Date('2025-11-04T00:00:00Z'),
  };

  it('aborts an in-flight request that upstream is slow to answer', async () => {
    // A 30 s answer against a 60 s timeout: only the signal can end this within the test timeout.
    const { client } = simClient(world.sim, { timeoutMs: 60_000 });
    world.sim.faults.add({ path: 'standard-unit-rates', kind: 'latency', latencyMs: 30_000 });
    try {
      const ac = new AbortController();
      const p = client.fetchTariff({ ...REQ, signal: ac.signal });
      await check(() => world.sim.stats.snapshot().inFlight >= 1, { name: 'rates request in flight' });
      ac.abort();
      await assert.rejects(p, (e: unknown) => e instanceof AbortedError && e.code === 'ERR_ABORTED');
    } finally {
      await client.close().catch(() => undefined);
    }
  });

  it('stops a backoff wait and sends no further attempt', async () => {
    const { client, caller } = simClient(world.sim, { backoff: { baseMs: 60_000, maxMs: 60_000 } });
    world.sim.faults.add({ path: 'standard-unit-rates', kind: 'json500' });
    try {
      const ac = new AbortController();
      const p = client.fetchTariff({ ...REQ, signal: ac.signal });
      await check(() => requestsOf(world.sim, caller).some((e) => e.status === 500), {
        name: 'first attempt failed',
      });
      ac.abort();
      await assert.rejects(p, AbortedError);
      const attempts = requestsOf(world.sim, caller).filter((e) => e.path.endsWith('/standard-unit-rates/'));
      assert.equal(attempts.length, 1);
    } finally {
      await client.close();
    }
  });

  it('rejects at once with AbortedError for an already-aborted signal', async () => {
    const { client, caller } = simClient(world.sim);
    try {
      await assert.rejects(client.fetchTariff({ ...REQ, signal: AbortSignal.abort() }), AbortedError);
      assert.equal(requestsOf(world.sim, caller).length, 0);
    } finally {
      await client.close();
    }
  });

  it('close() is idempotent', async () => {
    const c = new OctopusClient({ baseUrl: world.sim.url });
    await c.close();
    await c.close();
  });
});
