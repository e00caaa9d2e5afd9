/**
 * `npm run demo`: the whole of ratebus on one machine, embedded defaults, no internet. NATS (the one on
 * 127.0.0.1:4222, or a private nats-server with per-role users), the Octopus simulator with its clock just
 * before the Agile publication, two fetchers, the gateway and a few pods, with a live status. Ctrl-C stops
 * everything. `DEMO_DURATION_S=N` stops after N seconds and exits 0 only if every pod held its rates.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { followSimulatorClock, ukDate, ukWallTime } from '@ratebus/octopus';
import { BUCKETS, INBOX_PREFIXES, RatesDocumentSchema, validate } from '@ratebus/schema';
import { chooseNats, type NatsChoice } from './nats.js';
import { PODS, Pods } from './pods.js';
import { eventTime, type Leader, naiveEstimate, readLeader, render, upstreamRequests } from './status.js';
import { type FetcherSlot, Topology } from './topology.js';

const DAY = 86_400_000;
/** Simulated seconds per real second: the 16:00 publication comes about 30 s after the start. */
const DEFAULT_SPEED = 10;
/** A killed fetcher is started again after this long: after the lease (15 s) expired and the other took over. */
const RESTART_AFTER_MS = 30_000;

const out = (s: string) => process.stdout.write(`${s}\n`);

async function main(): Promise<number> {
  const speed = Number(process.env.DEMO_SPEED ?? DEFAULT_SPEED);
  const durationS = process.env.DEMO_DURATION_S ? Number(process.env.DEMO_DURATION_S) : null;
  if (!(speed > 0) || (durationS !== null && !(durationS > 0))) {
    out('DEMO_SPEED and DEMO_DURATION_S must be positive numbers');
    return 2;
  }
  const dir = mkdtempSync(join(tmpdir(), 'ratebus-demo-'));
  const events: string[] = [];
  let nats: NatsChoice | null = null;
  let topo: Topology | null = null;
  let pods: Pods | null = null;
  let statusNc: NatsConnection | null = null;
  let stopping = false;

  const stop = async (): Promise<void> => {
    stopping = true;
    await pods?.close().catch(() => undefined);
    await statusNc?.close().catch(() => undefined);
    await topo?.stop().catch(() => undefined);
    await nats?.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  };
  // Whatever happens, no child outlives the demo.
  process.on('exit', () => {
    for (const p of topo?.children() ?? []) p.child.kill('SIGKILL');
  });

  try {
    out('ratebus demo: starting NATS…');
    nats = await chooseNats(process.env);
    statusNc = await connect({
      servers: nats.servers,
      name: 'ratebus-demo-status',
      ...(nats.logins.inspector
        ? { user: nats.logins.inspector.user, pass: nats.logins.inspector.pass }
        : {}),
      ...(nats.logins.inspector ? { inboxPrefix: INBOX_PREFIXES.inspector } : {}),
      maxReconnectAttempts: -1,
    });
    const start = await simulatorStart(statusNc);
    out(
      `ratebus demo: NATS is ${nats.description}; simulated clock starts ${start.toISOString()} at ×${speed}`,
    );
    topo = new Topology(dir, nats);
    await topo.startSimulator(start, speed);
    const clock = await followSimulatorClock(topo.simUrl, { refreshMs: 5_000 });
    await topo.startFetchers();
    await topo.startGateway(join(dir, 'mirror'));
    pods = new Pods();
    await pods.start(nats.servers, nats.logins.pod, () => clock.now());
    out('ratebus demo: simulator, 2 fetchers, gateway and 4 pods started');

    const t = topo;
    const p = pods;
    for (const slot of t.fetchers) superviseFetcher(t, slot, events, () => stopping, clock.now);
    const lease = await openLease(statusNc);
    let lastLeader = null as Leader | null;
    const coverage = new Map<string, string | null>();
    const hint = nats.logins.inspector
      ? `npx ratebus status -s ${nats.servers[0]} --user inspector --password ${nats.logins.inspector.pass}`
      : `npx ratebus status -s ${nats.servers[0]}`;

    const tty = process.stdout.isTTY === true;
    const began = performance.now();
    let lastPrint = 0;
    const interrupted = new Promise<void>((resolve) => {
      for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => resolve());
    });
    let done = false;
    void interrupted.then(() => {
      done = true;
    });
    while (!done) {
      const nowSim = clock.now();
      const leader = await readLeader(lease);
      if (leader && leader.holder !== lastLeader?.holder) {
        events.push(`${eventTime(nowSim)}  ${leader.holder} leads`);
      }
      if (leader) lastLeader = leader;
      for (const spec of PODS) {
        const client = p.clients.get(spec.name);
        for (const v of spec.tariffs) {
          const view = client?.get(v.product, v.tariff);
          const name = spec.name;
          const key = `${name} ${v.tariff}`;
          if (view && coverage.has(key) && coverage.get(key) !== view.coversThrough) {
            events.push(`${eventTime(nowSim)}  ${name} got ${v.tariff} through ${view.coversThrough}`);
          }
          if (view) coverage.set(key, view.coversThrough);
        }
      }
      const frame = {
        nowSim,
        speed,
        natsDescription: nats.description,
        leader,
        upstream: await upstreamRequests(t.simUrl),
        naive: naiveEstimate(start.getTime(), nowSim, PODS.length),
        naiveFleet: naiveEstimate(start.getTime(), nowSim, 1_000),
        events,
        hint,
      };
      const elapsed = performance.now() - began;
      if (tty) process.stdout.write(`\x1b[2J\x1b[H${render(frame, t, p)}\n`);
      else if (elapsed - lastPrint >= 10_000 || lastPrint === 0) {
        out(`\n${render(frame, t, p)}`);
        lastPrint = elapsed || 1;
      }
      if (durationS !== null && elapsed >= durationS * 1000) break;
      await Promise.race([new Promise((r) => setTimeout(r, tty ? 1_000 : 2_000)), interrupted]);
    }
    const ok = p.allHeld() && lastLeader !== null;
    out(
      `\nratebus demo: stopping (every pod held its rates: ${p.allHeld() ? 'yes' : 'no'}; a leader was seen: ${lastLeader ? 'yes' : 'no'})`,
    );
    clock.close();
    await stop();
    out('ratebus demo: stopped; no process left behind');
    return ok || durationS === null ? 0 : 1;
  } catch (e) {
    out(`ratebus demo failed: ${e instanceof Error ? e.message : String(e)}`);
    await stop();
    return 1;
  }
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

/** Notes a fetcher that dies (e.g. killed from another terminal) and starts it again a little later. */
function superviseFetcher(
  topo: Topology,
  slot: FetcherSlot,
  events: string[],
  stopping: () => boolean,
  now: () => number,
): void {
  const proc = slot.proc;
  if (!proc) return;
  void proc.exited.then(async (how) => {
    if (stopping() || slot.stopping) return;
    events.push(
      `${eventTime(now())}  ${slot.id} (pid ${proc.pid}) exited (${how.signal ?? `code ${how.code}`}); restarting it in ${RESTART_AFTER_MS / 1000} s`,
    );
    await new Promise((r) => setTimeout(r, RESTART_AFTER_MS));
    if (stopping()) return;
    await topo.startFetcher(slot);
    events.push(`${eventTime(now())}  ${slot.id} started again (pid ${slot.proc?.pid})`);
    superviseFetcher(topo, slot, events, stopping, now);
  });
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`ratebus demo failed: ${String(e)}\n`);
    process.exit(1);
  },
);
