import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { check } from '@ratebus/testkit';
import { FaultSchedule } from './faults.js';
import {
  checkAttacks,
  checkNotLost,
  checkSingleFetcher,
  divergence,
  INVARIANTS,
  type InvariantName,
  MonotonicTracker,
  type UpstreamRequest,
  type Violation,
} from './invariants.js';
import { CONVERGENCE_BOUND_MS, chaosSettings, LEASE, UPSTREAM_TOLERANCE_MS } from './settings.js';
import { StreamWatch } from './streams.js';
import { ChaosWorld } from './world.js';

const RESULTS = fileURLToPath(new URL('../../../bench/results/', import.meta.url));

/** Upstream requests are judged once they are this old, so the fetchers' log lines have been read. */
const SETTLE_MS = 2_000;

/**
 * The chaos run: every fault source at once (leader SIGKILL/SIGSTOP, a NATS node killed and restarted, a
 * half-open pod link, the simulator's fault mix, upstream content changes, a hostile pod) against a 3-node
 * cluster with the deployment's users, the simulator, three fetcher processes and four pods; five invariants
 * checked while it runs and at the end.
 * See test/chaos/README.md.
 */
describe('Chaos', function () {
  const s = chaosSettings();
  this.timeout(s.chaosMs + 240_000);
  let world: ChaosWorld | undefined;

  after(async () => {
    await world?.stop();
  });

  it(`keeps one fetcher at a time, every pod monotonic and converged, nothing lost (${s.mode} mode)`, async () => {
    const started = performance.now();
    const tracker = new MonotonicTracker();
    world = await ChaosWorld.start(tracker);
    const w = world;
    // Diagnostic only: stream leaders' last sequences going backwards (acknowledged writes lost).
    const streams = new StreamWatch(w.cluster.nodes);
    streams.start();

    const checks: Record<InvariantName, number> = {
      'single-fetcher': 0,
      monotonic: 0,
      converged: 0,
      'not-lost': 0,
      'hostile-refused': 0,
    };
    const violations = new Map<string, Violation>();
    const record = (vs: readonly Violation[]) => {
      for (const v of vs) if (!violations.has(v.id)) violations.set(v.id, v);
    };
    const requests = (): UpstreamRequest[] =>
      w.sim.stats.snapshot().log.map((e) => ({
        seq: e.seq,
        at: Date.parse(e.at),
        fetcher: w.fleet.fetcherOf(e.caller),
        caller: e.caller,
        path: e.path,
      }));

    // Continuous checks, once a second until the end: upstream requests as they settle, and every 5 s the
    // published documents against KV read through the stream leaders (skipped while JetStream is down).
    const judged = new Set<number>();
    let ticks = 0;
    const continuous = async () => {
      const settled = requests().filter((r) => !judged.has(r.seq) && r.at < Date.now() - SETTLE_MS);
      record(checkSingleFetcher(settled, w.fleet.windows(), UPSTREAM_TOLERANCE_MS));
      checks['single-fetcher'] += settled.length;
      for (const r of settled) judged.add(r.seq);
      if (++ticks % 5 === 0) {
        const readAt = Date.now();
        const stored = await w.readStored().catch(() => null);
        if (stored) {
          const res = checkNotLost(
            w.fleet.published().filter((p) => p.at < readAt),
            stored,
            false,
          );
          checks['not-lost'] += res.checks;
          record(res.violations);
        }
      }
    };
    let checking = true;
    const checker = (async () => {
      while (checking) {
        await continuous().catch(() => undefined);
        await new Promise((r) => setTimeout(r, 1_000));
      }
    })();

    // Faults, all at once.
    const faults = new FaultSchedule(w, s);
    const phase = new AbortController();
    const timer = setTimeout(() => phase.abort(), s.chaosMs);
    const publishedBefore = w.fleet.published().length;
    await faults.run(phase.signal);
    clearTimeout(timer);
    await faults.finale();
    const faultsStoppedAt = performance.now();

    // Convergence after the faults stopped.
    let lastDivergence: string[] = [];
    let convergenceMs: number | null = null;
    try {
      await check(
        async () => {
          const stored = await w.readStored();
          lastDivergence = divergence(w.holdings(), stored);
          checks.converged++;
          return lastDivergence.length === 0;
        },
        { timeout: CONVERGENCE_BOUND_MS, interval: 250, name: 'every pod holds the latest stored documents' },
      );
      convergenceMs = Math.round(performance.now() - faultsStoppedAt);
    } catch {
      record([
        {
          invariant: 'converged',
          id: 'converged',
          detail: `not converged within ${CONVERGENCE_BOUND_MS} ms: ${lastDivergence.join('; ')}`,
        },
      ]);
    }
    // The hostile pod's accepted actions are bounded: honest pods have declared again every interest entry it
    // deleted or overwrote (within one interest check of the faults stopping).
    let unharmed: string[] = [];
    try {
      await check(
        async () => {
          unharmed = await w.hostileDamage();
          return unharmed.length === 0;
        },
        { timeout: CONVERGENCE_BOUND_MS, interval: 250, name: 'interest declared again' },
      );
    } catch {
      record([
        {
          invariant: 'converged',
          id: 'unharmed',
          detail: `not repaired within ${CONVERGENCE_BOUND_MS} ms: ${unharmed.join('; ')}`,
        },
      ]);
    }
    // Still alive: one leader within lease + one retry period (+ slack) of the last fault.
    const leader = await w.fleet
      .waitLeader(LEASE.durationMs + 2 * LEASE.retryPeriodMs + 10_000)
      .catch(() => null);

    // Final checks over everything recorded.
    await check(() => w.sim.stats.snapshot().inFlight === 0, { timeout: 15_000, name: 'upstream idle' });
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    checking = false;
    await checker;
    streams.stop();
    const all = requests();
    record(checkSingleFetcher(all, w.fleet.windows(), UPSTREAM_TOLERANCE_MS));
    checks['single-fetcher'] += all.length;

    const finalStored = await check(() => w.readStored(), { timeout: 20_000, name: 'final KV read' });
    const published = w.fleet.published();
    const notLost = checkNotLost(published, finalStored, true);
    checks['not-lost'] += notLost.checks;
    record(notLost.violations);
    // What the observer received must be what the fetchers say they published, and the final KV bytes must be
    // the bytes last published for each key (when the observer, which misses messages while its own node is
    // down, received that last publish).
    let bytesCompared = 0;
    for (const o of w.observed) {
      checks['not-lost']++;
      if (!published.some((p) => p.key === o.key && p.hash === o.hash && p.term === o.term))
        record([
          {
            invariant: 'not-lost',
            id: `observed ${o.key} ${o.hash}`,
            detail: `observed a publish of ${o.key} (term ${o.term}) no fetcher logged`,
          },
        ]);
    }
    const finalBytes = await w.readStoredBytes();
    for (const [key, bytes] of finalBytes) {
      const last = w.observed.filter((o) => o.key === key).at(-1);
      if (last?.hash !== finalStored.get(key)?.hash) continue;
      checks['not-lost']++;
      bytesCompared++;
      if (last?.bytes !== bytes)
        record([
          {
            invariant: 'not-lost',
            id: `bytes ${key}`,
            detail: `${key}: KV bytes differ from the published bytes`,
          },
        ]);
    }
    checks.monotonic = tracker.checks;
    record(tracker.violations);
    checks['hostile-refused'] = faults.attacks.length;
    record(checkAttacks(faults.attacks));

    const byInvariant = Object.fromEntries(
      INVARIANTS.map((i) => [i, [...violations.values()].filter((v) => v.invariant === i).length]),
    ) as Record<InvariantName, number>;
    const totalViolations = violations.size;
    const summary = {
      mode: s.mode,
      finishedAt: new Date().toISOString(),
      chaosMs: s.chaosMs,
      wallMs: Math.round(performance.now() - started),
      faults: faults.counts,
      hostile: faults.hostile,
      checks,
      violations: byInvariant,
      totalViolations,
      violationSamples: [...violations.values()].slice(0, 20).map((v) => `${v.invariant}: ${v.detail}`),
      convergenceBoundMs: CONVERGENCE_BOUND_MS,
      convergenceMs,
      upstreamToleranceMs: UPSTREAM_TOLERANCE_MS,
      lease: LEASE,
      upstreamRequests: all.length,
      upstreamByFetcher: Object.fromEntries(
        w.fleet.all.map((f) => [f.id, all.filter((r) => r.fetcher === f.id).length]),
      ),
      termWindows: w.fleet
        .windows()
        .sort((a, b) => a.term - b.term)
        .map((t) => `${t.term}:${t.fetcher}:${t.endWhy}:${t.endAt === null ? '-' : t.endAt - t.electedAt}ms`),
      fetcherProcesses: w.fleet.all.length,
      terms: w.fleet.windows().length,
      documentsPublished: published.length,
      documentsPublishedDuringFaults: published.length - publishedBefore,
      observedPublishes: w.observed.length,
      finalBytesCompared: bytesCompared,
      storedAheadOfPublished: notLost.aheadOfPublished,
      podUpdates: tracker.checks,
      podUpdatesRebased: tracker.rebased,
      podStats: w.pods.map((p) => {
        const st = p.client.stats();
        return {
          pod: p.name,
          reconnects: st.reconnects,
          resyncs: st.resyncs,
          rejected: st.rejected,
          shortListings: st.shortListings,
          sequenceRollbacks: st.sequenceRollbacks,
          rebased: st.rebased,
        };
      }),
      leaderAfterFaults: leader?.id ?? null,
      streamSamples: streams.samples,
      streamRollbacks: streams.rollbacks.slice(0, 100),
      notes: faults.notes,
    };
    const kinds = Object.entries(faults.counts)
      .map(([k, n]) => `${k}=${n}`)
      .join(' ');
    const checkText = INVARIANTS.map((i) => `${i}=${checks[i]}`).join(' ');
    console.log(
      `      chaos ${s.mode}: faults ${kinds} | checks ${checkText} | violations ${totalViolations}` +
        ` | converged in ${convergenceMs ?? '-'} ms (bound ${CONVERGENCE_BOUND_MS}) | ${all.length} upstream requests,` +
        ` ${summary.terms} terms, ${published.length} documents published | stream leader rollbacks seen: ${streams.rollbacks.length}` +
        ` | pod updates rebased on a lost revision: ${tracker.rebased}`,
    );
    if (s.mode === 'long' || process.env.RATEBUS_CHAOS_JSON) {
      mkdirSync(RESULTS, { recursive: true });
      const file = `${RESULTS}chaos-${s.mode}.json`;
      writeFileSync(file, `${JSON.stringify(summary, null, 2)}\n`);
      console.log(`      summary written to ${file}`);
    }

    assert.deepEqual(summary.violationSamples, [], 'no invariant violated');
    assert.equal(totalViolations, 0);
    assert.deepEqual(faults.notes, [], 'every fault step ran');
    assert.ok(leader, `a leader after the faults\n${w.fleet.tails()}`);
    for (const kind of [
      'leader-sigkill',
      'leader-sigstop',
      'nats-node-kill',
      'half-open-link',
      'clock-jump',
      'hostile-pod',
    ])
      assert.ok((faults.counts[kind] ?? 0) >= 1, `fault ${kind} injected`);
    assert.ok(
      Object.entries(faults.counts).some(([k, n]) => k.startsWith('upstream-') && n > 0),
      'upstream faults fired',
    );
    for (const i of INVARIANTS) assert.ok(checks[i] > 0, `invariant ${i} was checked`);
    assert.ok(summary.documentsPublishedDuringFaults > 0, 'content kept flowing during the faults');
  });
});
