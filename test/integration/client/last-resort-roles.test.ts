import assert from 'node:assert/strict';
import type { NatsConnection } from '@nats-io/transport-node';
import { type LastResortOutcome, RateClient, type RateClientOptions } from '@ratebus/client';
import {
  createBuckets,
  createLeaseBucket,
  makeDoc,
  pastFetcherTerm,
  putCheck,
  putDoc,
} from '@ratebus/fixtures';
import { type Simulator, startSimulator } from '@ratebus/octopus-sim';
import { tariffRef } from '@ratebus/schema';
import { check, NatsServer } from '@ratebus/testkit';
import { accountsConfig, connectAs, PASSWORDS, ROLE_ENV } from '../nats-security/roles.js';

const HOUR_MS = 3_600_000;

describe('RateClient last resort with per-role credentials (services/nats/accounts.conf)', function () {
  this.timeout(30_000);
  let sim: Simulator;
  let ns: NatsServer;
  let fetcher: NatsConnection;
  const clients: RateClient[] = [];
  const ref = tariffRef('AGILE-24-10-01', 'E-1R-AGILE-24-10-01-G');
  let oldTerm: number;

  const pod = (name: string, outcomes: LastResortOutcome[], extra: Partial<RateClientOptions>) =>
    RateClient.connect({
      servers: ns.url,
      credentials: { user: 'pod', pass: PASSWORDS.pod },
      name,
      freshForMs: 30_000,
      staleForMs: 60_000,
      retryInitialMs: 50,
      retryMaxMs: 500,
      hooks: { onLastResort: (o) => outcomes.push(o) },
      ...extra,
    });
  const octopus = () => ({ baseUrl: sim.url, maxAttempts: 2, backoff: { baseMs: 10, maxMs: 200 } });

  before(async () => {
    sim = await startSimulator({ port: 0 });
    ns = await NatsServer.start({ extraConfig: accountsConfig(), env: ROLE_ENV });
    // A fetcher created the buckets, wrote a document, and went away an hour ago.
    fetcher = await connectAs('fetcher', ns.url);
    const bus = await createBuckets(fetcher);
    oldTerm = await pastFetcherTerm(await createLeaseBucket(fetcher));
    const end = new Date(Math.floor((Date.now() - 2 * 24 * HOUR_MS) / HOUR_MS) * HOUR_MS).toISOString();
    const doc = makeDoc(ref.product, ref.tariff, { term: oldTerm, fetchedAt: Date.now() - HOUR_MS, end });
    await putDoc(bus, doc);
    await putCheck(bus, doc, Date.now() - HOUR_MS);
  });
  after(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await fetcher?.close();
    await ns?.stop();
    await sim?.close();
  });

  it('an ordinary pod (pod credentials only) cannot take the lock and never calls upstream', async () => {
    const outcomes: LastResortOutcome[] = [];
    const c = await pod('plain-pod', outcomes, {
      lastResort: { octopus: octopus(), checkIntervalMs: 100, probeTimeoutMs: 300, lockTimeoutMs: 500 },
    });
    clients.push(c);
    await c.ready();
    await check(() => outcomes.includes('failed'), { name: 'the attempt failed' });
    assert.deepEqual(outcomes, ['failed'], 'one attempt, then minIntervalMs');
    assert.equal(sim.stats.snapshot().total, 0, 'no upstream request');
    assert.equal(c.get(ref.product, ref.tariff)?.document.term, oldTerm, 'nothing written');
  });

  it('a pod given lastresort credentials writes through a second, lastresort-role connection', async () => {
    const outcomes: LastResortOutcome[] = [];
    const c = await pod('writer-pod', outcomes, {
      lastResort: {
        octopus: octopus(),
        credentials: { user: 'lastresort', pass: PASSWORDS.lastresort },
        checkIntervalMs: 100,
        probeTimeoutMs: 300,
      },
    });
    clients.push(c);
    const v = await check(
      () => {
        const x = c.get(ref.product, ref.tariff);
        return x && x.document.term > oldTerm && x.freshness === 'fresh' && outcomes.length > 0 ? x : null;
      },
      { name: 'published through the lastresort role' },
    );
    assert.deepEqual(outcomes, ['published']);
    // The plain pod, which cannot write, sees the document through its watch.
    await check(
      () => clients[0]?.get(ref.product, ref.tariff)?.document.contentHash === v.document.contentHash,
      {
        name: 'the plain pod converges',
      },
    );
  });
});
