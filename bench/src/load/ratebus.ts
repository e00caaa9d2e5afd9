import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type FetcherProcess, startFetcher } from '@ratebus/fixtures';
import { check, ManagedProcess, NatsServer } from '@ratebus/testkit';
import { stringify } from 'yaml';
import { jsonLines } from '../propagation/util.js';
import { HeldLog } from './fleet.js';
import { type DesignResult, type DesignRun, designResult } from './result.js';
import { fleetTariffs, podTariffs } from './scenario.js';

const POD_WORKER = new URL('./pod-worker.js', import.meta.url).pathname;
/** Pods per NATS connection (a pod process would have its own; sharing keeps 1,000 pods on 2 cores). */
const PODS_PER_CONNECTION = 50;
/** Pods per child process. */
const PODS_PER_WORKER = 250;

/**
 * Design (c): two fetcher processes (one leads) on the simulator's clock, every pod a `RateClient` that
 * ensures its tariffs; pods never call upstream, so every request at the simulator is a fetcher's.
 */
export async function runRatebus(run: DesignRun): Promise<DesignResult> {
  const { sim, time, pods, window } = run;
  const speed = time.speed;
  const dir = mkdtempSync(join(tmpdir(), 'ratebus-bench-load-'));
  const ns = await NatsServer.start();
  const fetchers: FetcherProcess[] = [];
  const workerProcs: ManagedProcess[] = [];
  const held = new HeldLog();
  try {
    const config = join(dir, 'ratebus.yaml');
    writeFileSync(
      config,
      stringify({
        tariffs: fleetTariffs(pods).map((t) => ({ product: t.product, tariff: t.tariff })),
        // The budget is per real minute: scale it with the clock so it bounds what it would bound live.
        upstream: { requestsPerMinute: Math.min(100_000, 60 * Math.ceil(time.speed)) },
      }),
    );
    // The simulated day starts once every pod is up: starting a thousand pods in a few processes takes real
    // seconds that the sped-up clock would turn into simulated hours of fetcher-only traffic. The clock
    // stands still at the day's start until then; the fetchers start (and every upstream request is counted)
    // from the moment it runs again, as the other designs' pods start polling at the day's start.
    sim.clock.setSpeed(0);
    sim.clock.set(new Date(window.start));
    // Pods live in child processes (a few hundred each, as a fleet spreads over hosts): one Node process
    // cannot parse every pod's copy of every document in time.
    const workers = Math.max(1, Math.ceil(pods / PODS_PER_WORKER));
    let started = 0;
    let ready = 0;
    for (let w = 0; w < workers; w++) {
      const first = Math.floor((w * pods) / workers);
      const last = Math.floor(((w + 1) * pods) / workers);
      const proc = await ManagedProcess.start({
        name: `pods-${w}`,
        command: process.execPath,
        args: [POD_WORKER],
        env: {
          ...process.env,
          NATS_URL: ns.url,
          POD_FROM: String(first),
          POD_TO: String(last),
          CONNS: String(Math.max(1, Math.ceil((last - first) / PODS_PER_CONNECTION))),
        },
      });
      workerProcs.push(proc);
      jsonLines(proc.child.stdout as NonNullable<typeof proc.child.stdout>, (m) => {
        if (m.bench === 'started') started++;
        if (m.bench === 'ready') ready++;
        if (m.bench !== 'held' || typeof m.coversThrough !== 'string') return;
        const t = podTariffs(m.pod as number).find((x) => x.tariff === m.tariff);
        if (t) held.record(m.pod as number, t, Date.parse(m.coversThrough), window.nextDayEnd, time.now());
      });
    }
    // Waits for a condition on the pod processes; fails at once when one of them exits.
    const podsUntil = (done: () => boolean, name: string) =>
      check(
        () => {
          const dead = workerProcs.find((p) => !p.running);
          if (dead) throw new Error(`${dead.name} exited: ${dead.output().slice(-2_000)}`);
          return done();
        },
        { timeout: 600_000, interval: 100, name },
      );
    await podsUntil(() => started === workers, 'every pod started');
    sim.clock.setSpeed(speed);
    sim.stats.reset();
    for (const id of ['bench-fetcher-1', 'bench-fetcher-2']) {
      fetchers.push(
        await startFetcher({
          id,
          natsUrl: ns.url,
          upstream: sim.url,
          simClock: true,
          config,
          logLevel: 'warn',
        }),
      );
    }
    await podsUntil(() => ready === workers, 'every pod holds its tariffs');
    await time.until(window.end);
    return designResult('ratebus', run, sim.stats.snapshot(), held);
  } finally {
    await Promise.all(workerProcs.map((p) => p.stop(10_000)));
    await Promise.all(fetchers.map((f) => f.stop()));
    await ns.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
