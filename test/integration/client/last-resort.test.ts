import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KV } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import {
  type LastResortOptions,
  type LastResortOutcome,
  lastResortLockKey,
  NoFetcherError,
  RateClient,
  type RateClientOptions,
} from '@ratebus/client';
import {
  type Buckets,
  createBuckets,
  createLeaseBucket,
  makeDoc,
  pastFetcherTerm,
  putCheck,
  putDoc,
} from '@ratebus/fixtures';
import { type Simulator, startSimulator } from '@ratebus/octopus-sim';
import {
  CheckedSchema,
  decode,
  LEASE_KEY,
  RatesDocumentSchema,
  rateKey,
  ratesSubject,
  responderQueue,
  SUBJECTS,
  type TariffRef,
  tariffRef,
} from '@ratebus/schema';
import { check, NatsServer } from '@ratebus/testkit';

const PRODUCT = 'AGILE-24-10-01';
/** Lock duration of these tests: a dead holder's lock is taken over about 2 s after its last renewal. */
const LOCK_MS = 2_000;
const HOUR_MS = 3_600_000;

const unitRatesPath = (r: TariffRef) =>
  `/v1/products/${r.product}/electricity-tariffs/${r.tariff}/standard-unit-rates/`;

/** Client timings for tests: the held copy is expired after 60 s, so a 1 h old document is. */
const CLIENT: RateClientOptions = {
  freshForMs: 30_000,
  staleForMs: 60_000,
  resyncIntervalMs: 1_000,
  retryInitialMs: 50,
  retryMaxMs: 500,
  jsTimeoutMs: 2_000,
};

describe('RateClient last resort', function () {
  this.timeout(40_000);
  let sim: Simulator;
  let ns: NatsServer;
  let admin: NatsConnection;
  let bus: Buckets;
  let lease: KV;
  let oldTerm: number;
  const conns: NatsConnection[] = [];
  const clients: RateClient[] = [];
  const outcomes: { pod: string; outcome: LastResortOutcome; term: number | undefined }[] = [];

  const lastResort = (extra: Partial<LastResortOptions> = {}): LastResortOptions => ({
    octopus: {
      baseUrl: sim.url,
      requestsPerMinute: 600,
      maxAttempts: 2,
      backoff: { baseMs: 10, maxMs: 200 },
      timeoutMs: 30_000,
    },
    checkIntervalMs: 150,
    probeTimeoutMs: 500,
    lockMs: LOCK_MS,
    ...extra,
  });

  /** `n` clients sharing two pod connections; `opts(i)` adds per-pod options. */
  async function pods(n: number, opts: (i: number) => Partial<RateClientOptions>): Promise<RateClient[]> {
    const shared = [await connect({ servers: ns.url }), await connect({ servers: ns.url })];
    conns.push(...shared);
    const made: RateClient[] = [];
    for (let i = 0; i < n; i++) {
      const name = `pod-${i}`;
      const c = await RateClient.connect({
        ...CLIENT,
        nc: shared[i % 2] as NatsConnection,
        name,
        hooks: { onLastResort: (outcome, e) => outcomes.push({ pod: name, outcome, term: e.term }) },
        ...opts(i),
      });
      made.push(c);
      clients.push(c);
    }
    await Promise.all(made.map((c) => c.ready()));
    return made;
  }

  /** Holds an hour-old document of `ref` written by an earlier fetcher (so it is expired for the pods). */
  async function expiredDoc(ref: TariffRef) {
    // The document's last slot ends two days ago: the simulator's answer covers it and reaches further.
    const end = new Date(Math.floor((Date.now() - 2 * 24 * HOUR_MS) / HOUR_MS) * HOUR_MS).toISOString();
    const doc = makeDoc(ref.product, ref.tariff, { term: oldTerm, fetchedAt: Date.now() - HOUR_MS, end });
    await putDoc(bus, doc);
    await putCheck(bus, doc, Date.now() - HOUR_MS);
    return doc;
  }

  before(async () => {
    sim = await startSimulator({ port: 0 });
  });
  beforeEach(async () => {
    // A fresh server per test: every pod watches the whole bucket, so tariffs of other tests stay out.
    ns = await NatsServer.start();
    admin = await connect({ servers: ns.url });
    bus = await createBuckets(admin);
    lease = await createLeaseBucket(admin);
    oldTerm = await pastFetcherTerm(lease);
    sim.stats.reset();
    sim.faults.clear();
    outcomes.length = 0;
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await Promise.all(conns.splice(0).map((c) => c.close()));
    await admin?.close();
    await ns?.stop();
  });
  after(async () => {
    await sim?.close();
  });

  it('with no fetcher, 20 pods fetch an expired tariff upstream exactly once and all converge on it', async () => {
    const ref = tariffRef(PRODUCT, 'E-1R-AGILE-24-10-01-C');
    const old = await expiredDoc(ref);
    const pushes = admin.subscribe(ratesSubject(ref.product, ref.tariff));
    const all = await pods(20, () => ({ lastResort: lastResort() }));
    assert.equal(all[0]?.get(ref.product, ref.tariff)?.freshness, 'expired');

    const converged = await check(
      () => {
        const views = all.map((c) => c.get(ref.product, ref.tariff));
        const terms = new Set(views.map((v) => v?.document.term));
        const first = views[0];
        return terms.size === 1 &&
          first &&
          first.document.term !== old.term &&
          views.every((v) => v?.freshness === 'fresh')
          ? first
          : null;
      },
      { timeout: 20_000, name: 'all pods hold the last-resort document' },
    );

    const stats = sim.stats.snapshot();
    assert.equal(stats.byPath[unitRatesPath(ref)], 1, 'one upstream fetch of the unit rates');
    // The writer reports after its Checked record, which may land after the pods saw the document.
    await check(() => outcomes.some((o) => o.outcome === 'published'), { name: 'the writer reported' });
    const published = outcomes.filter((o) => o.outcome === 'published');
    assert.equal(published.length, 1, JSON.stringify(outcomes.filter((o) => o.outcome !== 'locked')));
    const term = converged.document.term;
    assert.equal(published[0]?.term, term, 'the document carries the lock revision as its term');
    assert.ok(term > old.term, `term ${term} > old term ${old.term}`);
    assert.ok(
      term <= (await lease.status()).streamInfo.state.last_seq,
      'the term is a lease-stream revision',
    );
    assert.notEqual(converged.document.contentHash, old.contentHash);
    assert.equal(converged.document.fetchedAt, converged.confirmedAt.toISOString());

    // Written like the fetcher writes: KV value, the same bytes on the subject, a Checked record.
    const key = rateKey(ref.product, ref.tariff);
    const stored = await bus.rates.get(key);
    const push = await check(async () => {
      for await (const m of pushes) return m;
      return null;
    });
    // Compared as bytes: the client hands out a Buffer or a plain Uint8Array depending on how the
    // message arrived in socket reads, and strict deepEqual tells those apart.
    assert.ok(stored, 'the KV holds the document');
    assert.ok(Buffer.from(push.data).equals(stored.value), 'the push carries the KV bytes');
    assert.ok(decode(RatesDocumentSchema, 'RatesDocument', push.data).ok);
    const checked = decode(CheckedSchema, 'Checked', (await bus.checks.get(key))?.value ?? new Uint8Array());
    assert.ok(
      checked.ok &&
        checked.value.term === term &&
        checked.value.contentHash === converged.document.contentHash,
    );
    // The lock is released once the work is done (a late pod may still take it briefly, find the document
    // fresh and release it).
    await check(async () => (await lease.get(lastResortLockKey(ref)))?.operation !== 'PUT', {
      name: 'lock released',
    });
  });

  it('is off by default: pods with expired or missing data never call upstream', async () => {
    const ref = tariffRef(PRODUCT, 'E-1R-AGILE-24-10-01-D');
    const missing = tariffRef(PRODUCT, 'E-1R-AGILE-24-10-01-E');
    await expiredDoc(ref);
    const all = await pods(5, () => ({}));
    const results = await Promise.allSettled(
      all.map((c) => c.ensure(missing.product, missing.tariff, { timeoutMs: 1_500 })),
    );
    for (const r of results) {
      assert.equal(r.status, 'rejected');
      assert.ok(r.reason instanceof NoFetcherError, String(r.reason));
    }
    assert.equal(all[0]?.get(ref.product, ref.tariff)?.freshness, 'expired');
    assert.equal(sim.stats.snapshot().total, 0, 'no upstream request');
    assert.deepEqual(outcomes, []);
    assert.ok(all.every((c) => Object.values(c.stats().lastResort).every((n) => n === 0)));
  });

  it('an ensure() that finds no fetcher gets the document from the pod holding the lock', async () => {
    const ref = tariffRef(PRODUCT, 'E-1R-AGILE-24-10-01-F');
    const all = await pods(5, () => ({ lastResort: lastResort({ checkIntervalMs: 60_000 }) }));
    const views = await Promise.all(all.map((c) => c.ensure(ref.product, ref.tariff, { timeoutMs: 15_000 })));
    assert.ok(views.every((v) => v.freshness === 'fresh' && v.document.term > oldTerm));
    assert.equal(new Set(views.map((v) => v.document.contentHash)).size, 1);
    assert.equal(sim.stats.snapshot().byPath[unitRatesPath(ref)], 1);
  });

  it('when the lock holder dies mid-fetch, its lock lapses and another pod takes it over', async () => {
    const ref = tariffRef(PRODUCT, 'E-1R-AGILE-24-10-01-A');
    const old = await expiredDoc(ref);
    // The first unit-rates request hangs: whoever takes the lock first is stuck in its fetch.
    sim.faults.add({ path: 'standard-unit-rates', kind: 'latency', latencyMs: 25_000, count: 1 });
    const writers: NatsConnection[] = [];
    for (let i = 0; i < 6; i++) writers.push(await connect({ servers: ns.url }));
    conns.push(...writers);
    const all = await pods(6, (i) => ({ lastResort: lastResort({ nc: writers[i] as NatsConnection }) }));

    const first = await check(
      async () => {
        const e = await lease.get(lastResortLockKey(ref));
        return e?.operation === 'PUT' ? e : null;
      },
      { name: 'a pod holds the lock' },
    );
    const holder = (JSON.parse(first.string()) as { by: string }).by;
    const dead = Number(holder.replace('pod-', ''));
    await check(() => sim.stats.snapshot().byPath[unitRatesPath(ref)] === 1, {
      name: 'the holder is fetching',
    });
    // The holder loses its link to NATS: it can neither renew nor release its lock.
    await writers[dead]?.close();

    const converged = await check(
      () => {
        const views = all.map((c) => c.get(ref.product, ref.tariff));
        const v = views[0];
        return v &&
          v.document.term > first.revision &&
          views.every((x) => x?.document.term === v.document.term)
          ? v
          : null;
      },
      { timeout: 20_000, name: 'all pods hold the take-over document' },
    );
    assert.notEqual(converged.document.contentHash, old.contentHash);
    await check(() => outcomes.some((o) => o.outcome === 'published'), { name: 'the writer reported' });
    const published = outcomes.filter((o) => o.outcome === 'published');
    assert.equal(published.length, 1);
    assert.notEqual(published[0]?.pod, holder, 'another pod published');
    assert.ok(
      outcomes.some((o) => o.pod === holder && o.outcome === 'lock-lost'),
      'the stuck holder gave up',
    );
    assert.equal(sim.stats.snapshot().byPath[unitRatesPath(ref)], 2, 'the stuck fetch and the take-over');
  });

  it('a renewed fetcher lease keeps pods off; once it is left unrenewed for its duration, one pod fetches', async () => {
    const ref = tariffRef(PRODUCT, 'E-1R-AGILE-24-10-01-D');
    await expiredDoc(ref);
    // A fetcher that leads but never answers refresh requests (stuck), then dies without releasing.
    const value = JSON.stringify({ holder: 'stuck-fetcher', durationMs: LOCK_MS });
    let rev = await lease.create(LEASE_KEY, value);
    // A short back-off, so pods look again soon after the lease stops being renewed.
    const all = await pods(4, () => ({ lastResort: lastResort({ minIntervalMs: 300 }) }));
    const renewUntil = performance.now() + 2 * LOCK_MS;
    let lastWrite = 0;
    while (performance.now() < renewUntil) {
      await check(() => all.every((c) => c.stats().lastResort['fetcher-leading'] >= 1), {
        name: 'pods saw the lease',
      });
      lastWrite = Date.now();
      rev = await lease.update(LEASE_KEY, value, rev);
      await sleep(LOCK_MS / 4);
    }
    assert.equal(sim.stats.snapshot().total, 0, 'no upstream request while the lease was renewed');

    const converged = await check(
      () => {
        const views = all.map((c) => c.get(ref.product, ref.tariff));
        const v = views[0];
        return v && v.document.term > rev && views.every((x) => x?.document.term === v.document.term)
          ? v
          : null;
      },
      { timeout: 20_000, name: 'all pods hold the last-resort document' },
    );
    const first = sim.stats.snapshot().log[0];
    assert.ok(first, 'an upstream request');
    const waited = Date.parse(first.at) - lastWrite;
    assert.ok(waited >= LOCK_MS - 5, `fetched ${waited} ms after the last renewal was sent (< ${LOCK_MS})`);
    assert.equal(sim.stats.snapshot().byPath[unitRatesPath(ref)], 1, 'one upstream fetch');
    assert.equal(
      (await lease.get(LEASE_KEY))?.revision,
      rev,
      'the dead lease itself is left to the fetchers',
    );
    assert.ok(converged.document.term > rev, 'the lock revision orders after the dead fetcher term');
  });

  it('is not kept off by a confirmation from a fetcher whose clock was ahead, once the server’s clock expires it', async () => {
    const ref = tariffRef(PRODUCT, 'E-1R-AGILE-24-10-01-G');
    const old = await expiredDoc(ref);
    // The last fetcher's clock ran six hours ahead: its final check claims a confirmation in the future.
    await putCheck(bus, old, Date.now() + 6 * HOUR_MS);
    const short = { freshForMs: 1_000, staleForMs: 2_000 };
    const all = await pods(3, () => ({ ...short, lastResort: lastResort() }));
    const converged = await check(
      () => {
        const views = all.map((c) => c.get(ref.product, ref.tariff));
        const v = views[0];
        return v && v.document.term > old.term && views.every((x) => x?.document.term === v.document.term)
          ? v
          : null;
      },
      { timeout: 20_000, name: 'all pods hold the last-resort document' },
    );
    assert.notEqual(converged.document.contentHash, old.contentHash);
    assert.equal(sim.stats.snapshot().byPath[unitRatesPath(ref)], 1, 'one upstream fetch');
    await check(() => outcomes.some((o) => o.outcome === 'published'), { name: 'the writer reported' });
  });

  it('never fetches while a fetcher answers refresh requests', async () => {
    const ref = tariffRef(PRODUCT, 'E-1R-AGILE-24-10-01-B');
    const held = await expiredDoc(ref);
    // A stand-in leader: answers every refresh with the document it holds (upstream may be down for it).
    let answered = 0;
    const responder = admin.subscribe(SUBJECTS.allRefresh, {
      queue: responderQueue(1),
      callback: (_err, m) => {
        answered++;
        m.respond(JSON.stringify(held));
      },
    });
    const all = await pods(5, () => ({ lastResort: lastResort({ minIntervalMs: 100 }) }));
    // Several rounds per pod: each asks, gets an answer, and stands down.
    await check(() => all.every((c) => c.stats().lastResort['fetcher-answered'] >= 3), {
      name: 'every pod asked several times',
    });
    responder.unsubscribe();
    assert.ok(answered >= 15);
    assert.equal(sim.stats.snapshot().total, 0, 'no upstream request');
    assert.ok(
      outcomes.every((o) => o.outcome === 'fetcher-answered'),
      JSON.stringify(outcomes),
    );
    assert.equal(all[0]?.get(ref.product, ref.tariff)?.freshness, 'expired', 'still the held copy');
  });
});
