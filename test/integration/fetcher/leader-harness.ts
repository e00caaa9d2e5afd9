/**
 * Shared setup of the worker suites: a real nats-server, the simulator in-process, the real octopus client,
 * buckets laid out as docs/buses.md says, and fences made from a real lease create revision.
 */
import { jetstream } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import { connect, type Msg, type NatsConnection } from '@nats-io/transport-node';
import {
  type Buckets,
  type Clock,
  type Fence,
  NotLeaderError,
  realClock,
  type TermMetrics,
  TermWork,
  type TermWorkOptions,
  UpstreamRequestCounter,
} from '@ratebus/fetcher';
import { refreshBody } from '@ratebus/fixtures';
import { OctopusClient, type OctopusClientOptions } from '@ratebus/octopus';
import { type SimOptions, type Simulator, startSimulator } from '@ratebus/octopus-sim';
import {
  BUCKETS,
  decode,
  ERROR_CODE_HEADER,
  LEASE_KEY,
  type RatebusConfig,
  type RatebusConfigInput,
  RatebusConfigSchema,
  type RatesDocument,
  RatesDocumentSchema,
  refreshSubject,
} from '@ratebus/schema';
import { NatsServer } from '@ratebus/testkit';
import { pino } from 'pino';

export const AGILE = 'AGILE-24-10-01';
export const agile = (region: string) => ({ product: AGILE, tariff: `E-1R-${AGILE}-${region}` });

/** A refresh request from `pod-1` for a tariff (the codes are not checked), answered within `timeoutMs`. */
export const refresh = (
  env: Pick<Env, 'nc'>,
  ref: { product: string; tariff: string },
  o: { force?: boolean; timeoutMs?: number } = {},
) =>
  env.nc.request(refreshSubject(ref.product, ref.tariff), refreshBody(ref, 'pod-1', o.force ?? false), {
    timeout: o.timeoutMs ?? 20_000,
  });

/** Body of a pod's interest entry, renewed now. */
export const interestBody = (product: string, tariff: string, by = 'pod-7') =>
  JSON.stringify({
    type: 'interest',
    schemaVersion: 1,
    product,
    tariff,
    renewedAt: new Date().toISOString(),
    by,
  });

/** The `Ratebus-Error-Code` of a reply, null for a successful one. */
export const errorCodeOf = (m: Msg) => m.headers?.get(ERROR_CODE_HEADER) ?? null;

export const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });

/** A fence for one term: `term` is a real lease create revision; `depose()` ends it; `expire()` fails the check. */
export interface TestFence extends Fence {
  depose(): void;
  /** Makes assertLeading() throw while the signal stays un-aborted (a passed renew deadline). */
  expire(): void;
}

/** Records every worker metric call, for assertions. */
export class RecordingMetrics implements TermMetrics {
  readonly rejectedReasons: string[] = [];
  readonly refreshOutcomes: string[] = [];
  readonly urlOutcomes: string[] = [];
  readonly canaries: string[] = [];
  readonly fetchOutcomes: string[] = [];
  readonly refusals: string[] = [];
  refused(reason: string): void {
    this.refusals.push(reason);
  }
  rejected(reason: string): void {
    this.rejectedReasons.push(reason);
  }
  refreshRequest(o: string): void {
    this.refreshOutcomes.push(o);
  }
  urlCache(o: string): void {
    this.urlOutcomes.push(o);
  }
  canary(_p: string, o: string): void {
    this.canaries.push(o);
  }
  fetchFinished(o: string): void {
    this.fetchOutcomes.push(o);
  }
}

export interface Env {
  ns: NatsServer;
  nc: NatsConnection;
  buckets: Buckets;
  lease: KV;
  sim: Simulator;
  clock: Clock;
  /** Ends every worker started by this env and closes everything. */
  close(): Promise<void>;
}

export async function startEnv(sim: SimOptions, speed = sim.speed ?? 1): Promise<Env> {
  const ns = await NatsServer.start();
  const nc = await connect({ servers: ns.url, name: 'worker-test' });
  const kvm = new Kvm(jetstream(nc, { timeout: 5_000 }));
  const buckets: Buckets = {
    rates: await kvm.create(BUCKETS.rates, { history: 1 }),
    checks: await kvm.create(BUCKETS.checks, { history: 1 }),
    interest: await kvm.create(BUCKETS.interest, { history: 1, ttl: 60 * 60_000 }),
    urls: await kvm.create(BUCKETS.urls, { history: 1, ttl: 30 * 60_000 }),
  };
  const lease = await kvm.create(BUCKETS.lease, { history: 1 });
  const s = await startSimulator({ port: 0, ...sim });
  // Follows the simulator's clock, including speed changes made by a test.
  const now = () => s.clock.now().getTime();
  const clock: Clock = {
    now,
    // Short real slices that re-read the simulated time: follows speed changes and absorbs timer lateness.
    sleep: async (ms, signal) => {
      const until = now() + ms;
      while (!signal.aborted) {
        const left = until - now();
        if (left <= 0) return;
        await realClock.sleep(Math.min(left / (s.clock.speed || speed), 25), signal);
      }
    },
  };
  return {
    ns,
    nc,
    buckets,
    lease,
    sim: s,
    clock,
    async close() {
      await s.close();
      await nc.close();
      await ns.stop();
    },
  };
}

/** Takes the lease key anew; its create revision is the term. */
export async function makeFence(env: Env): Promise<TestFence> {
  await env.lease.delete(LEASE_KEY).catch(() => undefined);
  const term = await env.lease.create(LEASE_KEY, '{}');
  const ac = new AbortController();
  let expired = false;
  return {
    term,
    signal: ac.signal,
    assertLeading() {
      if (ac.signal.aborted) throw new NotLeaderError(term, 'released');
      if (expired) throw new NotLeaderError(term, 'deadline-passed');
    },
    depose: () => ac.abort(),
    expire: () => {
      expired = true;
    },
  };
}

/** A config for a test; refreshes may reach upstream back to back unless the test sets a spacing. */
export function config(input: RatebusConfigInput = {}): RatebusConfig {
  return RatebusConfigSchema.parse({
    ...input,
    limits: { refreshTariffIntervalMs: 0, ...input.limits },
  });
}

export interface Started {
  worker: TermWork;
  octopus: OctopusClient;
  counter: UpstreamRequestCounter;
  metrics: RecordingMetrics;
  fence: TestFence;
  /** Resolves when lead() has returned. */
  done: Promise<void>;
  /** Deposes the fence and waits for lead() to return. */
  stop(): Promise<void>;
}

export async function startWorker(
  env: Env,
  cfg: RatebusConfig,
  opts: { client?: OctopusClientOptions; worker?: TermWorkOptions; fence?: TestFence } = {},
): Promise<Started> {
  const counter = new UpstreamRequestCounter();
  // Wired as main.ts wires it: no request leaves unless the worker's current fence holds.
  let guard: () => void = () => undefined;
  const octopus = new OctopusClient({
    baseUrl: env.sim.url,
    requestsPerMinute: 6_000,
    timeoutMs: 2_000,
    maxAttempts: 2,
    backoff: { baseMs: 20, maxMs: 50 },
    hooks: counter.hooks,
    beforeEachRequest: () => guard(),
    ...opts.client,
  });
  const metrics = new RecordingMetrics();
  const worker = new TermWork(
    {
      nc: env.nc,
      buckets: env.buckets,
      octopus,
      config: cfg,
      holder: 'test',
      logger,
      clock: env.clock,
      metrics,
    },
    { upstreamRequests: counter, relistIntervalMs: 200, minForceIntervalMs: 0, ...opts.worker },
  );
  guard = () => worker.assertLeading();
  const fence = opts.fence ?? (await makeFence(env));
  const done = worker.lead(fence);
  return {
    worker,
    octopus,
    counter,
    metrics,
    fence,
    done,
    async stop() {
      fence.depose();
      await done;
      await octopus.close();
    },
  };
}

export async function readDoc(kv: KV, key: string): Promise<{ doc: RatesDocument; revision: number } | null> {
  const e = await kv.get(key);
  if (e?.operation !== 'PUT') return null;
  const d = decode(RatesDocumentSchema, 'RatesDocument', e.value);
  if (!d.ok) throw d.error;
  return { doc: d.value, revision: e.revision };
}

/** Requests on a path (substring) counted by the simulator. */
export function simCount(sim: Simulator, pathPart: string): number {
  let n = 0;
  for (const [p, c] of Object.entries(sim.stats.snapshot().byPath)) if (p.includes(pathPart)) n += c;
  return n;
}
