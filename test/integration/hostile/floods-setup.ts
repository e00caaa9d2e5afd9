/**
 * The floods suite's deployment: a nats-server with the deployment's per-role users
 * (services/nats/accounts.conf), the Octopus simulator, one real fetcher process with tight limits, honest
 * pods (RateClients holding the configured tariffs) and a hostile pod — all with the pod user's rights.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type KV, Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { RateClient } from '@ratebus/client';
import { type FetcherProcess, startFetcher } from '@ratebus/fixtures';
import { type Simulator, startSimulator } from '@ratebus/octopus-sim';
import { BUCKETS, type RatebusConfigInput, type TariffRef, tariffRef } from '@ratebus/schema';
import { check, freePort, NatsServer } from '@ratebus/testkit';
import { stringify } from 'yaml';
import { accountsConfig, connectAs, PASSWORDS, ROLE_ENV } from '../nats-security/roles.js';

/** The tariffs every fetcher of the rig is configured with (all exist in the simulator). */
export const CONFIGURED: readonly TariffRef[] = [
  tariffRef('AGILE-24-10-01', 'E-1R-AGILE-24-10-01-C'),
  tariffRef('AGILE-OUTGOING-19-05-13', 'E-1R-AGILE-OUTGOING-19-05-13-C'),
  tariffRef('GO-VAR-22-10-14', 'E-1R-GO-VAR-22-10-14-C'),
];

/** The rig's upstream budget, requests per minute. */
export const REQUESTS_PER_MINUTE = 60;
/** Routine cadence of the rig's fetcher: a minute, so "on schedule" is seen within a test. */
export const CADENCE_MS = 60_000;
export const JITTER_MS = 5_000;

/** The limits the rig runs with: small, so that each is reached by a flood of seconds. */
export const LIMITS = {
  maxTrackedTariffs: 10,
  reservedBudgetPercent: 30,
  refreshTariffIntervalMs: 5 * 60_000,
  refreshUpstreamPerMinute: 10,
  urlMissesPerMinute: 10,
  urlMaxValueBytes: 256 * 1024,
} as const;

export interface FloodRig {
  ns: NatsServer;
  sim: Simulator;
  fetcher: FetcherProcess;
  metricsUrl: string;
  /** Honest pods: each holds every configured tariff. */
  pods: RateClient[];
  /** A pod-user connection that floods. */
  hostile: NatsConnection;
  /** An inspector-user connection for reading buckets. */
  inspector: NatsConnection;
  /** A bucket opened with the inspector's rights. */
  bucket(name: string): Promise<KV>;
  /** Counter or gauge samples from the fetcher's /metrics, by full series text (name and labels). */
  metrics(): Promise<Map<string, number>>;
  close(): Promise<void>;
}

/** Starts the rig; `limits` overrides {@link LIMITS} key by key. */
export async function startFloodRig(
  limits: Partial<Record<keyof typeof LIMITS, number>> = {},
): Promise<FloodRig> {
  const dir = mkdtempSync(join(tmpdir(), 'ratebus-floods-'));
  const cleanup: (() => Promise<unknown>)[] = [async () => rmSync(dir, { recursive: true, force: true })];
  const close = async () => {
    for (const c of cleanup.splice(0).reverse()) await c().catch(() => undefined);
  };
  try {
    const ns = await NatsServer.start({ extraConfig: accountsConfig(), env: ROLE_ENV });
    cleanup.push(() => ns.stop());
    const sim = await startSimulator({ port: 0 });
    cleanup.push(() => sim.close());
    const config: RatebusConfigInput = {
      tariffs: [...CONFIGURED],
      schedule: { cadenceMs: CADENCE_MS, jitterMs: JITTER_MS },
      upstream: { baseUrl: sim.url, requestsPerMinute: REQUESTS_PER_MINUTE },
      limits: { ...LIMITS, ...limits },
    };
    const configPath = join(dir, 'ratebus.yaml');
    writeFileSync(configPath, stringify(config));
    const port = await freePort();
    const fetcher = await startFetcher({
      id: 'fetcher-floods',
      natsUrl: ns.url,
      credentials: { user: 'fetcher', pass: PASSWORDS.fetcher },
      config: configPath,
      metricsPort: port,
      logLevel: 'warn',
    });
    cleanup.push(() => fetcher.stop(5_000));
    const metricsUrl = `http://127.0.0.1:${port}/metrics`;
    const inspector = await connectAs('inspector', ns.url);
    cleanup.push(() => inspector.close());
    const hostile = await connectAs('pod', ns.url);
    cleanup.push(() => hostile.close());
    const pods: RateClient[] = [];
    for (let i = 0; i < 2; i++) {
      const pod = await RateClient.connect({
        servers: ns.url,
        credentials: { user: 'pod', pass: PASSWORDS.pod },
        name: `floods-honest-pod-${i}`,
      });
      cleanup.push(() => pod.close());
      pods.push(pod);
    }
    return {
      ns,
      sim,
      fetcher,
      metricsUrl,
      pods,
      hostile,
      inspector,
      bucket: (name) =>
        check(() => new Kvm(inspector).open(name, { allow_direct: true }), { name: `bucket ${name}` }),
      metrics: () => fetcher.metrics(),
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}

/** The hostile pod's handle on the interest bucket (pods may write interest). */
export function interestBucket(nc: NatsConnection): Promise<KV> {
  return check(() => new Kvm(nc).open(BUCKETS.interest), { name: 'interest bucket' });
}
