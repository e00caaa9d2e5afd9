import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { RateClient } from '@ratebus/client';
import { BUCKET_LIMITS } from '@ratebus/fetcher';
import { type FetcherProcess, startFetcher } from '@ratebus/fixtures';
import { type Simulator, startSimulator } from '@ratebus/octopus-sim';
import { BUCKETS, type BucketRole, rateKey, type TariffRef, tariffRef } from '@ratebus/schema';
import { check, freePort, NatsServer } from '@ratebus/testkit';
import { scheduledWaitMs } from '../../e2e/bus.js';
import { accountsConfig, connectAs, PASSWORDS, ROLE_ENV, type Role } from '../nats-security/roles.js';
import { bucketOf } from './attacks.js';

/**
 * The shared stage of the hostile-pod suite: a real nats-server with the deployment's accounts and
 * permissions (services/nats/accounts.conf, as the nats-security suite loads it), the Octopus simulator, a real
 * fetcher process (`services/fetcher` main.js) with the fetcher user, and honest pods (`RateClient`s with the
 * pod user) holding the tariffs. Each attack family gets its own file and its own fleet; every file ends with
 * {@link Fleet.assertUnharmed}.
 */

/** Configured: fetched whatever pods ask. */
export const CONFIGURED: readonly TariffRef[] = [tariffRef('AGILE-24-10-01', 'E-1R-AGILE-24-10-01-C')];
/** Held only through pods' interest (ensure → refresh, then renewed interest). */
export const BY_INTEREST: readonly TariffRef[] = [
  tariffRef('AGILE-24-10-01', 'E-1R-AGILE-24-10-01-A'),
  tariffRef('AGILE-OUTGOING-19-05-13', 'E-1R-AGILE-OUTGOING-19-05-13-C'),
];
export const ALL_TARIFFS: readonly TariffRef[] = [...CONFIGURED, ...BY_INTEREST];
export const keyOf = (t: TariffRef) => rateKey(t.product, t.tariff);

export interface FleetOptions {
  /** Honest pods. Default 2. */
  pods?: number;
  /** The pods' interest renewal period, ms: how soon an honest pod restores an entry an attacker removed. */
  interestCheckIntervalMs?: number;
  /** Label for temp dirs and connection names. */
  label: string;
}

export class Fleet {
  readonly pods: RateClient[] = [];
  private readonly conns: NatsConnection[] = [];

  private constructor(
    readonly ns: NatsServer,
    readonly sim: Simulator,
    readonly fetcher: FetcherProcess,
    private readonly dir: string,
  ) {}

  /** Starts everything and waits until every honest pod holds every tariff, fresh. */
  static async start(o: FleetOptions): Promise<Fleet> {
    const sim = await startSimulator({ port: 0 });
    const ns = await NatsServer.start({ extraConfig: accountsConfig(), env: ROLE_ENV });
    const dir = mkdtempSync(join(tmpdir(), `ratebus-hostile-${o.label}-`));
    const config = join(dir, 'ratebus.yaml');
    writeFileSync(
      config,
      `tariffs:\n${CONFIGURED.map((t) => `  - { product: ${t.product}, tariff: ${t.tariff} }\n`).join('')}` +
        'lease:\n  durationMs: 5000\n  renewDeadlineMs: 3000\n  retryPeriodMs: 500\n',
    );
    const fetcher = await startFetcher({
      id: `hostile-${o.label}`,
      natsUrl: ns.url,
      credentials: { user: 'fetcher', pass: PASSWORDS.fetcher },
      config,
      upstream: sim.url,
      metricsPort: await freePort(),
    });
    const fleet = new Fleet(ns, sim, fetcher, dir);
    try {
      for (let i = 0; i < (o.pods ?? 2); i++) {
        const pod = await RateClient.connect({
          servers: ns.url,
          credentials: { user: 'pod', pass: PASSWORDS.pod },
          name: `honest-${o.label}-${i}`,
          retryInitialMs: 50,
          retryMaxMs: 500,
          ...(o.interestCheckIntervalMs ? { interestCheckIntervalMs: o.interestCheckIntervalMs } : {}),
        });
        fleet.pods.push(pod);
      }
      // The fetcher creates the buckets; a pod's ensure() is answered once it leads. Scheduled fetches pause
      // around :00/:30, so the wait allows for that.
      const timeoutMs = scheduledWaitMs(60_000);
      for (const pod of fleet.pods) {
        for (const t of ALL_TARIFFS) {
          await check(
            () =>
              pod.ensure(t.product, t.tariff, { timeoutMs: 5_000 }).then(
                () => true,
                () => false,
              ),
            {
              name: `${t.tariff} held`,
              timeout: timeoutMs,
            },
          );
        }
      }
      await fleet.assertUnharmed();
      return fleet;
    } catch (e) {
      await fleet.stop();
      throw e;
    }
  }

  /** A connection as `role` (a hostile pod uses the pod user, exactly like the honest ones); closed by stop(). */
  async connect(role: Role = 'pod'): Promise<NatsConnection> {
    const nc = await connectAs(role, this.ns.url);
    this.conns.push(nc);
    return nc;
  }

  /** A bucket bound through `nc` (bind only: no request, so any role can hold a handle). */
  static bucket(nc: NatsConnection, role: BucketRole): Promise<KV> {
    return bucketOf(nc, role);
  }

  /**
   * What every attack must leave intact: every honest pod holds every tariff, `fresh`; the stored documents
   * are the ones pods hold (nothing lost or replaced); every bucket within its limits.
   */
  async assertUnharmed(): Promise<void> {
    const fetcherConn = await connectAs('fetcher', this.ns.url);
    try {
      const rates = await new Kvm(jetstream(fetcherConn)).open(BUCKETS.rates);
      for (const t of ALL_TARIFFS) {
        const stored = await rates.get(keyOf(t));
        assert.equal(stored?.operation, 'PUT', `${t.tariff} still stored`);
        for (const pod of this.pods) {
          const v = pod.get(t.product, t.tariff);
          assert.equal(v?.freshness, 'fresh', `${t.tariff} fresh on every pod`);
        }
      }
      const jsm = await jetstreamManager(fetcherConn);
      for (const role of Object.keys(BUCKETS) as BucketRole[]) {
        const si = await jsm.streams.info(`KV_${BUCKETS[role]}`);
        const limits = BUCKET_LIMITS[role];
        assert.ok(
          si.state.bytes <= limits.maxBytes,
          `${role}: ${si.state.bytes} bytes within ${limits.maxBytes}`,
        );
        assert.ok(
          si.state.messages <= limits.maxKeys,
          `${role}: ${si.state.messages} keys within ${limits.maxKeys}`,
        );
        assert.equal(si.config.allow_rollup_hdrs, false, `${role}: rollup refused`);
      }
    } finally {
      await fetcherConn.close();
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.pods.splice(0).map((p) => p.close().catch(() => undefined)));
    await Promise.all(this.conns.splice(0).map((c) => c.close().catch(() => undefined)));
    await this.fetcher.stop(3_000).catch(() => undefined);
    await this.ns.stop();
    await this.sim.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
