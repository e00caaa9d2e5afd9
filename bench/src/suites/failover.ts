import { connect } from '@nats-io/transport-node';
import { refreshUntilAnswered } from '@ratebus/fixtures';
import { startSimulator } from '@ratebus/octopus-sim';
import {
  DEFAULT_LEASE_DURATION_MS,
  DEFAULT_RENEW_DEADLINE_MS,
  DEFAULT_RETRY_PERIOD_MS,
} from '@ratebus/schema';
import { NatsServer } from '@ratebus/testkit';
import { FetcherFleet, type LeaseTimings, probeUntil, SIM_TARIFFS } from '../failover/fetchers.js';
import { Cleanup, fmt, type Summary, sleep, summarize, within } from '../propagation/util.js';
import type { Suite } from '../suite.js';

const FLEET_SIZE = 3;
/** Candidates poll `create()` every retry period × (1 + up to this jitter). */
const RETRY_JITTER = 0.2;
/** Pace of the refresh requests sent after the kill (no responders until someone leads). */
const PROBE_INTERVAL_MS = 25;

const DEFAULTS: LeaseTimings = {
  durationMs: DEFAULT_LEASE_DURATION_MS,
  renewDeadlineMs: DEFAULT_RENEW_DEADLINE_MS,
  retryPeriodMs: DEFAULT_RETRY_PERIOD_MS,
};
/** The shortest the schema allows for the lease (5 s), with deadline and retry scaled to match. */
const SHORT: LeaseTimings = { durationMs: 5_000, renewDeadlineMs: 3_000, retryPeriodMs: 500 };

type Stop = 'SIGKILL' | 'SIGTERM';

interface Run {
  readonly firstRequestMs: number;
  readonly electedMs: number;
  /** SIGTERM: the old leader's `lease released` log line, after the signal. */
  readonly releasedMs: number | null;
  readonly oldTerm: number;
  readonly newTerm: number;
}

interface Row {
  readonly timings: LeaseTimings;
  readonly stop: Stop;
  readonly runs: Run[];
  readonly firstRequest: Summary;
  readonly elected: Summary;
  readonly released: Summary;
  /**
   * Upper bound: SIGKILL lease + 2 jittered retry periods after the last renew (a candidate first reads the
   * last revision up to one period after it was stored, and takes over at its first read a whole lease
   * later: client-go's observedTime rule); SIGTERM one jittered retry period.
   */
  readonly boundMs: number;
}

const s = (ms: number | null) => fmt(ms === null ? null : ms / 1000, 2);
const label = (t: LeaseTimings) =>
  `${t.durationMs / 1000} s / ${t.renewDeadlineMs / 1000} s / ${t.retryPeriodMs / 1000} s`;

/**
 * Three fetcher processes, a real nats-server and the simulator: the leader is killed (SIGKILL) or stopped
 * (SIGTERM), refresh requests for a tariff nobody holds follow at once, and the time to the new leader's
 * first upstream request is read from the simulator's per-caller log.
 */
export const failoverSuite: Suite = async ({ quick, log }) => {
  const runs = quick ? 3 : 20;
  // The defaults take ~17 s per SIGKILL run: the quick (CI smoke) mode measures the short timings only.
  const timingSets = quick ? [SHORT] : [DEFAULTS, SHORT];
  const rows: Row[] = [];
  const cleanup = new Cleanup();
  try {
    const sim = await startSimulator({ port: 0 });
    cleanup.add('simulator', () => sim.close());
    let tariffIndex = 0;
    const freshTariff = () => SIM_TARIFFS[tariffIndex++ % SIM_TARIFFS.length] as (typeof SIM_TARIFFS)[number];

    for (const timings of timingSets) {
      // A fresh server per timing: nothing of the previous fleet's lease is left.
      const ns = await NatsServer.start();
      const nc = await connect({ servers: ns.url, name: 'bench-failover-probe' });
      const fleet = new FetcherFleet(`f${timings.durationMs / 1000}s`, ns.url, sim.url, timings);
      const local = new Cleanup();
      local.add('nats-server', () => ns.stop());
      local.add('probe connection', () => nc.close());
      local.add('fetchers', () => fleet.stop());
      cleanup.add(`fleet ${label(timings)}`, () => local.run(log));
      tariffIndex = 0;
      await Promise.all(Array.from({ length: FLEET_SIZE }, () => fleet.add()));
      const killBound = timings.durationMs + 2 * timings.retryPeriodMs * (1 + RETRY_JITTER);
      const termBound = timings.retryPeriodMs * (1 + RETRY_JITTER);

      for (const stop of ['SIGKILL', 'SIGTERM'] as const) {
        const done: Run[] = [];
        for (let i = 0; i < runs; i++) {
          while (fleet.running.length < FLEET_SIZE) await fleet.add();
          const old = await fleet.leader(killBound + 10_000);
          // The leader serves (its refresh responder is up) before it is stopped.
          const oldTerm = await (
            await refreshUntilAnswered(nc, freshTariff(), {
              timeoutMs: 20_000,
              by: 'bench',
              intervalMs: 100,
            })
          ).term;
          // A random pause of up to one jittered retry period: the signal falls at a random point of the
          // candidates' read cycle. Without it the loop runs in lock-step (a replacement's first read comes
          // just before the signal, the other candidate's phase follows the previous election), and SIGTERM
          // elections all took about one retry period.
          await sleep(Math.random() * timings.retryPeriodMs * (1 + RETRY_JITTER));
          const probe = freshTariff();
          const killedAt = Date.now();
          // After a crash the replacement starts at once, as a Deployment restarts the pod (it overlaps the
          // lease expiry, so it costs no time here); after SIGTERM it starts once the handover is measured.
          let replacement: Promise<unknown> = Promise.resolve();
          if (stop === 'SIGKILL') {
            await old.proc.kill('SIGKILL');
            replacement = fleet.add().catch((e: unknown) => e);
          } else old.proc.child.kill('SIGTERM');
          // The first upstream request after the signal by any other fetcher: the new leader's.
          const firstAfter = () =>
            sim.stats
              .snapshot()
              .log.filter((e) => !old.isCaller(e.caller) && Date.parse(e.at) >= killedAt)
              .sort((a, b) => Date.parse(a.at) - Date.parse(b.at))[0];
          await probeUntil(nc, probe, () => firstAfter() !== undefined, {
            timeoutMs: killBound + 15_000,
            intervalMs: PROBE_INTERVAL_MS,
          });
          const entry = firstAfter();
          const next = fleet.running.find((f) => entry && f.isCaller(entry.caller));
          const newTerm = next?.leadingTerm() ?? null;
          if (!entry || !next || newTerm === null || newTerm <= oldTerm) {
            throw new Error(
              `upstream request by ${entry?.caller} after the ${stop}, but it does not lead a newer term than ${oldTerm}`,
            );
          }
          const first = Date.parse(entry.at);
          const electedAt = next.terms('elected').find((e) => e.term === newTerm)?.at ?? Number.NaN;
          if (stop === 'SIGTERM') {
            const exit = await within(old.proc.exited, 25_000);
            if (exit?.code !== 0)
              log(`  ${old.id} did not exit cleanly after SIGTERM: ${JSON.stringify(exit)}`);
            await old.proc.stop(1_000);
          }
          const released = old.releasedAt(oldTerm);
          done.push({
            firstRequestMs: first - killedAt,
            electedMs: electedAt - killedAt,
            releasedMs: released === null ? null : released - killedAt,
            oldTerm,
            newTerm,
          });
          log(
            `${label(timings)} ${stop} ${i + 1}/${runs}: ${old.id} → ${next.id}, first upstream request after ${first - killedAt} ms (elected after ${electedAt - killedAt} ms${released === null ? '' : `, lease released after ${released - killedAt} ms`})`,
          );
          fleet.forget(old);
          const failed = await replacement;
          if (failed instanceof Error) throw failed;
        }
        rows.push({
          timings,
          stop,
          runs: done,
          firstRequest: summarize(done.map((r) => r.firstRequestMs)),
          elected: summarize(done.map((r) => r.electedMs)),
          released: summarize(done.flatMap((r) => (r.releasedMs === null ? [] : [r.releasedMs]))),
          boundMs: stop === 'SIGKILL' ? killBound : termBound,
        });
      }
      await local.run(log);
    }
  } finally {
    await cleanup.run(log);
  }

  const expectation = (r: Row) => {
    const { durationMs: d, retryPeriodMs: p } = r.timings;
    const k8s = r.timings === DEFAULTS ? 'k8s client-go defaults, ' : '';
    return r.stop === 'SIGKILL'
      ? `${k8s}≤ ${d / 1000} s + 2 × ${p / 1000} s × 1.2 = ${s(r.boundMs)} s after the last renew (a candidate sees it within one jittered retry period and takes over at its first look a lease later; ≥ ${s(d - p)} s after a kill just before a renew)`
      : `${k8s}election at the first candidate read after the release: ≤ ${s(r.boundMs)} s, about a third of that on average with two candidates (measured: released ${s(r.released.p50)} s p50 after the signal); the first request adds the new leader's worker start`;
  };
  const table = [
    '| lease / renew deadline / retry | leader stopped by | runs | first upstream request of the new leader after the signal, p50 / p95 / max (s) | new leader elected, p50 / p95 / max (s) | expected (same timings, as Kubernetes leader election) |',
    '|---|---|---:|---:|---:|---|',
    ...rows.map(
      (r) =>
        `| ${label(r.timings)}${r.timings === DEFAULTS ? ' (defaults = k8s)' : ''} | ${r.stop} | ${r.runs.length} | ${s(r.firstRequest.p50)} / ${s(r.firstRequest.p95)} / ${s(r.firstRequest.max)} | ${s(r.elected.p50)} / ${s(r.elected.p95)} / ${s(r.elected.max)} | ${expectation(r)} |`,
    ),
  ].join('\n');
  const markdown = [
    `${FLEET_SIZE} fetcher processes (\`services/fetcher\`) on one nats-server, upstream = the simulator (in process). ` +
      "Each run: wait for one leader, have it serve a refresh, pause for a random time of up to one jittered retry period (so the signal falls at a random point of the candidates' read cycle), then stop it; from the signal on, a refresh request for a tariff no fetcher holds is sent " +
      `every ${PROBE_INTERVAL_MS} ms without waiting for answers (no responders while nobody leads), and the time is read from the simulator's request log: the arrival of the first request whose User-Agent ends \`fetcher/{id}\` of the new leader, minus the wall-clock time of the signal. ` +
      '"Elected" is the new leader\'s `event: elected` log line. A replacement process restores three fetchers: right after a SIGKILL (as Kubernetes restarts a crashed pod; it may win), after the measurement for SIGTERM. ' +
      "ratebus's election is client-go's (lease duration, renew deadline, retry period), and its defaults are the Kubernetes defaults (15 s / 10 s / 2 s), " +
      'so the defaults rows are what a Kubernetes `Lease` would give; the short rows show how the bound scales with the timings.' +
      (quick ? ' Quick mode: short timings only.' : ''),
    '',
    table,
  ].join('\n');
  return {
    title: "Failover: leader stopped to the new leader's first upstream request",
    markdown,
    data: rows,
  };
};
