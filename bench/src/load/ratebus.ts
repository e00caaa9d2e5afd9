import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { RateClient } from '@ratebus/client';
import { check, ManagedProcess, NatsServer } from '@ratebus/testkit';
import { stringify } from 'yaml';
import { HeldLog } from './fleet.js';
import { type DesignResult, type DesignRun, designResult } from './result.js';
import { fleetTariffs, podTariffs } from './scenario.js';

const FETCHER_MAIN = new URL('../../../../services/fetcher/dist/src/main.js', import.meta.url).pathname;
/** Pods per NATS connection (a pod process would have its own; sharing keeps 1,000 pods on 2 cores). */
const PODS_PER_CONNECTION = 50;

/**
 * Design (c): two fetcher processes (one leads) on the simulator's clock, every pod a `RateClient` that
 * ensures its tariffs; pods never call upstream, so every request at the simulator is a fetcher's.
 */
export async function runRatebus(run: DesignRun): Promise<DesignResult> {
  const { sim, time, pods, window } = run;
  const dir = mkdtempSync(join(tmpdir(), 'ratebus-bench-load-'));
  const ns = await NatsServer.start();
  const fetchers: ManagedProcess[] = [];
  const connections: NatsConnection[] = [];
  const clients: RateClient[] = [];
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
    sim.stats.reset();
    for (const id of ['bench-fetcher-1', 'bench-fetcher-2']) {
      fetchers.push(
        await ManagedProcess.start({
          name: id,
          command: process.execPath,
          args: [FETCHER_MAIN],
          env: {
            ...process.env,
            NATS_URL: ns.url,
            OCTOPUS_BASE_URL: sim.url,
            OCTOPUS_SIM_CLOCK: '1',
            RATEBUS_CONFIG: config,
            FETCHER_ID: id,
            METRICS_PORT: '0',
            LOG_LEVEL: 'warn',
          },
        }),
      );
    }
    for (let i = 0; i < pods; i++) {
      if (i % PODS_PER_CONNECTION === 0) {
        connections.push(
          await connect({ servers: ns.url, name: `bench-pods-${i}`, maxReconnectAttempts: -1 }),
        );
      }
      const client = await RateClient.connect({
        nc: connections.at(-1) as NatsConnection,
        now: () => time.now(),
      });
      clients.push(client);
      const mine = podTariffs(i);
      client.on('update', (u) => {
        const t = mine.find((x) => x.tariff === u.tariff);
        const end = u.view?.coversThrough;
        if (t && end) held.record(i, t, Date.parse(end), window.nextDayEnd, time.now());
      });
      for (const t of mine)
        void client.ensure(t.product, t.tariff, { timeoutMs: 60_000 }).catch(() => undefined);
    }
    // Pods that already held the next day when they joined (late joiners) count from the moment they held it.
    await check(() => clients.every((c, i) => podTariffs(i).every((t) => c.get(t.product, t.tariff))), {
      timeout: 120_000,
      interval: 200,
      name: 'every pod holds its tariffs',
    });
    await time.until(window.end);
    for (const [i, c] of clients.entries()) {
      for (const t of podTariffs(i)) {
        const end = c.get(t.product, t.tariff)?.coversThrough;
        if (end) held.record(i, t, Date.parse(end), window.nextDayEnd, time.now());
      }
    }
    return designResult('ratebus', run, sim.stats.snapshot(), held);
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all(connections.map((c) => c.close()));
    await Promise.all(fetchers.map((f) => f.stop()));
    await ns.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
