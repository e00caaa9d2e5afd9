import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startGateway } from '@ratebus/fixtures';
import { type Simulator, type StatsLogEntry, startSimulator } from '@ratebus/octopus-sim';
import { check, NatsServer } from '@ratebus/testkit';
import { parse, stringify } from 'yaml';
import { podAgent } from '../load/http.js';
import {
  Consumer,
  FRESH_MS,
  HOUR,
  MINUTE,
  type PredbatUrl,
  predbatUrls,
  READ_EVERY_MS,
  SharedDir,
  seeded,
  type Tariff,
} from '../predbat/consumer.js';
import { Cleanup, fmt, sleep, summarize } from '../propagation/util.js';
import { startSimFetchers } from '../sim-fetchers.js';
import { SimTime } from '../simtime.js';
import type { Suite } from '../suite.js';

const DEPLOY_CONFIG = fileURLToPath(new URL('../../../../deploy/ratebus.yaml', import.meta.url));
/** Agile D+1 appears this long after 16:00 UK (as in the load suite). */
const PUBLICATION_DELAY_MIN = 7;
/** The benchmark day (GMT, so UK time = UTC). */
const MIDNIGHT = Date.parse('2026-11-26T00:00:00Z');
/** Simulated time before the day for NATS, the fetchers and the gateway to start and fill the directory. */
const WARMUP_MS = 90 * MINUTE;
/** The gateway's directory scan, real ms (its minimum; the default 30 s would be 3 simulated hours). */
const SCAN_INTERVAL_MS = 1_000;
const SPEED = 360;
/**
 * The gateway's embedded client (SYNC=tariffs, its default) polls each fed tariff's confirmation every 60 s
 * ± 25 % of real time: scaled to the clock (`RESYNC_INTERVAL_MS`), as in production in simulated time. At the
 * default, the poll would come every 6 simulated hours and the feed's `created` would lag the fetcher's.
 */
const RESYNC_REAL_MS = Math.round(60_000 / SPEED);

const AGILE = 'AGILE-24-10-01';
const OUTGOING = 'AGILE-OUTGOING-19-05-13';
const GO = 'GO-VAR-22-10-14';
const REGIONS = ['A', 'C', 'M'] as const;
const tariff = (product: string, region: string): Tariff => ({
  product,
  tariff: `E-1R-${product}-${region}`,
});

/**
 * Consumer i's tariffs: an import tariff (Agile for three in four, Go for the fourth) in region A, C or M;
 * Agile Outgoing for every second; and for every fifth the other import product as well (a second tariff it
 * reads prices of): 1 to 3 tariffs each.
 */
export function consumerTariffs(i: number): Tariff[] {
  const region = REGIONS[i % REGIONS.length] as string;
  const agile = i % 4 !== 3;
  const out = [tariff(agile ? AGILE : GO, region)];
  if (i % 2 === 0) out.push(tariff(OUTGOING, region));
  if (i % 5 === 0) out.push(tariff(agile ? GO : AGILE, region));
  return out;
}

interface AgeMax {
  rates: number | null;
  product: number | null;
}

const maxOf = (a: number | null, b: number): number => (a === null ? b : Math.max(a, b));

/** Ages seen at reads, per kind; reads that found no entry. */
class AgeLog {
  readonly max: AgeMax = { rates: null, product: null };
  /** Where the largest age of each kind was seen. */
  readonly worst: Partial<Record<PredbatUrl['kind'], { path: string; at: string }>> = {};
  readonly all: Record<PredbatUrl['kind'], number[]> = { rates: [], product: [] };
  reads = 0;
  empty = 0;
  record(u: PredbatUrl, ageMs: number | null, now: number): void {
    this.reads++;
    if (ageMs === null) {
      this.empty++;
      return;
    }
    this.all[u.kind].push(ageMs);
    if (this.max[u.kind] === null || ageMs > (this.max[u.kind] as number))
      this.worst[u.kind] = { path: u.path, at: new Date(now).toISOString() };
    this.max[u.kind] = maxOf(this.max[u.kind], ageMs);
  }
  summary(): Record<string, unknown> {
    return {
      max: this.max,
      worst: this.worst,
      rates: summarize(this.all.rates),
      product: summarize(this.all.product),
    };
  }
  get overall(): number | null {
    const v = [this.max.rates, this.max.product].filter((x): x is number => x !== null);
    return v.length ? Math.max(...v) : null;
  }
}

/** Every `octopus_{key}.meta` `created` of the fed URLs. */
async function createdOf(
  shared: SharedDir,
  urls: readonly PredbatUrl[],
): Promise<Map<string, number | null>> {
  const out = new Map<string, number | null>();
  for (const u of urls) out.set(u.key, await shared.created(u.key));
  return out;
}

/** Reads every 10 simulated minutes from `first` until `end`. */
async function readLoop(time: SimTime, c: Consumer, first: number, end: number): Promise<void> {
  for (let t = first; t < end; t += READ_EVERY_MS) {
    await time.until(t);
    if (time.now() >= end) return;
    await c.readAll();
  }
}

const minutes = (ms: number | null | undefined, digits = 1): string =>
  ms === null || ms === undefined ? '—' : `${fmt(ms / MINUTE, digits)} min`;
/** A lag: simulated seconds under 2 minutes, else minutes. */
const lag = (ms: number | null | undefined): string =>
  ms === null || ms === undefined
    ? '—'
    : Math.abs(ms) < 2 * MINUTE
      ? `${Math.round(ms / 1_000)} s`
      : minutes(ms);

/**
 * PredBat's API-key mode beside the gateway's storage feed: N PredBat-like consumers read the fed directory
 * with PredBat's cache rules over a simulated day (design A), then the fetchers stop (A′); the same consumers
 * without ratebus (B) run over the same day on the same simulator. Counts the consumers' own upstream GETs.
 */
export const predbatSuite: Suite = async ({ quick, log }) => {
  const n = quick ? 5 : 20;
  const dayHours = quick ? 3 : 24;
  const stoppedHours = quick ? 1.5 : 4;
  const dayStart = quick ? MIDNIGHT + 14 * HOUR : MIDNIGHT;
  const dayEnd = dayStart + dayHours * HOUR;
  const end = dayEnd + stoppedHours * HOUR;
  const tariffsOf = Array.from({ length: n }, (_, i) => consumerTariffs(i));
  const union = new Map<string, Tariff>();
  for (const ts of tariffsOf) for (const t of ts) union.set(t.tariff, t);
  const fedUrls = predbatUrls([...union.values()]);
  const random = seeded(15);
  const phases = tariffsOf.map(() => Math.floor(random() * (READ_EVERY_MS / 1_000)) * 1_000);

  const cleanup = new Cleanup();
  const began = performance.now();
  let sim: Simulator | null = null;
  try {
    const s = await startSimulator({
      port: 0,
      start: new Date(dayStart - WARMUP_MS),
      speed: SPEED,
      publicationDelayMinutes: PUBLICATION_DELAY_MIN,
    });
    sim = s;
    cleanup.add('simulator', () => s.close());
    const time = new SimTime(s);
    cleanup.add('simulated timers', () => time.stop());
    const dir = mkdtempSync(join(tmpdir(), 'ratebus-bench-predbat-'));
    cleanup.add('temp dir', () => rmSync(dir, { recursive: true, force: true }));
    const feedDir = join(dir, 'predbat-cache');
    mkdirSync(feedDir);

    // deploy/ratebus.yaml as it is, but for its three real-time settings, scaled to the clock: the upstream
    // budget and the URL cache misses (per real minute), and the URL cache TTL (a NATS KV max age, real ms).
    const deploy = parse(readFileSync(DEPLOY_CONFIG, 'utf8')) as {
      upstream: { requestsPerMinute: number };
      urlCacheTtlMs: number;
      limits: { urlMissesPerMinute: number };
    };
    const urlCacheTtlRealMs = Math.max(1_000, Math.round(deploy.urlCacheTtlMs / SPEED));
    const config = {
      ...deploy,
      upstream: { ...deploy.upstream, requestsPerMinute: Math.min(100_000, 60 * SPEED) },
      urlCacheTtlMs: urlCacheTtlRealMs,
      // Per real minute too: unscaled, 20 misses a minute are 20 per 6 simulated hours, and product detail
      // (a miss every 20 simulated minutes per product) is refused as THROTTLED and ages past 30 min.
      limits: {
        ...deploy.limits,
        urlMissesPerMinute: Math.min(100_000, deploy.limits.urlMissesPerMinute * SPEED),
      },
    };
    const configFile = join(dir, 'ratebus.yaml');
    writeFileSync(configFile, stringify(config));

    const ns = await NatsServer.start();
    cleanup.add('nats-server', () => ns.stop());
    const fetchers = await startSimFetchers(cleanup, ['bench-predbat-fetcher-1', 'bench-predbat-fetcher-2'], {
      natsUrl: ns.url,
      simUrl: s.url,
      config: configFile,
    });
    const gateway = await startGateway({
      natsUrl: ns.url,
      upstream: s.url,
      simClock: true,
      logLevel: 'warn',
      env: {
        HOST: '127.0.0.1',
        PREDBAT_CACHE_DIR: feedDir,
        PREDBAT_TARIFFS: [...union.values()].map((t) => `${t.product}/${t.tariff}`).join(','),
        PREDBAT_SCAN_INTERVAL_MS: String(SCAN_INTERVAL_MS),
        RESYNC_INTERVAL_MS: String(RESYNC_REAL_MS),
      },
    });
    cleanup.add('gateway', () => gateway.stop(5_000));

    const shared = new SharedDir(feedDir);
    await check(
      async () => {
        for (const p of [...fetchers, gateway])
          if (!p.running) throw new Error(`${p.name} exited: ${p.output().slice(-2_000)}`);
        const created = await createdOf(shared, fedUrls);
        return [...created.values()].every((c) => c !== null);
      },
      { name: 'every fed entry written', timeout: 120_000, interval: 100 },
    );
    const readyAt = time.now();
    if (readyAt > dayStart)
      throw new Error(
        `the fed directory was complete only ${minutes(readyAt - dayStart)} after the day's start (warm-up ${minutes(WARMUP_MS, 0)}): the machine is too busy`,
      );
    log(
      `${fedUrls.length} entries of ${union.size} tariffs fed ${minutes(readyAt - (dayStart - WARMUP_MS))} into the warm-up; ${n} consumers`,
    );

    const agent = podAgent();
    cleanup.add('HTTP agent', () => agent.close());
    let stopAt = Number.POSITIVE_INFINITY;
    const ages = { a: new AgeLog(), stopped: new AgeLog(), b: new AgeLog() };
    const make = (i: number, design: 'a' | 'b') =>
      new Consumer({
        caller: design === 'a' ? `predbat-consumer-${i}` : `predbat-baseline-${i}`,
        urls: predbatUrls(tariffsOf[i] as Tariff[]),
        upstream: s.url,
        agent,
        now: () => time.now(),
        shared: design === 'a' ? shared : null,
        onRead: (u, age, _from, now) => {
          if (design === 'b') ages.b.record(u, age, now);
          else (now < stopAt ? ages.a : ages.stopped).record(u, age, now);
        },
      });
    const a = tariffsOf.map((_, i) => make(i, 'a'));
    const b = tariffsOf.map((_, i) => make(i, 'b'));
    const loops = Promise.all([
      ...a.map((c, i) => readLoop(time, c, dayStart + (phases[i] as number), end)),
      ...b.map((c, i) => readLoop(time, c, dayStart + (phases[i] as number), dayEnd)),
    ]);
    loops.catch(() => undefined); // awaited below; a failure must not go unhandled meanwhile
    for (let h = 6; h < dayHours; h += 6) {
      time.at(dayStart + h * HOUR, () =>
        log(
          `+${h} h: consumer requests ${a.reduce((x, c) => x + c.requests, 0)} (ratebus), ${b.reduce((x, c) => x + c.requests, 0)} (no ratebus)`,
        ),
      );
    }

    await time.until(dayEnd);
    stopAt = time.now();
    // Both at once: the follower stops its elector on the signal, long before the leader releases the lease.
    await Promise.all(fetchers.map((f) => f.stop(10_000)));
    const stoppedAt = time.now();
    await sleep(300); // an update the gateway had in flight
    const createdAtStop = await createdOf(shared, fedUrls);
    const ownAtStop = a.map((c) => new Map(c.own));
    log(
      `fetchers stopped at +${minutes(stopAt - dayStart, 0)} (took ${minutes(stoppedAt - stopAt)} simulated)`,
    );

    await loops;
    const createdAtEnd = await createdOf(shared, fedUrls);
    const stats = s.stats.snapshot();
    const simLog = stats.log;
    if (stats.total > simLog.length)
      throw new Error(`the simulator's request log dropped ${stats.total - simLog.length} requests`);

    // --- figures -------------------------------------------------------------------------------------------
    const inRange = (e: StatsLogEntry, from: number, to: number) => {
      const at = Date.parse(e.simAt);
      return at >= from && at < to;
    };
    const count = (pred: (e: StatsLogEntry) => boolean) => simLog.filter(pred).length;
    const isA = (e: StatsLogEntry) => e.caller.startsWith('predbat-consumer-');
    const isB = (e: StatsLogEntry) => e.caller.startsWith('predbat-baseline-');
    const isFetcher = (e: StatsLogEntry) => !isA(e) && !isB(e);
    const aDay = count((e) => isA(e) && inRange(e, dayStart, stopAt));
    const aStopped = count((e) => isA(e) && inRange(e, stopAt, end));
    const bDay = count((e) => isB(e) && inRange(e, dayStart, dayEnd));
    /** B after its cold start (every consumer fetches everything at its first look): the steady rate. */
    const bSteady = count((e) => isB(e) && inRange(e, dayStart + HOUR, dayEnd));
    const fetchersDay = count((e) => isFetcher(e) && inRange(e, dayStart, stopAt));
    const fetchersAfterStop = count((e) => isFetcher(e) && inRange(e, stoppedAt, end));
    const own = {
      a: a.reduce((x, c) => x + c.requests, 0),
      b: b.reduce((x, c) => x + c.requests, 0),
    };

    // A′: per consumer and URL, the first upstream GET after the stop against the moment its entry turned 30 min.
    const delays: Array<{ consumer: number; kind: string; crossing: number; first: number | null }> = [];
    a.forEach((c, i) => {
      for (const u of c.o.urls) {
        const newest = Math.max(
          createdAtStop.get(u.key) ?? Number.NEGATIVE_INFINITY,
          ownAtStop[i]?.get(u.key) ?? Number.NEGATIVE_INFINITY,
        );
        const crossing = newest + FRESH_MS;
        const first = c.events.find((e) => e.key === u.key && e.at >= stopAt);
        delays.push({ consumer: i, kind: u.kind, crossing, first: first ? first.at : null });
      }
    });
    const answered = delays.filter((d) => d.first !== null) as Array<
      (typeof delays)[number] & { first: number }
    >;
    const lags = answered.map((d) => d.first - d.crossing);
    const firstCrossing = Math.min(...delays.map((d) => d.crossing));
    const firstRequest = answered.length ? Math.min(...answered.map((d) => d.first)) : null;
    const lastCrossing = Math.max(...delays.map((d) => d.crossing));
    const steadyFrom = lastCrossing + READ_EVERY_MS;
    const steadyHours = (end - steadyFrom) / HOUR;
    const steady = count((e) => isA(e) && inRange(e, steadyFrom, end));
    const fedChanged = fedUrls.filter((u) => createdAtStop.get(u.key) !== createdAtEnd.get(u.key)).length;

    // Around the largest rates age seen with the feed: the fetchers' upstream calls for that URL (diagnostic).
    const worstRates = ages.a.worst.rates;
    const aroundWorst = worstRates
      ? simLog
          .filter(
            (e) =>
              isFetcher(e) &&
              e.path === worstRates.path &&
              inRange(e, Date.parse(worstRates.at) - 45 * MINUTE, Date.parse(worstRates.at) + 5 * MINUTE),
          )
          .map((e) => ({ simAt: e.simAt, at: e.at, caller: e.caller, status: e.status, ms: e.ms }))
      : [];
    const data = {
      consumers: n,
      speed: SPEED,
      scanIntervalMs: SCAN_INTERVAL_MS,
      urlCacheTtlRealMs,
      config,
      window: {
        dayStart: new Date(dayStart).toISOString(),
        dayEnd: new Date(dayEnd).toISOString(),
        end: new Date(end).toISOString(),
      },
      consumerTariffs: tariffsOf.map((ts) => ts.map((t) => t.tariff)),
      phasesMs: phases,
      fedEntries: fedUrls.length,
      fedTariffs: union.size,
      readyAt: new Date(readyAt).toISOString(),
      a: {
        consumerRequests: aDay,
        consumerRequestsCountedByConsumers: a.reduce(
          (x, c) => x + c.events.filter((e) => e.at < stopAt).reduce((y, e) => y + e.requests, 0),
          0,
        ),
        fetcherRequests: fetchersDay,
        reads: ages.a.reads,
        readsWithoutEntry: ages.a.empty,
        maxAgeMs: ages.a.max,
        agesMs: ages.a.summary(),
        fetcherCallsAroundLargestRatesAge: aroundWorst,
        unusableEntries: shared.unusable,
      },
      aStopped: {
        stopAt: new Date(stopAt).toISOString(),
        stoppedAfterMs: stoppedAt - stopAt,
        consumerRequests: aStopped,
        fetcherRequestsAfterStop: fetchersAfterStop,
        fedEntriesChangedAfterStop: fedChanged,
        firstEntryPassed30MinAfterStopMs: firstCrossing - stopAt,
        firstRequestAfterStopMs: firstRequest === null ? null : firstRequest - stopAt,
        lagAfter30MinMs: {
          min: lags.length ? Math.min(...lags) : null,
          max: lags.length ? Math.max(...lags) : null,
        },
        urlsNeverFetched: delays.length - answered.length,
        steadyFrom: new Date(steadyFrom).toISOString(),
        steadyRequestsPerHour: steadyHours > 0 ? steady / steadyHours : null,
        maxAgeMs: ages.stopped.max,
        agesMs: ages.stopped.summary(),
        events: a.flatMap((c, i) =>
          c.events
            .filter((e) => e.at >= stopAt)
            .slice(0, 3)
            .map((e) => ({ consumer: i, ...e, at: new Date(e.at).toISOString() })),
        ),
      },
      b: {
        consumerRequests: bDay,
        steadyRequestsPerHour: bSteady / (dayHours - 1),
        reads: ages.b.reads,
        maxAgeMs: ages.b.max,
        agesMs: ages.b.summary(),
        fetches: b.reduce((x, c) => x + c.events.length, 0),
      },
      consumerRequestsCountedByConsumers: own,
      realSeconds: (performance.now() - began) / 1_000,
    };
    log(
      `A ${aDay} consumer requests over the day (max age ${minutes(ages.a.overall)}), A′ ${aStopped} in ${stoppedHours} h, B ${bDay} (${data.realSeconds.toFixed(0)} s)`,
    );

    // --- report --------------------------------------------------------------------------------------------
    const perDay = (requests: number, hours: number) => fmt((requests / n) * (24 / hours), 1);
    const ageCell = (m: AgeMax) =>
      `${minutes(Math.max(m.rates ?? 0, m.product ?? 0))} (rates ${minutes(m.rates)}, product ${minutes(m.product)})`;
    const lagMin = data.aStopped.lagAfter30MinMs.min;
    const lagMax = data.aStopped.lagAfter30MinMs.max;
    const stoppedCell =
      firstRequest === null
        ? 'none within the run'
        : `first ${lag(firstRequest - firstCrossing)} after the first entry turned 30 min (${minutes(firstRequest - stopAt)} after the stop); every consumer and URL ${lag(lagMin)} to ${lag(lagMax)} after its entry turned 30 min${data.aStopped.urlsNeverFetched ? ` (${data.aStopped.urlsNeverFetched} URLs not yet)` : ''}`;
    const table = [
      '| design | consumers | simulated hours | consumer upstream requests | per consumer per day | max entry age seen at a read | first request after the fetchers stopped |',
      '|---|---:|---:|---:|---:|---|---|',
      `| A: ratebus healthy (2 fetchers, gateway feed) | ${n} | ${dayHours} | **${aDay}** | ${perDay(aDay, dayHours)} | ${ageCell(ages.a.max)} | — |`,
      `| A′: fetchers stopped (SIGTERM), gateway still up | ${n} | ${stoppedHours} | ${aStopped} | ${perDay(aStopped, stoppedHours)} | ${ageCell(ages.stopped.max)} | ${stoppedCell} |`,
      `| B: no ratebus (empty private cache) | ${n} | ${dayHours} | ${bDay} | ${perDay(bDay, dayHours)} | ${ageCell(ages.b.max)} | — |`,
    ].join('\n');
    const context = [
      '| | A: ratebus healthy | A′: fetchers stopped | B: no ratebus |',
      '|---|---:|---:|---:|',
      `| consumer requests per simulated hour | ${fmt(aDay / dayHours, 1)} | ${fmt(data.aStopped.steadyRequestsPerHour, 1)} (from ${new Date(steadyFrom).toISOString().slice(11, 16)}Z, once every entry had turned 30 min) | ${fmt(bDay / dayHours, 1)} (${fmt(data.b.steadyRequestsPerHour, 1)} after the first hour) |`,
      `| fetchers' upstream requests (all tariffs, product detail, products list) | ${fetchersDay} | ${fetchersAfterStop} | — |`,
      `| entry reads (reads that found no entry) | ${ages.a.reads} (${ages.a.empty}) | ${ages.stopped.reads} | ${ages.b.reads} |`,
    ].join('\n');
    const markdown = [
      `${n} PredBat-like consumers, each with 1–3 tariffs (Agile import in region A, C or M for three in four, Go for the fourth; Agile Outgoing for every second; the other import product too for every fifth): ${union.size} distinct tariffs, ${fedUrls.length} cache entries (product detail, standard unit rates, standing charges). ` +
        "Each consumer reads PredBat's storage cache the way docs/predbat.md §2 describes it, written from that page (no PredBat code): for every URL it requests, key = first 16 hex of SHA-256 of the exact `https://api.octopus.energy/v1/products/…/` URL, age = now − `.meta` `created`; under 30 min the entry is used, 30–35 min one refresh attempt, 35 min or no entry a fetch. " +
        "It looks every 10 simulated minutes at a random phase (the same phases in every design). A fetch is PredBat's GETs against the simulator (the bare URL, then `next` up to 3 pages for rates), tagged `x-sim-caller`, and what it fetched is kept as the consumer's own newer entry in memory, never written into the shared directory (so consumers do not help each other); an entry in the directory is used when it is newer than the consumer's own and its `.yaml` loads (YAML 1.1) to rows or to the product.",
      '',
      `**A**: the simulator, a nats-server, two fetcher processes and one gateway process with \`PREDBAT_CACHE_DIR\` and \`PREDBAT_TARIFFS\` = the ${union.size} tariffs, all on the simulator's clock (\`OCTOPUS_SIM_CLOCK=1\`) at ×${SPEED}. ` +
        `Fetcher config: \`deploy/ratebus.yaml\` (cadence 25 min, jitter 4 min, URL cache TTL 20 min), with its three real-time settings scaled to the clock: the URL cache TTL is a NATS KV max age in real ms (${urlCacheTtlRealMs} ms = 20 simulated minutes), the upstream budget and the URL cache's misses are per real minute (${config.upstream.requestsPerMinute} and ${config.limits.urlMissesPerMinute}). The fetcher confirms each tariff every 25 min minus up to 4, moved earlier when a call would fall within about 45 s of :00/:30 (its clock), so a rates entry's age should stay under 25 min plus the time from the planned call to the new \`created\` being on disk, which includes the gateway's confirmation poll (\`SYNC=tariffs\`, its default: every 60 s ± 25 % once the held confirmation is 15 min old; \`RESYNC_INTERVAL_MS\` = ${RESYNC_REAL_MS} ms real, i.e. 60 simulated seconds); at ×${SPEED} every 100 ms of real delay there (a late timer on the busy machine, the upstream calls, the NATS hop, the file write) is ${(SPEED / 10).toFixed(0)} simulated seconds. Largest rates age at a read here: ${minutes(ages.a.max.rates)}${ages.a.max.rates !== null && ages.a.max.rates > 25 * MINUTE ? ` (${fmt((ages.a.max.rates - 25 * MINUTE) / SPEED, 0)} ms real over 25 min)` : ''}; 99 % of rates reads saw under ${minutes(summarize(ages.a.all.rates).p99)}. ` +
        `The gateway's directory scan runs every ${SCAN_INTERVAL_MS / 1_000} s real (\`PREDBAT_SCAN_INTERVAL_MS\`, its minimum; the default 30 s would be 3 simulated hours), which is ${(SCAN_INTERVAL_MS * SPEED) / MINUTE} simulated minutes instead of 30 s: product detail is re-asked on a scan or on a rate update of the same product, so product entries age up to about 20 min + that scan period here, against about 21 min in production. ` +
        `The services start ${WARMUP_MS / MINUTE} simulated minutes before the day (the directory was complete after ${minutes(readyAt - (dayStart - WARMUP_MS), 0)}); counting starts at ${new Date(dayStart).toISOString().slice(0, 16)}Z (Agile D+1 published 16:${String(PUBLICATION_DELAY_MIN).padStart(2, '0')}).`,
      '',
      `**A′**: at the end of the day both fetchers get SIGTERM together; the gateway keeps running (its entries keep the fetchers' last \`created\`: ${fedChanged} of ${fedUrls.length} changed after the stop, and the fetchers made ${fetchersAfterStop} upstream requests after it) and the consumers go on for ${stoppedHours} simulated hours. ` +
        '"Turned 30 min" is per consumer and URL: the newest entry it had at the stop (the feed\'s, or its own) + 30 min; PredBat\'s first request should come at its first look after that, i.e. within 10 minutes.',
      '',
      `**B**: the same consumers (tariffs, phases) with an empty private cache and no directory, over the same simulated day on the same simulator, at the same time as A (caller \`predbat-baseline-<i>\` instead of \`predbat-consumer-<i>\`). ` +
        'A consumer stores `created` when its fetch has finished, a few simulated seconds after its look began, so 30 minutes later the entry is still just under 30 min old: with looks exactly 10 min apart it refetches every 40 min (ages up to 40 min at a look, a little more when a look starts late because the benchmark process is busy), and the 30–35 min refresh attempt is rarely the path taken; a PredBat looking more often would refetch closer to every 30 min.',
      '',
      `Requests are counted by the simulator per caller and simulated time (\`/_sim/stats\`); the consumers' own counts agree (${own.a} / ${own.b}: ${own.a === aDay + aStopped && own.b === bDay ? 'equal' : 'NOT equal'}). At ×${SPEED} one real millisecond is ${(SPEED / 1_000).toFixed(2)} simulated seconds, so ages include the stretched NATS and file-write latency (a few simulated seconds).`,
      '',
      table,
      '',
      context,
    ].join('\n');
    return {
      title: 'PredBat storage feed: PredBat-like consumers reading the fed cache over a simulated day',
      markdown,
      data,
    };
  } finally {
    await cleanup.run(log);
    if (sim) log(`simulator closed after ${((performance.now() - began) / 1_000).toFixed(0)} s`);
  }
};
