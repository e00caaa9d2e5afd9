import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RateClient } from '@ratebus/client';
import { startSimulator } from '@ratebus/octopus-sim';
import { check, NatsServer } from '@ratebus/testkit';
import { stringify } from 'yaml';
import { seeded } from '../predbat/consumer.js';
import { Cleanup, fmt, quantile } from '../propagation/util.js';
import { startSimFetchers } from '../sim-fetchers.js';
import type { Suite } from '../suite.js';

const FETCHER_IDS = ['bench-pub-fetcher-1', 'bench-pub-fetcher-2'];
const MIN = 60_000;
const DAY = 24 * 60 * MIN;
/**
 * Clock speed of the trials: one real millisecond is 10 simulated ms, so timing resolution stays well below
 * 1 s; the pods' own work (validating and applying each new document, every pod in this one process) is
 * stretched 10× too, so the pods hold few tariffs.
 */
const SPEED = 10;
/** Clock speed of the canary-cost runs (whole windows, only counting requests). */
const COST_SPEED = 120;
const IMPORT = 'AGILE-24-10-01';
const EXPORT = 'AGILE-OUTGOING-19-05-13';
/** First trial day (November: UK time is UTC, so 16:00 UK = 16:00Z). */
const FIRST_DAY = Date.parse('2026-11-02T00:00:00Z');

/** A canary policy under test: the fetcher's schedule settings. */
interface Policy {
  readonly name: string;
  readonly schedule: Record<string, number>;
}

const POLICIES: readonly Policy[] = [
  {
    name: 'previous default: canary every minute, 16:00–20:00 UK',
    schedule: { canaryIntervalMs: 60_000, canaryDenseForMs: 0 },
  },
  { name: 'new default: every 15 s from 16:00 to 17:00 UK, then every minute', schedule: {} },
];

/** One publication: when it happens and the results per policy. */
interface Trial {
  readonly day: number;
  /** Publication instant (sim ms). */
  readonly publishedAt: number;
  /** Offset of the trial's start before the publication, sim ms (random phase against the canary). */
  readonly leadMs: number;
}

interface TrialResult {
  readonly policy: string;
  readonly publishedAt: string;
  readonly delayAfter16: string;
  /** Simulated seconds from publication to the first / last pod holding the next day. */
  readonly firstS: number;
  readonly lastS: number;
  readonly pods: number;
  /** Pods that held the next day before the trial's deadline. */
  readonly held: number;
}

/**
 * Publications "usually nearer 4pm", sometimes after 16:30, now and then late (docs/octopus-api.md §2):
 * 60 % within 10 minutes of 16:00, 25 % 10–45 minutes after, 15 % between 17:00 and 18:00; each at a
 * random millisecond.
 */
function trials(n: number): Trial[] {
  const r = seeded(20261203);
  const out: Trial[] = [];
  for (let i = 0; i < n; i++) {
    const share = (i + 0.5) / n;
    const [lo, hi] = share < 0.6 ? [0, 10] : share < 0.85 ? [10, 45] : [60, 120];
    const delay = Math.floor((lo + r() * (hi - lo)) * MIN);
    const day = FIRST_DAY + i * DAY;
    out.push({ day, publishedAt: day + 16 * 60 * MIN + delay, leadMs: Math.floor(MIN + r() * MIN) });
  }
  return out;
}

/** Import regions of the pods (London, Eastern England, Yorkshire). */
const POD_REGIONS = ['C', 'A', 'M'] as const;

/** Pods and their tariffs: Agile import of one of three regions, every fourth pod Agile Outgoing (C) too. */
function podTariffs(pods: number): { product: string; tariff: string }[][] {
  return Array.from({ length: pods }, (_, i) => {
    const region = POD_REGIONS[i % POD_REGIONS.length] as string;
    const own = [{ product: IMPORT, tariff: `E-1R-${IMPORT}-${region}` }];
    if (i % 4 === 0) own.push({ product: EXPORT, tariff: `E-1R-${EXPORT}-C` });
    return own;
  });
}

function configFile(
  dir: string,
  policy: Policy,
  tariffs: { product: string; tariff: string }[],
  speed: number,
) {
  const file = join(dir, `ratebus-${speed}.yaml`);
  writeFileSync(
    file,
    stringify({
      tariffs,
      // The upstream budget is per real minute: scaled with the clock it bounds what it would bound live.
      upstream: { requestsPerMinute: Math.min(100_000, 60 * speed) },
      schedule: policy.schedule,
    }),
  );
  return file;
}

const hhmmss = (t: number) => new Date(t).toISOString().slice(11, 19);
const sec = (ms: number) => ms / 1000;

/**
 * Time from an Agile publication until the first and the last of N pods hold the next day, over many
 * publications at random times, with the real fetcher processes on the simulator's clock; and what the canary
 * costs upstream per day. Previous and new canary defaults side by side.
 */
export const publicationSuite: Suite = async ({ quick, log }) => {
  const n = quick ? 2 : 24;
  const pods = quick ? 4 : 12;
  const plan = trials(n);
  const own = podTariffs(pods);
  const union = [...new Map(own.flat().map((t) => [t.tariff, t])).values()];
  const results: TrialResult[] = [];
  const cost = new Map<string, number[]>();
  const root = mkdtempSync(join(tmpdir(), 'ratebus-bench-publication-'));
  try {
    for (const policy of POLICIES) {
      for (const trial of plan) {
        const r = await runTrial(policy, trial, own, union, root);
        results.push(r);
        log(
          `${policy.name}: published ${r.publishedAt} → first pod ${fmt(r.firstS, 1)} s, last ${fmt(r.lastS, 1)} s (${r.held}/${r.pods})`,
        );
      }
      cost.set(policy.name, await canaryTimes(policy, union, root, quick));
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }

  // A day's canary requests: those of a whole window up to the moment the pods held the next day (the
  // fetcher stops asking then), counted in a window where the publication never came.
  const dailyCost = (policy: string) => {
    const times = cost.get(policy) ?? [];
    return results
      .filter((r) => r.policy === policy)
      .map((r) => {
        const day = Math.floor(Date.parse(r.publishedAt) / DAY) * DAY;
        const until = Date.parse(r.publishedAt) - day + r.firstS * 1000;
        return times.filter((t) => t <= until).length;
      });
  };
  const rows = POLICIES.map((p) => {
    const rs = results.filter((r) => r.policy === p.name);
    const first = rs.map((r) => r.firstS).sort((a, b) => a - b);
    const last = rs.map((r) => r.lastS).sort((a, b) => a - b);
    const perDay = dailyCost(p.name);
    const q = (xs: number[], x: number) => fmt(quantile(xs, x) ?? Number.NaN, 1);
    return (
      `| ${p.name} | ${rs.length} | ${q(first, 0.5)} / ${q(first, 0.95)} / ${fmt(first.at(-1) ?? Number.NaN, 1)} | ` +
      `${q(last, 0.5)} / ${q(last, 0.95)} / ${fmt(last.at(-1) ?? Number.NaN, 1)} | ` +
      `${fmt(perDay.reduce((a, b) => a + b, 0) / Math.max(1, perDay.length), 1)} | ${(cost.get(p.name) ?? []).length} | ` +
      `${rs.reduce((a, r) => a + r.pods - r.held, 0)} |`
    );
  });
  const perTrial = plan.map((t, i) => {
    const cells = POLICIES.map((p) => {
      const r = results.filter((x) => x.policy === p.name)[i];
      return r ? `${fmt(r.firstS, 1)} / ${fmt(r.lastS, 1)}` : '—';
    });
    return `| ${new Date(t.publishedAt).toISOString().slice(0, 10)} ${hhmmss(t.publishedAt)} | ${cells.join(' | ')} |`;
  });
  const markdown = [
    `${n} Agile publications, one per simulated day, each at a random millisecond: 60 % within 10 minutes of 16:00 UK, 25 % 10–45 minutes after, 15 % between 17:00 and 18:00 (docs/octopus-api.md §2: "usually nearer 4pm", sometimes 16:30 or later). ` +
      `Each publication gets a fresh nats-server, two fetcher processes (\`services/fetcher\`, one leads) on the simulator's clock at ×${SPEED} (one real millisecond is ${SPEED} simulated ms), and ${pods} pods (\`RateClient\`s in the benchmark process, each ensuring Agile import of region C, A or M, every fourth one Agile Outgoing C too: ${union.length} tariffs, all in the fetcher's config; a pod's own time to validate and apply a document is part of what is measured, stretched ×${SPEED} like everything else, with all pods in one process). ` +
      'The clock starts 1–2 minutes (random) before the publication, or at the window opening for publications in its first minutes, so the canary meets the publication at a random phase. ' +
      "A pod holds the next day when its `on('update')` delivers a document of its Agile tariff covering 23:00 UK tomorrow; its time is read from the simulator's clock at that moment, minus the publication instant. " +
      `Both policies see the same publications. Canary cost: a separate run per policy over a whole 16:00–20:00 window with no publication (×${COST_SPEED}), counting the simulator's canary requests (\`page_size=1\`); a day's cost is the number of them up to the moment the first pod held the next day in each trial (the fetcher stops asking once it sees the new day), averaged over the trials. ` +
      'Everything on loopback: against api.octopus.energy each request adds its round trip (0.1–0.4 s per page measured live).',
    '',
    '| canary policy | publications | first pod held the next day, p50 / p95 / max (s) | last pod, p50 / p95 / max (s) | canary requests per day (avg over these publications) | canary requests in a window without publication | pod-tariffs never holding it |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...rows,
    '',
    `Per publication (first / last pod, s): ${POLICIES.map((p) => p.name).join(' | ')}`,
    '',
    `| published (UK = UTC) | ${POLICIES.map((p) => p.name).join(' | ')} |`,
    `|---|${POLICIES.map(() => '---:').join('|')}|`,
    ...perTrial,
  ].join('\n');
  return {
    title: 'Publication to pods: Agile next day held after publication, as a distribution',
    markdown,
    data: {
      speed: SPEED,
      costSpeed: COST_SPEED,
      pods,
      tariffs: union.length,
      results,
      canaryTimes: Object.fromEntries(cost),
    },
  };
};

async function runTrial(
  policy: Policy,
  trial: Trial,
  own: { product: string; tariff: string }[][],
  union: { product: string; tariff: string }[],
  root: string,
): Promise<TrialResult> {
  const cleanup = new Cleanup();
  const windowOpens = trial.day + 16 * 60 * MIN;
  // A start before 16:00 (publications in the window's first minutes) meets the canary as every day does:
  // from the window's opening.
  const startAt = trial.publishedAt - trial.leadMs;
  const target = trial.day + DAY + 23 * 60 * MIN;
  try {
    const sim = await startSimulator({
      port: 0,
      start: new Date(startAt),
      speed: SPEED,
      publicationDelayMinutes: (trial.publishedAt - windowOpens) / MIN,
    });
    cleanup.add('simulator', () => sim.close());
    const ns = await NatsServer.start();
    cleanup.add('nats-server', () => ns.stop());
    const dir = mkdtempSync(join(root, 'trial-'));
    const fetchers = await startSimFetchers(cleanup, FETCHER_IDS, {
      natsUrl: ns.url,
      simUrl: sim.url,
      config: configFile(dir, policy, union, SPEED),
    });
    const heldAt: (number | null)[] = own.map(() => null);
    const clients: RateClient[] = [];
    cleanup.add('pods', () => Promise.all(clients.map((c) => c.close())).then(() => undefined));
    for (let i = 0; i < own.length; i++) {
      const c = await RateClient.connect({ servers: ns.url, name: `bench-pub-pod-${i}` });
      clients.push(c);
      const agile = new Set((own[i] ?? []).map((t) => t.tariff));
      const seen = new Map<string, boolean>();
      c.on('update', (u) => {
        if (!agile.has(u.tariff) || u.view === undefined) return;
        const covers =
          u.view.coversThrough === null ? Number.POSITIVE_INFINITY : Date.parse(u.view.coversThrough);
        seen.set(u.tariff, covers >= target);
        if (heldAt[i] === null && [...agile].every((t) => seen.get(t) === true))
          heldAt[i] = sim.clock.now().getTime();
      });
      for (const t of own[i] ?? [])
        void c.ensure(t.product, t.tariff, { timeoutMs: 60_000 }).catch(() => undefined);
    }
    // Every pod holds today's documents before the publication: the trial measures the canary, not the start.
    await check(
      () => {
        for (const f of fetchers)
          if (!f.running) throw new Error(`${f.name} exited: ${f.output().slice(-2_000)}`);
        return clients.every((c, i) => (own[i] ?? []).every((t) => c.get(t.product, t.tariff) !== undefined));
      },
      { name: 'every pod holds its tariffs', timeout: 60_000, interval: 20 },
    );
    if (sim.clock.now().getTime() >= trial.publishedAt) {
      throw new Error(
        `pods held their tariffs only at ${hhmmss(sim.clock.now().getTime())}, after the publication at ${hhmmss(trial.publishedAt)}: the machine is too busy`,
      );
    }
    const deadline = trial.publishedAt + 10 * MIN;
    await check(() => heldAt.every((h) => h !== null) || sim.clock.now().getTime() > deadline, {
      name: 'every pod holds the next day',
      timeout: (deadline - sim.clock.now().getTime()) / SPEED + 30_000,
      interval: 10,
    });
    const lags = heldAt.filter((h): h is number => h !== null).map((h) => h - trial.publishedAt);
    return {
      policy: policy.name,
      publishedAt: new Date(trial.publishedAt).toISOString(),
      delayAfter16: `${fmt((trial.publishedAt - windowOpens) / MIN, 2)} min`,
      firstS: sec(Math.min(...lags)),
      lastS: sec(Math.max(...lags)),
      pods: own.length,
      held: lags.length,
    };
  } finally {
    await cleanup.run(() => undefined);
  }
}

/** Simulated times (ms after the day's midnight) of every canary request over a window with no publication. */
async function canaryTimes(
  policy: Policy,
  union: { product: string; tariff: string }[],
  root: string,
  quick: boolean,
): Promise<number[]> {
  const cleanup = new Cleanup();
  const speed = quick ? 240 : COST_SPEED;
  const day = FIRST_DAY - DAY;
  try {
    // Starts well before 16:00: the fetchers' start and first fetches take real seconds, simulated minutes.
    const sim = await startSimulator({ port: 0, start: new Date(day + 15 * 60 * MIN + 40 * MIN), speed });
    cleanup.add('simulator', () => sim.close());
    sim.publication.set({ skipDates: [new Date(day).toISOString().slice(0, 10)] });
    const ns = await NatsServer.start();
    cleanup.add('nats-server', () => ns.stop());
    const dir = mkdtempSync(join(root, 'cost-'));
    await startSimFetchers(cleanup, FETCHER_IDS, {
      natsUrl: ns.url,
      simUrl: sim.url,
      config: configFile(dir, policy, union, speed),
    });
    const end = day + 20 * 60 * MIN + 2 * MIN;
    await check(() => sim.clock.now().getTime() >= end, {
      name: 'the window is over',
      timeout: (end - sim.clock.now().getTime()) / speed + 30_000,
      interval: 100,
    });
    const times = sim.stats
      .snapshot()
      .log.filter((l) => l.query === 'page_size=1')
      .map((l) => Date.parse(l.simAt) - day);
    const first = Math.min(...times);
    if (!(first < 16 * 60 * MIN + 2 * MIN)) {
      throw new Error(
        `the first canary came at ${hhmmss(day + first)}, not right after 16:00: the machine is too busy`,
      );
    }
    return times;
  } finally {
    await cleanup.run(() => undefined);
  }
}
