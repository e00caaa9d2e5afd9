import { fileURLToPath } from 'node:url';
import { jetstreamManager } from '@nats-io/jetstream';
import type { connect } from '@nats-io/transport-node';
import type { SyncMode } from '@ratebus/client';
import { type Buckets, putDocs } from '@ratebus/fixtures';
import { checkedOf, type RatesDocument, rateKey, ratesSubject } from '@ratebus/schema';
import { check, ManagedProcess } from '@ratebus/testkit';
import { AGILE_SLOTS, agileDoc, syntheticTariff, writerBus } from '../propagation/bus.js';
import { Cleanup, fmt, jsonLines, summarize } from '../propagation/util.js';
import type { Suite } from '../suite.js';

const CHILD = fileURLToPath(new URL('../fleetcost/pod.js', import.meta.url));
/** Child processes per fleet, at least; whole-bucket mirrors get more (see {@link childrenFor}). */
const MIN_CHILDREN = 4;
/**
 * Whole-bucket mirrors per child at most: each holds ≈ 15 MiB of heap, and a child's garbage collector
 * re-marks its whole heap as it grows, so smaller heaps start a large fleet sooner.
 */
const MIRRORS_PER_CHILD = 125;
const STORED = 200;
const PER_POD = 3;
/**
 * Whole-bucket mirrors in the full run: `FLEETCOST_BUCKET_PODS`, default 1,000 (the fleet's real size; each
 * mirror holds ≈ 15 MiB of heap and receives 9 MiB at start: ≈ 8 min and 18 GiB on 2 cores).
 */
function bucketPods(): number {
  const raw = process.env.FLEETCOST_BUCKET_PODS;
  if (raw === undefined || raw === '') return 1_000;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 10_000) {
    throw new Error(
      `FLEETCOST_BUCKET_PODS must be a whole number of pods from 1 to 10000, got ${JSON.stringify(raw)}`,
    );
  }
  return n;
}

/**
 * The fleets, and the steady phase: every timer divided by `scale`, so that its window stands for `scale`
 * times as long. The full run keeps the default timers: 1,000 whole-bucket mirrors relisting twice as often
 * (≈ 50 MB/s from one server into 2 cores) did not all start on this machine.
 */
const full = () => ({ pods: { bucket: bucketPods(), tariffs: 1_000 }, scale: 1, steadyMs: 360_000 });
const QUICK = { pods: { bucket: 8, tariffs: 8 }, scale: 20, steadyMs: 15_000 } as const;
/**
 * A fleet start fails when no pod of it started for this long (the pods of a child start in turn; 1,000
 * whole-bucket mirrors took ≈ 8 minutes on 2 cores, each started mirror adding to the load the next one
 * meets, so no fixed deadline fits every size).
 */
const START_STALL_MS = 120_000;
const MIB = 2 ** 20;
/**
 * Every document and check is written as confirmed this long ago: older than half the fresh period, so the
 * tariff follower polls every confirmation all the time (its worst case; with a fetcher confirming every
 * 30 min it polls during half of each cycle).
 */
const CONFIRMED_AGO_MS = 20 * 60_000;
const KIB = 1024;

interface Connz {
  connections: { name?: string; in_bytes: number; out_bytes: number; subscriptions: number }[];
}
interface Jsz {
  consumers: number;
  api: { total: number; errors: number };
}
interface Varz {
  slow_consumers: number;
}

interface ModeResult {
  readonly mode: SyncMode;
  readonly pods: number;
  readonly coldStartMs: ReturnType<typeof summarize>;
  readonly heapPerPodKiB: number;
  readonly heldPerPod: number;
  readonly consumersPerPod: number;
  readonly startApiPerPod: number;
  readonly startBytesPerPod: number;
  /** One new document of a tariff every pod follows: bytes to each pod. */
  readonly updateBytesFollowed: number;
  /** One new document of a tariff no pod follows: bytes to each pod. */
  readonly updateBytesOther: number;
  /** Every request published on `$JS.API.>` (direct gets included), per pod per hour, steady. */
  readonly apiPerPodHour: number;
  /** Of those, what the server's JetStream API layer handled (`/jsz` `api.total`; direct gets are not in it). */
  readonly jszApiPerPodHour: number;
  /** Steady requests per pod per hour by kind (`STREAM.INFO`, `DIRECT.GET`, ...). */
  readonly apiByKind: Record<string, number>;
  readonly bytesPerPodHour: number;
  readonly subscriptionsPerPod: number;
  /** Connections the server cut as slow consumers while the fleet ran (each then reconnects and relists). */
  readonly slowConsumers: number;
  /** In the steady window, per pod: reconnects, and watch restarts by kind (`relist`, `resume`, `restart`). */
  readonly steadyReconnectsPerPod: number;
  readonly steadyResyncsPerPod: Record<string, number>;
}

/** Pod i: tariff 0 (the one updated in the update phase) and two of tariffs 1..198; 199 is nobody's. */
function tariffsOf(pod: number): { product: string; tariff: string }[] {
  const other = STORED - 2;
  return [
    syntheticTariff(0),
    syntheticTariff(1 + ((2 * pod) % other)),
    syntheticTariff(1 + ((2 * pod + 1) % other)),
  ];
}

/** What the fetcher does for a new document: KV write, the same bytes on the core subject, the Checked record. */
async function fetcherWrite(
  nc: Awaited<ReturnType<typeof connect>>,
  b: Buckets,
  doc: RatesDocument,
): Promise<number> {
  const bytes = JSON.stringify(doc);
  const rev = await b.rates.put(rateKey(doc.product, doc.tariff), bytes);
  nc.publish(ratesSubject(doc.product, doc.tariff), bytes);
  await b.checks.put(rateKey(doc.product, doc.tariff), JSON.stringify(checkedOf(doc)));
  return rev;
}

/**
 * What a pod costs the fleet, `sync: 'bucket'` (the whole-bucket mirror: the design up to this version)
 * beside `sync: 'tariffs'` (only the pod's own tariffs), in one run on one nats-server: 200 Agile-sized
 * documents stored, each pod following 3. JetStream API requests are counted by the server (`/jsz`
 * `api.total`), bytes per pod connection by `/connz` `out_bytes`, consumers by `/jsz`.
 */
export const fleetcostSuite: Suite = async ({ quick, log }) => {
  const { pods: fleets, scale, steadyMs } = quick ? QUICK : full();
  const cleanup = new Cleanup();
  const results: ModeResult[] = [];
  try {
    const { ns, nc, buckets } = await writerBus(cleanup, 'bench-fleetcost-writer');
    const docs = Array.from({ length: STORED }, (_, i) => {
      const t = syntheticTariff(i);
      return agileDoc(t.product, t.tariff, { seed: i, fetchedAt: Date.now() - CONFIRMED_AGO_MS });
    });
    await putDocs(buckets, docs);
    for (const d of docs) await fetcherWrite(nc, buckets, d);
    log(`${STORED} documents and checks stored`);
    let seed = STORED;

    // Open and closed connections: a pod that reconnects in a window keeps the bytes of its closed one.
    const podConns = async (mode: SyncMode) =>
      (await ns.monitor<Connz>('connz?state=all&limit=100000')).connections.filter((c) =>
        c.name?.startsWith(`fleetcost-${mode}-`),
      );
    const sumOut = (cs: Connz['connections']) => cs.reduce((n, c) => n + c.out_bytes, 0);
    const jsz = () => ns.monitor<Jsz>('jsz');
    // Every JetStream API request, as the server routes it (direct gets are answered by the stream itself
    // and do not show in /jsz api.total): a plain subscriber in the same account sees each one.
    const apiSeen = new Map<string, number>();
    nc.subscribe('$JS.API.>', {
      callback: (err, msg) => {
        if (err) return;
        // `$JS.API.STREAM.MSG.GET.<stream>` → `STREAM.MSG.GET`: the upper-case tokens before the stream name.
        const tokens = msg.subject.split('.').slice(2);
        const upto = tokens.findIndex((t) => !/^[A-Z]+$/.test(t));
        const k = (upto < 0 ? tokens : tokens.slice(0, upto)).join('.') || '?';
        apiSeen.set(k, (apiSeen.get(k) ?? 0) + 1);
      },
    });
    await nc.flush();
    const apiCount = () => [...apiSeen.values()].reduce((a, b) => a + b, 0);
    // Ordered consumers of a closed client linger until their inactivity threshold: remove the previous
    // fleet's, so that /jsz counts only the fleet being measured.
    const jsm = await jetstreamManager(nc);
    const noConsumers = async () => {
      for (const stream of ['KV_ratebus-rates', 'KV_ratebus-checks']) {
        const names: string[] = [];
        for await (const ci of jsm.consumers.list(stream)) names.push(ci.name);
        for (const name of names) await jsm.consumers.delete(stream, name).catch(() => false);
      }
    };

    for (const mode of ['bucket', 'tariffs'] as const) {
      const pods = fleets[mode];
      // One fleet, every timer divided by `scale`: cold start, memory, consumers, bytes of one update, then
      // the steady phase.
      await noConsumers();
      const slow0 = (await ns.monitor<Varz>('varz')).slow_consumers;
      const api0 = apiCount();
      const start = await startFleet(mode, pods, scale, ns.url, cleanup, log);
      await start.ready;
      const ready = start.reports.filter((r) => r.bench === 'ready');
      const cold = ready.flatMap((r) => r.coldStartMs as number[]);
      const heapPerPod = ready.reduce((n, r) => n + (r.heapPerPod as number), 0) / ready.length;
      const heldPerPod = ready.reduce((n, r) => n + (r.heldPerPod as number), 0) / ready.length;
      const j1 = await jsz();
      let conns = await podConns(mode);
      const startBytes = sumOut(conns) / pods;
      const consumersPerPod = j1.consumers / pods;
      const subscriptionsPerPod = conns.reduce((n, c) => n + c.subscriptions, 0) / pods;
      const startApiPerPod = (apiCount() - api0) / pods;

      const updateBytes = async (tariffIndex: number, followedByAll: boolean): Promise<number> => {
        const before = sumOut(await podConns(mode));
        const t = syntheticTariff(tariffIndex);
        const doc = agileDoc(t.product, t.tariff, { seed: seed++, fetchedAt: Date.now() - CONFIRMED_AGO_MS });
        const rev = await fetcherWrite(nc, buckets, doc);
        const key = rateKey(t.product, t.tariff);
        const waitFor = followedByAll || mode === 'bucket' ? pods : 0;
        await check(
          () =>
            start.reports.filter((r) => r.bench === 'applied' && r.key === key && r.rev === rev).length >=
            waitFor,
          { timeout: 60_000, interval: 20, name: `${mode}: ${key} rev ${rev} applied by ${waitFor} pods` },
        );
        // Let any read that follows the push (and the check write) land before counting.
        await new Promise((r) => setTimeout(r, 1_000));
        return (sumOut(await podConns(mode)) - before) / pods;
      };
      const updateBytesFollowed = await updateBytes(0, true);
      const updateBytesOther = await updateBytes(STORED - 1, false);

      // Steady state, the same fleet: API requests and bytes per pod per hour.
      const stats0 = await start.stats();
      const j0 = (await jsz()).api.total;
      const a0 = apiCount();
      const kinds0 = new Map(apiSeen);
      conns = await podConns(mode);
      const b0 = sumOut(conns);
      await new Promise((r) => setTimeout(r, steadyMs));
      const j2 = (await jsz()).api.total;
      const a1 = apiCount();
      const b1 = sumOut(await podConns(mode));
      const apiByKind: Record<string, number> = {};
      const slowConsumers = (await ns.monitor<Varz>('varz')).slow_consumers - slow0;
      const stats1 = await start.stats();
      const steadyResyncsPerPod: Record<string, number> = {};
      for (const [kind, n] of Object.entries(stats1.resyncs)) {
        steadyResyncsPerPod[kind] = (n - (stats0.resyncs[kind] ?? 0)) / pods;
      }
      await start.stop();
      const hours = (steadyMs * scale) / 3_600_000;
      for (const [kind, n] of apiSeen) {
        const d = n - (kinds0.get(kind) ?? 0);
        if (d > 0) apiByKind[kind] = d / pods / hours;
      }
      const r: ModeResult = {
        mode,
        pods,
        coldStartMs: summarize(cold),
        heapPerPodKiB: heapPerPod / KIB,
        heldPerPod,
        consumersPerPod,
        startApiPerPod,
        startBytesPerPod: startBytes,
        updateBytesFollowed,
        updateBytesOther,
        apiPerPodHour: (a1 - a0) / pods / hours,
        jszApiPerPodHour: (j2 - j0) / pods / hours,
        apiByKind,
        bytesPerPodHour: (b1 - b0) / pods / hours,
        subscriptionsPerPod,
        slowConsumers,
        steadyReconnectsPerPod: (stats1.reconnects - stats0.reconnects) / pods,
        steadyResyncsPerPod,
      };
      results.push(r);
      log(
        `${mode}: cold start p50 ${fmt(r.coldStartMs.p50, 0)} ms, ${fmt(r.consumersPerPod, 1)} consumers/pod, ` +
          `${fmt(r.apiPerPodHour, 0)} API req/pod/h, update ${fmt(r.updateBytesFollowed / KIB, 1)} KiB/pod`,
      );
    }
  } finally {
    await cleanup.run(log);
  }

  const docKiB = Buffer.byteLength(JSON.stringify(agileDoc('AGILE-B1', 'E-1R-AGILE-B1-B'))) / KIB;
  const [b, t] = results as [ModeResult, ModeResult];
  const row = (label: string, f: (r: ModeResult) => string) => `| ${label} | ${f(b)} | ${f(t)} |`;
  const k = (n: number) => `${fmt(n / KIB, 1)} KiB`;
  const markdown = [
    `One nats-server; ${STORED} Agile-sized documents (${AGILE_SLOTS} half-hour slots, ${docKiB.toFixed(0)} KiB each) and their checks stored. ` +
      `${fleets.tariffs} pods following their own tariffs (in ${childrenFor('tariffs', fleets.tariffs)} child processes), and ${fleets.bucket} whole-bucket mirrors${fleets.bucket === fleets.tariffs ? '' : ' (`FLEETCOST_BUCKET_PODS`)'} (in ${childrenFor('bucket', fleets.bucket)}), each pod a \`RateClient\` on its own NATS connection that \`ensure()\`s ${PER_POD} tariffs ` +
      "(one shared by every pod, two of the other 198), all confirmed 20 min ago (so the tariff follower's confirmation poll runs all the time, its worst case): the same program, run once with `sync: 'bucket'` (the design up to this version: a whole-bucket watch per bucket, " +
      "resync every 15 s, relist every 5 min) and once with `sync: 'tariffs'` (pushes on the core subjects of its own tariffs, a confirmation poll every 60 s ± 25 % per tariff confirmed more than 15 min ago, " +
      'a full catch-up every 5 min ± 25 % and after reconnects, no consumer). ' +
      'JetStream API requests are counted by the server (`/jsz` `api.total`), bytes sent to each pod connection by `/connz` `out_bytes`, consumers by `/jsz`. ' +
      `Steady state: the same fleet${scale === 1 ? ' (default timers)' : ` with every timer (resync, relist, interest renewal) divided by ${scale}`}, after the updates, observed for ${steadyMs / 1000} s, i.e. ${fmt((steadyMs * scale) / 60_000, 0)} min of default timers; ` +
      'per hour = count ÷ that. Requests are counted by a subscriber on `$JS.API.>` (every request, direct gets included) and by `/jsz` `api.total` (what the JetStream API layer handled). ' +
      "Update: the fetcher's write of one new document (KV, core publish, check) of the tariff every pod follows, and of one no pod follows; bytes to each pod until it applied it, plus 1 s. " +
      'Cold start: connect → `ready()` → the 3 `ensure()`s resolved; the pods of a child start one after the other, the children at once. ' +
      'Memory: heap per pod after a full GC (child heap after all pods are ready, minus before, ÷ pods). ' +
      'Every pod of a fleet runs all the time of its measurement (its timers, its reads), so the server and the 2 cores carry the whole fleet while the figures are taken; no pod shares anything with another (docs/scale.md takes these per-pod figures to 10,000 pods).',
    '',
    `| per pod | \`sync: 'bucket'\` (before), ${b.pods} pods | \`sync: 'tariffs'\` (new), ${t.pods} pods |`,
    '|---|---:|---:|',
    row('JetStream API requests per hour (steady), all', (r) => fmt(r.apiPerPodHour, 0)),
    row('… of which handled by the JetStream API layer (`/jsz` `api.total`)', (r) =>
      fmt(r.jszApiPerPodHour, 0),
    ),
    row('… by kind', (r) =>
      Object.entries(r.apiByKind)
        .sort((x, y) => y[1] - x[1])
        .map(([kind, n]) => `${kind} ${fmt(n, 0)}`)
        .join(', '),
    ),
    row('JetStream API requests at start (connect → 3 tariffs held)', (r) => fmt(r.startApiPerPod, 1)),
    row('JetStream consumers', (r) => fmt(r.consumersPerPod, 1)),
    row('core subscriptions on the server', (r) => fmt(r.subscriptionsPerPod, 1)),
    row('bytes received per Agile update, tariff it follows', (r) => k(r.updateBytesFollowed)),
    row('bytes received per Agile update, tariff it does not follow', (r) => k(r.updateBytesOther)),
    row('bytes received per hour (steady, no update)', (r) => `${fmt(r.bytesPerPodHour / MIB, 2)} MiB`),
    row('bytes received at start', (r) => `${fmt(r.startBytesPerPod / MIB, 2)} MiB`),
    row('documents held', (r) => fmt(r.heldPerPod, 0)),
    row('heap', (r) => `${fmt(r.heapPerPodKiB / 1024, 2)} MiB`),
    row('connections cut as slow consumers while the fleet ran (whole fleet, `/varz`)', (r) =>
      fmt(r.slowConsumers, 0),
    ),
    row('reconnects in the steady window', (r) => fmt(r.steadyReconnectsPerPod, 2)),
    row('watch restarts in the steady window, by kind', (r) =>
      Object.entries(r.steadyResyncsPerPod)
        .map(([kind, n]) => `${kind} ${fmt(n, 2)}`)
        .join(', '),
    ),
    row(
      'cold start (connect → 3 tariffs held), p50 / max',
      (r) => `${fmt(r.coldStartMs.p50, 0)} / ${fmt(r.coldStartMs.max, 0)} ms`,
    ),
    '',
    `A fleet of 1,000${b.pods === 1000 ? '' : ` (the whole-bucket row: ${b.pods} measured, × ${fmt(1000 / b.pods, 0)})`}: ` +
      `${fmt((b.apiPerPodHour * 1000) / 3600, 0)} → ${fmt((t.apiPerPodHour * 1000) / 3600, 0)} JetStream API requests per second, ` +
      `${fmt(b.consumersPerPod * 1000, 0)} → ${fmt(t.consumersPerPod * 1000, 0)} consumers, ` +
      `${fmt((b.updateBytesOther * 1000) / MIB, 1)} MiB → ${fmt((t.updateBytesOther * 1000) / MIB, 1)} MiB sent for an update of a tariff no pod follows, ` +
      `${fmt((b.heapPerPodKiB * 1000) / KIB / KIB, 2)} GiB → ${fmt((t.heapPerPodKiB * 1000) / KIB / KIB, 2)} GiB of pod heap.`,
  ].join('\n');
  return {
    title: `Fleet cost: what one pod costs the bus, whole-bucket mirror vs own tariffs (${STORED} stored, ${PER_POD} followed)`,
    markdown,
    data: { stored: STORED, perPod: PER_POD, fleets, scale, steadyMs, results },
  };
};

function childrenFor(mode: SyncMode, pods: number): number {
  return mode === 'bucket' ? Math.max(MIN_CHILDREN, Math.ceil(pods / MIRRORS_PER_CHILD)) : MIN_CHILDREN;
}

interface FleetStats {
  readonly reconnects: number;
  readonly resyncs: Record<string, number>;
}

interface Fleet {
  readonly ready: Promise<void>;
  readonly reports: Record<string, unknown>[];
  /** Every child's pods' reconnects and watch restarts, summed (asked for with SIGUSR2). */
  stats(): Promise<FleetStats>;
  stop(): Promise<void>;
}

async function startFleet(
  mode: SyncMode,
  pods: number,
  scale: number,
  url: string,
  cleanup: Cleanup,
  log: (line: string) => void,
): Promise<Fleet> {
  const reports: Record<string, unknown>[] = [];
  const procs: ManagedProcess[] = [];
  let started = 0;
  let progressAt = performance.now();
  const children = childrenFor(mode, pods);
  for (let w = 0; w < children; w++) {
    const mine = Array.from({ length: pods }, (_, i) => i).filter((i) => i % children === w);
    const proc = await ManagedProcess.start({
      name: `fleetcost ${mode} x${scale} worker ${w}`,
      command: process.execPath,
      // A whole-bucket mirror holds ≈ 15 MiB: room for larger fleets per child than V8's default heap limit.
      args: ['--expose-gc', '--max-old-space-size=8192', CHILD],
      env: {
        ...process.env,
        NATS_URL: url,
        MODE: mode,
        INDEX: String(w),
        SCALE: String(scale),
        TARIFFS: JSON.stringify(mine.map(tariffsOf)),
      },
    });
    cleanup.add(proc.name, () => proc.stop(5_000));
    procs.push(proc);
    jsonLines(proc.child.stdout as NonNullable<typeof proc.child.stdout>, (m) => {
      progressAt = performance.now();
      if (m.bench !== 'started') return void reports.push(m);
      started += 1;
      if (started % 100 === 0) log(`${mode}: ${started} of ${pods} pods started`);
    });
  }
  const ready = (async () => {
    for (;;) {
      const dead = procs.find((p) => !p.running);
      if (dead) throw new Error(`${dead.name} exited: ${dead.output().slice(-2_000)}`);
      if (reports.filter((r) => r.bench === 'ready').length === children) return;
      if (performance.now() - progressAt > START_STALL_MS) {
        throw new Error(
          `${mode} fleet: no pod started for ${START_STALL_MS / 1000} s, ${started} of ${pods} started`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  const stats = async (): Promise<FleetStats> => {
    const seen = reports.length;
    for (const p of procs) p.child.kill('SIGUSR2');
    const answers = await check(
      () => {
        const got = reports.slice(seen).filter((r) => r.bench === 'stats');
        return got.length === procs.length ? got : undefined;
      },
      { timeout: 60_000, interval: 50, name: `${mode} fleet: stats from ${procs.length} children` },
    );
    const resyncs: Record<string, number> = {};
    let reconnects = 0;
    for (const a of answers) {
      reconnects += a.reconnects as number;
      for (const [kind, n] of Object.entries(a.resyncs as Record<string, number>)) {
        resyncs[kind] = (resyncs[kind] ?? 0) + n;
      }
    }
    return { reconnects, resyncs };
  };
  return {
    ready,
    reports,
    stats,
    stop: async () => void (await Promise.all(procs.map((p) => p.stop(10_000)))),
  };
}
