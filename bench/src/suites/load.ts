import { startSimulator } from '@ratebus/octopus-sim';
import { runFileCache } from '../load/filecache.js';
import { runNaive } from '../load/naive.js';
import { runRatebus } from '../load/ratebus.js';
import type { DesignResult, DesignRun } from '../load/result.js';
import { dayWindow, podTariffs } from '../load/scenario.js';
import { loadTable } from '../report.js';
import { SimTime } from '../simtime.js';
import type { Suite } from '../suite.js';

/** Agile D+1 appears this long after 16:00 UK (the simulator's publication delay). */
const PUBLICATION_DELAY_MIN = 7;

type Design = (run: DesignRun) => Promise<DesignResult>;
const DESIGNS: Array<[string, Design]> = [
  ['naive', runNaive],
  ['filecache', runFileCache],
  ['ratebus', runRatebus],
];

/**
 * Upstream load over a simulated day for 10, 100 and 1,000 pods, the same tariffs, three designs, one
 * simulator per run (fresh stats), in one process run.
 */
export const loadSuite: Suite = async ({ quick, log }) => {
  const podCounts = quick ? [10] : [10, 100, 1000];
  const results: DesignResult[] = [];
  for (const pods of podCounts) {
    for (const [name, design] of DESIGNS) {
      const window = dayWindow(quick, PUBLICATION_DELAY_MIN);
      // Fast enough to finish, slow enough that a burst of requests stays within a simulated minute or so.
      const speed = quick ? 720 : pods >= 1000 ? 360 : 720;
      const sim = await startSimulator({
        port: 0,
        start: new Date(window.start),
        speed,
        publicationDelayMinutes: PUBLICATION_DELAY_MIN,
      });
      const time = new SimTime(sim);
      const began = performance.now();
      try {
        const r = await design({ sim, time, pods, window });
        results.push(r);
        log(
          `${name} pods=${pods} speed=${speed}: ${r.upstreamRequests} requests (${((performance.now() - began) / 1000).toFixed(0)} s)`,
        );
      } finally {
        time.stop();
        await sim.close();
      }
    }
  }
  return {
    title: 'Upstream load over a simulated day',
    markdown: loadMarkdown(results, quick),
    data: results,
  };
};

/** Requests a naive fleet asks for when every poll completes: 3 pages + standing charges per tariff. */
export function naiveAsked(pods: number, hours: number): number {
  let pairs = 0;
  for (let i = 0; i < pods; i++) pairs += podTariffs(i).length;
  return pairs * Math.round(hours * 2) * 4;
}

/** The section text; also used to re-render stored results after a wording change. */
export function loadMarkdown(results: readonly DesignResult[], quick: boolean): string {
  const w = dayWindow(quick, PUBLICATION_DELAY_MIN);
  const hours = (w.end - w.start) / 3_600_000;
  const saturated = results
    .filter((r) => r.design === 'naive polling' && r.upstreamRequests < 0.95 * naiveAsked(r.pods, hours))
    .map(
      (r) =>
        `At ${r.pods} pods the naive fleet asked for ${naiveAsked(r.pods, hours).toLocaleString('en-GB')} requests (every poll completing) but the simulator — one Node.js process on the same 2 cores — answered only ${r.upstreamRequests.toLocaleString('en-GB')} within the simulated day, so polls queued behind each other: the measured figure understates the naive load, and the queueing itself is the stampede.`,
    );
  return [
    `Simulated ${hours} h (${new Date(w.start).toISOString().slice(0, 16)}Z onward, Agile D+1 published 16:${String(PUBLICATION_DELAY_MIN).padStart(2, '0')} UK).`,
    'Pods start within 10 s of each other (a fleet deploy), each holding one import tariff (14 Agile regions or Go) and, for every third pod, Agile Outgoing: 20 tariffs in all (13 for 10 pods).',
    '**naive**: every pod polls PredBat-style every 30 min (bare URL, ≤ 3 pages of 100, plus standing charges).',
    '**file cache**: 50 pods per host share a directory; 30/35-minute stale-while-revalidate, `O_CREAT|O_EXCL` lock per URL.',
    '**ratebus**: two fetchers (one leads) and every pod a `RateClient` (in 4 child processes at 1,000 pods); pods never call upstream.',
    '"Next day held" is the time from publication until each pod held rows through the end of the next Agile day.',
    'The clock runs ×360–×720 (column "clock"), so one real millisecond is 0.36–0.72 simulated seconds: fetch and event-loop times are stretched, which limits the resolution of "next day held" to about a simulated minute; request counts are unaffected.',
    ...saturated,
    'Read with care: "peak concurrent" is counted inside the simulator, which answers each request synchronously in one Node.js event loop, so it stays at 1 even when a thousand pods wait in its accept queue — it does not show the stampede. At ×360–×720 one real second is 6–12 simulated minutes, so the time a pod process takes to validate and apply a new document (hundreds of clients per process here, one per pod in production) inflates "next day held" for ratebus at 100 and 1,000 pods; the propagation benchmark measures that path in real time. The fetcher\'s own part is what the 10-pod row shows (a few simulated minutes from publication until every pod held the next day); at 1,000 pods the rest is 4 pod processes validating each new Agile document once per client, 1,000 clients each, on the 2 cores they share with the fetchers, NATS and the simulator — about 15 real seconds, which ×360 turns into 1–3 simulated hours.',
    "The file cache's count grows with the number of hosts (50 pods each: 2 at 100 pods, 20 at 1,000), not with pods per host; ratebus's stays at one fetcher's schedule whatever the number of pods.",
    "ratebus pods start while the simulated clock stands still at the day's start, and the fetchers start when it runs again: starting 1,000 `RateClient`s in 4 processes takes real seconds that the sped-up clock would otherwise turn into simulated hours of fetcher traffic before the day (an earlier run without this, on a busy machine where the pods took minutes to start, ran the clock ~40 simulated hours past the day's start and counted 195 requests per tariff per day at 1,000 pods). The other designs' pods are promises in the benchmark process and start at once.",
    '',
    loadTable(results),
  ].join('\n');
}
