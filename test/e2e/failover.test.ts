import assert from 'node:assert/strict';
import { jetstreamManager, type StreamInfo } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { BUCKETS, type RatesDocument, rateKey, type TariffRef, tariffRef } from '@ratebus/schema';
import { check } from '@ratebus/testkit';
import {
  currentLeader,
  type Leader,
  openKv,
  runCli,
  scheduledWaitMs,
  simAdmin,
  storedCheck,
  storedDoc,
  waitForLeader,
} from './bus.js';
import { Topology } from './topology.js';

const DAY_MS = 86_400_000;
const RATES_STREAM = `KV_${BUCKETS.rates}`;

describe('ratebus end to end: failures', function () {
  this.timeout(240_000);
  let topo: Topology;
  let inspector: NatsConnection;
  let rates: KV;
  let checks: KV;
  let lease: KV;
  let agile: TariffRef;

  before(async () => {
    topo = await Topology.start({ label: 'e2e-failover' });
    inspector = await topo.connect('inspector');
    rates = await openKv(inspector, BUCKETS.rates);
    checks = await openKv(inspector, BUCKETS.checks);
    lease = await openKv(inspector, BUCKETS.lease);
    const a = topo.tariffs.find((t) => t.product.startsWith('AGILE-') && !t.product.includes('OUTGOING'));
    assert.ok(a, 'an Agile import tariff is configured');
    agile = a;
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed' || process.env.RATEBUS_E2E_LOGS)
      console.log(topo?.diagnostics());
  });
  after(async () => {
    await topo?.stop();
  });

  /** Waits until every pod holds `t` fresh, with the content stored in KV; returns that document. */
  function podsConverge(t: TariffRef, timeout: number, want?: (d: RatesDocument) => boolean) {
    return check(
      async () => {
        const doc = await storedDoc(rates, t);
        if (!doc) throw new Error(`${t.tariff} not stored`);
        if (want && !want(doc))
          throw new Error(`stored ${t.tariff} is not the expected one (term ${doc.term})`);
        for (const [i, pod] of topo.pods.entries()) {
          const v = pod.get(t.product, t.tariff);
          if (v?.document.contentHash !== doc.contentHash)
            throw new Error(`pod ${i + 1} does not hold the stored ${t.tariff}`);
          if (v.document.term !== doc.term) throw new Error(`pod ${i + 1}: term ${v.document.term}`);
          if (v.freshness !== 'fresh') throw new Error(`pod ${i + 1}: ${t.tariff} ${v.freshness}`);
        }
        return doc;
      },
      { timeout, interval: 250, name: `pods converge on ${t.tariff}` },
    );
  }

  it('SIGKILL of the leading fetcher: the other takes over with a new term, publishes, and pods converge on it', async () => {
    const { durationMs, retryPeriodMs } = topo.lease;
    const old = await waitForLeader(inspector, 30_000);
    const before = await podsConverge(agile, scheduledWaitMs(45_000));

    await topo.killFetcher(old.holder);
    const killedAt = performance.now();
    const next = await check(
      async (): Promise<Leader | undefined> => {
        const l = await currentLeader(lease);
        return l && l.holder !== old.holder && l.term > old.term ? l : undefined;
      },
      { timeout: durationMs + 4 * retryPeriodMs + 20_000, interval: 200, name: 'the other fetcher leads' },
    );
    assert.ok(topo.fetcherIds.includes(next.holder));
    const leadsAfter = performance.now() - killedAt;

    // Upstream changes: the simulator's clock moves a day ahead, so newer Agile slots are published.
    const clock = await simAdmin<{ now: string }>(topo.simUrl, '/_sim/clock');
    await simAdmin(topo.simUrl, '/_sim/clock', {
      now: new Date(Date.parse(clock.now) + DAY_MS).toISOString(),
    });

    // `ratebus refresh --force` with the pod user, for every configured tariff. Repeated until the new
    // Agile content is stored: a forced refresh joins a fetch already in flight (which may predate the clock
    // move), and answers "no responders" in the moment the new leader subscribes.
    const doc = await check(
      async () => {
        const results = await Promise.all(
          topo.tariffs.map((t) =>
            runCli(['refresh', t.product, t.tariff, '--force', '--json'], topo.cliEnv('pod')),
          ),
        );
        for (const r of results) if (r.code !== 0) throw new Error(`refresh exited ${r.code}: ${r.stderr}`);
        const d = await storedDoc(rates, agile);
        return d && d.term === next.term && d.contentHash !== before.contentHash ? d : undefined;
      },
      { timeout: 60_000, interval: 500, name: 'the new leader publishes the new Agile content' },
    );
    assert.ok(
      Date.parse(doc.coversThrough ?? '') > Date.parse(before.coversThrough ?? ''),
      `coverage moved on: ${before.coversThrough} → ${doc.coversThrough}`,
    );
    console.log(
      `      ${old.holder} (term ${old.term}) killed; ${next.holder} leads (term ${next.term}) after ${leadsAfter.toFixed(0)} ms, new content after ${(performance.now() - killedAt).toFixed(0)} ms`,
    );
    // every configured tariff was confirmed upstream by the new term
    for (const t of topo.tariffs) {
      await check(async () => (await storedCheck(checks, t))?.term === next.term, {
        timeout: 10_000,
        name: `${t.tariff} checked in term ${next.term}`,
      });
    }

    // pods (in-process clients and the `ratebus watch` process) converge on the new term
    await podsConverge(agile, 30_000, (d) => d.contentHash === doc.contentHash);
    const cli = topo.cliPod;
    assert.ok(cli);
    await check(
      () =>
        cli
          .output()
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as { key: string; kind: string; term: number; contentHash: string })
          .some(
            (l) =>
              l.key === rateKey(agile.product, agile.tariff) &&
              l.kind === 'document' &&
              l.term === next.term &&
              l.contentHash === doc.contentHash,
          ),
      { timeout: 30_000, interval: 250, name: '`ratebus watch` prints the new document' },
    );

    // the crashed fetcher comes back as a follower; the lease stays where it is
    await topo.startFetcher(old.holder);
    await check(async () => (await currentLeader(lease))?.term === next.term, { name: 'lease kept' });
  });

  it('SIGKILL of the NATS node leading the rates stream: fetchers keep electing and publishing, pods keep converging', async () => {
    const jsm = await jetstreamManager(inspector, { timeout: 5_000 });
    const info = await jsm.streams.info(RATES_STREAM);
    assert.equal(info.config.num_replicas, 3, 'rates are replicated R3');
    const victim = info.cluster?.leader;
    assert.ok(victim && topo.natsNodes.includes(victim), `stream leader ${victim}`);
    const termBefore = (await waitForLeader(inspector, 30_000)).term;

    await topo.killNatsNode(victim);
    const killedAt = performance.now();
    try {
      // Demand-driven publication: a pod asks for a tariff nobody has fetched yet.
      const extra = tariffRef(agile.product, agile.tariff.replace(/-[A-P]$/, '-A'));
      assert.ok(!topo.tariffs.some((t) => t.tariff === extra.tariff), 'not a configured tariff');
      const pod = topo.pods[0];
      assert.ok(pod);
      await check(() => pod.ensure(extra.product, extra.tariff, { timeoutMs: 15_000 }), {
        timeout: 90_000,
        interval: 500,
        name: `ensure ${extra.tariff} after the node kill`,
      });
      const doc = await podsConverge(extra, 45_000);
      console.log(
        `      ${victim} killed; ${extra.tariff} published (term ${doc.term}, before ${termBefore}) and held by every pod after ${(performance.now() - killedAt).toFixed(0)} ms`,
      );
      assert.ok(doc.term >= termBefore, `written by term ${doc.term} (before the kill: ${termBefore})`);
      for (const t of topo.tariffs) await podsConverge(t, 30_000);

      // one fetcher leads (maybe re-elected: a 3 s renew deadline may not ride out the failover)
      const leader = await waitForLeader(inspector, 30_000);
      assert.ok(topo.fetcherIds.includes(leader.holder));
      assert.ok(leader.term >= doc.term);
      const moved = await check(() => jsm.streams.info(RATES_STREAM), {
        timeout: 30_000,
        name: 'stream info',
      });
      assert.notEqual(moved.cluster?.leader, victim, 'a survivor leads the rates stream');
    } finally {
      await topo.restartNatsNode(victim);
    }
    // the node catches up: the stream has its three current replicas again
    await check(
      async () => {
        const i: StreamInfo = await jsm.streams.info(RATES_STREAM);
        const replicas = i.cluster?.replicas ?? [];
        return replicas.length === 2 && replicas.every((r) => r.current && !r.offline);
      },
      { timeout: 60_000, interval: 500, name: 'rates stream whole again' },
    );
  });
});
