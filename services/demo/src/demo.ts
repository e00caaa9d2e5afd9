import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { ukDate, ukWallTime } from '@ratebus/octopus';
import { BUCKETS, RatesDocumentSchema, validate } from '@ratebus/schema';
import { type FollowedClock, followSimulatorClock } from '@ratebus/service-kit';
import { describeExit } from './child.js';
import { chooseNats, connectStatus, type NatsChoice } from './nats.js';
import { PODS, Pods } from './pods.js';
import {
  eventTime,
  type Frame,
  type Leader,
  naiveEstimate,
  readLeader,
  render,
  upstreamRequests,
} from './status.js';
import { type FetcherSlot, Topology } from './topology.js';

const DAY = 86_400_000;
/** Simulated seconds per real second: the 16:00 publication comes about 30 s after the start. */
export const DEFAULT_SPEED = 10;
/** A killed fetcher is started again after this long: after the lease (15 s) expired and the other took over. */
const RESTART_AFTER_MS = 30_000;
/** How often the demo's own clock re-reads the simulator's. */
const CLOCK_REFRESH_MS = 5_000;

export interface DemoOptions {
  /** Where NATS comes from: `NATS_URL`, `NATS_USER`/`NATS_PASSWORD`, `DEMO_NATS=private` (see chooseNats). */
  env: NodeJS.ProcessEnv;
  /** Simulated seconds per real second. Default 10. */
  speed?: number;
  /** Progress lines while starting ("starting NATS…"). Default: none. */
  say?: (line: string) => void;
}

/**
 * The whole of ratebus on one machine: NATS, the simulator, two fetchers (restarted when killed), the
 * gateway and a few pods; `observe()` says what each holds. `stop()` stops everything and is idempotent.
 */
export class Demo implements AsyncDisposable {
  readonly speed: number;
  /** What happened, oldest first: leaders, new coverage, fetchers exiting and restarting. */
  readonly events: string[] = [];
  readonly #env: NodeJS.ProcessEnv;
  readonly #say: (line: string) => void;
  /** The fetchers' config and the gateway's mirror; made by `start()`, removed by `stop()`. */
  #dir: string | null = null;
  readonly #coverage = new Map<string, string | null>();
  #nats: NatsChoice | null = null;
  #statusNc: NatsConnection | null = null;
  #lease: KV | null = null;
  #topo: Topology | null = null;
  #pods: Pods | null = null;
  #clock: FollowedClock | null = null;
  #start = 0;
  #lastLeader: Leader | null = null;
  /** Set by the first `stop()`: a fetcher that exits from then on is not restarted. */
  #stopping: Promise<void> | null = null;

  constructor(opts: DemoOptions) {
    this.#env = opts.env;
    this.speed = opts.speed ?? DEFAULT_SPEED;
    this.#say = opts.say ?? (() => undefined);
  }

  /** Starts everything; on failure, call `stop()` to clean up what did start. */
  async start(): Promise<void> {
    this.#say('ratebus demo: starting NATS…');
    const nats = await chooseNats(this.#env);
    this.#nats = nats;
    this.#statusNc = await connectStatus(nats);
    const start = await simulatorStart(this.#statusNc);
    this.#start = start.getTime();
    this.#say(
      `ratebus demo: NATS is ${nats.description}; simulated clock starts ${start.toISOString()} at ×${this.speed}`,
    );
    const dir = mkdtempSync(join(tmpdir(), 'ratebus-demo-'));
    this.#dir = dir;
    const topo = new Topology(dir, nats);
    this.#topo = topo;
    await topo.startSimulator(start, this.speed);
    const clock = await followSimulatorClock(topo.simUrl, { refreshMs: CLOCK_REFRESH_MS });
    this.#clock = clock;
    await topo.startFetchers();
    await topo.startGateway(join(dir, 'mirror'));
    this.#pods = new Pods();
    await this.#pods.start(nats.servers, nats.logins.pod, () => clock.now());
    this.#say('ratebus demo: simulator, 2 fetchers, gateway and 4 pods started');
    for (const slot of topo.fetchers) this.#supervise(topo, slot);
    this.#lease = await openLease(this.#statusNc);
  }

  /** Reads who leads and what the pods hold, notes what changed in `events`, and returns the status. */
  async observe(): Promise<Frame> {
    const { nats, topo } = this.#started();
    const nowSim = this.now();
    const leader = await readLeader(this.#lease);
    if (leader && leader.holder !== this.#lastLeader?.holder) this.#event(`${leader.holder} leads`);
    if (leader) this.#lastLeader = leader;
    this.#noteCoverage();
    return {
      nowSim,
      speed: this.speed,
      natsDescription: nats.description,
      leader,
      upstream: await upstreamRequests(topo.simUrl),
      naive: naiveEstimate(this.#start, nowSim, PODS.length),
      naiveFleet: naiveEstimate(this.#start, nowSim, 1_000),
      events: this.events,
      hint: statusHint(nats),
    };
  }

  /** The status screen for a frame from {@link observe}. */
  render(frame: Frame): string {
    const { topo, pods } = this.#started();
    return render(frame, topo, pods);
  }

  /** Simulated now (epoch ms), as the simulator's clock says. */
  now(): number {
    return this.#clock?.now() ?? Date.now();
  }

  /** True when every pod holds every one of its tariffs. */
  allHeld(): boolean {
    return this.#pods?.allHeld() ?? false;
  }

  /** True once some fetcher was seen holding the lease. */
  get leaderSeen(): boolean {
    return this.#lastLeader !== null;
  }

  /** SIGKILL every child still running, without waiting: the last resort when the process exits. */
  kill(): void {
    this.#topo?.kill();
  }

  /** Pods, status connection, services (fetchers release the lease), NATS, temp files. Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  async #stop(): Promise<void> {
    this.#clock?.close();
    await this.#pods?.close().catch(() => undefined);
    await this.#statusNc?.close().catch(() => undefined);
    await this.#topo?.stop().catch(() => undefined);
    await this.#nats?.stop().catch(() => undefined);
    if (this.#dir) rmSync(this.#dir, { recursive: true, force: true });
  }

  #started(): { nats: NatsChoice; topo: Topology; pods: Pods } {
    if (!this.#nats || !this.#topo || !this.#pods) throw new Error('the demo has not started');
    return { nats: this.#nats, topo: this.#topo, pods: this.#pods };
  }

  #event(what: string): void {
    this.events.push(`${eventTime(this.now())}  ${what}`);
  }

  /** An event for every pod-tariff whose coverage moved on since the last look. */
  #noteCoverage(): void {
    for (const spec of PODS) {
      const client = this.#pods?.clients.get(spec.name);
      for (const v of spec.tariffs) {
        const view = client?.get(v.product, v.tariff);
        if (!view) continue;
        const key = `${spec.name} ${v.tariff}`;
        if (this.#coverage.has(key) && this.#coverage.get(key) !== view.coversThrough) {
          this.#event(`${spec.name} got ${v.tariff} through ${view.coversThrough}`);
        }
        this.#coverage.set(key, view.coversThrough);
      }
    }
  }

  /** Notes a fetcher that dies (e.g. killed from another terminal) and starts it again a little later. */
  #supervise(topo: Topology, slot: FetcherSlot): void {
    const proc = slot.proc;
    if (!proc) return;
    void proc.exited.then(async (how) => {
      if (this.#stopping !== null || slot.stopping) return;
      this.#event(
        `${slot.id} (pid ${proc.pid}) exited (${describeExit(how)}); restarting it in ${RESTART_AFTER_MS / 1000} s`,
      );
      await new Promise((r) => setTimeout(r, RESTART_AFTER_MS));
      if (this.#stopping !== null) return;
      await topo.startFetcher(slot);
      this.#event(`${slot.id} started again (pid ${slot.proc?.pid})`);
      this.#supervise(topo, slot);
    });
  }
}

/** The CLI command that shows the same state, with the status connection's login. */
function statusHint(nats: NatsChoice): string {
  const inspector = nats.logins.inspector;
  return inspector
    ? `npx ratebus status -s ${nats.servers[0]} --user inspector --password ${inspector.pass}`
    : `npx ratebus status -s ${nats.servers[0]}`;
}

/**
 * 15:55 UK on the day after the newest document already in KV (today when there is none), so a demo run
 * against a server that kept an earlier run's documents still moves forward in time.
 */
async function simulatorStart(nc: NatsConnection): Promise<Date> {
  let newest = Date.now() - DAY;
  try {
    const kv = await new Kvm(jetstream(nc, { timeout: 3_000 })).open(BUCKETS.rates);
    for await (const key of await kv.keys()) {
      const e = await kv.get(key);
      const d = e?.operation === 'PUT' ? validate(RatesDocumentSchema, 'rates', e.json()) : null;
      if (d?.ok) newest = Math.max(newest, Date.parse(d.value.fetchedAt));
    }
  } catch {
    // no bucket yet: a fresh server
  }
  return new Date(ukWallTime(ukDate(newest, 1), 15, 55));
}

async function openLease(nc: NatsConnection): Promise<KV | null> {
  try {
    return await new Kvm(jetstream(nc, { timeout: 3_000 })).open(BUCKETS.lease);
  } catch {
    return null;
  }
}
