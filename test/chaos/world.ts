import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type JetStreamManager, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { readThroughLeader } from '@ratebus/bus';
import { RateClient } from '@ratebus/client';
import { type Simulator, startSimulator } from '@ratebus/octopus-sim';
import { BUCKETS, decode, InterestSchema, RatesDocumentSchema, rateKey } from '@ratebus/schema';
import { check, NatsCluster, TcpProxy } from '@ratebus/testkit';
import { stringify } from 'yaml';
import { bucketOf } from '../integration/hostile/attacks.js';
import { accountsConfig, connectAs, PASSWORDS, ROLE_ENV } from '../integration/nats-security/roles.js';
import { FetcherFleet } from './fetchers.js';
import type { MonotonicTracker, PodHolding, StoredDoc } from './invariants.js';
import {
  LEASE,
  POD_TIMINGS,
  SIM_SPEED,
  SIM_START,
  TARIFF_POD_TIMINGS,
  TARIFF_SYNC_PODS,
  UPSTREAM_TIMEOUT_MS,
} from './settings.js';

export interface TariffRefLite {
  product: string;
  tariff: string;
}

/** Always fetched (fetcher config): Agile in two regions, Agile export, Go, Tracker. */
export const CONFIGURED: readonly TariffRefLite[] = [
  { product: 'AGILE-24-10-01', tariff: 'E-1R-AGILE-24-10-01-C' },
  { product: 'AGILE-24-10-01', tariff: 'E-1R-AGILE-24-10-01-A' },
  { product: 'AGILE-OUTGOING-19-05-13', tariff: 'E-1R-AGILE-OUTGOING-19-05-13-C' },
  { product: 'GO-VAR-22-10-14', tariff: 'E-1R-GO-VAR-22-10-14-C' },
  { product: 'SILVER-25-09-02', tariff: 'E-1R-SILVER-25-09-02-C' },
];
/** Only asked for by pods (interest + refresh). */
export const INTEREST_ONLY: readonly TariffRefLite[] = [
  { product: 'AGILE-24-10-01', tariff: 'E-1R-AGILE-24-10-01-B' },
  { product: 'VAR-22-11-01', tariff: 'E-1R-VAR-22-11-01-C' },
];
export const ALL_TARIFFS: readonly TariffRefLite[] = [...CONFIGURED, ...INTEREST_ONLY];

/** A pod: a RateClient, connected directly to the cluster or through a proxy that can go half-open. */
export interface Pod {
  name: string;
  client: RateClient;
  proxy: TcpProxy | null;
}

/** One observed publish on `ratebus.rates.>`: the exact bytes and what they say. */
export interface Observed {
  key: string;
  term: number;
  hash: string;
  bytes: string;
  at: number;
}

/**
 * Everything a chaos run needs, started in dependency order: a 3-node JetStream cluster, the simulator (in
 * process, its clock SIM_SPEED× real time), three fetcher processes with short leases and R3 buckets,
 * pods (two direct, two behind TCP proxies), an observer of the rates subjects and an admin connection.
 */
export class ChaosWorld {
  cluster!: NatsCluster;
  sim!: Simulator;
  fleet!: FetcherFleet;
  pods: Pod[] = [];
  observer!: NatsConnection;
  admin!: NatsConnection;
  /** The hostile pod: the ordinary pod credentials, used only to attack (faults.ts). */
  hostile!: NatsConnection;
  observed: Observed[] = [];
  observedInvalid = 0;
  #sub: Subscription | null = null;
  #jsm: JetStreamManager | null = null;
  #dir = '';
  #ownedPodConnections: NatsConnection[] = [];

  static async start(tracker: MonotonicTracker): Promise<ChaosWorld> {
    const w = new ChaosWorld();
    try {
      await w.#start(tracker);
    } catch (e) {
      await w.stop();
      throw e;
    }
    return w;
  }

  async #start(tracker: MonotonicTracker): Promise<void> {
    // The deployment's users and permissions (services/nats/accounts.conf): every client logs in with its role.
    this.cluster = await NatsCluster.start({
      size: 3,
      name: 'ratebus-chaos',
      extraConfig: accountsConfig(),
      env: ROLE_ENV,
    });
    this.sim = await startSimulator({ port: 0, start: SIM_START, speed: SIM_SPEED });
    this.#dir = mkdtempSync(join(tmpdir(), 'ratebus-chaos-'));
    const configPath = join(this.#dir, 'ratebus.yaml');
    // Schedule in simulated ms (the fetchers follow the simulator's clock): a routine check of every tariff
    // every 8–10 simulated minutes (8–10 real seconds), the canary every simulated minute.
    writeFileSync(
      configPath,
      stringify({
        tariffs: CONFIGURED,
        lease: LEASE,
        schedule: {
          cadenceMs: 10 * 60_000,
          jitterMs: 2 * 60_000,
          canaryIntervalMs: 60_000,
          windowDays: 2,
          maxBackoffMs: 2 * 60_000,
        },
        upstream: { requestsPerMinute: 1_200, timeoutMs: UPSTREAM_TIMEOUT_MS },
      }),
    );
    this.fleet = new FetcherFleet({ natsUrls: this.cluster.urls, configPath, simUrl: this.sim.url });
    await Promise.all([this.fleet.start(), this.fleet.start(), this.fleet.start()]);
    await this.fleet.waitLeader(30_000).catch((e: unknown) => {
      throw new Error(`no leader: ${String(e)}\n${this.fleet.tails()}`);
    });

    // The observer and the checker's reads need nothing a pod may not do; so does the hostile pod.
    const conn = (name: string) =>
      connectAs('pod', this.cluster.urls, {
        name,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 200,
        pingInterval: 1_000,
        maxPingOut: 2,
      });
    this.observer = await conn('chaos-observer');
    this.admin = await conn('chaos-admin');
    this.hostile = await conn('chaos-hostile-pod');
    this.#sub = this.observer.subscribe('ratebus.rates.>', {
      callback: (_err, msg) => {
        const d = decode(RatesDocumentSchema, 'RatesDocument', msg.data);
        if (!d.ok) {
          this.observedInvalid++;
          return;
        }
        this.observed.push({
          key: rateKey(d.value.product, d.value.tariff),
          term: d.value.term,
          hash: d.value.contentHash,
          bytes: msg.string(),
          at: Date.now(),
        });
      },
    });

    const [n1, n2] = this.cluster.nodes;
    const proxies = await Promise.all([TcpProxy.start(n1?.port ?? 0), TcpProxy.start(n2?.port ?? 0)]);
    for (let i = 1; i <= 4; i++) {
      const proxy = i > 2 ? (proxies[i - 3] ?? null) : null;
      // Pod 3 uses the client's own connection: on a dead link it reconnects to a node it learned by
      // gossip. Pod 4 is pinned to its proxy (no cluster updates): it stays cut off until the link is restored.
      const pinned = i === 4 && proxy !== null;
      const name = `chaos-pod-${i}${proxy ? (pinned ? '-pinned' : '-proxied') : ''}`;
      const nc = pinned
        ? await connect({
            servers: [proxy.url],
            name,
            user: 'pod',
            pass: PASSWORDS.pod,
            ignoreClusterUpdates: true,
            maxReconnectAttempts: -1,
            reconnectTimeWait: POD_TIMINGS.reconnectTimeWaitMs,
            pingInterval: POD_TIMINGS.pingIntervalMs,
            maxPingOut: POD_TIMINGS.maxPingOut,
            timeout: POD_TIMINGS.connectTimeoutMs,
          })
        : null;
      if (nc) this.#ownedPodConnections.push(nc);
      const client = await RateClient.connect({
        ...(nc
          ? { nc }
          : {
              servers: proxy ? [proxy.url] : this.cluster.urls,
              credentials: { user: 'pod', pass: PASSWORDS.pod },
            }),
        name,
        ...POD_TIMINGS,
        ...(TARIFF_SYNC_PODS.has(i) ? TARIFF_POD_TIMINGS : {}),
      });
      client.on('update', (u) => {
        const doc = u.view?.document;
        tracker.observe(name, rateKey(u.product, u.tariff), {
          kind: u.kind,
          term: doc?.term ?? 0,
          // The document's revision in ratebus-rates (a confirmation's own `revision` is the checks bucket's).
          revision: u.view?.revision ?? u.revision,
          coversThrough: u.view?.coversThrough ?? null,
          ...(u.rebased ? { rebased: true } : {}),
        });
      });
      this.pods.push({ name, client, proxy });
    }
    await Promise.all(this.pods.map((p) => p.client.ready()));
    await Promise.all(
      this.pods.flatMap((p) =>
        ALL_TARIFFS.map((t) =>
          check(() => p.client.ensure(t.product, t.tariff, { timeoutMs: 5_000 }), {
            timeout: 45_000,
            interval: 250,
            name: `${p.name} ensure ${t.tariff}`,
          }),
        ),
      ),
    );
  }

  /** The proxied pods (half-open links are faked on their proxies). */
  get proxiedPods(): Pod[] {
    return this.pods.filter((p) => p.proxy !== null);
  }

  /** One key's stored value through the stream leader (not `kv.get()`: any replica answers that). */
  async #leaderGet(key: string): Promise<{ revision: number; bytes: Uint8Array } | null> {
    this.#jsm ??= await jetstreamManager(this.admin);
    const e = await readThroughLeader(this.#jsm, BUCKETS.rates, key);
    return e?.operation === 'PUT' ? { revision: e.revision, bytes: e.value } : null;
  }

  /** The stored rates documents, read through the stream leader. Throws while JetStream cannot answer. */
  async readStored(): Promise<Map<string, StoredDoc>> {
    const out = new Map<string, StoredDoc>();
    for (const t of ALL_TARIFFS) {
      const key = rateKey(t.product, t.tariff);
      const e = await this.#leaderGet(key);
      if (!e) continue;
      const d = decode(RatesDocumentSchema, 'RatesDocument', e.bytes);
      if (!d.ok) throw new Error(`invalid stored document ${key}`);
      out.set(key, {
        key,
        revision: e.revision,
        term: d.value.term,
        hash: d.value.contentHash,
        coversThrough: d.value.coversThrough,
      });
    }
    return out;
  }

  /** The stored rates documents' exact bytes, by key (leader reads). */
  async readStoredBytes(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const t of ALL_TARIFFS) {
      const key = rateKey(t.product, t.tariff);
      const e = await this.#leaderGet(key);
      if (e) out.set(key, new TextDecoder().decode(e.bytes));
    }
    return out;
  }

  /** What every pod holds for every tariff. */
  holdings(): PodHolding[] {
    return this.pods.flatMap((p) =>
      ALL_TARIFFS.map((t) => {
        const v = p.client.get(t.product, t.tariff);
        return {
          pod: p.name,
          key: rateKey(t.product, t.tariff),
          revision: v?.revision ?? null,
          hash: v?.document.contentHash ?? null,
        };
      }),
    );
  }

  /**
   * What the hostile pod's accepted actions left unrepaired: the interest-only tariffs whose interest entry is
   * not an honest pod's declaration (deleted or overwritten). Freshness is not judged here: the simulated
   * clock runs weeks behind the real one, so by the pods' real clock every document has already ended.
   */
  async hostileDamage(): Promise<string[]> {
    const out: string[] = [];
    const interest = await bucketOf(this.admin, 'interest');
    for (const t of INTEREST_ONLY) {
      const e = await interest.get(rateKey(t.product, t.tariff));
      const d = e?.operation === 'PUT' ? decode(InterestSchema, 'Interest', e.value) : null;
      if (!d?.ok || d.value.tariff !== t.tariff || !d.value.by.startsWith('chaos-pod-'))
        out.push(`interest ${t.tariff}: ${e?.operation ?? 'missing'} ${e?.string().slice(0, 60) ?? ''}`);
    }
    return out;
  }

  async stop(): Promise<void> {
    await Promise.all(this.pods.map((p) => p.client.close().catch(() => undefined)));
    await Promise.all(this.#ownedPodConnections.map((nc) => nc.close().catch(() => undefined)));
    await Promise.all(this.pods.map((p) => p.proxy?.close().catch(() => undefined)));
    this.#sub?.unsubscribe();
    await this.observer?.close().catch(() => undefined);
    await this.admin?.close().catch(() => undefined);
    await this.hostile?.close().catch(() => undefined);
    await this.fleet?.stop();
    await this.cluster?.stop();
    await this.sim?.close();
    if (this.#dir) rmSync(this.#dir, { recursive: true, force: true });
  }
}
